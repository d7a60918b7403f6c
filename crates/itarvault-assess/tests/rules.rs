#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! Each rule fires on a crafted inventory and stays silent on the clean example.

use itarvault_assess::rules::{all, run, Ctx};
use itarvault_assess::{load, Finding, Inventory, Severity};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn assess(inv: &Inventory) -> Vec<Finding> {
    let as_of = itarvault_policy::data::parse_ymd("2026-11-01").unwrap();
    run(&Ctx { inv, as_of })
}

fn example() -> Inventory {
    load(&std::fs::read_to_string(format!("{ROOT}/examples/inventory.yaml")).unwrap()).unwrap()
}

const PEOPLE: &str = r#"
organization: { name: Acme }
authorizations:
  - { id: TAA-GB, type: TAA, countries: [GB], usml_categories: [XI], valid_from: 2025-01-01, expires: 2027-01-01 }
  - { id: OLD, type: DSP-5, countries: [GB], usml_categories: [XI], valid_from: 2020-01-01, expires: 2025-01-01 }
systems:
  - { id: plm, kind: application, labels: ["ITAR:XI"] }
  - { id: erp, kind: application, labels: ["EAR:9E003"] }
  - { id: wiki, kind: collaboration, labels: ["EAR99"] }
people:
  - { id: ok-us, person_status: us_citizen, citizenships: [US], access: [plm], screened: 2026-01-01 }
  - { id: ok-gb, person_status: foreign_person, citizenships: [GB], access: [plm], authorizations: [TAA-GB], screened: 2026-01-01 }
  - { id: fp-admin, person_status: foreign_person, citizenships: [CN], access: [plm], privileged: true, screened: 2026-01-01 }
  - { id: fp-user, person_status: foreign_person, citizenships: [IN], access: [erp, wiki], screened: 2026-01-01 }
  - { id: fp-wiki, person_status: foreign_person, citizenships: [IN], access: [wiki], screened: 2026-01-01 }
  - { id: expired, person_status: foreign_person, citizenships: [GB], access: [plm], authorizations: [OLD], screened: 2026-01-01 }
  - { id: dual, person_status: foreign_person, citizenships: [GB, FR], access: [plm], authorizations: [TAA-GB], screened: 2026-01-01 }
  - { id: other-cat, person_status: foreign_person, citizenships: [GB], access: [erp], authorizations: [TAA-GB], screened: 2026-01-01 }
  - { id: who, person_status: unknown, access: [plm] }
  - { id: trust-me, person_status: us_citizen, citizenships: [US], access: [erp] }
"#;

fn on(findings: &[Finding], rule: &str) -> Vec<(String, Severity, String)> {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.subject.clone(), f.severity, f.evidence.clone()))
        .collect()
}

#[test]
fn the_clean_example_has_no_findings() {
    let f = assess(&example());
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn staff_rules_fire_on_exactly_the_people_they_describe() {
    let f = assess(&load(PEOPLE).unwrap_or_else(|e| panic!("{e}")));
    let fpa = on(&f, "foreign-person-access");
    assert_eq!(fpa.len(), 2, "{fpa:#?}");
    // Most severe first.
    assert_eq!(fpa[0].0, "people/fp-admin");
    assert_eq!(fpa[0].1, Severity::Critical, "privileged");
    assert!(fpa[0].2.contains("`plm` (ITAR:XI)"), "{}", fpa[0].2);
    assert_eq!(
        (fpa[1].0.as_str(), fpa[1].1),
        ("people/fp-user", Severity::High)
    );
    assert!(
        !fpa[1].2.contains("wiki"),
        "EAR99 data is not part of the finding"
    );
    let un = on(&f, "unmatched-authorization");
    let mut who: Vec<&str> = un.iter().map(|h| h.0.as_str()).collect();
    who.sort_unstable();
    assert_eq!(
        who,
        ["people/dual", "people/expired", "people/other-cat"],
        "{un:#?}"
    );
    assert!(un.iter().any(|h| h.2.contains("expired on 2025-01-01")));
    assert!(un
        .iter()
        .any(|h| h.2.contains("does not cover citizenship `FR`")));
    assert!(un
        .iter()
        .any(|h| h.2.contains("does not cover `EAR:9E003`")));
    assert_eq!(on(&f, "unknown-person-status").len(), 1);
    let unscreened = on(&f, "unscreened-person");
    assert_eq!(unscreened.len(), 1);
    assert!(unscreened[0].2.contains("\"us_citizen\""));
    // Every finding carries its checklist item, citations across the three lenses, and a
    // stable id.
    for x in f.iter().filter(|x| x.checklist == "staff-us-persons") {
        assert!(x.citations.iter().any(|c| c.starts_with("22 CFR")));
        assert!(x.citations.iter().any(|c| c.starts_with("NIST SP 800-171")));
        assert!(x.citations.iter().any(|c| c.starts_with("CMMC")));
    }
    let again = assess(&load(PEOPLE).unwrap());
    assert_eq!(f, again, "deterministic ids and order");
    assert_eq!(all().len(), 17);
}

const PLACES: &str = r#"
organization: { name: Acme, residency_mode: carve_out }
systems:
  - { id: cn-store, kind: storage, labels: ["ITAR:XI"], location_country: CN }
  - { id: ru-ear99, kind: storage, labels: ["EAR99"], location_country: RU }
  - id: de-e2e
    kind: storage
    labels: ["ITAR:XI"]
    location_country: DE
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm, end_to_end: true }
  - id: de-plain
    kind: storage
    labels: ["ITAR:XI"]
    location_country: DE
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: provider_managed, end_to_end: false }
  - { id: fr-public, kind: storage, labels: ["PUBLIC"], location_country: FR }
  - id: comm
    kind: cloud_tenant
    labels: ["EAR:9E003"]
    location_country: US
    provider: aws
    environment: commercial
    provider_support_access: standing
    encryption: { at_rest: fips_validated, in_transit: tls, keys: provider_managed }
