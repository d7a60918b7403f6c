//! Export-control labels (`docs/labels.md`).
//!
//! A label is parsed once, at the edge, into a typed value with one canonical text
//! form. The canonical form is what the envelope authenticates, so two spellings of
//! the same label (`itar:xi;cui` and `ITAR:XI;CUI`) produce the same header bytes, and
//! any label that does not parse is refused rather than stored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest canonical label text accepted (the envelope's `label_len` bound).
pub const MAX_LABEL_LEN: usize = 512;
const MAX_PART_LEN: usize = 64;

const ROMAN: [&str; 21] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV",
    "XVI", "XVII", "XVIII", "XIX", "XX", "XXI",
];

/// A USML category, I to XXI (22 CFR 121.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsmlCategory(u8);

impl UsmlCategory {
    /// The category with number `n` (1 to 21).
    pub fn new(n: u8) -> Option<Self> {
        (1..=21).contains(&n).then_some(Self(n))
    }
    /// Its number, 1 to 21.
    pub fn number(self) -> u8 {
        self.0
    }
    /// Its roman numeral, as written in the USML.
    pub fn roman(self) -> &'static str {
        ROMAN.get(usize::from(self.0) - 1).copied().unwrap_or("?")
    }
}

impl FromStr for UsmlCategory {
    type Err = LabelError;
    fn from_str(s: &str) -> Result<Self, LabelError> {
        let upper = s.to_ascii_uppercase();
        ROMAN
            .iter()
            .position(|r| *r == upper)
            .and_then(|i| u8::try_from(i + 1).ok())
            .map(Self)
            .ok_or_else(|| LabelError::UsmlCategory(s.to_owned()))
    }
}

impl fmt::Display for UsmlCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.roman())
    }
}

/// An Export Control Classification Number (15 CFR 774 Supp. 1), e.g. `9E003` or
/// `3A001.a.1`: digit, product group A-E, three digits, optional dotted sub-paragraphs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Eccn(String);

impl Eccn {
    /// The five-character classification (`3A001` of `3A001.a.1`), which is what
    /// licenses and license exceptions name.
    pub fn base(&self) -> &str {
        self.0.get(..5).unwrap_or(&self.0)
    }
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Eccn {
    type Err = LabelError;
    fn from_str(s: &str) -> Result<Self, LabelError> {
        let bad = || LabelError::Eccn(s.to_owned());
        if s.len() > 48 || s.len() < 5 || !s.is_ascii() {
            return Err(bad());
        }
        let (head, rest) = s.split_at(5);
        let b = head.as_bytes();
        let shape = b[0].is_ascii_digit()
            && matches!(b[1].to_ascii_uppercase(), b'A'..=b'E')
            && b[2..].iter().all(u8::is_ascii_digit);
        if !shape {
            return Err(bad());
        }
        if !rest.is_empty() {
            let sub = rest.strip_prefix('.').ok_or_else(bad)?;
            if sub
                .split('.')
                .any(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_alphanumeric()))
            {
                return Err(bad());
            }
        }
        Ok(Self(format!(
            "{}{}",
            head.to_ascii_uppercase(),
            rest.to_ascii_lowercase()
        )))
    }
}

impl fmt::Display for Eccn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which regime controls the data, with its classification.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Control {
    /// ITAR technical data in a USML category, optionally to the paragraph: `(a)(3)(i)`.
    Itar {
        category: UsmlCategory,
        paragraph: Option<String>,
    },
    /// EAR data with an ECCN.
    Ear { eccn: Eccn },
    /// Subject to the EAR but not on the Commerce Control List.
    Ear99,
    /// Not subject to ITAR or EAR (public domain, published).
    Public,
}

/// DoD distribution statement letter (DoDI 5230.24).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Distribution(char);

impl Distribution {
    fn parse(s: &str) -> Result<Self, LabelError> {
        match s.to_ascii_uppercase().as_str() {
            c @ ("A" | "B" | "C" | "D" | "E" | "F") => Ok(Self(c.chars().next().unwrap_or('A'))),
            _ => Err(LabelError::Distribution(s.to_owned())),
        }
    }
    /// The letter, `A` to `F`.
    pub fn letter(self) -> char {
        self.0
    }
}

