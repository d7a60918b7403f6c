//! Remote access to controlled data must stay in the US, with US persons, behind MFA:
//! a session opened abroad releases the data abroad.

use super::{controlled, Check, Ctx, Hit, Rule};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "remote-access-unrestricted",
    checklist: "remote-access",
    severity: Severity::High,
    title: "Remote access to export-controlled data is not restricted to US persons in the US with MFA",
    citations: &["22 CFR 120.50(a)", "22 CFR 120.56(a)(2)", "NIST SP 800-171 3.1.12", "NIST SP 800-171 3.5.3", "CMMC AC.L2-3.1.12", "CMMC IA.L2-3.5.3"],
    remediation: "Allow remote access only from the US (allowed_countries: [US]), only for screened US persons or people whose authorization covers the data, and only with multi-factor authentication.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for s in ctx.inv.systems.iter().filter(|s| !controlled(s).is_empty()) {
        let Some(r) = s.remote_access.as_ref().filter(|r| r.enabled) else {
            continue;
        };
        let mut why = Vec::new();
        if r.allowed_countries.is_empty() {
            why.push("no geographic restriction".to_string());
        } else if let Some(c) = r.allowed_countries.iter().find(|c| *c != "US") {
            why.push(format!("allowed from `{c}`"));
        }
        if !r.us_persons_only {
            why.push("not limited to US persons".into());
        }
        let serious = !why.is_empty();
        if !r.mfa {
            why.push("no MFA".into());
        }
        if !why.is_empty() {
            hits.push(Hit {
                subject: format!("systems/{}", s.id),
                evidence: why.join("; "),
                severity: (!serious).then_some(Severity::Medium),
                partial: false,
                citations: Vec::new(),
            });
        }
    }
    hits
}
