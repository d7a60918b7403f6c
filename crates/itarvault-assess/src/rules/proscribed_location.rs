//! Controlled data stored or processed in a 22 CFR 126.1 country: the system's
//! `location_country`, or the country of one of its cloud `data_regions`. Even
//! ciphertext may not go there: the 120.54(a)(5) carve-out excludes those countries.

use super::regions::{holds_restricted, system_places};
use super::{Check, Ctx, Hit, Rule};
use crate::model::Severity;
use itarvault_policy::data::{data, Country};

pub static RULE: Rule = Rule {
    id: "proscribed-location",
    checklist: "storage-locations",
    severity: Severity::Critical,
    title: "Export-controlled data is stored or processed in a proscribed country",
    citations: &["22 CFR 126.1", "22 CFR 120.54(a)(5)(iv)", "15 CFR 746.1", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.3"],
    remediation: "Move the data out of the country (and out of the cloud region) now and stop the system there; then decide on the disclosure: mandatory and immediate for a 126.1 country (22 CFR 126.1(e)(2)), and 22 CFR 127.12.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let Some(d) = data() else {
        return Vec::new();
    };
    ctx.inv
        .systems
        .iter()
        // EAR99 data may not go to embargoed countries either (15 CFR 746).
        .filter(|s| holds_restricted(s))
        .filter_map(|s| {
            let mut citations = Vec::new();
            let found: Vec<String> = system_places(s)
                .into_iter()
                .filter_map(|(place, code)| {
                    let entry = d.proscribed_on(Country::parse(&code)?, ctx.as_of)?;
                    if !citations.contains(&entry.cite()) {
                        citations.push(entry.cite());
                    }
                    Some(format!("{place} ({}, {})", entry.name, entry.cite()))
                })
                .collect();
            (!found.is_empty()).then(|| Hit {
                subject: format!("systems/{}", s.id),
                evidence: format!(
                    "proscribed on {}: {}; the system holds {}",
                    itarvault_policy::data::ymd(ctx.as_of),
                    found.join("; "),
                    s.labels.join(", ")
                ),
                severity: None,
                partial: false,
                citations,
            })
        })
        .collect()
}
