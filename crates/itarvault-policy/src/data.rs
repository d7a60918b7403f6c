//! Regulatory data, embedded from `data/*.json`: ISO 3166-1 codes, the 22 CFR 126.1
//! table with dates, EAR Country Groups E:1/E:2, USML category titles.
//!
//! The files are parsed once. A file that fails to parse (only possible after a bad
//! edit, which `tests` catch) makes [`data`] return `None`, and the engine then denies
//! everything: regulations are never silently skipped.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use time::Date;

time::serde::format_description!(ymd_format, Date, "[year]-[month]-[day]");

pub const ISO3166_JSON: &str = include_str!("../data/iso3166.json");
pub const PROSCRIBED_JSON: &str = include_str!("../data/proscribed.json");
pub const EAR_GROUPS_JSON: &str = include_str!("../data/ear_country_groups.json");
pub const USML_JSON: &str = include_str!("../data/usml.json");

/// An ISO 3166-1 alpha-2 country code known to the embedded list.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses an upper-case ISO 3166-1 alpha-2 code that is officially assigned.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        let c = Self([b[0], b[1]]);
        data()?.names.contains_key(&c).then_some(c)
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

/// 22 CFR 126.1(d)(1) (full policy of denial) or (d)(2) (denial with exceptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    D1,
    D2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    #[serde(with = "ymd_format")]
    pub from: Date,
    #[serde(with = "ymd_format")]
    pub to: Date,
    #[serde(default)]
    pub note: String,
}

/// One row of the 126.1 table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProscribedEntry {
    pub code: String,
    pub name: String,
    pub tier: Tier,
    #[serde(default)]
    pub paragraph: Option<String>,
    /// Another country whose listing this one follows (Hong Kong and Macau follow China).
    #[serde(default)]
    pub follows: Option<String>,
    /// First day listed; absent for long-standing entries.
    #[serde(default, with = "ymd_format::option")]
    pub listed_from: Option<Date>,
    /// Day of removal (not listed from this day on).
    #[serde(default, with = "ymd_format::option")]
    pub listed_until: Option<Date>,
    /// Inclusive periods during which the policy of denial is suspended.
    #[serde(default)]
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

#[derive(Debug, Deserialize)]
pub struct ProscribedTable {
    pub title: String,
    pub source: Vec<String>,
    #[serde(with = "ymd_format")]
    pub effective: Date,
    pub verified_note: String,
    pub ear_note: String,
    pub entries: Vec<ProscribedEntry>,
}

#[derive(Debug, Deserialize)]
pub struct EarGroups {
    pub title: String,
    pub source: Vec<String>,
    #[serde(with = "ymd_format")]
    pub effective: Date,
    pub e1: Vec<String>,
    pub e2: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct UsmlCategoryTitle {
    pub category: String,
    pub title: String,
}

#[derive(Debug, Deserialize)]
pub struct UsmlTable {
    pub title: String,
    pub source: Vec<String>,
    #[serde(with = "ymd_format")]
    pub effective: Date,
    pub categories: Vec<UsmlCategoryTitle>,
}

#[derive(Debug, Deserialize)]
struct IsoEntry {
    code: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct IsoTable {
    source: String,
    countries: Vec<IsoEntry>,
}

/// All embedded regulatory data, parsed.
#[derive(Debug)]
pub struct Data {
    pub iso_source: String,
    names: BTreeMap<Country, String>,
    pub proscribed: ProscribedTable,
    pub ear: EarGroups,
    pub usml: UsmlTable,
}

impl Data {
    /// The 126.1 entry that makes `c` proscribed on `day`, if any (following `follows`).
    pub fn proscribed_on(&self, c: Country, day: Date) -> Option<&ProscribedEntry> {
        let e = self
            .proscribed
            .entries
            .iter()
            .find(|e| e.code == c.as_str())?;
        match &e.follows {
            Some(parent) => self
                .proscribed
                .entries
                .iter()
                .find(|p| p.code == *parent)
                .filter(|p| p.in_force(day) && e.in_force(day)),
            None => e.in_force(day).then_some(e),
        }
    }
    /// Country Group E:1 or E:2 (embargoed destinations for EAR99 items).
    pub fn ear_embargoed(&self, c: Country) -> Option<&'static str> {
        if self.ear.e1.iter().any(|x| x == c.as_str()) {
            Some("E:1")
        } else if self.ear.e2.iter().any(|x| x == c.as_str()) {
            Some("E:2")
        } else {
            None
        }
    }
}

fn date_fmt() -> &'static [time::format_description::FormatItem<'static>] {
    time::macros::format_description!("[year]-[month]-[day]")
}

fn load() -> Result<Data, String> {
    let iso: IsoTable =
        serde_json::from_str(ISO3166_JSON).map_err(|e| format!("iso3166.json: {e}"))?;
    let mut names = BTreeMap::new();
    for c in iso.countries {
        let b = c.code.as_bytes();
        if b.len() != 2 {
            return Err(format!("iso3166.json: bad code {}", c.code));
        }
        names.insert(Country([b[0], b[1]]), c.name);
    }
    let proscribed: ProscribedTable =
        serde_json::from_str(PROSCRIBED_JSON).map_err(|e| format!("proscribed.json: {e}"))?;
    let ear: EarGroups = serde_json::from_str(EAR_GROUPS_JSON)
        .map_err(|e| format!("ear_country_groups.json: {e}"))?;
    let usml: UsmlTable = serde_json::from_str(USML_JSON).map_err(|e| format!("usml.json: {e}"))?;
    Ok(Data {
        iso_source: iso.source,
        names,
        proscribed,
        ear,
        usml,
    })
}

/// The parsed data, or `None` if an embedded file is broken (deny everything).
pub fn data() -> Option<&'static Data> {
    static DATA: OnceLock<Result<Data, String>> = OnceLock::new();
    DATA.get_or_init(load).as_ref().ok()
}

/// Why the data did not load, for tests and `itarvault countries`.
pub fn load_error() -> Option<String> {
    load().err()
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
        assert_eq!(load_error(), None);
        let d = data().unwrap();
        assert_eq!(d.usml.categories.len(), 21);
        for e in &d.proscribed.entries {
            assert!(Country::parse(&e.code).is_some(), "{} is not ISO", e.code);
        }
        for code in d.ear.e1.iter().chain(&d.ear.e2) {
            assert!(Country::parse(code).is_some());
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
        assert_eq!(d.ear_embargoed(c("CN")), None);
    }
}
