//! Possible violations: a voluntary disclosure should be started, and the full
//! disclosure is due within 60 days of the initial notification (22 CFR 127.12(c)).

use super::{date, Ctx, Hit, Rule};
use crate::inventory::Disclosure;
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "incident-disclosure",
    checklist: "incidents",
    severity: Severity::High,
    title: "A possible export violation has no voluntary disclosure, or its full disclosure is overdue",
    citations: &["22 CFR 127.12(c)", "15 CFR 764.5", "NIST SP 800-171 3.6.2", "CMMC IR.L2-3.6.2"],
    remediation: "Decide with export counsel on a voluntary disclosure to DDTC (initial notification now, full disclosure within 60 days of it) and record the dates.",
    check,
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for i in &ctx.inv.incidents {
        let why = match (i.voluntary_disclosure, date(i.disclosure_date.as_ref())) {
            (Disclosure::Full, _) => continue,
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
        hits.push(Hit {
            subject: format!("incidents/{}", i.id),
            evidence: why,
            severity: None,
            partial: false,
        });
    }
    hits
}
