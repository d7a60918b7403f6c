//! An assessment: the findings, the checklist with a status per item, the two scores,
//! and the comparison with an earlier report. The shape is `docs/assess.md`
//! (`organization`, `as_of`, `score`, `findings`, `checklist`) plus what an auditor
//! needs to check the figures.

use crate::checklist::{checklist, cmvp, sprs_weights, DataError, Kind};
use crate::inventory::{Exception, Inventory};
use crate::model::{Change, Excepted, Finding, Severity, Status};
use crate::rules::{self, date, Ctx};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use time::Date;

/// What the assessment adds to the inventory's own facts.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Findings from outside the inventory (the running vault's posture).
    pub findings: Vec<Finding>,
    /// Checklist items that could not be evaluated, and why.
    pub errors: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub organization: String,
    pub as_of: String,
    /// Percent of the checklist met (pass over every item that applies; MANUAL and
    /// ERROR count as not met).
    pub score: u8,
    pub findings: Vec<Finding>,
    pub checklist: Vec<ItemResult>,
    pub sprs: Sprs,
    pub summary: Summary,
    /// Findings of `--previous` that no longer occur.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<Vec<Finding>>,
    /// Exceptions in the inventory that matched no finding: stale, or mistyped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unused_exceptions: Vec<String>,
    pub checklist_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemResult {
    pub item: String,
    pub status: Status,
    /// Open findings (not covered by a current exception).
    pub findings: usize,
    pub title: String,
    pub kind: Kind,
    /// Why this status, in one sentence.
    pub reason: String,
    pub citations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttestationRef {
    pub id: String,
    pub by: String,
    pub date: String,
    pub expires: String,
    pub statement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    pub expired: bool,
}

/// An SPRS-style score over the NIST SP 800-171 requirements the inventory covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sprs {
    pub score: i32,
    pub max: i32,
    pub min: i32,
    /// Requirements some rule checks; the rest are not assessed here.
    pub covered: Vec<String>,
    pub not_met: Vec<Deduction>,
    pub method: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deduction {
    pub requirement: String,
    pub points: i32,
    pub findings: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Open findings by severity.
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub excepted: usize,
    /// Checklist items by status.
    pub items: BTreeMap<String, usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<usize>,
}

/// Assesses `inv` on `as_of`.
pub fn assess(inv: &Inventory, as_of: Date, mut extra: Extra) -> Result<Report, DataError> {
    let list = checklist()?;
    // A build whose CMVP dates do not parse is a defect: refuse, as for the checklist.
    cmvp()?;
    let ctx = Ctx { inv, as_of };
    // Without the regulatory data the location rules cannot see a proscribed country:
    // that is an error, never a pass.
    if let Some(why) = itarvault_policy::data::load_error() {
        extra.errors.push((
            "storage-locations".into(),
            format!("the regulatory data did not load: {why}"),
        ));
    }
    let mut findings = rules::run(&ctx);
    findings.extend(extra.findings);
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let unused_exceptions = apply_exceptions(&mut findings, &inv.exceptions, as_of);

    let checklist: Vec<ItemResult> = list
        .item
        .iter()
        .map(|item| {
            let open = findings
                .iter()
                .filter(|f| f.checklist == item.id && f.open())
                .count();
            let excepted = findings
                .iter()
                .filter(|f| f.checklist == item.id && !f.open())
                .count();
            let error = extra.errors.iter().find(|(i, _)| *i == item.id);
            let mut attestation = None;
            let (status, reason) = match (item.kind, error) {
                _ if open > 0 => (Status::Fail, format!("{open} open finding(s)")),
                (_, Some((_, why))) => (Status::Error, why.clone()),
                (Kind::Manual, None) => {
                    let a = latest_attestation(inv, &item.id, as_of);
                    let verdict = match &a {
                        Some(a) if !a.expired => (
                            Status::Pass,
                            format!("attested by {} on {}, valid until {}", a.by, a.date, a.expires),
                        ),
                        Some(a) => (
                            Status::Manual,
                            format!("attestation `{}` by {} expired on {}: attest again", a.id, a.by, a.expires),
                        ),
                        None => (
                            Status::Manual,
                            "no attestation yet: no inventory fact can prove this, so someone accountable attests that it holds (`attestations` in the inventory)".into(),
                        ),
                    };
                    attestation = a;
                    verdict
                }
                (Kind::Automated, None) => match not_applicable(&item.id, inv) {
                    Some(why) => (Status::NotApplicable, why.into()),
                    None if excepted > 0 => (
                        Status::Pass,
                        format!("no open findings; {excepted} accepted by a current exception"),
                    ),
                    None => (Status::Pass, "no findings".into()),
                },
            };
            ItemResult {
                item: item.id.clone(),
                status,
                findings: open,
                title: item.title.clone(),
                kind: item.kind,
                reason,
                citations: item.citations.clone(),
                attestation,
            }
        })
        .collect();

    let applicable = checklist
        .iter()
        .filter(|i| i.status != Status::NotApplicable)
        .count();
    let passed = checklist
        .iter()
        .filter(|i| i.status == Status::Pass)
        .count();
    // Nothing applies: nothing is unmet.
    let score = (passed * 100 + applicable / 2)
        .checked_div(applicable)
        .map_or(100, |p| u8::try_from(p).unwrap_or(100));
    let mut summary = Summary::default();
    for f in &findings {
        if !f.open() {
            summary.excepted += 1;
            continue;
        }
        *match f.severity {
            Severity::Critical => &mut summary.critical,
            Severity::High => &mut summary.high,
            Severity::Medium => &mut summary.medium,
            Severity::Low => &mut summary.low,
        } += 1;
    }
    for i in &checklist {
        *summary
            .items
            .entry(status_word(i.status).into())
            .or_default() += 1;
    }
    Ok(Report {
        organization: inv.organization.name.clone(),
        as_of: as_of.to_string(),
        score,
        sprs: sprs(&findings)?,
        findings,
        checklist,
        summary,
        fixed: None,
        unused_exceptions,
        checklist_version: list.meta.version.clone().unwrap_or_default(),
    })
}

pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Manual => "manual",
        Status::NotApplicable => "not_applicable",
        Status::Error => "error",
    }
}