/// The export-control classification of one object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    control: Control,
    /// `Some("")` for a plain `CUI` marking, `Some("SP-EXPT")` for `CUI//SP-EXPT`.
    cui: Option<String>,
    distribution: Option<Distribution>,
    program: Option<String>,
}

/// Why a label did not parse. Each variant names the part that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("label is empty\nwrite one of ITAR:<category>, EAR:<eccn>, EAR99 or PUBLIC")]
    Empty,
    #[error("label is longer than {MAX_LABEL_LEN} bytes")]
    TooLong,
    #[error("label control `{0}` is not recognised\nwrite one of ITAR:<category>, EAR:<eccn>, EAR99 or PUBLIC")]
    Control(String),
    #[error("`{0}` is not a USML category\nuse a roman numeral from I to XXI, e.g. ITAR:XI")]
    UsmlCategory(String),
    #[error("USML paragraph `{0}` does not parse\nwrite it as parenthesised parts, e.g. ITAR:XI(a)(3)(i)")]
    Paragraph(String),
    #[error("`{0}` is not an ECCN\nan ECCN is a digit, a letter A-E, three digits and optional .sub.paragraphs, e.g. EAR:3A001.a.1")]
    Eccn(String),
    #[error("`EAR:EAR99` is not a label\nwrite `EAR99`")]
    EarEar99,
    #[error("label modifier `{0}` is not recognised\nmodifiers are CUI, CUI//<category>, DIST:<A-F> and program=<name>")]
    Modifier(String),
    #[error("label modifier `{0}` appears more than once")]
    DuplicateModifier(&'static str),
    #[error(
        "CUI category `{0}` does not parse\nuse letters, digits, `-` and `/`, e.g. CUI//SP-EXPT"
    )]
    CuiCategory(String),
    #[error("distribution statement `{0}` is not one of A-F")]
    Distribution(String),
    #[error("program name `{0}` does not parse\nuse 1 to 64 letters, digits, `-` or `_`")]
    Program(String),
    #[error("label field `{0}` is not allowed with jurisdiction `{1}`")]
    FieldNotAllowed(&'static str, &'static str),
    #[error("label field `{0}` is required with jurisdiction `{1}`")]
    FieldMissing(&'static str, &'static str),
}

fn valid_paragraph(p: &str) -> bool {
    if p.is_empty() || p.len() > MAX_PART_LEN {
        return false;
    }
    let mut rest = p;
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('(') else {
            return false;
        };
        let Some(close) = inner.find(')') else {
            return false;
        };
        let part = &inner[..close];
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return false;
        }
        rest = &inner[close + 1..];
    }
    true
}

fn valid_cui_category(c: &str) -> bool {
    c.len() <= MAX_PART_LEN
        && !c.starts_with('/')
        && !c.ends_with('/')
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/')
}

fn valid_program(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= MAX_PART_LEN
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

impl Control {
    fn parse(s: &str) -> Result<Self, LabelError> {
        if s.is_empty() {
            return Err(LabelError::Empty);
        }
        if s.eq_ignore_ascii_case("EAR99") {
            return Ok(Self::Ear99);
        }
        if s.eq_ignore_ascii_case("PUBLIC") {
            return Ok(Self::Public);
        }
        if let Some(rest) = strip_prefix_ci(s, "ITAR:") {
            let (cat, para) = match rest.find('(') {
                Some(i) => (&rest[..i], Some(&rest[i..])),
                None => (rest, None),
            };
            let category = cat.parse()?;
            let paragraph = match para {
                Some(p) if valid_paragraph(p) => Some(p.to_ascii_lowercase()),
                Some(p) => return Err(LabelError::Paragraph(p.to_owned())),
                None => None,
            };
            return Ok(Self::Itar {
                category,
                paragraph,
            });
        }
        if let Some(rest) = strip_prefix_ci(s, "EAR:") {
            if rest.eq_ignore_ascii_case("EAR99") {
                return Err(LabelError::EarEar99);
            }
            return Ok(Self::Ear {
                eccn: rest.parse()?,
            });
        }
        Err(LabelError::Control(s.to_owned()))
    }

    /// The `jurisdiction` value of the JSON form.
    pub fn jurisdiction(&self) -> &'static str {
        match self {
            Self::Itar { .. } => "ITAR",
            Self::Ear { .. } => "EAR",
            Self::Ear99 => "EAR99",
            Self::Public => "PUBLIC",
        }
    }
}

