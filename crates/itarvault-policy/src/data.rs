//! Regulatory data: ISO 3166-1 codes, the 22 CFR 126.1 table with dates, EAR Country
//! Groups E:1/E:2, USML category titles, the scope of every authorization type and
//! exemption, and the countries of cloud regions.
//!
//! Every file carries an edition header (`title`, `source`, `effective`, `reviewed`) and
//! is parsed and validated by one function, [`Data::parse`], whether it is the edition
//! embedded in this build or a newer one an operator loads. A file that fails makes
//! [`data`] return `None`, and the engine then denies everything: regulations are never
//! silently skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use itarvault_format::UsmlCategory;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::Date;

use crate::regions::{RegionTable, REGIONS_FILE};
use crate::scope::ScopeTable;

pub const ISO3166_JSON: &str = include_str!("../data/iso3166.json");
pub const PROSCRIBED_JSON: &str = include_str!("../data/proscribed.json");
pub const EAR_GROUPS_JSON: &str = include_str!("../data/ear_country_groups.json");
pub const USML_JSON: &str = include_str!("../data/usml.json");
pub const AUTHORIZATION_SCOPES_JSON: &str = include_str!("../data/authorization_scopes.json");
pub const CLOUD_REGIONS_JSON: &str = include_str!("../data/cloud_regions.json");

/// An ISO 3166-1 alpha-2 country code known to the embedded list.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses an upper-case ISO 3166-1 alpha-2 code that is officially assigned.
    pub fn parse(s: &str) -> Option<Self> {
        let country = Self::shaped(s)?;
        data()?.names.contains_key(&country).then_some(country)
    }
    /// Two upper-case ASCII letters; whether the code is assigned is the caller's check.
    fn shaped(s: &str) -> Option<Self> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Some(Self([*a, *b])),
            _ => None,
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
    pub const US: Country = Country(*b"US");
    /// The country's English short name.
    pub fn name(&self) -> &'static str {
        data()
            .and_then(|d| d.names.get(self))
            .map_or("unknown", String::as_str)
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The texts of one edition of the data files, by file.
#[derive(Debug, Clone, Copy)]
pub struct DataFiles<'a> {
    pub iso3166: &'a str,
    pub proscribed: &'a str,
    pub ear_country_groups: &'a str,
    pub usml: &'a str,
    pub authorization_scopes: &'a str,
    pub cloud_regions: &'a str,
}

impl DataFiles<'static> {
    /// The edition this build embeds.
    pub const EMBEDDED: Self = Self {
        iso3166: ISO3166_JSON,
        proscribed: PROSCRIBED_JSON,
        ear_country_groups: EAR_GROUPS_JSON,
        usml: USML_JSON,
        authorization_scopes: AUTHORIZATION_SCOPES_JSON,
        cloud_regions: CLOUD_REGIONS_JSON,
    };
}

/// Where a data file comes from and how current it is. `effective` is the date of the
/// newest rule the file reflects; `reviewed` the day someone last checked it against
/// its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edition {
    pub title: String,
    pub source: Vec<String>,
    pub effective: Date,
    pub reviewed: Date,
}

/// Why a data file was refused. The file is named; nothing of it is used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("`{file}` does not have the expected form: {source}\ncompare it with the edition shipped in crates/itarvault-policy/data/")]
    Json {
        file: &'static str,
        source: serde_json::Error,
    },
    #[error("`{file}`: edition header: {message}\nevery data file needs `title`, `source` (a non-empty list), `effective` and `reviewed` (YYYY-MM-DD)")]
    Edition { file: &'static str, message: String },
    #[error(
        "`{file}`: {message}\nfix the entry named; nothing of this edition is used until it loads"
    )]
    Content { file: &'static str, message: String },
}

impl DataError {
    pub(crate) fn content(file: &'static str, message: impl Into<String>) -> Self {
        Self::Content {
            file,
            message: message.into(),
        }
    }
}

/// The header fields every file carries, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdition {
    title: String,
    source: Vec<String>,
    effective: String,
    reviewed: String,
}

