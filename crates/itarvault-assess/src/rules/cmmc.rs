//! CMMC: the level the contracts require against the status reached (32 CFR 170):
//! Level 1 is 170.15, Level 2 170.16 (self-assessment) and 170.17 (C3PAO
//! certification), Level 3 170.18; a conditional status's POA&M is 170.21.

use super::{date, Check, Ctx, Hit, Rule};
use crate::inventory::CmmcStatus;
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "cmmc-status",
    checklist: "cmmc",
    severity: Severity::High,
    title: "The CMMC status does not meet the level the contracts require",
    citations: &["32 CFR 170.21", "DFARS 252.204-7021", "NIST SP 800-171 3.12.1", "CMMC CA.L2-3.12.1"],
    remediation: "Complete the assessment the contracts require (Level 2: self-assessment or C3PAO certification; Level 3: C3PAO Level 2 and DIBCAC Level 3), close the POA&M within 180 days of a conditional status, and keep the SPRS score current.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let Some(c) = ctx
        .inv
        .organization
        .cmmc
        .as_ref()
        .filter(|c| c.level_required > 0)
    else {
        return Vec::new();
    };
    let (why, severity) = match c.status {
        CmmcStatus::None => (format!("level {} required, no assessment", c.level_required), None),
        // Level 3 needs a C3PAO Level 2 certification and a DIBCAC assessment (170.18).
        CmmcStatus::SelfAssessed if c.level_required >= 3 => (
            format!("level {} required, self-assessed only: Level 3 requires C3PAO and DIBCAC assessments", c.level_required),
            None,
        ),
        CmmcStatus::SelfAssessed if c.level_required == 2 => (
            format!("level {} required, self-assessed only: confirm the contracts do not require a C3PAO assessment", c.level_required),
            Some(Severity::Medium),
        ),
        CmmcStatus::Conditional => {
            let lapsed = date(c.assessed.as_ref()).is_some_and(|a| a + time::Duration::days(180) < ctx.as_of);
            if lapsed {
                ("conditional status older than 180 days: the POA&M window has closed".to_string(), None)
            } else {
                ("conditional status: POA&M items must close within 180 days".to_string(), Some(Severity::Medium))
            }
        }
        CmmcStatus::SelfAssessed | CmmcStatus::Final => return Vec::new(),
    };
    vec![Hit {
        subject: "organization".into(),
        evidence: why,
        severity,
        partial: false,
        citations: level_sections(c.level_required)
            .iter()
            .map(ToString::to_string)
            .collect(),
    }]
}

/// The sections of 32 CFR part 170 that set the assessment a level requires.
fn level_sections(level: u8) -> &'static [&'static str] {
    match level {
        1 => &["32 CFR 170.15"],
        2 => &["32 CFR 170.16", "32 CFR 170.17"],
        _ => &["32 CFR 170.17", "32 CFR 170.18"],
    }
}
