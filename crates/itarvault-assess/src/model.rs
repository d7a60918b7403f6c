//! What an assessment produces: findings with severity, subject, evidence, remediation
//! and citations, each tied to an item of the ITAR checklist.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("`{s}` is not a severity: use critical, high, medium or low"))
    }
}

/// A checklist item's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Manual,
    NotApplicable,
    Error,
}

/// One finding, in the shape of `docs/assess.md` (the JSON report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Derived from rule and subject, so that runs can be compared.
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    /// `list/id` (`people/jdoe`) or `organization`.
    pub subject: String,
    pub title: String,
    pub evidence: String,
    pub remediation: String,
    pub citations: Vec<String>,
    pub checklist: String,
    /// The control exists but falls short of the standard (SPRS partial credit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// The exception that accepts this finding; it then no longer fails its item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Excepted>,
    /// Against `--previous`: `new` or `unchanged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

impl Finding {
    /// Counts against its checklist item: not covered by a current exception.
    pub fn open(&self) -> bool {
        self.exception.as_ref().is_none_or(|e| e.expired)
    }
}

/// The exception a finding matched, copied into the report so that it is never silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excepted {
    pub id: String,
    pub reason: String,
    pub approver: String,
    pub expires: String,
    /// Expired on the assessment date: the finding counts again.
    pub expired: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    New,
    Unchanged,
}

/// The finding id for a rule and subject: stable across runs and machines (FNV-1a, not
/// a security property: ids only need to be reproducible).
pub fn finding_id(rule: &str, subject: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rule.bytes().chain([0]).chain(subject.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("F-{:012x}", h >> 16)
}
