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
  - { id: DSP85-GB, type: DSP-85, countries: [GB], usml_categories: [XI], expires: 2027-01-01 }
  - { id: BARE-CN, type: exemption, countries: [CN], usml_categories: [XI], expires: 2027-01-01 }
  - { id: B9, type: exemption, exemption: "125.4(b)(9)", countries: [GB], expires: 2027-01-01 }
systems:
  - { id: plm, kind: application, labels: ["ITAR:XI"] }
  - { id: erp, kind: application, labels: ["EAR:9E003"] }
  - { id: wiki, kind: collaboration, labels: ["EAR99"] }
people:
  - { id: ok-us, person_status: us_citizen, citizenships: [US], work_country: US, access: [plm], screened: 2026-01-01 }
  - { id: ok-gb, person_status: foreign_person, citizenships: [GB], work_country: US, access: [plm], authorizations: [TAA-GB], screened: 2026-01-01 }
  - { id: fp-admin, person_status: foreign_person, citizenships: [CN], work_country: US, access: [plm], privileged: true, screened: 2026-01-01 }
  - { id: fp-user, person_status: foreign_person, citizenships: [IN], work_country: US, access: [erp, wiki], screened: 2026-01-01 }
  - { id: fp-wiki, person_status: foreign_person, citizenships: [IN], work_country: US, access: [wiki], screened: 2026-01-01 }
  - { id: expired, person_status: foreign_person, citizenships: [GB], work_country: US, access: [plm], authorizations: [OLD], screened: 2026-01-01 }
  - { id: dual, person_status: foreign_person, citizenships: [GB, FR], work_country: US, access: [plm], authorizations: [TAA-GB], screened: 2026-01-01 }
  - { id: other-cat, person_status: foreign_person, citizenships: [GB], work_country: US, access: [erp], authorizations: [TAA-GB], screened: 2026-01-01 }
  - { id: who, person_status: unknown, work_country: US, access: [plm] }
  - { id: trust-me, person_status: us_citizen, citizenships: [US], work_country: US, access: [erp] }
  - { id: us-in-cn, person_status: us_citizen, citizenships: [US], work_country: CN, access: [plm], screened: 2026-01-01 }
  - { id: us-in-gb, person_status: us_citizen, citizenships: [US], work_country: GB, access: [plm], screened: 2026-01-01 }
  - { id: us-in-gb-b9, person_status: us_citizen, citizenships: [US], work_country: GB, access: [plm], authorizations: [B9], screened: 2026-01-01 }
  - { id: cn-bare, person_status: foreign_person, citizenships: [CN], work_country: US, access: [plm], authorizations: [BARE-CN], screened: 2026-01-01 }
  - { id: dsp85, person_status: foreign_person, citizenships: [GB], work_country: US, access: [plm], authorizations: [DSP85-GB], screened: 2026-01-01 }
  - { id: former-cn, person_status: foreign_person, citizenships: [GB], former_citizenships: [CN], work_country: US, access: [plm], authorizations: [TAA-GB], screened: 2026-01-01 }
  - { id: resident-cn, person_status: foreign_person, citizenships: [GB], permanent_residence: CN, work_country: US, access: [plm], authorizations: [TAA-GB], screened: 2026-01-01 }
  - { id: no-cit, person_status: foreign_person, work_country: US, access: [plm], screened: 2026-01-01 }
  - { id: ir-wiki, person_status: foreign_person, citizenships: [IR], work_country: US, access: [wiki], screened: 2026-01-01 }
"#;

fn on(findings: &[Finding], rule: &str) -> Vec<(String, Severity, String)> {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.subject.clone(), f.severity, f.evidence.clone()))
        .collect()
}

fn subjects(findings: &[Finding], rule: &str) -> Vec<String> {
    let mut s: Vec<String> = on(findings, rule).into_iter().map(|h| h.0).collect();
    s.sort();
    s
}

fn evidence(findings: &[Finding], rule: &str, subject: &str) -> String {
    findings
        .iter()
        .find(|f| f.rule == rule && f.subject == subject)
        .unwrap_or_else(|| panic!("no {rule} finding for {subject}"))
        .evidence
        .clone()
}

#[test]
fn the_clean_example_has_no_findings() {
    let f = assess(&example());
    assert!(f.is_empty(), "{f:#?}");
}