"#;

#[test]
fn location_rules_fire_on_exactly_the_systems_they_describe() {
    let inv = load(PLACES).unwrap_or_else(|e| panic!("{e}"));
    let f = assess(&inv);
    let mut pro: Vec<String> = on(&f, "proscribed-location")
        .into_iter()
        .map(|h| h.0)
        .collect();
    pro.sort();
    assert_eq!(pro, ["systems/cn-store", "systems/ru-ear99"]);
    let cn = on(&f, "proscribed-location")
        .into_iter()
        .find(|h| h.0 == "systems/cn-store")
        .unwrap();
    assert_eq!(cn.1, Severity::Critical);
    assert!(cn.2.contains("22 CFR 126.1"), "{}", cn.2);
    let mut nonus: Vec<String> = on(&f, "non-us-location").into_iter().map(|h| h.0).collect();
    nonus.sort();
    assert_eq!(
        nonus,
        ["systems/cn-store", "systems/de-plain"],
        "de-e2e meets the carve-out; PUBLIC data is free"
    );
    let plain = on(&f, "non-us-location")
        .into_iter()
        .find(|h| h.0 == "systems/de-plain")
        .unwrap();
    assert!(
        plain.2.contains("not end-to-end") && plain.2.contains("not held by the organisation"),
        "{}",
        plain.2
    );
    let prov = on(&f, "provider-access");
    let mut who: Vec<&str> = prov.iter().map(|h| h.0.as_str()).collect();
    who.sort_unstable();
    assert_eq!(who, ["systems/comm", "systems/de-plain"]);
    // The same carve-out system is a finding when the organisation runs US-only.
    let strict = load(&PLACES.replace("carve_out", "us_only")).unwrap();
    let f = assess(&strict);
    assert!(on(&f, "non-us-location")
        .iter()
        .any(|h| h.0 == "systems/de-e2e" && h.2.contains("residency_mode is us_only")));
    // The example is clean here too.
    assert!(assess(&example()).is_empty());
}

const THE_REST: &str = r#"
organization:
  name: Acme
  ddtc_registered: true
  ddtc_registration_expires: 2026-06-30
  tcp: { documented: true, last_reviewed: 2025-01-15, data_classified: true }
  cmmc: { level_required: 2, status: conditional, assessed: 2026-01-01 }
systems:
  - id: plm
    kind: application
    labels: ["ITAR:XI"]
    location_country: US
    encryption: { at_rest: non_fips, in_transit: tls, keys: customer_kms }
    remote_access: { enabled: true, allowed_countries: [US, GB], us_persons_only: false, mfa: false }
  - id: wiki
    kind: collaboration
    labels: ["EAR:9E003"]
    location_country: US
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm }
    remote_access: { enabled: true, allowed_countries: [US], us_persons_only: true, mfa: false }
    audit_logging: true
people:
  - { id: ann, person_status: us_citizen, citizenships: [US], access: [wiki], screened: 2026-01-01, trained: 2025-01-01 }
