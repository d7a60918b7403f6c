//! FIPS 140-2 certificates are historical: the CMVP moved every remaining one to its
//! Historical list on the date in `data/cmvp.toml` (2026-09-21). A module validated
//! against 140-2 may stay in an existing system, but no longer counts as a validated
//! module for CUI (NIST SP 800-171 3.13.11): use a FIPS 140-3 validated one.

use super::{controlled, Check, Ctx, Hit, Rule};
use crate::checklist::cmvp;
use crate::inventory::FipsStandard;
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "fips-140-2-historical",
    checklist: "encryption",
    severity: Severity::Medium,
    title: "Export-controlled data is protected by a FIPS 140-2 module whose certificate is historical",
    citations: &["22 CFR 120.54(a)(5)(iii)", "NIST SP 800-171 3.13.11", "CMMC SC.L2-3.13.11"],
    remediation: "Move the system to a FIPS 140-3 validated module (record `fips_standard: \"140-3\"` and its CMVP certificate), and plan the change in the POA&M until then.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    // Without the date the rule cannot tell: every 140-2 module is then historical
    // (fail closed).
    let historical_from = cmvp().ok().and_then(|c| c.fips_140_2_historical());
    if historical_from.is_some_and(|d| ctx.as_of < d) {
        return Vec::new();
    }
    let when = historical_from.map_or_else(
        || "the CMVP data did not load".to_string(),
        |d| format!("historical since {}", itarvault_policy::data::ymd(d)),
    );
    ctx.inv
        .systems
        .iter()
        .filter(|s| !controlled(s).is_empty())
        .filter_map(|s| {
            let e = s.encryption.as_ref()?;
            (e.fips_standard == Some(FipsStandard::Fips140_2)).then(|| Hit {
                subject: format!("systems/{}", s.id),
                evidence: format!(
                    "fips_standard 140-2{}: FIPS 140-2 certificates are {when} (CMVP Historical list)",
                    e.fips_certificate
                        .as_ref()
                        .map(|c| format!(" (certificate #{c})"))
                        .unwrap_or_default()
                ),
                severity: None,
                partial: true,
                citations: Vec::new(),
            })
        })
        .collect()
}