/// The engine decides who may receive what, where they work: its rule ids are the
/// findings' rules, its citations their citations.
#[test]
fn staff_findings_are_the_engine_s_denials() {
    let f = assess(&load(PEOPLE).unwrap_or_else(|e| panic!("{e}")));
    let people = |v: &[&str]| v.iter().map(|p| format!("people/{p}")).collect::<Vec<_>>();
    assert_eq!(
        subjects(&f, "located-in-proscribed-country"),
        people(&["us-in-cn"]),
        "a US citizen working in a 126.1 country"
    );
    assert_eq!(
        subjects(&f, "proscribed-country-national"),
        people(&["cn-bare", "former-cn", "fp-admin", "resident-cn"]),
        "current, former and residence attribution; a bare exemption naming CN covers nothing"
    );
    assert_eq!(
        subjects(&f, "deemed-export-foreign-person"),
        people(&[
            "cn-bare",
            "dsp85",
            "dual",
            "expired",
            "former-cn",
            "fp-admin",
            "fp-user",
            "other-cat",
            "resident-cn"
        ]),
    );
    assert_eq!(
        subjects(&f, "us-person-abroad-unauthorized"),
        people(&["us-in-gb"]),
        "125.4(b)(9) covers the other US person in GB"
    );
    assert_eq!(
        subjects(&f, "foreign-person-no-citizenship"),
        people(&["no-cit"])
    );
    assert_eq!(
        subjects(&f, "ear99-embargoed-country"),
        people(&["ir-wiki"])
    );
    assert_eq!(subjects(&f, "unknown-person-status"), people(&["who"]));
    assert_eq!(subjects(&f, "unscreened-person"), people(&["trust-me"]));

    let admin = on(&f, "deemed-export-foreign-person")
        .into_iter()
        .find(|h| h.0 == "people/fp-admin")
        .unwrap();
    assert_eq!(admin.1, Severity::Critical, "privileged");
    assert!(admin.2.contains("`plm` (ITAR:XI)"), "{}", admin.2);
    let user = evidence(&f, "deemed-export-foreign-person", "people/fp-user");
    assert!(user.contains("`erp` (EAR:9E003)"), "{user}");
    assert!(!user.contains("wiki"), "EAR99 to India needs no license");
    assert!(
        evidence(&f, "deemed-export-foreign-person", "people/expired")
            .contains("expired on 2025-01-01")
    );
    assert!(evidence(&f, "deemed-export-foreign-person", "people/dual").contains("`FR`"));
    let dsp85 = evidence(&f, "deemed-export-foreign-person", "people/dsp85");
    assert!(
        dsp85.contains("DSP85-GB") && dsp85.contains("out-of-scope-data"),
        "{dsp85}"
    );
    let other = evidence(&f, "deemed-export-foreign-person", "people/other-cat");
    assert!(other.contains("ITAR data only"), "{other}");
    let bare = evidence(&f, "proscribed-country-national", "people/cn-bare");
    assert!(bare.contains("`CN`"), "{bare}");
    let former = evidence(&f, "proscribed-country-national", "people/former-cn");
    assert!(former.contains("former citizenship"), "{former}");
    let located = evidence(&f, "located-in-proscribed-country", "people/us-in-cn");
    assert!(located.contains("works in `CN`"), "{located}");
    // Citations are the engine's, then the assessor's NIST / CMMC ones.
    let cites = |rule: &str, subject: &str| {
        f.iter()
            .find(|x| x.rule == rule && x.subject == subject)
            .unwrap()
            .citations
            .clone()
    };
    let c = cites("located-in-proscribed-country", "people/us-in-cn");
    assert_eq!(c[0], "22 CFR 126.1(a)");
    assert!(c.contains(&"22 CFR 126.1(d)(1)".to_string()), "{c:?}");
    let c = cites("deemed-export-foreign-person", "people/fp-user");
    assert!(c.contains(&"15 CFR 734.13(a)(2)".to_string()), "{c:?}");
    let c = cites("us-person-abroad-unauthorized", "people/us-in-gb");
    assert!(c.contains(&"22 CFR 120.50(a)(6)".to_string()), "{c:?}");
    for x in f.iter().filter(|x| x.checklist == "staff-us-persons") {
        assert!(x
            .citations
            .iter()
            .any(|c| c.starts_with("22 CFR") || c.starts_with("15 CFR")));
        assert!(x.citations.iter().any(|c| c.starts_with("NIST SP 800-171")));
        assert!(x.citations.iter().any(|c| c.starts_with("CMMC")));
        let mut unique = x.citations.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), x.citations.len(), "{:?}", x.citations);
    }
    for quiet in ["ok-us", "ok-gb", "fp-wiki", "us-in-gb-b9"] {
        assert!(
            !f.iter().any(
                |x| x.checklist == "staff-us-persons" && x.subject == format!("people/{quiet}")
            ),
            "{quiet}"
        );
    }
    let again = assess(&load(PEOPLE).unwrap());
    assert_eq!(f, again, "deterministic ids and order");
    let ids: std::collections::HashSet<&str> = f.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids.len(), f.len(), "one finding per rule and subject");
    assert_eq!(all().len(), 24);
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
  - { id: fr-public, kind: storage, labels: ["PUBLIC"], location_country: FR, data_regions: [mars-north-1] }
  - id: comm
    kind: cloud_tenant
    labels: ["EAR:9E003"]
    location_country: US
    provider: aws
    environment: commercial
    provider_support_access: standing
    encryption: { at_rest: fips_validated, in_transit: tls, keys: provider_managed }
  - id: us-hk
    kind: cloud_tenant
    labels: ["ITAR:XI"]
    location_country: US
    provider: aws
    data_regions: [us-east-1, ap-east-1]
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_kms, end_to_end: true }
  - id: us-eu
    kind: cloud_tenant
    labels: ["EAR:9E003"]
    location_country: US
    provider: azure
    data_regions: [East US 2, westeurope]
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm, end_to_end: true }
  - id: gov
    kind: cloud_tenant
    labels: ["ITAR:XI"]
    location_country: US
    provider: aws
    data_regions: [us-gov-west-1, us-gov-east-1]
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm, end_to_end: true }
  - id: mystery
    kind: storage
    labels: ["ITAR:XI"]
    location_country: US
    provider: gcp
    data_regions: [us-east1, mars-north-1]
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm, end_to_end: true }
"#;