vendors:
  - { id: offshore, systems: [plm], ownership_country: IN, foreign_person_access: true, offshore_support: true, itar_contract_clause: false, flows_down_to_subcontractors: unknown }
  - { id: vague, systems: [wiki], foreign_person_access: unknown, offshore_support: false, itar_contract_clause: true, flows_down_to_subcontractors: true }
  - { id: elsewhere, systems: [], foreign_person_access: true, offshore_support: true, itar_contract_clause: false, flows_down_to_subcontractors: false }
ai_tools:
  - { id: chat, provider: other, environment: commercial, data_regions: [westeurope], processes_controlled_data: unknown, operator_access: standing }
  - { id: gov, provider: azure, environment: azure_government, data_regions: [usgovvirginia], processes_controlled_data: true, approved_for_controlled_data: true, operator_access: lockbox }
  - { id: unused, processes_controlled_data: false, operator_access: unknown }
incidents:
  - { id: quiet, discovered: 2026-03-01, voluntary_disclosure: none }
  - { id: late, discovered: 2026-06-01, voluntary_disclosure: initial, disclosure_date: 2026-06-10 }
  - { id: fresh, discovered: 2026-10-01, voluntary_disclosure: initial, disclosure_date: 2026-10-15 }
  - { id: done, discovered: 2026-01-01, voluntary_disclosure: full, disclosure_date: 2026-02-01 }
"#;

#[test]
fn every_other_rule_fires_on_its_subject_and_only_there() {
    let f = assess(&load(THE_REST).unwrap_or_else(|e| panic!("{e}")));
    let subjects = |rule: &str| {
        let mut s: Vec<String> = on(&f, rule).into_iter().map(|h| h.0).collect();
        s.sort();
        s
    };
    assert_eq!(subjects("ddtc-registration"), ["organization"]);
    assert!(on(&f, "ddtc-registration")[0]
        .2
        .contains("expired on 2026-06-30"));
    assert_eq!(subjects("tcp-current"), ["organization"]);
    assert_eq!(on(&f, "tcp-current")[0].1, Severity::Medium, "only stale");
    assert!(on(&f, "cmmc-status")[0]
        .2
        .contains("180 days: the POA&M window has closed"));
    assert_eq!(subjects("encryption-not-fips"), ["systems/plm"]);
    assert!(on(&f, "encryption-not-fips")[0]
        .2
        .contains("at rest: not FIPS validated; in transit: TLS, not FIPS validated"));
    let remote = on(&f, "remote-access-unrestricted");
    let plm = remote.iter().find(|h| h.0 == "systems/plm").unwrap();
    assert_eq!(plm.1, Severity::High);
    assert!(plm.2.contains("allowed from `GB`") && plm.2.contains("not limited to US persons"));
    let wiki = remote.iter().find(|h| h.0 == "systems/wiki").unwrap();
    assert_eq!((wiki.1, wiki.2.as_str()), (Severity::Medium, "no MFA"));
    assert_eq!(subjects("audit-logging-off"), ["systems/plm"]);
    assert_eq!(
        subjects("vendor-unvetted"),
        ["vendors/offshore", "vendors/vague"],
        "a vendor with no controlled system is not in scope"
    );
    let offshore = on(&f, "vendor-unvetted")
        .into_iter()
        .find(|h| h.0 == "vendors/offshore")
        .unwrap();
    assert!(
        offshore.2.contains("owned from `IN`")
            && offshore
                .2
                .contains("do not flow down to subcontractors: unknown"),
        "{}",
        offshore.2
    );
    let vague = on(&f, "vendor-unvetted")
        .into_iter()
        .find(|h| h.0 == "vendors/vague")
        .unwrap();
    assert_eq!(
        vague.1,
        Severity::Medium,
        "unknown alone is a medium finding"
    );
    assert_eq!(subjects("ai-tool-controlled-data"), ["ai_tools/chat"]);
    assert!(on(&f, "ai-tool-controlled-data")[0]
        .2
        .contains("`westeurope`"));
    assert_eq!(
        subjects("incident-disclosure"),
        ["incidents/late", "incidents/quiet"]
    );
    assert!(on(&f, "incident-disclosure")
        .iter()
        .any(|h| h.2.contains("due on 2026-08-09")));
    assert_eq!(subjects("untrained-person"), ["people/ann"]);
    // Every rule in the registry has fired in one of these tests.
    let fired: std::collections::HashSet<String> = [PEOPLE, PLACES, THE_REST]
        .iter()
        .flat_map(|t| assess(&load(t).unwrap()))
        .map(|x| x.rule)
        .collect();
    for r in all() {
        assert!(fired.contains(r.id), "{} never fired", r.id);
    }
}
