#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! Assess and decide agree. For generated people, authorizations and labels, the
//! assessment flags exactly the person x system x label releases that the engine,
//! asked through its JSON interface (`itarvault decide`, `POST /v1/decide`), denies,
//! with the same rule ids; and its findings name every denied system.

use itarvault_assess::release::releases;
use itarvault_assess::rules::{run, Ctx};
use itarvault_assess::{load, Finding};
use itarvault_format::Label;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const COUNTRIES: [&str; 12] = [
    "US", "GB", "FR", "DE", "CA", "AU", "IN", "CN", "RU", "IR", "CY", "HK",
];
const LABELS: [&str; 7] = [
    "ITAR:XI",
    "ITAR:XV",
    "ITAR:XIX(f)",
    "EAR:9E003",
    "EAR:3A001.a.1",
    "EAR99",
    "PUBLIC",
];
const STATUSES: [&str; 6] = [
    "us_citizen",
    "us_national",
    "permanent_resident",
    "protected_individual",
    "foreign_person",
    "unknown",
];
const TYPES: [&str; 10] = [
    "DSP-5",
    "DSP-61",
    "DSP-73",
    "DSP-85",
    "TAA",
    "MLA",
    "WDA",
    "exemption",
    "EAR-license",
    "EAR-exception",
];
/// Sections an exemption may claim; `None` is a bare exemption (no section).
const SECTIONS: [Option<&str>; 7] = [
    Some("125.4(b)(9)"),
    Some("125.4(b)(2)"),
    Some("126.18"),
    Some("126.5"),
    Some("126.7"),
    Some("125.4(b)(3)"),
    None,
];
const DAYS: [&str; 4] = ["2024-01-01", "2026-09-15", "2026-11-01", "2027-06-01"];

fn subset<T: Clone + std::fmt::Debug>(
    pool: &'static [T],
    max: usize,
) -> impl Strategy<Value = Vec<T>> {
    proptest::sample::subsequence(pool, 0..=max)
}

fn country() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(&COUNTRIES[..])
}

fn authorization() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(&TYPES[..]),
        proptest::sample::select(&SECTIONS[..]),
        subset(&COUNTRIES, 3),
        subset(&["XI", "XV", "XIX"], 2),
        subset(&["9E003", "3A001", "3A001.a", "3A001.b"], 2),
        prop_oneof![
            Just((None, "2025-01-01")),
            Just((Some("2025-01-01"), "2027-01-01")),
            Just((Some("2026-10-01"), "2028-01-01")),
            Just((None, "2030-01-01")),
        ],
    )
        .prop_map(|(kind, section, countries, usml, eccns, (from, expires))| {
            let mut a = json!({ "type": kind, "countries": countries, "usml_categories": usml,
                                "eccns": eccns, "expires": expires });
            if kind == "exemption" {
                a["exemption"] = json!(section);
            }
            if let Some(from) = from {
                a["valid_from"] = json!(from);
            }
            a
        })
}

fn person(systems: usize, auths: usize) -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(&STATUSES[..]),
        subset(&COUNTRIES, 3),
        subset(&COUNTRIES, 2),
        proptest::option::of(country()),
        country(),
        proptest::sample::subsequence((0..systems).collect::<Vec<_>>(), 0..=systems),
        proptest::sample::subsequence((0..auths).collect::<Vec<_>>(), 0..=auths),
        any::<bool>(),
    )
        .prop_map(
            |(status, citizenships, former, residence, work, access, held, privileged)| {
                json!({
                    "person_status": status, "citizenships": citizenships,
                    "former_citizenships": former, "permanent_residence": residence,
                    "work_country": work,
                    "access": access.iter().map(|i| format!("s{i}")).collect::<Vec<_>>(),
                    "authorizations": held.iter().map(|i| format!("a{i}")).collect::<Vec<_>>(),
                    "privileged": privileged, "screened": "2024-01-01"
                })
            },
        )
}

/// An inventory in the spec's JSON form.
fn inventory() -> impl Strategy<Value = Value> {
    (1usize..4, 0usize..5, proptest::sample::select(&DAYS[..])).prop_flat_map(
        |(systems, auths, day)| {
            (
                proptest::collection::vec(subset(&LABELS, 3), systems),
                proptest::collection::vec(authorization(), auths),
                proptest::collection::vec(person(systems, auths), 1..6),
                Just(day),
            )
                .prop_map(|(labels, auths, people, day)| {
                    let with_ids = |list: Vec<Value>, prefix: &str| -> Vec<Value> {
                        list.into_iter()
                            .enumerate()
                            .map(|(i, mut v)| {
                                v["id"] = json!(format!("{prefix}{i}"));
                                v
                            })
                            .collect()
                    };
                    let systems: Vec<Value> = labels
                        .into_iter()
                        .map(|l| json!({ "kind": "application", "labels": l, "location_country": "US" }))
                        .collect();
                    json!({
                        "organization": { "name": "Generated", "as_of": day },
                        "systems": with_ids(systems, "s"),
                        "authorizations": with_ids(auths, "a"),
                        "people": with_ids(people, "p"),
                    })
                })
        },
    )
}

