//! A person reaches controlled data but nobody recorded verifying their status:
//! screening comes before access (NIST SP 800-171 3.9.1).

use super::{reach, Check, Ctx, Hit, Rule};
use crate::inventory::PersonStatus;
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "unscreened-person",
    checklist: "staff-us-persons",
    severity: Severity::Medium,
    title: "A person with access to export-controlled data was never screened",
    citations: &["22 CFR 120.62", "NIST SP 800-171 3.9.1", "CMMC PS.L2-3.9.1"],
    remediation: "Verify and document the person's US-person status (or foreign-person citizenships) and record the date under `screened`.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    ctx.inv
        .people
        .iter()
        .filter(|p| p.screened.is_none() && p.person_status != PersonStatus::Unknown)
        .filter(|p| !reach(ctx, p).is_empty())
        .map(|p| Hit {
            subject: format!("people/{}", p.id),
            evidence: format!(
                "no `screened` date; person_status {} taken on trust",
                serde_json::to_value(p.person_status).unwrap_or_default()
            ),
            severity: None,
            partial: false,
            citations: Vec::new(),
        })
        .collect()
}
