//! AI and collaboration tools that process controlled data: approved, in US regions,
//! and with no standing operator access.

use super::{Ctx, Hit, Rule};
use crate::inventory::{Environment, OperatorAccess, Tristate};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "ai-tool-controlled-data",
    checklist: "ai-collaboration",
    severity: Severity::High,
    title: "An AI or collaboration tool processes export-controlled data where it is not approved or not safe",
    citations: &["22 CFR 120.50(a)", "22 CFR 120.56(a)(2)", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.3"],
    remediation: "Block controlled data from the tool, or approve it only in a US government-cloud region with no standing operator access.",
    check,
};

/// Whether a cloud region name reads as a US region (`us-gov-west-1`, `usgovvirginia`,
/// `us-east-1`, `eastus2`, `centralus`).
fn us_region(r: &str) -> bool {
    let r = r.to_ascii_lowercase();
    r.starts_with("us")
        || r.trim_end_matches(|c: char| c.is_ascii_digit())
            .ends_with("us")
}

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for t in &ctx.inv.ai_tools {
        if t.processes_controlled_data == Tristate::Known(false) {
            continue;
        }
        let mut why = Vec::new();
        if matches!(t.processes_controlled_data, Tristate::Unknown(_)) {
            why.push("nobody knows whether it processes controlled data".to_string());
        }
        if !t.approved_for_controlled_data {
            why.push("not approved for controlled data".into());
        }
        if t.environment == Some(Environment::Commercial) {
            why.push("commercial environment".into());
        }
        if let Some(r) = t.data_regions.iter().find(|r| !us_region(r)) {
            why.push(format!("data region `{r}` is not in the US"));
        }
        match t.operator_access {
            OperatorAccess::Standing => why.push("the operator has standing access".into()),
            OperatorAccess::Unknown => why.push("operator access unknown".into()),
            OperatorAccess::None | OperatorAccess::Lockbox => {}
        }
        if !why.is_empty() {
            hits.push(Hit {
                subject: format!("ai_tools/{}", t.id),
                evidence: why.join("; "),
                severity: None,
                partial: false,
            });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    #[test]
    fn us_regions_are_recognised() {
        for r in [
            "us-gov-west-1",
            "usgovvirginia",
            "us-east-1",
            "eastus2",
            "centralus",
        ] {
            assert!(super::us_region(r), "{r}");
        }
        for r in [
            "europe-west1",
            "eu-west-1",
            "australiaeast",
            "westeurope",
            "asia-east1",
        ] {
            assert!(!super::us_region(r), "{r}");
        }
    }
}