#[test]
fn location_rules_fire_on_exactly_the_systems_they_describe() {
    let inv = load(PLACES).unwrap_or_else(|e| panic!("{e}"));
    let f = assess(&inv);
    let systems = |v: &[&str]| v.iter().map(|p| format!("systems/{p}")).collect::<Vec<_>>();
    assert_eq!(
        subjects(&f, "proscribed-location"),
        systems(&["cn-store", "ru-ear99", "us-hk"])
    );
    let cn = evidence(&f, "proscribed-location", "systems/cn-store");
    assert!(cn.contains("22 CFR 126.1"), "{cn}");
    assert!(on(&f, "proscribed-location")
        .iter()
        .all(|h| h.1 == Severity::Critical));
    // A system recorded in the US whose cloud region is Hong Kong.
    let hk = evidence(&f, "proscribed-location", "systems/us-hk");
    assert!(hk.contains("`ap-east-1`") && hk.contains("HK"), "{hk}");
    assert!(!hk.contains("us-east-1"), "{hk}");
    let hk = f
        .iter()
        .find(|x| x.rule == "proscribed-location" && x.subject == "systems/us-hk")
        .unwrap();
    assert!(hk.citations.contains(&"22 CFR 126.1(d)(1)".to_string()));
    assert_eq!(
        subjects(&f, "non-us-location"),
        systems(&["cn-store", "de-plain"]),
        "de-e2e meets the carve-out; PUBLIC data is free"
    );
    let plain = evidence(&f, "non-us-location", "systems/de-plain");
    assert!(
        plain.contains("not end-to-end") && plain.contains("not held by the organisation"),
        "{plain}"
    );
    assert_eq!(
        subjects(&f, "unknown-data-region"),
        systems(&["mystery"]),
        "an unknown region of a system with controlled data; PUBLIC data is free"
    );
    let mystery = evidence(&f, "unknown-data-region", "systems/mystery");
    assert!(
        mystery.contains("`mars-north-1`") && !mystery.contains("us-east1"),
        "{mystery}"
    );
    assert_eq!(
        subjects(&f, "provider-access"),
        systems(&["comm", "de-plain"])
    );
    // The same carve-out systems are findings when the organisation runs US-only,
    // a cloud region in Europe included.
    let strict = load(&PLACES.replace("carve_out", "us_only")).unwrap();
    let f = assess(&strict);
    assert!(on(&f, "non-us-location")
        .iter()
        .any(|h| h.0 == "systems/de-e2e" && h.2.contains("residency_mode is us_only")));
    let eu = evidence(&f, "non-us-location", "systems/us-eu");
    assert!(eu.contains("`westeurope`") && eu.contains("NL"), "{eu}");
    assert!(!eu.contains("eastus2") && !eu.contains("East US 2"), "{eu}");
    assert!(!on(&f, "non-us-location")
        .iter()
        .any(|h| h.0 == "systems/gov"));
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
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm, fips_standard: "140-2", fips_certificate: 3615 }
    remote_access: { enabled: true, allowed_countries: [US], us_persons_only: true, mfa: false }
    audit_logging: true
  - id: claims
    kind: storage
    labels: ["EAR:9E003"]
    location_country: US
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm, end_to_end: true, fips_standard: none }
    audit_logging: true
  - id: current
    kind: storage
    labels: ["EAR:9E003"]
    location_country: US
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm, end_to_end: true, fips_standard: "140-3", fips_certificate: "4816" }
    audit_logging: true
