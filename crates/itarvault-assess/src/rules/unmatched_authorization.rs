//! A foreign person's listed authorizations do not cover the access: expired, not yet
//! valid, another citizenship, or other categories (22 CFR 120.56(a)(2), 123.1, 124.1).

use super::{gap, is_foreign, reach, Ctx, Hit, Rule};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "unmatched-authorization",
    checklist: "staff-us-persons",
    severity: Severity::High,
    title: "A foreign person's authorizations do not cover the controlled data they can reach",
    citations: &["22 CFR 120.56(a)(2)", "22 CFR 124.1", "15 CFR 734.13(b)", "NIST SP 800-171 3.1.2", "CMMC AC.L2-3.1.2"],
    remediation: "Renew or amend the authorization so that it covers the person's citizenships and the data's USML categories or ECCNs on the assessment date, or remove the access.",
    check,
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for p in ctx
        .inv
        .people
        .iter()
        .filter(|p| is_foreign(p) && !p.authorizations.is_empty())
    {
        for (system, labels) in reach(ctx, p) {
            // `gap` is `None` for an authorization that covers the access: one such
            // makes the whole collection `None`, and there is nothing to report.
            let reasons: Vec<String> = p
                .authorizations
                .iter()
                .filter_map(|id| ctx.inv.authorizations.iter().find(|a| &a.id == id))
                .map(|a| gap(ctx, a, p, &labels))
                .collect::<Option<Vec<String>>>()
                .unwrap_or_default();
            if !reasons.is_empty() {
                hits.push(Hit {
                    subject: format!("people/{}", p.id),
                    evidence: format!("access to `{}`: {}", system.id, reasons.join("; ")),
                    severity: p.privileged.then_some(Severity::Critical),
                    partial: false,
                });
            }
        }
    }
    hits
}
