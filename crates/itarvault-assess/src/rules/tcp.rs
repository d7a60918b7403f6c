//! The technology control program exists, is reviewed yearly, and the data it protects
//! has been identified and labelled (technical data, 22 CFR 120.33). The program is how
//! an organisation keeps that data from the releases to foreign persons that are
//! exports (22 CFR 120.50(a)(2)). 126.18(c)(2), cited here before, is the screening a
//! foreign licensee does of its own employees, not a US organisation's program.

use super::{date, Check, Ctx, Hit, Rule};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "tcp-current",
    checklist: "data-classified-tcp",
    severity: Severity::High,
    title: "The technology control program is missing, stale, or the controlled data is not classified",
    citations: &["22 CFR 120.33", "22 CFR 120.50(a)(2)", "NIST SP 800-171 3.8.4", "CMMC MP.L2-3.8.4"],
    remediation: "Document the technology control program, review it at least yearly, and identify and label every controlled item (USML category or ECCN).",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut why = Vec::new();
    let mut severity = None;
    match &ctx.inv.organization.tcp {
        None => why.push("no technology control program recorded".to_string()),
        Some(t) => {
            if !t.documented {
                why.push("the program is not documented".into());
            }
            if !t.data_classified {
                why.push("controlled data has not been classified".into());
            }
            let stale = date(t.last_reviewed.as_ref())
                .is_none_or(|d| d + time::Duration::days(365) < ctx.as_of);
            if stale {
                if why.is_empty() {
                    severity = Some(Severity::Medium);
                }
                why.push(match &t.last_reviewed {
                    Some(d) => format!("last reviewed {d}, more than a year ago"),
                    None => "never reviewed".into(),
                });
            }
        }
    }
    if why.is_empty() {
        return Vec::new();
    }
    vec![Hit {
        subject: "organization".into(),
        evidence: why.join("; "),
        severity,
        partial: false,
        citations: Vec::new(),
    }]
}