people:
  - { id: ann, person_status: us_citizen, citizenships: [US], work_country: US, access: [wiki], screened: 2026-01-01, trained: 2025-01-01 }
vendors:
  - { id: offshore, systems: [plm], ownership_country: IN, foreign_person_access: true, offshore_support: true, itar_contract_clause: false, flows_down_to_subcontractors: unknown }
  - { id: vague, systems: [wiki], foreign_person_access: unknown, offshore_support: false, itar_contract_clause: true, flows_down_to_subcontractors: true }
  - { id: elsewhere, systems: [], foreign_person_access: true, offshore_support: true, itar_contract_clause: false, flows_down_to_subcontractors: false }
ai_tools:
  - { id: chat, provider: other, environment: commercial, data_regions: [westeurope], processes_controlled_data: unknown, operator_access: standing }
  - { id: gov, provider: azure, environment: azure_government, data_regions: [usgovvirginia], processes_controlled_data: true, approved_for_controlled_data: true, operator_access: lockbox }
  - { id: unused, processes_controlled_data: false, operator_access: unknown }
  - { id: hk-bot, provider: gcp, environment: commercial, data_regions: [us-east4, asia-east2], processes_controlled_data: true, approved_for_controlled_data: true, operator_access: none }
  - { id: odd-bot, provider: azure, environment: azure_government, data_regions: [usgovvirginia, usgovmars], processes_controlled_data: true, approved_for_controlled_data: true, operator_access: lockbox }
