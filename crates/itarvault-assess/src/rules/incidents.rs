//! Possible violations. One that involves a 22 CFR 126.1 country must be disclosed to
//! DDTC, immediately: 126.1(e)(2) makes it mandatory, not voluntary. For every other, a
//! voluntary disclosure should be started, and the full disclosure is due within 60
//! days of the initial notification (22 CFR 127.12(c)).

use super::{date, Check, Ctx, Hit, Rule};
use crate::inventory::{Disclosure, Incident};
use crate::model::Severity;
use itarvault_policy::data::{data, Country, ProscribedEntry};

pub static MANDATORY: Rule = Rule {
    id: "incident-mandatory-disclosure",
    checklist: "incidents",
    severity: Severity::Critical,
    title: "An incident involving a proscribed country has not been disclosed to DDTC",
    citations: &["22 CFR 126.1(e)(2)", "22 CFR 127.12", "NIST SP 800-171 3.6.2", "CMMC IR.L2-3.6.2"],
    remediation: "Inform DDTC now: for a 126.1 country disclosure is mandatory and immediate (22 CFR 126.1(e)(2)); follow with the full disclosure (22 CFR 127.12(c)) and record the dates.",
    check: Check::Facts(mandatory),
};

pub static RULE: Rule = Rule {
    id: "incident-disclosure",
    checklist: "incidents",
    severity: Severity::High,
    title: "A possible export violation has no voluntary disclosure, or its full disclosure is overdue",
    citations: &["22 CFR 127.12(c)", "15 CFR 764.5", "NIST SP 800-171 3.6.2", "CMMC IR.L2-3.6.2"],
    remediation: "Decide with export counsel on a voluntary disclosure to DDTC (initial notification now, full disclosure within 60 days of it) and record the dates.",
    check: Check::Facts(check),
};

/// The 126.1 countries an incident involves, proscribed on the day it was discovered or
/// on the assessment date (stricter of the two), with their entries.
fn proscribed(ctx: &Ctx, incident: &Incident) -> Vec<(String, &'static ProscribedEntry)> {
    let Some(d) = data() else {
        return Vec::new();
    };
    let found = date(Some(&incident.discovered));
    incident
        .countries
        .iter()
        .filter_map(|code| {
            let c = Country::parse(code)?;
            let entry = found
                .and_then(|day| d.proscribed_on(c, day))
                .or_else(|| d.proscribed_on(c, ctx.as_of))?;
            Some((code.clone(), entry))
        })
        .collect()
}

fn describe(list: &[(String, &ProscribedEntry)]) -> String {
    list.iter()
        .map(|(code, e)| format!("`{code}` ({}, {})", e.name, e.cite()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mandatory(ctx: &Ctx) -> Vec<Hit> {
    if data().is_none() {
        // The report marks the item an error; no country can be judged.
        return Vec::new();
    }
    ctx.inv
        .incidents
        .iter()
        .filter(|i| i.voluntary_disclosure == Disclosure::None)
        .filter_map(|i| {
            let list = proscribed(ctx, i);
            (!list.is_empty()).then(|| Hit {
                subject: format!("incidents/{}", i.id),
                evidence: format!(
                    "involves {}: disclosure to DDTC is mandatory and immediate (22 CFR 126.1(e)(2)); none recorded since discovery on {}",
                    describe(&list),
                    i.discovered
                ),
                severity: None,
                partial: false,
                citations: list
                    .iter()
                    .map(|(_, e)| e.cite())
                    .fold(Vec::new(), |mut acc, c| {
                        if !acc.contains(&c) {
                            acc.push(c);
                        }
                        acc
                    }),
            })
        })
        .collect()
}

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for i in &ctx.inv.incidents {
        let list = proscribed(ctx, i);
        let why = match (i.voluntary_disclosure, date(i.disclosure_date.as_ref())) {
            (Disclosure::Full, _) => continue,
            // `incident-mandatory-disclosure` reports it.
            (Disclosure::None, _) if !list.is_empty() => continue,
            (Disclosure::None, _) => "no voluntary disclosure started".to_string(),
            (Disclosure::Initial, None) => "initial disclosure recorded without its date: the 60-day deadline cannot be checked".into(),
            (Disclosure::Initial, Some(d)) => {
                let due = d + time::Duration::days(60);
                if due >= ctx.as_of {
                    continue;
                }
                format!("full disclosure was due on {} (60 days after the initial one)", itarvault_policy::data::ymd(due))
            }
        };
        let (why, citations) = if list.is_empty() {
            (why, Vec::new())
        } else {
            (
                format!(
                    "{why}; it involves {} (22 CFR 126.1(e)(2))",
                    describe(&list)
                ),
                vec!["22 CFR 126.1(e)(2)".to_string()],
            )
        };
        hits.push(Hit {
            subject: format!("incidents/{}", i.id),
            evidence: why,
            severity: None,
            partial: false,
            citations,
        });
    }
    hits
}