impl RawEdition {
    fn check(self, file: &'static str) -> Result<Edition, DataError> {
        let problem = |message: String| DataError::Edition { file, message };
        if self.title.trim().is_empty() {
            return Err(problem("`title` is empty".into()));
        }
        if self.source.is_empty() || self.source.iter().any(|s| s.trim().is_empty()) {
            return Err(problem(
                "`source` must list at least one non-empty source".into(),
            ));
        }
        let date = |field: &str, text: &str| {
            parse_ymd(text)
                .ok_or_else(|| problem(format!("`{field}` `{text}` is not a date (YYYY-MM-DD)")))
        };
        Ok(Edition {
            effective: date("effective", &self.effective)?,
            reviewed: date("reviewed", &self.reviewed)?,
            title: self.title,
            source: self.source,
        })
    }
}

/// Parses a data file into its edition header and its body. The header is taken out
/// first, so that the body's own type can refuse every field it does not know.
pub(crate) fn split_edition<T: DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<(Edition, T), DataError> {
    let json = |source| DataError::Json { file, source };
    let mut body: Map<String, Value> = serde_json::from_str(text).map_err(json)?;
    let mut header = Map::new();
    for key in ["title", "source", "effective", "reviewed"] {
        let value = body.remove(key).ok_or_else(|| DataError::Edition {
            file,
            message: format!("`{key}` is missing"),
        })?;
        header.insert(key.to_owned(), value);
    }
    let raw: RawEdition =
        serde_json::from_value(Value::Object(header)).map_err(|e| DataError::Edition {
            file,
            message: e.to_string(),
        })?;
    let edition = raw.check(file)?;
    Ok((
        edition,
        serde_json::from_value(Value::Object(body)).map_err(json)?,
    ))
}

/// The assigned codes of the edition being parsed. Codes in the other files are checked
/// against it, not against the embedded list.
pub(crate) struct Codes<'a> {
    names: &'a BTreeMap<Country, String>,
}

impl Codes<'_> {
    pub(crate) fn country(
        &self,
        file: &'static str,
        what: &str,
        code: &str,
    ) -> Result<Country, DataError> {
        Country::shaped(code)
            .filter(|c| self.names.contains_key(c))
            .ok_or_else(|| {
                DataError::content(
                    file,
                    format!("{what}: `{code}` is not an assigned ISO 3166-1 alpha-2 code"),
                )
            })
    }

    /// A list of distinct countries.
    pub(crate) fn countries(
        &self,
        file: &'static str,
        what: &str,
        codes: &[String],
    ) -> Result<Vec<Country>, DataError> {
        let mut seen = BTreeSet::new();
        codes
            .iter()
            .map(|code| {
                let country = self.country(file, what, code)?;
                if seen.insert(country) {
                    Ok(country)
                } else {
                    Err(DataError::content(
                        file,
                        format!("{what}: `{code}` is listed twice"),
                    ))
                }
            })
            .collect()
    }
}

/// 22 CFR 126.1(d)(1) (full policy of denial) or (d)(2) (denial with exceptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    D1,
    D2,
}

/// An inclusive period during which a country's policy of denial is suspended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    pub from: Date,
    pub to: Date,
    pub note: String,
}

/// One row of the 126.1 table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProscribedEntry {
    pub code: Country,
    pub name: String,
    pub tier: Tier,
    pub paragraph: Option<String>,
    /// Another country whose listing this one follows (Hong Kong and Macau follow China).
    pub follows: Option<Country>,
    /// First day listed; absent for long-standing entries.
    pub listed_from: Option<Date>,
    /// Day of removal (not listed from this day on).
    pub listed_until: Option<Date>,
    pub suspended: Vec<Suspension>,
}

