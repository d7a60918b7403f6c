//! AI and collaboration tools that process controlled data: approved, in US regions
//! (looked up in the region table: a region name is not a place, and an unknown one
//! does not pass), never in a 126.1 country, and with no standing operator access.

use super::regions::{place, Placed};
use super::{Check, Ctx, Hit, Rule};
use crate::inventory::{Environment, OperatorAccess, Tristate};
use crate::model::Severity;
use itarvault_policy::data::data;

pub static RULE: Rule = Rule {
    id: "ai-tool-controlled-data",
    checklist: "ai-collaboration",
    severity: Severity::High,
    title: "An AI or collaboration tool processes export-controlled data where it is not approved or not safe",
    citations: &["22 CFR 120.50(a)", "22 CFR 120.56(a)(2)", "22 CFR 120.54(a)(5)(iv)", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.3"],
    remediation: "Block controlled data from the tool, or approve it only in a US government-cloud region (named as the provider's API names it) with no standing operator access.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for t in &ctx.inv.ai_tools {
        if t.processes_controlled_data == Tristate::Known(false) {
            continue;
        }
        let mut why = Vec::new();
        let mut severity = None;
        let mut citations = Vec::new();
        if matches!(t.processes_controlled_data, Tristate::Unknown(_)) {
            why.push("nobody knows whether it processes controlled data".to_string());
        }
        if !t.approved_for_controlled_data {
            why.push("not approved for controlled data".into());
        }
        if t.environment == Some(Environment::Commercial) {
            why.push("commercial environment".into());
        }
        for region in &t.data_regions {
            match place(t.provider, region) {
                Placed::Unknown {
                    region,
                    why: unknown,
                } => why.push(format!(
                    "data region `{region}` has no known country ({unknown})"
                )),
                Placed::Known { region, countries } => {
                    for c in countries.iter().filter(|c| c.as_str() != "US") {
                        match data().and_then(|d| d.proscribed_on(*c, ctx.as_of)) {
                            Some(entry) => {
                                severity = Some(Severity::Critical);
                                if !citations.contains(&entry.cite()) {
                                    citations.push(entry.cite());
                                }
                                why.push(format!(
                                    "{region} is in `{c}` ({}), a proscribed country ({})",
                                    entry.name,
                                    entry.cite()
                                ));
                            }
                            None => why.push(format!("{region} is in `{c}`, not the US")),
                        }
                    }
                }
            }
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
                severity,
                partial: false,
                citations,
            });
        }
    }
    hits
}
