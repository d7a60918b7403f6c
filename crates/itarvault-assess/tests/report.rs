#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! The checklist, attestations, exceptions, both scores and the comparison with an
//! earlier report.

use itarvault_assess::checklist::{checklist, sprs_weights, Kind};
use itarvault_assess::report::{assess, compare, Extra, Previous, Report};
use itarvault_assess::{load, rules, Status};
use time::Date;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn day(s: &str) -> Date {
    itarvault_policy::data::parse_ymd(s).unwrap()
}

fn run(yaml: &str, as_of: &str) -> Report {
    assess(&load(yaml).unwrap(), day(as_of), Extra::default()).unwrap()
}

fn status(r: &Report, item: &str) -> (Status, String) {
    let i = r.checklist.iter().find(|i| i.item == item).unwrap();
    (i.status, i.reason.clone())
}

fn example() -> String {
    std::fs::read_to_string(format!("{ROOT}/examples/inventory.yaml")).unwrap()
}

#[test]
fn the_checklist_data_is_whole_and_every_rule_belongs_to_an_item() {
    let c = checklist().unwrap();
    assert!(!c.meta.source.is_empty() && !c.meta.effective.is_empty());
    let mut ids: Vec<&str> = c.item.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), c.item.len(), "duplicate checklist ids");
    for r in rules::all() {
        let item = c
            .get(r.checklist)
            .unwrap_or_else(|| panic!("{}: no item", r.id));
        assert_eq!(item.kind, Kind::Automated, "{} feeds a manual item", r.id);
    }
    for i in c.item.iter().filter(|i| i.kind == Kind::Automated) {
        assert!(
            rules::all().iter().any(|r| r.checklist == i.id),
            "automated item {} has no rule",
            i.id
        );
    }
    assert!(c.item.iter().any(|i| i.kind == Kind::Manual));
}

#[test]
fn sprs_weights_are_the_methodology_s_110_requirements_worth_313_points() {
    let w = sprs_weights().unwrap();
    assert_eq!(w.weights.len(), 110);
    assert_eq!(w.weights.values().sum::<i32>(), 313);
    assert_eq!((w.meta.max, w.meta.min), (Some(110), Some(-203)));
    assert!(w.weights.values().all(|v| [0, 1, 3, 5].contains(v)));
    assert_eq!(w.weights["3.13.11"], 5);
    assert_eq!(w.partial["3.13.11"], 3);
    // Every requirement a rule cites has a weight: a typo would score nothing.
    for r in rules::all() {
        for c in r.citations {
            if let Some(req) = c.strip_prefix("NIST SP 800-171 ") {
                assert!(w.weights.contains_key(req), "{}: unknown {req}", r.id);
            }
        }
    }
}

#[test]
fn the_example_reads_as_a_newcomer_would_expect() {
    let r = run(&example(), "2026-11-01");
    assert!(r.findings.is_empty());
    assert_eq!(r.organization, "Acme Aerospace");
    assert_eq!(r.as_of, "2026-11-01");
    // Attested manual items pass; an expired attestation and a missing one are MANUAL.
    assert_eq!(status(&r, "training-content").0, Status::Pass);
    let (s, why) = status(&r, "contract-terms");
    assert_eq!(s, Status::Manual);
    assert!(why.contains("expired on 2026-09-01"), "{why}");
    let (s, why) = status(&r, "physical-access");
    assert_eq!(s, Status::Manual);
    assert!(why.contains("attest"), "{why}");
    assert_eq!(status(&r, "staff-us-persons").0, Status::Pass);
    // Manual items stay in the denominator: not 100%.
    let applicable = r
        .checklist
        .iter()
        .filter(|i| i.status != Status::NotApplicable)
        .count();
    let passed = r
        .checklist
        .iter()
        .filter(|i| i.status == Status::Pass)
        .count();
    assert!(passed < applicable);
    assert_eq!(
        u32::from(r.score),
        u32::try_from((passed * 100 + applicable / 2) / applicable).unwrap()
    );
    assert_eq!(r.sprs.score, 110);
    assert!(r.sprs.not_met.is_empty());
    assert!(r.sprs.covered.contains(&"3.13.11".to_string()));
}

