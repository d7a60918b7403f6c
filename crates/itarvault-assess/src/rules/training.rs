//! People with access to controlled data are trained on export control, yearly.

use super::{date, reach, Check, Ctx, Hit, Rule};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "untrained-person",
    checklist: "training",
    severity: Severity::Low,
    title: "A person with access to export-controlled data has no current export-control training",
    citations: &["22 CFR 120.56", "NIST SP 800-171 3.2.2", "CMMC AT.L2-3.2.2"],
    remediation: "Train the person on the organisation's export-control procedures before access, and yearly after, and record the date under `trained`.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    ctx.inv
        .people
        .iter()
        .filter(|p| !reach(ctx, p).is_empty())
        .filter_map(|p| {
            let stale =
                date(p.trained.as_ref()).is_none_or(|d| d + time::Duration::days(365) < ctx.as_of);
            stale.then(|| Hit {
                subject: format!("people/{}", p.id),
                evidence: match &p.trained {
                    Some(d) => format!("last trained {d}, more than a year ago"),
                    None => "no training recorded".into(),
                },
                severity: None,
                partial: false,
                citations: Vec::new(),
            })
        })
        .collect()
}
