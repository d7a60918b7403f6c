//! Controlled data without FIPS-validated encryption at rest and in transit.

use super::{controlled, Check, Ctx, Hit, Rule};
use crate::inventory::{AtRest, FipsStandard, InTransit};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "encryption-not-fips",
    checklist: "encryption",
    severity: Severity::Medium,
    title: "Export-controlled data is not protected by FIPS-validated encryption at rest and in transit",
    citations: &["22 CFR 120.54(a)(5)(iii)", "NIST SP 800-171 3.13.11", "NIST SP 800-171 3.13.8", "NIST SP 800-171 3.13.16", "CMMC SC.L2-3.13.11"],
    remediation: "Encrypt at rest with a FIPS 140 validated module and use TLS from a FIPS 140 validated module in transit; record the module and certificate.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for s in ctx.inv.systems.iter().filter(|s| !controlled(s).is_empty()) {
        let (why, severity) = match &s.encryption {
            None => (
                vec!["no encryption recorded".to_string()],
                Some(Severity::High),
            ),
            Some(e) => {
                let mut why = Vec::new();
                let mut none = false;
                match e.at_rest {
                    AtRest::FipsValidated => {}
                    AtRest::NonFips => why.push("at rest: not FIPS validated".to_string()),
                    AtRest::None => {
                        none = true;
                        why.push("at rest: none".into());
                    }
                }
                match e.in_transit {
                    InTransit::TlsFips => {}
                    InTransit::Tls => why.push("in transit: TLS, not FIPS validated".into()),
                    InTransit::None => {
                        none = true;
                        why.push("in transit: none".into());
                    }
                }
                let claims_fips =
                    e.at_rest == AtRest::FipsValidated || e.in_transit == InTransit::TlsFips;
                if claims_fips && e.fips_standard == Some(FipsStandard::None) {
                    why.push(
                        "recorded as FIPS validated, but fips_standard is none: no validated module is named"
                            .into(),
                    );
                }
                (why, none.then_some(Severity::High))
            }
        };
        if !why.is_empty() {
            hits.push(Hit {
                subject: format!("systems/{}", s.id),
                evidence: why.join("; "),
                severity,
                partial: severity.is_none(),
                citations: Vec::new(),
            });
        }
    }
    hits
}
