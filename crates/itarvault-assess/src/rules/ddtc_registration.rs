//! DDTC registration: required of manufacturers and exporters of defense articles, and
//! renewed every year (22 CFR 122.1, 122.3).

use super::{date, Ctx, Hit, Rule};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "ddtc-registration",
    checklist: "ddtc-registration",
    severity: Severity::High,
    title: "DDTC registration is missing or expired",
    citations: &["22 CFR 122.1", "22 CFR 122.3"],
    remediation: "Register with DDTC (DS-2032 in DECCS) or renew before the expiry date, and record the new expiry.",
    check,
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let o = &ctx.inv.organization;
    let why = match (
        o.ddtc_registered,
        date(o.ddtc_registration_expires.as_ref()),
    ) {
        (Some(false), _) => "ddtc_registered false".to_string(),
        (None, _) => "ddtc_registered not recorded".into(),
        (Some(true), None) => "the registration's expiry date is not recorded".into(),
        (Some(true), Some(e)) if e < ctx.as_of => format!(
            "the registration expired on {}",
            o.ddtc_registration_expires.as_deref().unwrap_or("")
        ),
        (Some(true), Some(_)) => return Vec::new(),
    };
    vec![Hit {
        subject: "organization".into(),
        evidence: why,
        severity: None,
        partial: false,
    }]
}