impl Label {
    /// A label with this control and no modifiers.
    pub fn new(control: Control) -> Self {
        Self {
            control,
            cui: None,
            distribution: None,
            program: None,
        }
    }
    pub fn control(&self) -> &Control {
        &self.control
    }
    pub fn cui(&self) -> Option<&str> {
        self.cui.as_deref()
    }
    pub fn distribution(&self) -> Option<Distribution> {
        self.distribution
    }
    pub fn program(&self) -> Option<&str> {
        self.program.as_deref()
    }
    /// The USML category, for ITAR data.
    pub fn usml_category(&self) -> Option<UsmlCategory> {
        match &self.control {
            Control::Itar { category, .. } => Some(*category),
            _ => None,
        }
    }
    /// The ECCN, for EAR data on the Commerce Control List.
    pub fn eccn(&self) -> Option<&Eccn> {
        match &self.control {
            Control::Ear { eccn } => Some(eccn),
            _ => None,
        }
    }
}

impl FromStr for Label {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, LabelError> {
        let s = s.trim();
        if s.len() > MAX_LABEL_LEN {
            return Err(LabelError::TooLong);
        }
        let mut parts = s.split(';').map(str::trim);
        let mut label = Self::new(Control::parse(parts.next().unwrap_or(""))?);
        for m in parts {
            if let Some(rest) = strip_prefix_ci(m, "CUI") {
                if label.cui.is_some() {
                    return Err(LabelError::DuplicateModifier("CUI"));
                }
                let cat = if rest.is_empty() {
                    String::new()
                } else {
                    let c = rest
                        .strip_prefix("//")
                        .ok_or_else(|| LabelError::Modifier(m.to_owned()))?;
                    if c.is_empty() || !valid_cui_category(c) {
                        return Err(LabelError::CuiCategory(c.to_owned()));
                    }
                    c.to_ascii_uppercase()
                };
                label.cui = Some(cat);
            } else if let Some(rest) = strip_prefix_ci(m, "DIST:") {
                if label.distribution.is_some() {
                    return Err(LabelError::DuplicateModifier("DIST"));
                }
                label.distribution = Some(Distribution::parse(rest)?);
            } else if let Some(rest) = strip_prefix_ci(m, "program=") {
                if label.program.is_some() {
                    return Err(LabelError::DuplicateModifier("program"));
                }
                if !valid_program(rest) {
                    return Err(LabelError::Program(rest.to_owned()));
                }
                label.program = Some(rest.to_owned());
            } else {
                return Err(LabelError::Modifier(m.to_owned()));
            }
        }
        Ok(label)
    }
}

/// The canonical text form: upper-case keywords, modifiers in the order CUI, DIST, program.
impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.control {
            Control::Itar {
                category,
                paragraph,
            } => write!(f, "ITAR:{category}{}", paragraph.as_deref().unwrap_or(""))?,
            Control::Ear { eccn } => write!(f, "EAR:{eccn}")?,
            Control::Ear99 => f.write_str("EAR99")?,
            Control::Public => f.write_str("PUBLIC")?,
        }
        match self.cui.as_deref() {
            Some("") => f.write_str(";CUI")?,
            Some(c) => write!(f, ";CUI//{c}")?,
            None => {}
        }
        if let Some(d) = self.distribution {
            write!(f, ";DIST:{}", d.0)?;
        }
        if let Some(p) = &self.program {
            write!(f, ";program={p}")?;
        }
        Ok(())
    }
}

/// The JSON form of `docs/labels.md`. Unknown fields are refused.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelJson {
    jurisdiction: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usml_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paragraph: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    eccn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cui: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    distribution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    program: Option<String>,
}

impl TryFrom<LabelJson> for Label {
    type Error = LabelError;