#[test]
fn the_same_attestation_stops_counting_once_it_expires() {
    let text = example();
    assert_eq!(
        status(&run(&text, "2027-03-02"), "training-content").0,
        Status::Pass
    );
    let (s, why) = status(&run(&text, "2027-03-03"), "training-content");
    assert_eq!(s, Status::Manual);
    assert!(why.contains("ATT-1") && why.contains("expired"), "{why}");
    // Not yet made on the assessment date: as if it did not exist.
    let (s, why) = status(&run(&text, "2026-03-01"), "training-content");
    assert_eq!(s, Status::Manual);
    assert!(!why.contains("ATT-1"), "{why}");
}

const GAPS: &str = r#"
organization: { name: Gaps Inc }
systems:
  - id: plm
    kind: application
    labels: ["ITAR:XI"]
    location_country: US
    encryption: { at_rest: non_fips, in_transit: tls, keys: customer_kms }
    audit_logging: true
  - id: nas
    kind: storage
    labels: ["EAR:9E003"]
    location_country: US
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm }
    audit_logging: false
people:
  - { id: fp, person_status: foreign_person, citizenships: [IN], work_country: US, access: [plm], screened: 2026-01-01, trained: 2026-01-01 }
vendors:
  - { id: msp, systems: [nas], foreign_person_access: unknown, offshore_support: false, itar_contract_clause: true, flows_down_to_subcontractors: true }
"#;

#[test]
fn findings_fail_their_items_and_scores_follow() {
    let r = run(GAPS, "2026-11-01");
    assert_eq!(status(&r, "staff-us-persons").0, Status::Fail);
    assert_eq!(status(&r, "encryption").0, Status::Fail);
    assert_eq!(status(&r, "vendors").0, Status::Fail);
    assert_eq!(status(&r, "ai-collaboration").0, Status::NotApplicable);
    assert_eq!(status(&r, "cmmc").0, Status::NotApplicable);
    let item = r.checklist.iter().find(|i| i.item == "encryption").unwrap();
    assert_eq!(item.findings, 1);
    // SPRS: 3.13.11 is partial (encrypted, not FIPS): 3 points, not 5.
    let d = |req: &str| {
        r.sprs
            .not_met
            .iter()
            .find(|d| d.requirement == req)
            .map(|d| d.points)
    };
    assert_eq!(d("3.13.11"), Some(3));
    assert_eq!(d("3.1.1"), Some(5));
    assert_eq!(d("3.3.1"), Some(5));
    assert_eq!(d("3.3.2"), Some(3));
    let total: i32 = r.sprs.not_met.iter().map(|d| d.points).sum();
    assert_eq!(r.sprs.score, 110 - total);
    assert_eq!(
        r.summary.critical + r.summary.high + r.summary.medium + r.summary.low,
        r.findings.len()
    );
}

#[test]
fn no_encryption_at_all_costs_the_full_five_points() {
    let r = run(
        &GAPS.replace(
            "at_rest: non_fips, in_transit: tls",
            "at_rest: none, in_transit: tls",
        ),
        "2026-11-01",
    );
    let d = r
        .sprs
        .not_met
        .iter()
        .find(|d| d.requirement == "3.13.11")
        .unwrap();
    assert_eq!(d.points, 5);
}

#[test]
fn exceptions_accept_a_finding_visibly_and_only_until_they_expire() {
    let with = format!(
        "{GAPS}exceptions:\n  - {{ id: EX-1, rule: encryption-not-fips, subject: systems/plm, reason: migration to FIPS KMS under way, approver: CISO, expires: 2026-12-31 }}\n  - {{ id: EX-2, rule: audit-logging-off, subject: systems/plm, reason: stale, approver: CISO, expires: 2026-12-31 }}\n"
    );
    let r = run(&with, "2026-11-01");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "encryption-not-fips")
        .unwrap();
    let e = f.exception.as_ref().unwrap();
    assert_eq!(
        (e.id.as_str(), e.approver.as_str(), e.expired),
        ("EX-1", "CISO", false)
    );
    let (s, why) = status(&r, "encryption");
    assert_eq!(s, Status::Pass);
    assert!(why.contains("exception"), "{why}");
    assert_eq!(r.summary.excepted, 1);
    assert!(!r.sprs.not_met.iter().any(|d| d.requirement == "3.13.11"));
    // An exception that matches nothing is reported, not ignored.
    assert_eq!(r.unused_exceptions, vec!["EX-2".to_string()]);

    let later = run(&with, "2027-01-01");
    let f = later
        .findings
        .iter()
        .find(|f| f.rule == "encryption-not-fips")
        .unwrap();
    assert!(f.exception.as_ref().unwrap().expired);
    assert_eq!(status(&later, "encryption").0, Status::Fail);
}