/// Marks the findings that an exception covers; returns the ids of exceptions that
/// matched nothing. A current exception wins over an expired one for the same finding.
fn apply_exceptions(
    findings: &mut [Finding],
    exceptions: &[Exception],
    as_of: Date,
) -> Vec<String> {
    let mut used = HashSet::new();
    for f in findings.iter_mut() {
        let best = exceptions
            .iter()
            .filter(|e| e.rule == f.rule && e.subject.as_ref().is_none_or(|s| *s == f.subject))
            .map(|e| (e, date(Some(&e.expires)).is_none_or(|x| x < as_of)))
            .min_by_key(|(_, expired)| *expired);
        if let Some((e, expired)) = best {
            used.insert(e.id.clone());
            f.exception = Some(Excepted {
                id: e.id.clone(),
                reason: e.reason.clone(),
                approver: e.approver.clone(),
                expires: e.expires.clone(),
                expired,
            });
        }
    }
    exceptions
        .iter()
        .filter(|e| !used.contains(&e.id))
        .map(|e| e.id.clone())
        .collect()
}

/// The most recent attestation for `item` that had started by `as_of`.
fn latest_attestation(inv: &Inventory, item: &str, as_of: Date) -> Option<AttestationRef> {
    inv.attestations
        .iter()
        .filter(|a| a.item == item && date(Some(&a.date)).is_some_and(|d| d <= as_of))
        .max_by_key(|a| date(Some(&a.expires)))
        .map(|a| AttestationRef {
            id: a.id.clone(),
            by: a.by.clone(),
            date: a.date.clone(),
            expires: a.expires.clone(),
            statement: a.statement.clone(),
            evidence: a.evidence.clone(),
            expired: date(Some(&a.expires)).is_none_or(|e| e < as_of),
        })
}