    fn try_from(j: LabelJson) -> Result<Self, LabelError> {
        let juris = j.jurisdiction.to_ascii_uppercase();
        let name = match juris.as_str() {
            "ITAR" => "ITAR",
            "EAR" => "EAR",
            "EAR99" => "EAR99",
            "PUBLIC" => "PUBLIC",
            _ => return Err(LabelError::Control(j.jurisdiction)),
        };
        if name != "ITAR" {
            if j.usml_category.is_some() {
                return Err(LabelError::FieldNotAllowed("usml_category", name));
            }
            if j.paragraph.is_some() {
                return Err(LabelError::FieldNotAllowed("paragraph", name));
            }
        }
        if name != "EAR" && j.eccn.is_some() {
            return Err(LabelError::FieldNotAllowed("eccn", name));
        }
        let control = match name {
            "ITAR" => {
                let cat = j
                    .usml_category
                    .ok_or(LabelError::FieldMissing("usml_category", "ITAR"))?;
                let paragraph = match j.paragraph {
                    Some(p) if valid_paragraph(&p) => Some(p.to_ascii_lowercase()),
                    Some(p) => return Err(LabelError::Paragraph(p)),
                    None => None,
                };
                Control::Itar {
                    category: cat.parse()?,
                    paragraph,
                }
            }
            "EAR" => {
                let eccn = j.eccn.ok_or(LabelError::FieldMissing("eccn", "EAR"))?;
                if eccn.eq_ignore_ascii_case("EAR99") {
                    return Err(LabelError::EarEar99);
                }
                Control::Ear {
                    eccn: eccn.parse()?,
                }
            }
            "EAR99" => Control::Ear99,
            _ => Control::Public,
        };
        let mut label = Label::new(control);
        if let Some(c) = j.cui {
            if !c.is_empty() && !valid_cui_category(&c) {
                return Err(LabelError::CuiCategory(c));
            }
            label.cui = Some(c.to_ascii_uppercase());
        }
        if let Some(d) = j.distribution {
            label.distribution = Some(Distribution::parse(&d)?);
        }
        if let Some(p) = j.program {
            if !valid_program(&p) {
                return Err(LabelError::Program(p));
            }
            label.program = Some(p);
        }
        if label.to_string().len() > MAX_LABEL_LEN {
            return Err(LabelError::TooLong);
        }
        Ok(label)
    }
}

impl From<&Label> for LabelJson {
    fn from(l: &Label) -> Self {
        let (usml_category, paragraph, eccn) = match &l.control {
            Control::Itar {
                category,
                paragraph,
            } => (Some(category.to_string()), paragraph.clone(), None),
            Control::Ear { eccn } => (None, None, Some(eccn.to_string())),
            Control::Ear99 | Control::Public => (None, None, None),
        };
        Self {
            jurisdiction: l.control.jurisdiction().to_owned(),
            usml_category,
            paragraph,
            eccn,
            cui: l.cui.clone(),
            distribution: l.distribution.map(|d| d.0.to_string()),
            program: l.program.clone(),
        }
    }
}

impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LabelJson::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = LabelJson::deserialize(d)?;
        Label::try_from(j).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        s.parse::<Label>().unwrap().to_string()
    }

    #[test]
    fn spec_examples_parse_and_normalise() {
        for (input, want) in [
            ("ITAR:XI", "ITAR:XI"),
            ("itar:xi(A)(3)(I)", "ITAR:XI(a)(3)(i)"),
            ("ITAR:XV(e)", "ITAR:XV(e)"),
            ("EAR:9E003", "EAR:9E003"),
            ("ear:3a001.A.1", "EAR:3A001.a.1"),
            ("EAR:9E610", "EAR:9E610"),
            ("ear99", "EAR99"),
            ("public", "PUBLIC"),
            ("ITAR:XI;cui", "ITAR:XI;CUI"),
            ("ITAR:XI;CUI//sp-expt", "ITAR:XI;CUI//SP-EXPT"),
            (
                "ITAR:XI;program=f35;DIST:d;CUI",
                "ITAR:XI;CUI;DIST:D;program=f35",
            ),
            (" ITAR:XXI ", "ITAR:XXI"),
        ] {
            assert_eq!(canon(input), want, "{input}");
            assert_eq!(canon(want), want, "canonical form is a fixed point");
        }
    }

    #[test]
    fn bad_labels_name_the_failing_part() {
        use LabelError as E;
        type Check = fn(&LabelError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, E::Empty)),
            ("ITAR:XXII", |e| matches!(e, E::UsmlCategory(_))),
            ("ITAR:0", |e| matches!(e, E::UsmlCategory(_))),
            ("ITAR:", |e| matches!(e, E::UsmlCategory(_))),
            ("ITAR:IIII", |e| matches!(e, E::UsmlCategory(_))),
            ("ITAR:XI(a", |e| matches!(e, E::Paragraph(_))),
            ("ITAR:XI()", |e| matches!(e, E::Paragraph(_))),
            ("ITAR:XI(a)b", |e| matches!(e, E::Paragraph(_))),
            ("EAR:EAR99", |e| matches!(e, E::EarEar99)),
            ("EAR:9F003", |e| matches!(e, E::Eccn(_))),
            ("EAR:9E03", |e| matches!(e, E::Eccn(_))),
            ("EAR:9E003.", |e| matches!(e, E::Eccn(_))),
            ("EAR:9E003..a", |e| matches!(e, E::Eccn(_))),
            ("EAR:9E003x", |e| matches!(e, E::Eccn(_))),
            ("SECRET", |e| matches!(e, E::Control(_))),
            ("ITAR:XI;NOFORN", |e| matches!(e, E::Modifier(_))),
            ("ITAR:XI;CUI;CUI", |e| {
                matches!(e, E::DuplicateModifier("CUI"))
            }),
            ("ITAR:XI;CUI//", |e| matches!(e, E::CuiCategory(_))),
            ("ITAR:XI;CUIX", |e| matches!(e, E::Modifier(_))),
            ("ITAR:XI;DIST:G", |e| matches!(e, E::Distribution(_))),
            ("ITAR:XI;program=", |e| matches!(e, E::Program(_))),
            ("ITAR:XI;program=a b", |e| matches!(e, E::Program(_))),
            ("ITAR:XI;", |e| matches!(e, E::Modifier(_))),
        ];
        for (input, check) in cases {
            let err = input.parse::<Label>().unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
        }
        let long = format!("ITAR:XI;program={}", "a".repeat(600));
        assert_eq!(long.parse::<Label>().unwrap_err(), LabelError::TooLong);
    }

    #[test]
    fn json_form_round_trips_and_rejects_bad_fields() {
        let l: Label = "ITAR:XI(a)(3)(i);CUI//SP-EXPT;DIST:D;program=f35"
            .parse()
            .unwrap();
        let j = serde_json::to_value(&l).unwrap();
        assert_eq!(
            j,
            serde_json::json!({ "jurisdiction": "ITAR", "usml_category": "XI", "paragraph": "(a)(3)(i)",
                "cui": "SP-EXPT", "distribution": "D", "program": "f35" })
        );
        assert_eq!(serde_json::from_value::<Label>(j).unwrap(), l);
        let plain: Label =
            serde_json::from_str(r#"{"jurisdiction":"ITAR","usml_category":"XI","cui":""}"#)
                .unwrap();
        assert_eq!(plain.to_string(), "ITAR:XI;CUI");
        assert_eq!(
            serde_json::to_value(Label::new(Control::Ear99)).unwrap(),
            serde_json::json!({"jurisdiction":"EAR99"})
        );
        for bad in [
            r#"{"jurisdiction":"ITAR"}"#,
            r#"{"jurisdiction":"ITAR","usml_category":"XXX"}"#,
            r#"{"jurisdiction":"EAR","eccn":"EAR99"}"#,
            r#"{"jurisdiction":"EAR99","eccn":"9E003"}"#,
            r#"{"jurisdiction":"PUBLIC","usml_category":"XI"}"#,
            r#"{"jurisdiction":"SECRET"}"#,
            r#"{"jurisdiction":"EAR99","colour":"red"}"#,
        ] {
            assert!(serde_json::from_str::<Label>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn eccn_base_and_category_numbers() {
        let l: Label = "EAR:3A001.a.1".parse().unwrap();
        assert_eq!(l.eccn().unwrap().base(), "3A001");
        for n in 1..=21u8 {
            let c = UsmlCategory::new(n).unwrap();
            assert_eq!(c.roman().parse::<UsmlCategory>().unwrap(), c);
        }
        assert!(UsmlCategory::new(0).is_none() && UsmlCategory::new(22).is_none());
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics_and_canonical_is_fixed_point(s in "\\PC{0,80}") {
            if let Ok(l) = s.parse::<Label>() {
                let c = l.to_string();
                proptest::prop_assert_eq!(c.parse::<Label>().unwrap(), l);
            }
        }
    }
}