/// What the engine says through its JSON interface, for one person, one label. A bare
/// exemption cannot be written in that interface (it requires the section); it
/// authorizes nothing, so the reference leaves it out.
fn reference(inv: &Value, person: &Value, label: &str) -> (bool, BTreeSet<String>) {
    let held: Vec<Value> = person["authorizations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|id| {
            let a = inv["authorizations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["id"] == *id)
                .unwrap();
            let bare = a["type"] == "exemption" && a["exemption"].is_null();
            (!bare).then(|| a.clone())
        })
        .collect();
    let label: Label = label.parse().unwrap();
    let request = json!({
        "principal": { "id": person["id"], "person_status": person["person_status"],
                       "citizenships": person["citizenships"],
                       "former_citizenships": person["former_citizenships"],
                       "permanent_residence": person["permanent_residence"],
                       "authorizations": held },
        "action": "read",
        "context": { "source_country": person["work_country"],
                     "time": format!("{}T00:00:00Z", inv["organization"]["as_of"].as_str().unwrap()) },
        "resource": { "label": serde_json::to_value(&label).unwrap() }
    });
    let decision = itarvault_policy::decide_json(&request, time::OffsetDateTime::UNIX_EPOCH)
        .unwrap_or_else(|e| panic!("{e}: {request}"));
    let rules = decision
        .reasons
        .iter()
        .map(|r| r.rule.to_string())
        .collect();
    (decision.is_allow(), rules)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn assess_flags_exactly_what_the_engine_denies(inv in inventory()) {
        let loaded = load(&inv.to_string()).unwrap_or_else(|e| panic!("{e}\n{inv:#}"));
        let as_of = itarvault_policy::data::parse_ymd(inv["organization"]["as_of"].as_str().unwrap()).unwrap();

        // Every person x reachable system x label, each decided as the engine decides.
        let asked = releases(&loaded, as_of);
        let mut expected = 0;
        let mut denied: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for person in inv["people"].as_array().unwrap() {
            let pid = person["id"].as_str().unwrap();
            for system in inv["systems"].as_array().unwrap() {
                if !person["access"].as_array().unwrap().contains(&system["id"]) {
                    continue;
                }
                let sid = system["id"].as_str().unwrap();
                for label in system["labels"].as_array().unwrap() {
                    let label = label.as_str().unwrap();
                    expected += 1;
                    let (allow, rules) = reference(&inv, person, label);
                    let ours = asked
                        .iter()
                        .find(|r| r.person.id == pid && r.system.id == sid && r.label == label)
                        .unwrap_or_else(|| panic!("{pid} x {sid} x {label} was not asked"));
                    let our_rules: BTreeSet<String> =
                        ours.decision.reasons.iter().map(|r| r.rule.to_string()).collect();
                    prop_assert_eq!(ours.decision.is_allow(), allow, "{} x {} x {}", pid, sid, label);
                    prop_assert_eq!(&our_rules, &rules, "{} x {} x {}", pid, sid, label);
                    if !allow {
                        denied.entry(pid.into()).or_default().entry(sid.into()).or_default().extend(rules);
                    }
                }
            }
        }
        prop_assert_eq!(asked.len(), expected);

        // The findings of `staff-us-persons` name exactly those people, under the
        // engine's rule ids, and every denied system.
        let findings: Vec<Finding> = run(&Ctx { inv: &loaded, as_of });
        let staff: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.checklist == "staff-us-persons" && f.rule != "unscreened-person")
            .collect();
        for person in inv["people"].as_array().unwrap() {
            let pid = person["id"].as_str().unwrap();
            let subject = format!("people/{pid}");
            let mine: BTreeMap<&str, &Finding> = staff
                .iter()
                .filter(|f| f.subject == subject)
                .map(|f| (f.rule.as_str(), *f))
                .collect();
            let want: BTreeSet<&str> = denied
                .get(pid)
                .into_iter()
                .flat_map(|systems| systems.values().flatten().map(String::as_str))
                .collect();
            prop_assert_eq!(mine.keys().copied().collect::<BTreeSet<_>>(), want, "{}", pid);
            for (sid, rules) in denied.get(pid).into_iter().flatten() {
                for rule in rules {
                    let f = mine[rule.as_str()];
                    prop_assert!(f.evidence.contains(&format!("`{sid}`")), "{} {}: {}", pid, rule, f.evidence);
                    prop_assert!(f.citations.iter().any(|c| c.starts_with("22 CFR") || c.starts_with("15 CFR")));
                }
            }
        }
    }
}
