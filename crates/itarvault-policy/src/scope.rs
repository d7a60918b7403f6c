//! What each authorization type and ITAR exemption can authorize, read from
//! `data/authorization_scopes.json`.
//!
//! An authorization outside its scope authorizes nothing: a DSP-73 releases no technical
//! data, 126.5 serves Canada only, 126.18 never serves a US person or a national of a
//! 126.1 country. The rows are data with citations, so that a reviewer can check them
//! against the regulations and an operator can load a corrected edition; the floor only
//! applies them (`floor.rs`).

use std::borrow::Cow;

use serde::Deserialize;

use crate::data::{split_edition, Codes, Country, DataError, Edition, SCOPES_FILE};
use crate::model::{AuthType, Authorization};

/// The two bodies of rules whose data an authorization can release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Jurisdiction {
    #[serde(rename = "ITAR")]
    Itar,
    #[serde(rename = "EAR")]
    Ear,
}

impl Jurisdiction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Itar => "ITAR",
            Self::Ear => "EAR",
        }
    }
}

/// Whether an authorization can cover a foreign person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForeignPersons {
    Covered,
    NotCovered,
    /// Only where another authorization covers the person and the data (125.4(b)(9)(i));
    /// that other authorization is then the one used, so this one never is.
    SeparatelyAuthorized,
}

/// Which USML categories (or ECCNs) an authorization covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Categories {
    /// The record must name the data's category or ECCN.
    Named,
    /// Every category, unless the record names some (125.4(b)(9) is not limited by
    /// category; a record that names categories is held to them).
    AllUnlessNamed,
}

/// Whether an authorization can cover a 126.1 country (for EAR data: Country Group D:5,
/// which tracks the same list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proscribed {
    /// Honoured for a 126.1 country it names explicitly (an issued license).
    WhenNamed,
    /// Unavailable whenever a country to cover is on the 126.1 list (126.1(a), 125.4(a)).
    Never,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The citation of the authorization; for other exemptions, a template with
    /// `{section}`.
    pub cite: String,
    /// What it serves, in one sentence: the message when it does not fit.
    pub serves: String,
    pub releases: Vec<Jurisdiction>,
    pub us_persons_abroad: bool,
    pub foreign_persons: ForeignPersons,
    pub release_in_us: bool,
    /// Every country to cover must be in this list; `None`: any the record names.
    pub countries_within: Option<Vec<Country>>,
    pub categories: Categories,
    pub proscribed: Proscribed,
}

/// The scope table of one edition.
#[derive(Debug, Clone)]
pub struct ScopeTable {
    pub edition: Edition,
    pub note: String,
    pub types: Vec<(AuthType, Scope)>,
    /// Keyed by normalised section (see [`normalize_section`]).
    pub exemptions: Vec<(String, Scope)>,
    pub other_exemptions: Scope,
}

/// The scope that governs one authorization, with its citation resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Governing<'a> {
    pub scope: &'a Scope,
    pub cite: Cow<'a, str>,
}

/// An exemption record whose section is not a section of the ITAR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrecognizedSection(pub String);