impl ProscribedEntry {
    /// Whether the entry is in force on `day`.
    pub fn in_force(&self, day: Date) -> bool {
        self.listed_from.is_none_or(|f| day >= f)
            && self.listed_until.is_none_or(|u| day < u)
            && !self.suspended.iter().any(|s| s.from <= day && day <= s.to)
    }
    /// The citation for this entry: `22 CFR 126.1(d)(1)` or the country's paragraph.
    pub fn cite(&self) -> String {
        match (&self.paragraph, self.tier) {
            (Some(p), _) => format!("22 CFR 126.1{p}"),
            (None, Tier::D1) => "22 CFR 126.1(d)(1)".into(),
            (None, Tier::D2) => "22 CFR 126.1(d)(2)".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProscribedTable {
    pub edition: Edition,
    pub note: String,
    pub ear_note: String,
    pub entries: Vec<ProscribedEntry>,
}

#[derive(Debug, Clone)]
pub struct EarGroups {
    pub edition: Edition,
    pub note: String,
    pub e1: Vec<Country>,
    pub e2: Vec<Country>,
}

#[derive(Debug, Clone)]
pub struct UsmlCategoryTitle {
    pub category: UsmlCategory,
    pub title: String,
}

#[derive(Debug, Clone)]
pub struct UsmlTable {
    pub edition: Edition,
    pub categories: Vec<UsmlCategoryTitle>,
}

/// All regulatory data of one edition, parsed and validated.
#[derive(Debug, Clone)]
pub struct Data {
    pub iso3166: Edition,
    names: BTreeMap<Country, String>,
    pub proscribed: ProscribedTable,
    pub ear: EarGroups,
    pub usml: UsmlTable,
    pub scopes: ScopeTable,
    /// Where each cloud region's data is (the assessor asks; the floor does not).
    pub regions: RegionTable,
}

mod raw {
    //! The files as written; [`super::Data::parse`] turns them into the typed tables.
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Iso {
        pub countries: Vec<IsoEntry>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct IsoEntry {
        pub code: String,
        pub name: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Proscribed {
        pub note: String,
        pub ear_note: String,
        pub entries: Vec<ProscribedEntry>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ProscribedEntry {
        pub code: String,
        pub name: String,
        pub tier: super::Tier,
        #[serde(default)]
        pub paragraph: Option<String>,
        #[serde(default)]
        pub follows: Option<String>,
        #[serde(default)]
        pub listed_from: Option<String>,
        #[serde(default)]
        pub listed_until: Option<String>,
        #[serde(default)]
        pub suspended: Vec<Suspension>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Suspension {
        pub from: String,
        pub to: String,
        #[serde(default)]
        pub note: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct EarGroups {
        pub note: String,
        pub e1: Vec<String>,
        pub e2: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Usml {
        pub categories: Vec<UsmlCategory>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct UsmlCategory {
        pub category: String,
        pub title: String,
    }
}

const ISO_FILE: &str = "iso3166.json";
const PROSCRIBED_FILE: &str = "proscribed.json";
const EAR_FILE: &str = "ear_country_groups.json";
const USML_FILE: &str = "usml.json";
pub(crate) const SCOPES_FILE: &str = "authorization_scopes.json";

/// A date field of a data file.
fn date_in(file: &'static str, what: &str, text: &str) -> Result<Date, DataError> {
    parse_ymd(text).ok_or_else(|| {
        DataError::content(file, format!("{what}: `{text}` is not a date (YYYY-MM-DD)"))
    })
}

fn parse_names(text: &str) -> Result<(Edition, BTreeMap<Country, String>), DataError> {
    let (edition, iso): (_, raw::Iso) = split_edition(ISO_FILE, text)?;
    let mut names = BTreeMap::new();
    for entry in iso.countries {
        let country = Country::shaped(&entry.code).ok_or_else(|| {
            DataError::content(
                ISO_FILE,
                format!("`{}` is not two upper-case letters", entry.code),
            )
        })?;
        if entry.name.trim().is_empty() {
            return Err(DataError::content(
                ISO_FILE,
                format!("`{}` has no name", entry.code),
            ));
        }
        if names.insert(country, entry.name).is_some() {
            return Err(DataError::content(
                ISO_FILE,
                format!("`{}` is listed twice", entry.code),
            ));
        }
    }
    if !names.contains_key(&Country::US) {
        return Err(DataError::content(ISO_FILE, "`US` is missing"));
    }
    Ok((edition, names))
}

fn parse_proscribed(text: &str, codes: &Codes<'_>) -> Result<ProscribedTable, DataError> {
    const FILE: &str = PROSCRIBED_FILE;
    let (edition, table): (_, raw::Proscribed) = split_edition(FILE, text)?;
    let mut entries = Vec::with_capacity(table.entries.len());
    let mut seen = BTreeSet::new();
    for entry in table.entries {
        let what = format!("entry `{}`", entry.code);
        let code = codes.country(FILE, &what, &entry.code)?;
        if !seen.insert(code) {
            return Err(DataError::content(FILE, format!("{what} is listed twice")));
        }
        if let Some(paragraph) = &entry.paragraph {
            if !is_paragraph(paragraph) {
                return Err(DataError::content(
                    FILE,
                    format!("{what}: paragraph `{paragraph}` is not of the form `(r)`"),
                ));
            }
        }
        let optional_date = |field: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|text| date_in(FILE, &format!("{what}: `{field}`"), text))
                .transpose()
        };
        let listed_from = optional_date("listed_from", &entry.listed_from)?;
        let listed_until = optional_date("listed_until", &entry.listed_until)?;
        if let (Some(from), Some(until)) = (listed_from, listed_until) {
            if until <= from {
                return Err(DataError::content(
                    FILE,
                    format!("{what}: `listed_until` is not after `listed_from`"),
                ));
            }
        }
        let suspended = entry
            .suspended
            .iter()
            .map(|period| {
                let from = date_in(FILE, &format!("{what}: suspension `from`"), &period.from)?;
                let to = date_in(FILE, &format!("{what}: suspension `to`"), &period.to)?;
                if to < from {
                    return Err(DataError::content(
                        FILE,
                        format!("{what}: a suspension ends before it starts"),
                    ));
                }
                Ok(Suspension {
                    from,
                    to,
                    note: period.note.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        let follows = entry
            .follows
            .as_deref()
            .map(|parent| codes.country(FILE, &format!("{what}: `follows`"), parent))
            .transpose()?;
        if entry.name.trim().is_empty() {
            return Err(DataError::content(FILE, format!("{what} has no name")));
        }
        entries.push(ProscribedEntry {
            code,
            name: entry.name,
            tier: entry.tier,
            paragraph: entry.paragraph,
            follows,
            listed_from,
            listed_until,
            suspended,
        });
    }
    // A country follows a listed parent that follows nobody: no chains, no dangling names.
    for entry in &entries {
        if let Some(parent) = entry.follows {
            let parent_entry = entries.iter().find(|e| e.code == parent);
            if parent_entry.is_none_or(|p| p.follows.is_some()) {
                return Err(DataError::content(
                    FILE,
                    format!(
                        "entry `{}` follows `{parent}`, which is not a listed country of its own",
                        entry.code
                    ),
                ));
            }
        }
    }
    Ok(ProscribedTable {
        edition,
        note: table.note,
        ear_note: table.ear_note,
        entries,
    })
}

/// `(r)`, `(d)(1)`: the paragraph of 126.1 that names a country.
fn is_paragraph(text: &str) -> bool {
    let mut rest = text;
    while let Some(after_open) = rest.strip_prefix('(') {
        let Some((inside, after)) = after_open.split_once(')') else {
            return false;
        };
        if inside.is_empty() || !inside.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
        rest = after;
    }
    rest.is_empty() && !text.is_empty()
}

fn parse_ear(text: &str, codes: &Codes<'_>) -> Result<EarGroups, DataError> {
    let (edition, groups): (_, raw::EarGroups) = split_edition(EAR_FILE, text)?;
    let e1 = codes.countries(EAR_FILE, "`e1`", &groups.e1)?;
    let e2 = codes.countries(EAR_FILE, "`e2`", &groups.e2)?;
    if let Some(both) = e1.iter().find(|c| e2.contains(c)) {
        return Err(DataError::content(
            EAR_FILE,
            format!("`{both}` is in both E:1 and E:2"),
        ));
    }
    Ok(EarGroups {
        edition,
        note: groups.note,
        e1,
        e2,
    })
}

fn parse_usml(text: &str) -> Result<UsmlTable, DataError> {
    let (edition, table): (_, raw::Usml) = split_edition(USML_FILE, text)?;
    let categories = table
        .categories
        .into_iter()
        .enumerate()
        .map(|(index, row)| {
            let category = row.category.parse::<UsmlCategory>().map_err(|_| {
                DataError::content(
                    USML_FILE,
                    format!("`{}` is not a USML category", row.category),
                )
            })?;
            if usize::from(category.number()) != index + 1 || row.title.trim().is_empty() {
                return Err(DataError::content(
                    USML_FILE,
                    format!(
                        "row {} is `{}`: the rows must be categories I to XXI in order, each with a title",
                        index + 1,
                        row.category
                    ),
                ));
            }
            Ok(UsmlCategoryTitle {
                category,
                title: row.title,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if categories.len() != 21 {
        return Err(DataError::content(
            USML_FILE,
            format!("{} categories; the USML has 21", categories.len()),
        ));
    }
    Ok(UsmlTable {
        edition,
        categories,
    })
}

impl Data {
    /// Parses and validates one edition of every data file. Nothing partial: either
    /// every file is valid, or the first problem is returned naming its file.
    pub fn parse(files: &DataFiles<'_>) -> Result<Self, DataError> {
        let (iso3166, names) = parse_names(files.iso3166)?;
        let codes = Codes { names: &names };
        let proscribed = parse_proscribed(files.proscribed, &codes)?;
        let ear = parse_ear(files.ear_country_groups, &codes)?;
        let usml = parse_usml(files.usml)?;
        let scopes = ScopeTable::parse(files.authorization_scopes, &codes)?;
        let regions = RegionTable::parse(files.cloud_regions, &codes)?;
        Ok(Self {
            iso3166,
            names,
            proscribed,
            ear,
            usml,
            scopes,
            regions,
        })
    }

    /// Each file's name and edition, for printing and for the audit trail.
    pub fn editions(&self) -> [(&'static str, &Edition); 6] {
        [
            (ISO_FILE, &self.iso3166),
            (PROSCRIBED_FILE, &self.proscribed.edition),
            (EAR_FILE, &self.ear.edition),
            (USML_FILE, &self.usml.edition),
            (SCOPES_FILE, &self.scopes.edition),
            (REGIONS_FILE, &self.regions.edition),
        ]
    }

    /// The 126.1 entry that makes `c` proscribed on `day`, if any (following `follows`).
    pub fn proscribed_on(&self, c: Country, day: Date) -> Option<&ProscribedEntry> {
        let entry = self.proscribed.entries.iter().find(|e| e.code == c)?;
        match entry.follows {
            Some(parent) => self
                .proscribed
                .entries
                .iter()
                .find(|p| p.code == parent)
                .filter(|p| p.in_force(day) && entry.in_force(day)),
            None => entry.in_force(day).then_some(entry),
        }
    }

    /// Country Group E:1 or E:2 (embargoed destinations for EAR99 items).
    pub fn ear_embargoed(&self, c: Country) -> Option<&'static str> {
        if self.ear.e1.contains(&c) {
            Some("E:1")
        } else if self.ear.e2.contains(&c) {
            Some("E:2")
        } else {
            None
        }
    }
}

fn embedded() -> &'static Result<Data, DataError> {
    static DATA: OnceLock<Result<Data, DataError>> = OnceLock::new();
    DATA.get_or_init(|| Data::parse(&DataFiles::EMBEDDED))
}

/// The embedded edition, or `None` if it is broken (deny everything).
pub fn data() -> Option<&'static Data> {
    embedded().as_ref().ok()
}

/// Why the embedded edition did not load, for tests, `itarvault countries` and the
/// assessor.
pub fn load_error() -> Option<&'static DataError> {
    embedded().as_ref().err()
}

fn date_fmt() -> &'static [time::format_description::FormatItem<'static>] {
    time::macros::format_description!("[year]-[month]-[day]")
}

/// Formats a date as `YYYY-MM-DD`.
pub fn ymd(d: Date) -> String {
    d.format(date_fmt()).unwrap_or_else(|_| d.to_string())
}

/// Parses `YYYY-MM-DD`.
pub fn parse_ymd(s: &str) -> Option<Date> {
    Date::parse(s, date_fmt()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn c(s: &str) -> Country {
        Country::parse(s).unwrap()
    }

    #[test]
    fn data_files_load_and_are_consistent() {
        assert!(load_error().is_none(), "{:?}", load_error());
        let d = data().unwrap();
        assert_eq!(d.usml.categories.len(), 21);
        for (file, edition) in d.editions() {
            assert!(!edition.source.is_empty(), "{file}");
            assert_eq!(edition.reviewed, date!(2026 - 12 - 02), "{file}");
        }
    }

    #[test]
    fn country_codes_are_validated() {
        assert!(Country::parse("US").is_some());
        for bad in ["us", "USA", "XX", "ZZ", "", "U", "U1"] {
            assert!(Country::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn proscribed_list_follows_its_dates() {
        let d = data().unwrap();
        let p = |code: &str, day: Date| d.proscribed_on(c(code), day).is_some();
        assert!(p("CN", date!(2026 - 11 - 22)));
        assert!(p("HK", date!(2026 - 11 - 22)) && p("MO", date!(2026 - 11 - 22)));
        assert!(!p("RU", date!(2021 - 03 - 17)) && p("RU", date!(2021 - 03 - 18)));
        assert!(!p("NI", date!(2024 - 03 - 14)) && p("NI", date!(2024 - 03 - 15)));
        assert!(p("KH", date!(2025 - 11 - 06)) && !p("KH", date!(2025 - 11 - 07)));
        assert!(!p("KH", date!(2021 - 12 - 08)) && p("KH", date!(2021 - 12 - 09)));
        assert!(p("CY", date!(2022 - 09 - 30)) && !p("CY", date!(2025 - 10 - 01)));
        assert!(!p("CY", date!(2026 - 09 - 30)) && p("CY", date!(2026 - 10 - 01)));
        assert!(!p("GB", date!(2026 - 11 - 22)) && !p("US", date!(2026 - 11 - 22)));
        assert_eq!(d.ear_embargoed(c("CU")), Some("E:2"));
        assert_eq!(d.ear_embargoed(c("IR")), Some("E:1"));
        assert_eq!(d.ear_embargoed(c("SY")), Some("E:1"));
        assert_eq!(d.ear_embargoed(c("CN")), None);
    }

    /// One edition with a single file replaced by `edit(text)`.
    fn edited(file: &str, edit: impl Fn(&str) -> String) -> Result<Data, DataError> {
        let text = match file {
            ISO_FILE => ISO3166_JSON,
            PROSCRIBED_FILE => PROSCRIBED_JSON,
            EAR_FILE => EAR_GROUPS_JSON,
            USML_FILE => USML_JSON,
            REGIONS_FILE => CLOUD_REGIONS_JSON,
            _ => AUTHORIZATION_SCOPES_JSON,
        };
        let changed = edit(text);
        let mut files = DataFiles::EMBEDDED;
        match file {
            ISO_FILE => files.iso3166 = &changed,
            PROSCRIBED_FILE => files.proscribed = &changed,
            EAR_FILE => files.ear_country_groups = &changed,
            USML_FILE => files.usml = &changed,
            REGIONS_FILE => files.cloud_regions = &changed,
            _ => files.authorization_scopes = &changed,
        }
        Data::parse(&files)
    }

    fn refused(file: &'static str, edit: impl Fn(&str) -> String) -> String {
        match edited(file, edit) {
            Ok(_) => panic!("{file}: the edited edition loaded"),
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains(file), "{text}");
                text
            }
        }
    }

    /// Every file needs a complete, dated edition header.
    #[test]
    fn every_file_needs_its_edition_header() {
        for file in [
            ISO_FILE,
            PROSCRIBED_FILE,
            EAR_FILE,
            USML_FILE,
            SCOPES_FILE,
            REGIONS_FILE,
        ] {
            let text = refused(file, |t| t.replacen("\"reviewed\"", "\"checked\"", 1));
            assert!(
                text.contains("checked") || text.contains("reviewed"),
                "{text}"
            );
            let text = refused(file, |t| {
                t.replacen(
                    "\"reviewed\": \"2026-12-02\"",
                    "\"reviewed\": \"2026-13-02\"",
                    1,
                )
            });
            assert!(
                text.contains("`reviewed` `2026-13-02` is not a date"),
                "{text}"
            );
            refused(file, |t| {
                let start = t.find("\"effective\"").unwrap();
                let end = start + t[start..].find(',').unwrap() + 1;
                format!("{}{}", &t[..start], &t[end..])
            });
        }
        let text = refused(PROSCRIBED_FILE, |t| {
            let start = t.find("\"source\": [").unwrap();
            let end = start + t[start..].find(']').unwrap() + 1;
            format!("{}\"source\": []{}", &t[..start], &t[end..])
        });
        assert!(text.contains("`source` must list"), "{text}");
    }

    #[test]
    fn content_is_validated_strictly() {
        let text = refused(PROSCRIBED_FILE, |t| {
            t.replacen("{ \"code\": \"BY\"", "{ \"code\": \"XX\"", 1)
        });
        assert!(text.contains("`XX` is not an assigned"), "{text}");
        let text = refused(PROSCRIBED_FILE, |t| {
            t.replacen("\"follows\": \"CN\"", "\"follows\": \"GB\"", 1)
        });
        assert!(text.contains("follows `GB`"), "{text}");
        let text = refused(PROSCRIBED_FILE, |t| {
            t.replacen(
                "\"listed_from\": \"2024-03-15\"",
                "\"listed_from\": \"2024-3-15\"",
                1,
            )
        });
        assert!(text.contains("2024-3-15"), "{text}");
        refused(PROSCRIBED_FILE, |t| {
            t.replacen("\"tier\": \"d1\"", "\"tier\": \"d3\"", 1)
        });
        refused(PROSCRIBED_FILE, |t| {
            t.replacen("\"paragraph\": \"(r)\"", "\"paragraph\": \"r\"", 1)
        });
        refused(EAR_FILE, |t| {
            t.replacen("\"e2\": [\"CU\"]", "\"e2\": [\"IR\"]", 1)
        });
        refused(USML_FILE, |t| {
            t.replacen("\"category\": \"XI\"", "\"category\": \"XII\"", 1)
        });
        refused(ISO_FILE, |t| {
            t.replacen("\"code\": \"AD\"", "\"code\": \"AE\"", 1)
        });
        refused(ISO_FILE, |t| {
            t.replacen("\"code\": \"US\"", "\"code\": \"UU\"", 1)
        });
        // Unknown fields are refused, not ignored.
        refused(EAR_FILE, |t| t.replacen("\"e1\"", "\"d5\": [], \"e1\"", 1));
    }

    #[test]
    fn the_scope_table_is_validated_strictly() {
        let remove_row = |t: &str, marker: &str| {
            let at = t.find(marker).unwrap();
            let start = t[..at].rfind('{').unwrap();
            let end = at + t[at..].find('}').unwrap() + 1;
            let after = t[end..].trim_start().strip_prefix(',').unwrap_or(&t[end..]);
            format!("{}{}", &t[..start], after)
        };
        let text = refused(SCOPES_FILE, |t| remove_row(t, "\"type\": \"DSP-61\""));
        assert!(text.contains("`DSP-61` has no row"), "{text}");
        let text = refused(SCOPES_FILE, |t| {
            t.replacen("\"type\": \"DSP-61\"", "\"type\": \"DSP-73\"", 1)
        });
        assert!(text.contains("listed twice"), "{text}");
        let text = refused(SCOPES_FILE, |t| {
            t.replacen("\"type\": \"DSP-61\"", "\"type\": \"exemption\"", 1)
        });
        assert!(text.contains("is not an authorization type"), "{text}");
        let text = refused(SCOPES_FILE, |t| {
            t.replacen("\"section\": \"126.5\"", "\"section\": \"§ 126.5\"", 1)
        });
        assert!(text.contains("is not written as a section"), "{text}");
        let text = refused(SCOPES_FILE, |t| t.replacen("[\"CA\"]", "[]", 1));
        assert!(text.contains("`countries_within` is empty"), "{text}");
        refused(SCOPES_FILE, |t| t.replacen("[\"CA\"]", "[\"QQ\"]", 1));
        refused(SCOPES_FILE, |t| {
            t.replacen(
                "\"proscribed\": \"never\"",
                "\"proscribed\": \"sometimes\"",
                1,
            )
        });
        refused(SCOPES_FILE, |t| t.replacen("[\"ITAR\"]", "[\"itar\"]", 1));
        let text = refused(SCOPES_FILE, |t| {
            t.replacen(
                "\"cite\": \"22 CFR {section}\"",
                "\"cite\": \"22 CFR 125\"",
                1,
            )
        });
        assert!(text.contains("{section}"), "{text}");
        let text = refused(SCOPES_FILE, |t| {
            t.replacen("\"cite\": \"15 CFR 750.7\"", "\"cite\": \"the license\"", 1)
        });
        assert!(text.contains("names no CFR section"), "{text}");
        refused(SCOPES_FILE, |t| {
            t.replacen(
                "\"release_in_us\": true,",
                "\"release_in_us\": true, \"provisos\": [],",
                1,
            )
        });
        let text = refused(SCOPES_FILE, |t| {
            t.replacen(
                "\"section\": \"126.7\",",
                "\"section\": \"126.7\", \"type\": \"DSP-5\",",
                1,
            )
        });
        assert!(
            text.contains("rows of `exemptions` have `section`"),
            "{text}"
        );
    }

    #[test]
    fn the_region_table_is_validated_strictly() {
        let text = refused(REGIONS_FILE, |t| {
            t.replacen("\"countries\": [\"HK\"]", "\"countries\": [\"XX\"]", 1)
        });
        assert!(text.contains("`XX` is not an assigned"), "{text}");
        let text = refused(REGIONS_FILE, |t| {
            t.replacen("\"countries\": [\"HK\"]", "\"countries\": []", 1)
        });
        assert!(text.contains("names no country"), "{text}");
        let text = refused(REGIONS_FILE, |t| {
            t.replacen("\"region\": \"eastus2\"", "\"region\": \"East US 2\"", 1)
        });
        assert!(text.contains("as the API writes it"), "{text}");
        let text = refused(REGIONS_FILE, |t| {
            t.replacen("\"region\": \"us-east-2\"", "\"region\": \"us-east-1\"", 1)
        });
        assert!(text.contains("listed twice"), "{text}");
        refused(REGIONS_FILE, |t| {
            t.replacen(
                "\"region\": \"us-east-2\",",
                "\"region\": \"us-east-2\", \"zone\": 1,",
                1,
            )
        });
        refused(REGIONS_FILE, |t| t.replacen("\"aws\": [", "\"AWS\": [", 1));
    }

    /// A valid newer edition loads and changes what the table says.
    #[test]
    fn a_newer_edition_loads_through_the_same_function() {
        let newer = edited(PROSCRIBED_FILE, |t| {
            t.replacen("\"to\": \"2026-09-30\"", "\"to\": \"2027-09-30\"", 1)
                .replacen(
                    "\"reviewed\": \"2026-12-02\"",
                    "\"reviewed\": \"2026-12-03\"",
                    1,
                )
        })
        .unwrap();
        assert!(newer
            .proscribed_on(c("CY"), date!(2026 - 12 - 01))
            .is_none());
        assert!(data()
            .unwrap()
            .proscribed_on(c("CY"), date!(2026 - 12 - 01))
            .is_some());
        assert_eq!(newer.proscribed.edition.reviewed, date!(2026 - 12 - 03));
    }
}