incidents:
  - { id: quiet, discovered: 2026-03-01, voluntary_disclosure: none }
  - { id: late, discovered: 2026-06-01, voluntary_disclosure: initial, disclosure_date: 2026-06-10 }
  - { id: fresh, discovered: 2026-10-01, voluntary_disclosure: initial, disclosure_date: 2026-10-15 }
  - { id: done, discovered: 2026-01-01, voluntary_disclosure: full, disclosure_date: 2026-02-01 }
  - { id: cn-leak, discovered: 2026-10-01, countries: [IN, CN], voluntary_disclosure: none }
  - { id: cn-late, discovered: 2026-06-01, countries: [HK], voluntary_disclosure: initial, disclosure_date: 2026-06-10 }
  - { id: in-told, discovered: 2026-10-01, countries: [IN], voluntary_disclosure: initial, disclosure_date: 2026-10-02 }
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
    assert!(on(&f, "ddtc-registration")[0]
        .2
        .contains("`organization.activities` is not recorded"));
    assert_eq!(subjects("tcp-current"), ["organization"]);
    assert_eq!(on(&f, "tcp-current")[0].1, Severity::Medium, "only stale");
    assert!(on(&f, "cmmc-status")[0]
        .2
        .contains("180 days: the POA&M window has closed"));
    // Level 2 is 32 CFR 170.16 and 170.17; 170.18 is Level 3.
    let cmmc = &f
        .iter()
        .find(|x| x.rule == "cmmc-status")
        .unwrap()
        .citations;
    for c in ["32 CFR 170.16", "32 CFR 170.17", "32 CFR 170.21"] {
        assert!(cmmc.contains(&c.to_string()), "{cmmc:?}");
    }
    assert!(!cmmc.contains(&"32 CFR 170.18".to_string()), "{cmmc:?}");
    let tcp = &f
        .iter()
        .find(|x| x.rule == "tcp-current")
        .unwrap()
        .citations;
    assert!(!tcp.iter().any(|c| c.contains("126.18")), "{tcp:?}");
    assert_eq!(subjects("fips-140-2-historical"), ["systems/wiki"]);
    let wiki = &on(&f, "fips-140-2-historical")[0].2;
    assert!(
        wiki.contains("#3615") && wiki.contains("2026-09-21"),
        "{wiki}"
    );
    assert_eq!(
        subjects("encryption-not-fips"),
        ["systems/claims", "systems/plm"]
    );
    assert!(on(&f, "encryption-not-fips")
        .iter()
        .any(|h| h.0 == "systems/claims" && h.2.contains("fips_standard is none")));
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
    assert_eq!(
        subjects("ai-tool-controlled-data"),
        ["ai_tools/chat", "ai_tools/hk-bot", "ai_tools/odd-bot"]
    );
    let ai = |id: &str| {
        on(&f, "ai-tool-controlled-data")
            .into_iter()
            .find(|h| h.0 == format!("ai_tools/{id}"))
            .unwrap()
    };
    assert!(ai("chat").2.contains("`westeurope`"));
    let hk = ai("hk-bot");
    assert_eq!(hk.1, Severity::Critical, "a 126.1 region");
    assert!(
        hk.2.contains("`asia-east2`") && hk.2.contains("proscribed"),
        "{}",
        hk.2
    );
    assert!(!hk.2.contains("us-east4"), "{}", hk.2);
    let odd = ai("odd-bot");
    assert_eq!(odd.1, Severity::High);
    assert!(
        odd.2.contains("`usgovmars` has no known country"),
        "{}",
        odd.2
    );
    assert!(!odd.2.contains("usgovvirginia"), "{}", odd.2);
    assert_eq!(
        subjects("incident-disclosure"),
        ["incidents/cn-late", "incidents/late", "incidents/quiet"]
    );
    assert!(on(&f, "incident-disclosure")
        .iter()
        .any(|h| h.2.contains("due on 2026-08-09")));
    // A 126.1 country makes disclosure mandatory and immediate.
    assert_eq!(
        subjects("incident-mandatory-disclosure"),
        ["incidents/cn-leak"]
    );
    let leak = f
        .iter()
        .find(|x| x.rule == "incident-mandatory-disclosure")
        .unwrap();
    assert_eq!(leak.severity, Severity::Critical);
    assert_eq!(leak.citations[0], "22 CFR 126.1(d)(1)");
    assert!(leak.citations.contains(&"22 CFR 126.1(e)(2)".to_string()));
    assert!(leak.evidence.contains("`CN`") && !leak.evidence.contains("`IN`"));
    let late = f
        .iter()
        .find(|x| x.rule == "incident-disclosure" && x.subject == "incidents/cn-late")
        .unwrap();
    assert!(late.citations.contains(&"22 CFR 126.1(e)(2)".to_string()));
    assert_eq!(subjects("untrained-person"), ["people/ann"]);
    // Before the CMVP date a 140-2 certificate is still current.
    let before = run(&Ctx {
        inv: &load(THE_REST).unwrap(),
        as_of: itarvault_policy::data::parse_ymd("2026-09-20").unwrap(),
    });
    assert!(on(&before, "fips-140-2-historical").is_empty());
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

/// 22 CFR 122.1 asks manufacturers and exporters to register, 129.3 brokers; a managed
/// service provider that does neither is not flagged.
#[test]
fn ddtc_registration_is_asked_of_manufacturers_exporters_and_brokers_only() {
    let with = |activities: &str| {
        load(&format!(
            "organization: {{ name: X, ddtc_registered: false{activities} }}\n"
        ))
        .unwrap()
    };
    let as_of = itarvault_policy::data::parse_ymd("2026-11-01").unwrap();
    let msp = with(", activities: [service_provider]");
    assert!(on(&assess(&msp), "ddtc-registration").is_empty());
    let report = itarvault_assess::report::assess(&msp, as_of, Default::default()).unwrap();
    let item = report
        .checklist
        .iter()
        .find(|i| i.item == "ddtc-registration")
        .unwrap();
    assert_eq!(item.status, itarvault_assess::Status::NotApplicable);
    assert!(item.reason.contains("122.1"), "{}", item.reason);
    let none = with(", activities: []");
    assert!(on(&assess(&none), "ddtc-registration").is_empty());

    let broker = assess(&with(", activities: [broker, service_provider]"));
    let hit = broker
        .iter()
        .find(|f| f.rule == "ddtc-registration")
        .unwrap();
    assert!(hit.citations.contains(&"22 CFR 129.3".to_string()));
    assert!(!hit.citations.contains(&"22 CFR 122.1(a)".to_string()));
    assert!(hit
        .evidence
        .contains("activities broker require registration"));
    let maker = assess(&with(", activities: [manufacturer]"));
    let hit = maker
        .iter()
        .find(|f| f.rule == "ddtc-registration")
        .unwrap();
    assert!(hit.citations.contains(&"22 CFR 122.1(a)".to_string()));
    // Not recorded: presumed required (fail closed).
    assert_eq!(on(&assess(&with("")), "ddtc-registration").len(), 1);
}
