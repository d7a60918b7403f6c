//! Controlled data in a cloud service whose provider can reach it: standing support
//! access, or keys the provider manages. Provider staff may be foreign persons abroad,
//! and a third party holding the keys defeats the 120.54(a)(5) carve-out.

use super::{controlled, Check, Ctx, Hit, Rule};
use crate::inventory::{KeyCustody, SupportAccess};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "provider-access",
    checklist: "storage-locations",
    severity: Severity::High,
    title: "The cloud provider can reach export-controlled data (standing support access or provider-managed keys)",
    citations: &["22 CFR 120.56(a)(2)", "22 CFR 120.54(a)(5)(ii)", "DFARS 252.204-7012(b)(2)(ii)(D)", "NIST SP 800-171 3.1.20", "CMMC AC.L2-3.1.20"],
    remediation: "Use a government-cloud tier with US-person support (GovCloud, Azure Government, GCC High), require approval for each provider access (lockbox), and keep the keys in a customer-held HSM or KMS.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    ctx.inv
        .systems
        .iter()
        .filter(|s| !controlled(s).is_empty())
        .filter_map(|s| {
            let mut why = Vec::new();
            if s.provider_support_access == Some(SupportAccess::Standing) {
                why.push("provider_support_access standing".to_string());
            }
            if s.encryption
                .as_ref()
                .is_some_and(|e| e.keys == KeyCustody::ProviderManaged)
            {
                why.push("keys provider_managed".into());
            }
            (!why.is_empty()).then(|| Hit {
                subject: format!("systems/{}", s.id),
                evidence: format!(
                    "{}; environment {}",
                    why.join("; "),
                    s.environment
                        .map(|e| serde_json::to_value(e).unwrap_or_default().to_string())
                        .unwrap_or_else(|| "unknown".into())
                ),
                severity: None,
                partial: false,
                citations: Vec::new(),
            })
        })
        .collect()
}
