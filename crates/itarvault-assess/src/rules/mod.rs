//! The assessment rules, one module each. A rule looks at the inventory on the
//! assessment date and returns its hits; [`run`] turns hits into findings. Whether a
//! person may receive data is not decided here: the policy engine decides it
//! ([`crate::release`]) and `engine` turns its denials into hits.

use crate::inventory::{Inventory, Person, System};
use crate::model::{finding_id, Finding, Severity};
use itarvault_format::{Control, Label};
use time::Date;

mod ai_tools;
mod audit_logging;
mod cmmc;
mod ddtc_registration;
mod encryption;
mod engine;
mod fips_historical;
mod incidents;
mod non_us_location;
mod proscribed_location;
mod provider_access;
mod regions;
mod remote_access;
mod tcp;
mod training;
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
    /// Citations of this hit in particular (the engine's, a CMMC level's section),
    /// listed before the rule's own.
    pub citations: Vec<String>,
}

/// How a rule finds its hits.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// From the inventory's facts.
    Facts(fn(&Ctx) -> Vec<Hit>),
    /// The policy engine's denials with the rule's id: the id, message and citation
    /// are the engine's (`engine`).
    Engine,
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
    pub check: Check,
}

/// Every rule, in report order.
pub fn all() -> [&'static Rule; 24] {
    [
        &tcp::RULE,
        &engine::LOCATED_IN_PROSCRIBED_COUNTRY,
        &engine::PROSCRIBED_COUNTRY_NATIONAL,
        &engine::DEEMED_EXPORT,
        &engine::US_PERSON_ABROAD,
        &engine::NO_CITIZENSHIP,
        &engine::EAR99_EMBARGOED,
        &engine::UNKNOWN_STATUS,
        &unscreened_person::RULE,
        &training::RULE,
        &proscribed_location::RULE,
        &non_us_location::RULE,
        &regions::RULE,
        &provider_access::RULE,
        &encryption::RULE,
        &fips_historical::RULE,
        &remote_access::RULE,
        &vendors::RULE,
        &ai_tools::RULE,
        &audit_logging::RULE,
        &ddtc_registration::RULE,
        &cmmc::RULE,
        &incidents::MANDATORY,
        &incidents::RULE,
    ]
}

/// Runs every rule; findings come out sorted by severity (most severe first), then id.
/// The engine is asked once for every person, system and label.
pub fn run(ctx: &Ctx) -> Vec<Finding> {
    let releases = crate::release::releases(ctx.inv, ctx.as_of);
    let mut out: Vec<Finding> = Vec::new();
    for rule in all() {
        let hits = match rule.check {
            Check::Facts(check) => check(ctx),
            Check::Engine => engine::hits(&releases, rule.id),
        };
        out.extend(hits.into_iter().map(|h| finding(rule, h)));
    }
    // A denial by an engine rule no entry above describes still counts (fail closed).
    out.extend(engine::unclaimed(&releases));
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    out
}

fn finding(rule: &Rule, hit: Hit) -> Finding {
    let mut citations = hit.citations;
    for c in rule.citations {
        // For the engine's rules the regulation is the engine's citation of the
        // decision (ITAR or EAR, as the data is); the rule's own CFR sections only
        // describe it in `--list-rules`.
        let regulation = c.starts_with("22 CFR") || c.starts_with("15 CFR");
        if matches!(rule.check, Check::Engine) && regulation {
            continue;
        }
        if !citations.iter().any(|known| known == c) {
            citations.push((*c).to_string());
        }
    }
    Finding {
        id: finding_id(rule.id, &hit.subject),
        rule: rule.id.into(),
        severity: hit.severity.unwrap_or(rule.severity),
        title: rule.title.into(),
        evidence: hit.evidence,
        remediation: rule.remediation.into(),
        citations,
        checklist: rule.checklist.into(),
        subject: hit.subject,
        partial: hit.partial,
        exception: None,
        change: None,
    }
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

pub(crate) fn date(s: Option<&String>) -> Option<Date> {
    s.and_then(|d| itarvault_policy::data::parse_ymd(d))
}
