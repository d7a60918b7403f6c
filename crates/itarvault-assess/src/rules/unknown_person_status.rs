//! Nobody knows whether a person with access to controlled data is a US person
//! (22 CFR 120.62, 120.63): the release may already be a deemed export.

use super::{reach, Ctx, Hit, Rule};
use crate::inventory::PersonStatus;
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "unknown-person-status",
    checklist: "staff-us-persons",
    severity: Severity::High,
    title: "A person with access to export-controlled data has an unknown US-person status",
    citations: &["22 CFR 120.62", "22 CFR 120.56(a)(2)", "NIST SP 800-171 3.9.1", "CMMC PS.L2-3.9.1"],
    remediation: "Verify the person's US-person status (citizenship, permanent residence or protected-individual evidence) and record it with the `screened` date; suspend access until then.",
    check,
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    ctx.inv
        .people
        .iter()
        .filter(|p| p.person_status == PersonStatus::Unknown)
        .filter_map(|p| {
            let reached = reach(ctx, p);
            (!reached.is_empty()).then(|| Hit {
                subject: format!("people/{}", p.id),
                evidence: format!(
                    "person_status unknown with access to {}",
                    reached
                        .iter()
                        .map(|(s, _)| format!("`{}`", s.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                severity: None,
                partial: false,
            })
        })
        .collect()
}
