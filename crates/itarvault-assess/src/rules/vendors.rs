//! Vendors that touch controlled systems: foreign-person access, offshore support,
//! foreign ownership, no ITAR clause, no flow-down. `unknown` is a finding too.

use super::{controlled, Check, Ctx, Hit, Rule};
use crate::inventory::{Tristate, UnknownWord};
use crate::model::Severity;

pub static RULE: Rule = Rule {
    id: "vendor-unvetted",
    checklist: "vendors",
    severity: Severity::High,
    title: "A vendor with access to export-controlled systems is not vetted for export control",
    citations: &["22 CFR 120.56(a)(2)", "22 CFR 120.50(a)", "DFARS 252.204-7012(m)", "NIST SP 800-171 3.1.20", "CMMC AC.L2-3.1.20"],
    remediation: "Confirm in writing that only US persons in the US support these systems, add ITAR/EAR clauses that flow down to subcontractors, or remove the vendor's access.",
    check: Check::Facts(check),
};

fn check(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for v in &ctx.inv.vendors {
        let touched: Vec<&str> = ctx
            .inv
            .systems
            .iter()
            .filter(|s| v.systems.contains(&s.id) && !controlled(s).is_empty())
            .map(|s| s.id.as_str())
            .collect();
        if touched.is_empty() {
            continue;
        }
        let mut bad = Vec::new();
        let mut unknown = Vec::new();
        let mut fact = |value: Tristate, bad_when: bool, what: &str| match value {
            Tristate::Known(b) if b == bad_when => bad.push(what.to_string()),
            Tristate::Known(_) => {}
            Tristate::Unknown(UnknownWord::Unknown) => unknown.push(format!("{what}: unknown")),
        };
        fact(v.foreign_person_access, true, "foreign persons have access");
        fact(
            v.offshore_support,
            true,
            "support is given from outside the US",
        );
        fact(v.itar_contract_clause, false, "no ITAR/EAR contract clause");
        fact(
            v.flows_down_to_subcontractors,
            false,
            "obligations do not flow down to subcontractors",
        );
        if let Some(c) = v.ownership_country.as_deref().filter(|c| *c != "US") {
            bad.push(format!("owned from `{c}`"));
        }
        if bad.is_empty() && unknown.is_empty() {
            continue;
        }
        let severity = bad.is_empty().then_some(Severity::Medium);
        bad.extend(unknown);
        hits.push(Hit {
            subject: format!("vendors/{}", v.id),
            evidence: format!("touches {}: {}", touched.join(", "), bad.join("; ")),
            severity,
            partial: false,
            citations: Vec::new(),
        });
    }
    hits
}
