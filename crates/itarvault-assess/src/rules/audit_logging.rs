//! Systems holding controlled data must keep audit logs: the evidence for records
//! (22 CFR 122.5) and for any disclosure (127.12).

use super::{controlled, Check, Ctx, Hit, Rule};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "audit-logging-off",
    checklist: "audit-logging",
    severity: Severity::Medium,
    title: "A system holding export-controlled data does not keep audit logs",
    citations: &["22 CFR 122.5", "NIST SP 800-171 3.3.1", "NIST SP 800-171 3.3.2", "CMMC AU.L2-3.3.1"],
    remediation: "Turn on audit logging for every access to the data, keep the logs for 5 years, and protect them from alteration.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    ctx.inv
        .systems
        .iter()
        .filter(|s| !controlled(s).is_empty() && s.audit_logging != Some(true))
        .map(|s| Hit {
            subject: format!("systems/{}", s.id),
            evidence: match s.audit_logging {
                Some(false) => "audit_logging false".into(),
                _ => "audit_logging not recorded".into(),
            },
            severity: None,
            partial: false,
            citations: Vec::new(),
        })
        .collect()
}
