//! The assessment rules, one module each. A rule looks at the inventory on the
//! assessment date and returns its hits; [`run`] turns hits into findings.

use crate::inventory::{Authorization, Inventory, Person, PersonStatus, System};
use crate::model::{finding_id, Finding, Severity};
use itarvault_format::{Control, Label};
use time::Date;

mod ai_tools;
mod audit_logging;
mod cmmc;
mod ddtc_registration;
mod encryption;
mod foreign_person_access;
mod incidents;
mod non_us_location;
mod proscribed_location;
mod provider_access;
mod remote_access;
mod tcp;
mod training;
mod unknown_person_status;
mod unmatched_authorization;
mod unscreened_person;
mod vendors;

/// What a rule sees.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub inv: &'a Inventory,
    pub as_of: Date,
}

/// One thing a rule found about one subject.
#[derive(Debug, Clone)]
pub struct Hit {
    pub subject: String,
    pub evidence: String,
    /// Overrides the rule's severity (privileged access, for instance).
    pub severity: Option<Severity>,
    /// The control is in place but not to the standard (encryption that is not FIPS
    /// validated): the SPRS score deducts the methodology's partial value.
    pub partial: bool,
}

/// A rule: its id, the checklist item it belongs to, citations (ITAR or EAR section,
/// NIST SP 800-171 rev 2, CMMC L2), and what to do about a hit.
#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub checklist: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub citations: &'static [&'static str],
    pub remediation: &'static str,
    pub check: fn(&Ctx) -> Vec<Hit>,
}

/// Every rule, in report order.
pub fn all() -> [&'static Rule; 17] {
    [
        &tcp::RULE,
        &foreign_person_access::RULE,
        &unmatched_authorization::RULE,
        &unknown_person_status::RULE,
        &unscreened_person::RULE,
        &training::RULE,
        &proscribed_location::RULE,
        &non_us_location::RULE,
        &provider_access::RULE,
        &encryption::RULE,
        &remote_access::RULE,
        &vendors::RULE,
        &ai_tools::RULE,
        &audit_logging::RULE,
        &ddtc_registration::RULE,
        &cmmc::RULE,
        &incidents::RULE,
    ]
}

/// Runs every rule; findings come out sorted by severity (most severe first), then id.
pub fn run(ctx: &Ctx) -> Vec<Finding> {
    let mut out: Vec<Finding> = all()
        .iter()
        .flat_map(|r| {
            (r.check)(ctx).into_iter().map(move |h| Finding {
                id: finding_id(r.id, &h.subject),
                rule: r.id.into(),
                severity: h.severity.unwrap_or(r.severity),
                title: r.title.into(),
                evidence: h.evidence,
                remediation: r.remediation.into(),
                citations: r.citations.iter().map(|c| c.to_string()).collect(),
                checklist: r.checklist.into(),
                subject: h.subject,
                partial: h.partial,
                exception: None,
                change: None,
            })
        })
        .collect();
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    out
}

/// A system's labels (the loader has checked that they parse).
pub(crate) fn labels(system: &System) -> impl Iterator<Item = Label> + '_ {
    system.labels.iter().filter_map(|l| l.parse::<Label>().ok())
}

/// A system's labels that are export-controlled: ITAR, or EAR with an ECCN.
pub(crate) fn controlled(system: &System) -> Vec<Label> {
    labels(system)
        .filter(|l| matches!(l.control(), Control::Itar { .. } | Control::Ear { .. }))
        .collect()
}

/// The controlled systems a person can reach, with their controlled labels.
pub(crate) fn reach<'a>(ctx: &Ctx<'a>, p: &Person) -> Vec<(&'a System, Vec<Label>)> {
    ctx.inv
        .systems
        .iter()
        .filter(|s| p.access.contains(&s.id))
        .map(|s| (s, controlled(s)))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

pub(crate) fn is_foreign(p: &Person) -> bool {
    p.person_status == PersonStatus::ForeignPerson
}

pub(crate) fn date(s: Option<&String>) -> Option<Date> {
    s.and_then(|d| itarvault_policy::data::parse_ymd(d))
}

/// Why `a` does not cover `p` for `labels` on the assessment date, or `None` if it does.
pub(crate) fn gap(ctx: &Ctx, a: &Authorization, p: &Person, labels: &[Label]) -> Option<String> {
    if date(a.expires.as_ref()).is_some_and(|e| e < ctx.as_of) {
        return Some(format!(
            "`{}` expired on {}",
            a.id,
            a.expires.as_deref().unwrap_or("")
        ));
    }
    if date(a.valid_from.as_ref()).is_some_and(|f| f > ctx.as_of) {
        return Some(format!(
            "`{}` is valid only from {}",
            a.id,
            a.valid_from.as_deref().unwrap_or("")
        ));
    }
    if let Some(c) = p.citizenships.iter().find(|c| !a.countries.contains(c)) {
        return Some(format!("`{}` does not cover citizenship `{c}`", a.id));
    }
    for l in labels {
        let covered = match l.control() {
            Control::Itar { category, .. } => {
                a.usml_categories.iter().any(|c| c == category.roman())
            }
            Control::Ear { eccn } => a
                .eccns
                .iter()
                .any(|e| e == eccn.as_str() || eccn.as_str().starts_with(&format!("{e}."))),
            _ => true,
        };
        if !covered {
            return Some(format!("`{}` does not cover `{l}`", a.id));
        }
    }
    None
}
