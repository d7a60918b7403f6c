//! Controlled data stored or processed in a 22 CFR 126.1 country. Even ciphertext may
//! not go there: the 120.54(a)(5) carve-out excludes those countries.

use super::{labels, Ctx, Hit, Rule};
use crate::model::Severity;
use itarvault_format::Control;
use itarvault_policy::data::{data, Country};

pub static RULE: Rule = Rule {
    id: "proscribed-location",
    checklist: "storage-locations",
    severity: Severity::Critical,
    title: "Export-controlled data is stored or processed in a proscribed country",
    citations: &["22 CFR 126.1", "22 CFR 120.54(a)(5)(iv)", "15 CFR 746.1", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.3"],
    remediation: "Move the data out of the country now and stop the system there; then assess whether a voluntary disclosure is due (22 CFR 127.12).",
    check,
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let Some(d) = data() else {
        return Vec::new();
    };
    ctx.inv
        .systems
        .iter()
        // EAR99 data may not go to embargoed countries either (15 CFR 746).
        .filter(|s| labels(s).any(|l| !matches!(l.control(), Control::Public)))
        .filter_map(|s| {
            let code = s.location_country.as_deref()?;
            let entry = d.proscribed_on(Country::parse(code)?, ctx.as_of)?;
            Some(Hit {
                subject: format!("systems/{}", s.id),
                evidence: format!(
                    "location_country {code} is proscribed on {} ({}); the system holds {}",
                    itarvault_policy::data::ymd(ctx.as_of),
                    entry.cite(),
                    s.labels.join(", ")
                ),
                severity: None,
                partial: false,
            })
        })
        .collect()
}
