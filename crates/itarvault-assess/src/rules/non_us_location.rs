//! Controlled data outside the US (its `location_country`, or a cloud data region in
//! another country): allowed only under the 120.54(a)(5) carve-out (end to end
//! encrypted, FIPS 140 validated, keys no third party holds) and only when the
//! organisation's residency mode allows it.

use super::regions::system_places;
use super::{controlled, Check, Ctx, Hit, Rule};
use crate::inventory::{AtRest, KeyCustody, ResidencyMode};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "non-us-location",
    checklist: "storage-locations",
    severity: Severity::High,
    title: "Export-controlled data is outside the US without the end-to-end encryption conditions",
    citations: &["22 CFR 120.54(a)(5)", "15 CFR 734.18(a)(5)", "NIST SP 800-171 3.13.11", "CMMC SC.L2-3.13.11"],
    remediation: "Move the data to a US location, or encrypt it end to end with a FIPS 140 validated module under keys only the organisation holds and set residency_mode to carve_out.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mode = ctx
        .inv
        .organization
        .residency_mode
        .unwrap_or(ResidencyMode::UsOnly);
    ctx.inv
        .systems
        .iter()
        .filter(|s| !controlled(s).is_empty())
        .filter_map(|s| {
            let abroad: Vec<String> = system_places(s)
                .into_iter()
                .filter(|(_, code)| code != "US")
                .map(|(place, _)| place)
                .collect();
            if abroad.is_empty() {
                return None;
            }
            let mut missing = Vec::new();
            match &s.encryption {
                None => missing.push("no encryption recorded".to_string()),
                Some(e) => {
                    if !e.end_to_end {
                        missing.push("not end-to-end encrypted".into());
                    }
                    if e.at_rest != AtRest::FipsValidated {
                        missing.push("encryption at rest is not FIPS 140 validated".into());
                    }
                    if !matches!(e.keys, KeyCustody::CustomerHsm | KeyCustody::CustomerKms) {
                        missing.push("the keys are not held by the organisation alone".into());
                    }
                }
            }
            if mode == ResidencyMode::UsOnly {
                missing.push("residency_mode is us_only".into());
            }
            (!missing.is_empty()).then(|| Hit {
                subject: format!("systems/{}", s.id),
                evidence: format!("{}: {}", abroad.join("; "), missing.join("; ")),
                severity: None,
                partial: false,
                citations: Vec::new(),
            })
        })
        .collect()
}
