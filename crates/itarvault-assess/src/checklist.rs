//! The checklist and the SPRS point values, both data files with a source and an
//! effective date (`data/checklist.toml`, `data/sprs-weights.toml`).

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

pub fn checklist() -> Result<&'static Checklist, DataError> {
    CHECKLIST.as_ref().map_err(Clone::clone)
}

pub fn sprs_weights() -> Result<&'static SprsWeights, DataError> {
    SPRS.as_ref().map_err(Clone::clone)
}
