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

/// A checklist item's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Manual,
    NotApplicable,
    Error,
}

/// One finding, in the shape of `shared/spec/inventory.md` (assess output).
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
