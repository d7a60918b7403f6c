//! A foreign person can reach ITAR or EAR-controlled data with no authorization at all:
//! every access is a deemed export (22 CFR 120.56(a)(2), 15 CFR 734.13(b)).

use super::{is_foreign, reach, Ctx, Hit, Rule};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "foreign-person-access",
    checklist: "staff-us-persons",
    severity: Severity::High,
    title: "A foreign person has access to export-controlled data without an authorization",
    citations: &["22 CFR 120.56(a)(2)", "15 CFR 734.13(b)", "NIST SP 800-171 3.1.1", "CMMC AC.L2-3.1.1"],
    remediation: "Remove the person's access to the systems named, or obtain a license or agreement (DSP-5, TAA, EAR license) that covers their citizenships and the data's categories and record it under `authorizations`.",
    check,
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    ctx.inv
        .people
        .iter()
        .filter(|p| is_foreign(p) && p.authorizations.is_empty())
        .filter_map(|p| {
            let reached = reach(ctx, p);
            (!reached.is_empty()).then(|| Hit {
                subject: format!("people/{}", p.id),
                evidence: format!(
                    "person_status foreign_person (citizenships {}) with access to {}; no authorization listed{}",
                    p.citizenships.join(", "),
                    reached
                        .iter()
                        .map(|(s, l)| format!("`{}` ({})", s.id, l.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if p.privileged { "; privileged (administers the system)" } else { "" }
                ),
                severity: p.privileged.then_some(Severity::Critical),
                partial: false,
            })
        })
        .collect()
}