#[test]
fn an_item_that_cannot_be_evaluated_is_an_error_not_a_pass() {
    let inv = load(&example()).unwrap();
    let r = assess(
        &inv,
        day("2026-11-01"),
        Extra {
            errors: vec![(
                "audit-logging".into(),
                "the vault's audit trail could not be read".into(),
            )],
            ..Extra::default()
        },
    )
    .unwrap();
    let (s, why) = status(&r, "audit-logging");
    assert_eq!(s, Status::Error);
    assert!(why.contains("could not be read"));
}

#[test]
fn previous_reports_show_new_fixed_and_unchanged() {
    let before = run(GAPS, "2026-11-01");
    let json = serde_json::to_string(&before).unwrap();
    let previous: Previous = serde_json::from_str(&json).unwrap();
    let fixed_plm = GAPS.replace(
        "at_rest: non_fips, in_transit: tls,",
        "at_rest: fips_validated, in_transit: tls_fips,",
    );
    let fixed_plm = fixed_plm.replace(
        "{ id: msp, systems: [nas], foreign_person_access: unknown",
        "{ id: msp, systems: [nas], foreign_person_access: false",
    );
    let more = fixed_plm.replace(
        "people:\n",
        "people:\n  - { id: who, person_status: unknown, work_country: US, access: [nas] }\n",
    );
    let mut after = run(&more, "2026-11-01");
    compare(&mut after, &previous);
    let fixed: Vec<&str> = after
        .fixed
        .as_ref()
        .unwrap()
        .iter()
        .map(|f| f.rule.as_str())
        .collect();
    assert!(fixed.contains(&"encryption-not-fips"), "{fixed:?}");
    assert!(after
        .findings
        .iter()
        .any(|f| f.change == Some(itarvault_assess::model::Change::Unchanged)));
    assert!(after
        .findings
        .iter()
        .any(|f| f.change == Some(itarvault_assess::model::Change::New)));
    assert_eq!(
        after.summary.new.unwrap() + after.summary.unchanged.unwrap(),
        after.findings.len()
    );
    // Ids are the same from run to run.
    assert_eq!(
        before.findings.iter().map(|f| &f.id).collect::<Vec<_>>(),
        run(GAPS, "2026-11-01")
            .findings
            .iter()
            .map(|f| &f.id)
            .collect::<Vec<_>>()
    );
}

#[test]
fn attestations_and_exceptions_are_checked_with_every_problem_listed() {
    let bad = r#"
organization: { name: X }
systems: [ { id: plm, kind: application } ]
attestations:
  - { id: A, item: staff-us-persons, by: me, date: 2026-01-01, expires: 2027-01-01, statement: trust me }
  - { id: A, item: no-such-item, by: me, date: 2026-01-01, expires: 2025-01-01, statement: s }
  - { id: B, item: physical-access, date: 2026-01-01, expires: 2027-01-01, statement: s }
exceptions:
  - { id: E, rule: no-such-rule, subject: systems/nope, reason: r, approver: a, expires: 2027-01-01 }
  - { id: F, rule: tcp-current, reason: r, expires: 2027-01-01 }
"#;
    let problems = load(bad).unwrap_err().0;
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let has = |p: &str, r: &str| {
        assert!(
            problems.iter().any(|x| x.path == p && x.reason.contains(r)),
            "missing {p}: {r} in {text:#?}"
        )
    };
    has("attestations[0].item", "only MANUAL items");
    has("attestations[1].id", "duplicate id");
    has("attestations[1].item", "not a checklist item");
    has("attestations[1].expires", "before date");
    has("attestations[2].by", "required");
    has("exceptions[0].rule", "not a rule id");
    has("exceptions[0].subject", "names no entry");
    has("exceptions[1].approver", "required");
}

#[test]
fn the_docs_coverage_table_names_every_item_and_rule() {
    let doc = std::fs::read_to_string(format!("{ROOT}/docs/assess.md")).unwrap();
    let table = doc.split("## Checklist coverage").nth(1).unwrap();
    for i in &checklist().unwrap().item {
        let kind = match i.kind {
            Kind::Automated => "automated",
            Kind::Manual => "manual",
        };
        assert!(
            table.contains(&format!("| `{}` | {kind} |", i.id)),
            "docs/assess.md lacks a row for {}",
            i.id
        );
    }
    for r in rules::all() {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", r.checklist)))
            .unwrap();
        assert!(
            row.contains(&format!("`{}` ({}", r.id, r.severity.as_str())),
            "{}: {row}",
            r.id
        );
    }
}
