//! DDTC registration: required of manufacturers and exporters of defense articles
//! (22 CFR 122.1(a)) and of brokers (22 CFR 129.3), renewed every year (122.3). A
//! service provider (an MSP) that does none of these needs none; an organisation whose
//! `activities` are not recorded is held to it (fail closed) and told to record them.

use super::{date, Check, Ctx, Hit, Rule};
use crate::inventory::Activity;
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "ddtc-registration",
    checklist: "ddtc-registration",
    severity: Severity::High,
    title: "DDTC registration is missing or expired",
    citations: &["22 CFR 122.1", "22 CFR 122.3"],
    remediation: "Register with DDTC (DS-2032 in DECCS) or renew before the expiry date, and record the new expiry; an organisation that neither manufactures, exports nor brokers defense articles or services records that under `organization.activities`.",
    check: Check::Facts(check),
};

/// What the organisation does that needs registration, if it is recorded: `None` when
/// `activities` is absent.
pub(crate) fn needing_registration(ctx: &Ctx) -> Option<Vec<Activity>> {
    ctx.inv.organization.activities.as_ref().map(|list| {
        list.iter()
            .copied()
            .filter(|a| a.needs_registration())
            .collect()
    })
}

fn name(a: Activity) -> &'static str {
    match a {
        Activity::Manufacturer => "manufacturer",
        Activity::Exporter => "exporter",
        Activity::Broker => "broker",
        Activity::ServiceProvider => "service_provider",
    }
}

fn check(ctx: &Ctx) -> Vec<Hit> {
    let needing = needing_registration(ctx);
    if needing.as_ref().is_some_and(Vec::is_empty) {
        return Vec::new();
    }
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
    let (basis, citations) = match &needing {
        None => (
            "`organization.activities` is not recorded, so registration is presumed required"
                .to_string(),
            vec!["22 CFR 122.1(a)".to_string()],
        ),
        Some(list) => {
            let mut citations = Vec::new();
            if list.iter().any(|a| *a != Activity::Broker) {
                citations.push("22 CFR 122.1(a)".to_string());
            }
            if list.contains(&Activity::Broker) {
                citations.push("22 CFR 129.3".to_string());
            }
            let names: Vec<&str> = list.iter().map(|a| name(*a)).collect();
            (
                format!("activities {} require registration", names.join(", ")),
                citations,
            )
        }
    };
    vec![Hit {
        subject: "organization".into(),
        evidence: format!("{why}; {basis}"),
        severity: None,
        partial: false,
        citations,
    }]
}