/// Why an automated item does not apply to this organisation, if it does not.
fn not_applicable(item: &str, inv: &Inventory) -> Option<&'static str> {
    match item {
        "vendors" if inv.vendors.is_empty() => Some("no vendors in the inventory"),
        "ai-collaboration" if inv.ai_tools.is_empty() => {
            Some("no AI or collaboration tools in the inventory")
        }
        "cmmc"
            if inv
                .organization
                .cmmc
                .as_ref()
                .is_none_or(|c| c.level_required == 0) =>
        {
            Some("no contract requires CMMC")
        }
        "incidents" if inv.incidents.is_empty() => Some("no incidents recorded"),
        "ddtc-registration"
            if inv
                .organization
                .activities
                .as_ref()
                .is_some_and(|list| !list.iter().any(|a| a.needs_registration())) =>
        {
            Some("no recorded activity needs DDTC registration: it is required of manufacturers and exporters (22 CFR 122.1(a)) and brokers (22 CFR 129.3)")
        }
        _ => None,
    }
}

const NIST: &str = "NIST SP 800-171 ";

/// 110 minus the point value of every covered requirement an open finding cites.
fn sprs(findings: &[Finding]) -> Result<Sprs, DataError> {
    let w = sprs_weights()?;
    let covered: BTreeSet<String> = rules::all()
        .iter()
        .flat_map(|r| r.citations.iter().copied())
        .chain(
            findings
                .iter()
                .flat_map(|f| f.citations.iter().map(String::as_str)),
        )
        .filter_map(|c| c.strip_prefix(NIST))
        .map(str::to_string)
        .collect();
    let max = w.meta.max.unwrap_or(110);
    let mut not_met = Vec::new();
    for req in &covered {
        let citing: Vec<&Finding> = findings
            .iter()
            .filter(|f| {
                f.open()
                    && f.citations
                        .iter()
                        .any(|c| c.strip_prefix(NIST) == Some(req))
            })
            .collect();
        if citing.is_empty() {
            continue;
        }
        let full = w.weights.get(req).copied().unwrap_or(0);
        let points = match w.partial.get(req) {
            Some(p) if citing.iter().all(|f| f.partial) => *p,
            _ => full,
        };
        not_met.push(Deduction {
            requirement: req.clone(),
            points,
            findings: citing.len(),
        });
    }
    Ok(Sprs {
        score: max - not_met.iter().map(|d| d.points).sum::<i32>(),
        max,
        min: w.meta.min.unwrap_or(-203),
        method: format!(
            "{}; covers {} of {} requirements: the others are not assessed from an inventory and are not deducted",
            w.meta.source,
            covered.len(),
            w.weights.len()
        ),
        covered: covered.into_iter().collect(),
        not_met,
    })
}

/// Marks each finding `new` or `unchanged` against an earlier report and lists the
/// earlier findings that are gone.
pub fn compare(report: &mut Report, previous: &Previous) {
    let before: HashSet<&str> = previous.findings.iter().map(|f| f.id.as_str()).collect();
    let now: HashSet<String> = report.findings.iter().map(|f| f.id.clone()).collect();
    let (mut new, mut unchanged) = (0, 0);
    for f in &mut report.findings {
        let c = if before.contains(f.id.as_str()) {
            unchanged += 1;
            Change::Unchanged
        } else {
            new += 1;
            Change::New
        };
        f.change = Some(c);
    }
    report.summary.new = Some(new);
    report.summary.unchanged = Some(unchanged);
    report.fixed = Some(
        previous
            .findings
            .iter()
            .filter(|f| !now.contains(&f.id))
            .cloned()
            .map(|mut f| {
                f.change = None;
                f
            })
            .collect(),
    );
}

/// The part of an earlier JSON report that `--previous` needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Previous {
    pub findings: Vec<Finding>,
}