impl ScopeTable {
    /// The row that governs `auth`: its type's row, or for an exemption the row of the
    /// most specific section that the claimed section falls under (`126.18(a)` under
    /// `126.18`; `126.18(e)` has a row of its own), else the row for other exemptions.
    pub fn governing(&self, auth: &Authorization) -> Result<Governing<'_>, UnrecognizedSection> {
        if auth.kind != AuthType::Exemption {
            return self
                .types
                .iter()
                .find(|(kind, _)| *kind == auth.kind)
                .map(|(_, scope)| Governing {
                    scope,
                    cite: Cow::Borrowed(scope.cite.as_str()),
                })
                // Parsing requires a row per type; a missing one authorizes nothing.
                .ok_or_else(|| UnrecognizedSection(auth.kind.as_str().to_owned()));
        }
        let claimed = auth.exemption.as_deref().unwrap_or_default();
        let section =
            normalize_section(claimed).ok_or_else(|| UnrecognizedSection(claimed.to_owned()))?;
        let row = self
            .exemptions
            .iter()
            .filter(|(known, _)| {
                section == *known
                    || section
                        .strip_prefix(known.as_str())
                        .is_some_and(|rest| rest.starts_with('('))
            })
            .max_by_key(|(known, _)| known.len());
        Ok(match row {
            Some((_, scope)) => Governing {
                scope,
                cite: Cow::Borrowed(scope.cite.as_str()),
            },
            None => Governing {
                scope: &self.other_exemptions,
                cite: Cow::Owned(self.other_exemptions.cite.replace("{section}", &section)),
            },
        })
    }

    pub(crate) fn parse(text: &str, codes: &Codes<'_>) -> Result<Self, DataError> {
        let (edition, table): (_, raw::Table) = split_edition(SCOPES_FILE, text)?;
        let mut types: Vec<(AuthType, Scope)> = Vec::new();
        for row in table.authorization_types {
            let name = row.kind.clone().unwrap_or_default();
            let what = format!("type `{name}`");
            let kind = AuthType::ALL
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, kind)| *kind)
                .filter(|kind| *kind != AuthType::Exemption)
                .ok_or_else(|| {
                    DataError::content(
                        SCOPES_FILE,
                        format!("{what} is not an authorization type (exemptions have rows of their own)"),
                    )
                })?;
            if types.iter().any(|(k, _)| *k == kind) {
                return Err(DataError::content(
                    SCOPES_FILE,
                    format!("{what} is listed twice"),
                ));
            }
            types.push((kind, row.check(&what, codes)?));
        }
        if let Some((name, _)) = AuthType::ALL
            .iter()
            .filter(|(_, kind)| *kind != AuthType::Exemption)
            .find(|(_, kind)| !types.iter().any(|(k, _)| k == kind))
        {
            return Err(DataError::content(
                SCOPES_FILE,
                format!("type `{name}` has no row: every authorization type needs one"),
            ));
        }
        let mut exemptions: Vec<(String, Scope)> = Vec::new();
        for row in table.exemptions {
            let claimed = row.section.clone().unwrap_or_default();
            let what = format!("exemption `{claimed}`");
            let section = normalize_section(&claimed)
                .filter(|s| *s == claimed)
                .ok_or_else(|| {
                    DataError::content(
                        SCOPES_FILE,
                        format!("{what} is not written as a section, e.g. `125.4(b)(9)`"),
                    )
                })?;
            if exemptions.iter().any(|(s, _)| *s == section) {
                return Err(DataError::content(
                    SCOPES_FILE,
                    format!("{what} is listed twice"),
                ));
            }
            exemptions.push((section, row.check(&what, codes)?));
        }
        let other_exemptions = table.other_exemptions.check("`other_exemptions`", codes)?;
        if !other_exemptions.cite.contains("{section}") {
            return Err(DataError::content(
                SCOPES_FILE,
                "`other_exemptions`: `cite` must contain `{section}`, where the claimed section goes",
            ));
        }
        Ok(Self {
            edition,
            note: table.note,
            types,
            exemptions,
            other_exemptions,
        })
    }
}

/// The canonical form of a claimed ITAR section: `§ 126.18` and `22 CFR 126.18` become
/// `126.18`, paragraphs are lower case. `None` when it is not of the form
/// `12x.n(a)(1)...` (parts 120 to 129 of 22 CFR).
pub fn normalize_section(claimed: &str) -> Option<String> {
    let mut text = claimed.trim();
    for prefix in ["22 CFR", "22 C.F.R."] {
        if text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix) {
            text = text[prefix.len()..].trim_start();
        }
    }
    text = text.strip_prefix('§').unwrap_or(text);
    let section: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let (part, rest) = section.split_once('.')?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (number, mut paragraphs) = rest.split_at(digits_end);
    let part_ok =
        part.len() == 3 && part.starts_with("12") && part.bytes().all(|b| b.is_ascii_digit());
    if !part_ok || number.is_empty() || number.len() > 3 {
        return None;
    }
    while let Some(after_open) = paragraphs.strip_prefix('(') {
        let (inside, after) = after_open.split_once(')')?;
        if inside.is_empty()
            || inside.len() > 5
            || !inside.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        paragraphs = after;
    }
    paragraphs.is_empty().then_some(section)
}

mod raw {
    //! The file as written.
    use serde::Deserialize;

    use super::{Categories, ForeignPersons, Jurisdiction, Proscribed};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Table {
        pub note: String,
        pub authorization_types: Vec<Scope>,
        pub exemptions: Vec<Scope>,
        pub other_exemptions: Scope,
    }

    /// One row. `type` is set in `authorization_types`, `section` in `exemptions`,
    /// neither in `other_exemptions`.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Scope {
        #[serde(rename = "type", default)]
        pub kind: Option<String>,
        #[serde(default)]
        pub section: Option<String>,
        pub cite: String,
        pub serves: String,
        pub releases: Vec<Jurisdiction>,
        pub us_persons_abroad: bool,
        pub foreign_persons: ForeignPersons,
        pub release_in_us: bool,
        pub countries_within: Option<Vec<String>>,
        pub categories: Categories,
        pub proscribed: Proscribed,
    }
}

