#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! Loading inventories: the spec's example, the checked-in schema, and bad input with
//! every problem listed by path.

use itarvault_assess::{load, schema, Problem};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn problems(text: &str) -> Vec<Problem> {
    match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    }
}

fn has(ps: &[Problem], path: &str, reason: &str) {
    assert!(
        ps.iter()
            .any(|p| p.path == path && p.reason.contains(reason)),
        "no `{path}: …{reason}…` in\n{}",
        ps.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_example_inventory_loads_as_yaml_and_as_json() {
    let text = std::fs::read_to_string(format!("{ROOT}/examples/inventory.yaml")).unwrap();
    let inv = load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inv.organization.name, "Acme Aerospace");
    assert_eq!(inv.people[0].access, ["plm", "files"]);
    let json = serde_json::to_string(&inv).unwrap();
    let again = load(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(serde_json::to_string(&again).unwrap(), json);
}

#[test]
fn the_checked_in_schema_is_the_one_the_types_generate() {
    let path = format!("{ROOT}/docs/inventory.schema.json");
    let generated = serde_json::to_string_pretty(&schema()).unwrap() + "\n";
    if std::env::var_os("ITARVAULT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/inventory.schema.json is stale: rerun with ITARVAULT_BLESS=1"
    );
}

#[test]
fn every_problem_is_listed_with_its_path() {
    let text = r#"
organization:
  name: Acme
  as_of: 2026-02-30
  colour: blue
  cmmc: { level_required: 2, status: final, sprs_score: 150 }
people:
  - id: jdoe
    person_status: alien
    citizenships: [US, XX]
    access: [plm, nowhere]
    authorizations: [missing]
  - id: jdoe
    person_status: us_citizen
    screened: yesterday
authorizations:
  - id: A1
    type: DSP-5
    countries: [GB]
    usml_categories: [XXII]
    eccns: [9Z003]
    valid_from: 2027-01-01
    expires: 2026-01-01
systems:
  - id: plm
    kind: application
    labels: ["ITAR:XI", "SECRETISH"]
    location_country: ZZ
vendors:
  - id: v
    foreign_person_access: maybe
    offshore_support: unknown
    itar_contract_clause: true
    flows_down_to_subcontractors: false
incidents:
  - id: I
    discovered: 2026-09-10
    voluntary_disclosure: initial
    disclosure_date: 2026-09-01
"#;
    let ps = problems(text);
    has(&ps, "organization.as_of", "not a date");
    has(&ps, "organization.colour", "unknown key");
    has(&ps, "organization.cmmc.sprs_score", "out of range");
    has(&ps, "people[0].person_status", "\"alien\" is not one of");
    has(
        &ps,
        "people[0].citizenships[1]",
        "not an assigned ISO 3166-1",
    );
    has(
        &ps,
        "people[0].access[1]",
        "`nowhere` is not the id of any entry in `systems`",
    );
    has(&ps, "people[0].authorizations[0]", "`missing`");
    has(
        &ps,
        "people[1].id",
        "duplicate id `jdoe` (first at people[0])",
    );
    has(&ps, "people[1].screened", "not a date");
    has(
        &ps,
        "authorizations[0].usml_categories[0]",
        "not a USML category",
    );
    has(&ps, "authorizations[0].eccns[0]", "not an ECCN");
    has(&ps, "authorizations[0].expires", "before valid_from");
    has(&ps, "systems[0].labels[1]", "not a label");
    has(&ps, "systems[0].location_country", "not an assigned");
    has(&ps, "vendors[0].foreign_person_access", "");
    has(
        &ps,
        "incidents[0].disclosure_date",
        "before it was discovered",
    );
    assert!(ps.len() >= 16, "{ps:#?}");
    // The error text lists them all.
    let all = load(text).unwrap_err().to_string();
    assert!(
        all.starts_with(&format!("the inventory has {} problem(s)", ps.len())),
        "{all}"
    );
}

#[test]
fn malformed_files_are_refused_with_the_reason() {
    has(&problems("organization: [unclosed"), "", "not valid YAML");
    has(&problems("{\"organization\": "), "", "not valid JSON");
    has(&problems(""), "", "empty");
    has(&problems("a: 1\n---\nb: 2\n"), "", "several YAML documents");
    has(
        &problems("organization:\n  name: x\n  name: y\n"),
        "",
        "duplicated key",
    );
    has(
        &problems("people: []\n"),
        "organization",
        "required key is missing",
    );
}
