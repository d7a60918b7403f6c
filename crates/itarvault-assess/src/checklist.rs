//! The checklist, the SPRS point values and the CMVP dates, each a data file with a
//! source and an effective date (`data/checklist.toml`, `data/sprs-weights.toml`,
//! `data/cmvp.toml`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Decided by the rules that name the item.
    Automated,
    /// No inventory fact can prove it: MANUAL until attested.
    Manual,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub version: Option<String>,
    pub effective: String,
    pub source: String,
    pub max: Option<i32>,
    pub min: Option<i32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub kind: Kind,
    pub title: String,
    pub requirement: String,
    pub citations: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    pub meta: Meta,
    pub item: Vec<Item>,
}

impl Checklist {
    pub fn get(&self, id: &str) -> Option<&Item> {
        self.item.iter().find(|i| i.id == id)
    }
}

/// DoD assessment methodology point values, by NIST SP 800-171 rev 2 requirement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SprsWeights {
    pub meta: Meta,
    pub partial: BTreeMap<String, i32>,
    pub weights: BTreeMap<String, i32>,
}

/// The CMVP dates the assessment applies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cmvp {
    pub meta: Meta,
    pub fips_140_2: Fips1402,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fips1402 {
    /// The day FIPS 140-2 certificates became historical.
    pub historical_from: String,
}

impl Cmvp {
    pub fn fips_140_2_historical(&self) -> Option<time::Date> {
        itarvault_policy::data::parse_ymd(&self.fips_140_2.historical_from)
    }
}

/// The built-in data failed to parse: a defect of the build, reported, never a panic.
#[derive(Debug, Clone, thiserror::Error)]
#[error("built-in assessment data `{file}` is invalid: {reason} (this is a bug; please report it)")]
pub struct DataError {
    pub file: &'static str,
    pub reason: String,
}

fn parse<T: for<'de> Deserialize<'de>>(file: &'static str, text: &str) -> Result<T, DataError> {
    toml::from_str(text).map_err(|e| DataError {
        file,
        reason: e.to_string(),
    })
}

static CHECKLIST: LazyLock<Result<Checklist, DataError>> = LazyLock::new(|| {
    parse(
        "data/checklist.toml",
        include_str!("../data/checklist.toml"),
    )
});
static SPRS: LazyLock<Result<SprsWeights, DataError>> = LazyLock::new(|| {
    parse(
        "data/sprs-weights.toml",
        include_str!("../data/sprs-weights.toml"),
    )
});

static CMVP: LazyLock<Result<Cmvp, DataError>> = LazyLock::new(|| {
    let cmvp: Cmvp = parse("data/cmvp.toml", include_str!("../data/cmvp.toml"))?;
    if cmvp.fips_140_2_historical().is_none() {
        return Err(DataError {
            file: "data/cmvp.toml",
            reason: format!(
                "`fips_140_2.historical_from` `{}` is not a date (YYYY-MM-DD)",
                cmvp.fips_140_2.historical_from
            ),
        });
    }
    Ok(cmvp)
});

pub fn checklist() -> Result<&'static Checklist, DataError> {
    CHECKLIST.as_ref().map_err(Clone::clone)
}

pub fn sprs_weights() -> Result<&'static SprsWeights, DataError> {
    SPRS.as_ref().map_err(Clone::clone)
}

pub fn cmvp() -> Result<&'static Cmvp, DataError> {
    CMVP.as_ref().map_err(Clone::clone)
}