impl raw::Scope {
    fn check(self, what: &str, codes: &Codes<'_>) -> Result<Scope, DataError> {
        let keys = (self.kind.is_some(), self.section.is_some());
        let expected = if what.starts_with("type") {
            (true, false)
        } else if what.starts_with("exemption") {
            (false, true)
        } else {
            (false, false)
        };
        if keys != expected {
            return Err(DataError::content(
                SCOPES_FILE,
                format!("{what}: rows of `authorization_types` have `type`, rows of `exemptions` have `section`, `other_exemptions` has neither"),
            ));
        }
        if !self.cite.contains("CFR") {
            return Err(DataError::content(
                SCOPES_FILE,
                format!("{what}: `cite` `{}` names no CFR section", self.cite),
            ));
        }
        if self.serves.trim().is_empty() {
            return Err(DataError::content(
                SCOPES_FILE,
                format!("{what}: `serves` is empty"),
            ));
        }
        let countries_within = match self.countries_within {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(DataError::content(
                    SCOPES_FILE,
                    format!("{what}: `countries_within` is empty; use null for no limit"),
                ))
            }
            Some(list) => {
                Some(codes.countries(SCOPES_FILE, &format!("{what}: `countries_within`"), &list)?)
            }
        };
        Ok(Scope {
            cite: self.cite,
            serves: self.serves,
            releases: self.releases,
            us_persons_abroad: self.us_persons_abroad,
            foreign_persons: self.foreign_persons,
            release_in_us: self.release_in_us,
            countries_within,
            categories: self.categories,
            proscribed: self.proscribed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::data;

    #[test]
    fn sections_are_normalised_or_refused() {
        for (claimed, want) in [
            ("126.18", Some("126.18")),
            (" § 126.18 ", Some("126.18")),
            ("22 CFR 125.4(b)(9)", Some("125.4(b)(9)")),
            ("22 cfr §125.4(B)(9)", Some("125.4(b)(9)")),
            ("125.4 (b) (2)", Some("125.4(b)(2)")),
            ("126.18(e)", Some("126.18(e)")),
            ("", None),
            ("126", None),
            ("15 CFR 740.2", None),
            ("740.2", None),
            ("126.18(", None),
            ("126.18()", None),
            ("126.18x", None),
            ("anything", None),
        ] {
            assert_eq!(normalize_section(claimed).as_deref(), want, "{claimed:?}");
        }
    }

    fn exemption(section: &str) -> Authorization {
        Authorization {
            id: "X".into(),
            kind: AuthType::Exemption,
            exemption: Some(section.into()),
            countries: Vec::new(),
            usml_categories: Vec::new(),
            eccns: Vec::new(),
            valid_from: None,
            expires: time::macros::date!(2030 - 01 - 01),
        }
    }

    /// Paragraphs of a known section fall under its row, so that writing `126.18(a)` or
    /// `§ 126.18` cannot escape 126.18's limits; `126.18(e)` has its own row.
    #[test]
    fn a_claimed_section_falls_under_its_most_specific_row() {
        let table = &data().unwrap().scopes;
        let cite = |section: &str| {
            table
                .governing(&exemption(section))
                .map(|g| g.cite.into_owned())
        };
        assert_eq!(cite("126.18(a)(1)"), Ok("22 CFR 126.18(a)".into()));
        assert_eq!(cite("22 CFR 126.18"), Ok("22 CFR 126.18(a)".into()));
        assert_eq!(cite("126.18(e)"), Ok("22 CFR 126.18(e)".into()));
        assert_eq!(cite("125.4(b)(9)(i)"), Ok("22 CFR 125.4(b)(9)".into()));
        assert_eq!(cite("125.4(b)(3)"), Ok("22 CFR 125.4(b)(3)".into()));
        assert_eq!(cite("126.180"), Ok("22 CFR 126.180".into()));
        assert_eq!(
            cite("the Canadian one"),
            Err(UnrecognizedSection("the Canadian one".into()))
        );
        let governing = table.governing(&exemption("126.18(e)")).unwrap();
        assert!(governing.scope.releases.is_empty());
    }

    #[test]
    fn every_type_has_a_row_and_the_table_says_what_the_spec_says() {
        let table = &data().unwrap().scopes;
        let row = |kind: AuthType| &table.types.iter().find(|(k, _)| *k == kind).unwrap().1;
        for kind in [AuthType::Dsp73, AuthType::Dsp61, AuthType::Dsp85] {
            assert!(row(kind).releases.is_empty(), "{kind}");
        }
        for kind in [AuthType::Dsp5, AuthType::Taa, AuthType::Mla, AuthType::Wda] {
            assert_eq!(row(kind).releases, [Jurisdiction::Itar], "{kind}");
            assert_eq!(row(kind).proscribed, Proscribed::WhenNamed, "{kind}");
        }
        assert_eq!(row(AuthType::EarLicense).proscribed, Proscribed::WhenNamed);
        let exemption = |s: &str| &table.exemptions.iter().find(|(k, _)| k == s).unwrap().1;
        let ca = Country::parse("CA").unwrap();
        assert_eq!(exemption("126.5").countries_within, Some(vec![ca]));
        assert!(!exemption("126.18").us_persons_abroad && !exemption("126.18").release_in_us);
        assert_eq!(
            exemption("125.4(b)(9)").foreign_persons,
            ForeignPersons::SeparatelyAuthorized
        );
        for (section, scope) in &table.exemptions {
            assert_eq!(scope.proscribed, Proscribed::Never, "{section}");
        }
        assert_eq!(table.other_exemptions.proscribed, Proscribed::Never);
    }
}
