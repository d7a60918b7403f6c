//! Properties of the engine over generated requests:
//! * adding organisation policies never turns a floor deny into an allow;
//! * removing an authorization never turns a deny into an allow;
//! * adding a former citizenship never turns a deny into an allow;
//! * an authorization outside its scope is never the one used (no exemption for a 126.1
//!   country, no technical data under a DSP-73/61/85, 126.5 and 126.7 within their
//!   countries, 126.18 and 125.4(b)(9) for the persons they serve), checked against a
//!   small reference written from the regulations' text rather than from the engine;
//! * the floor never panics and always cites a regulation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use itarvault_policy::data::{data, parse_ymd, Country};
use itarvault_policy::{floor, Engine, OrgPolicies, Request};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{json, Value};

const COUNTRIES: &[&str] = &[
    "US", "GB", "FR", "DE", "CN", "HK", "RU", "IR", "CU", "CA", "AU", "KH", "CY", "NI", "SY",
];
const CATS: &[&str] = &["VIII", "XI", "XII"];
const ECCNS: &[&str] = &["9E003", "3A001", "3A001.a"];
const DATES: &[&str] = &[
    "2021-01-01",
    "2024-03-15",
    "2025-06-01",
    "2026-01-15",
    "2026-11-22",
    "2027-12-31",
];
const TYPES: &[&str] = &[
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
const EXEMPTIONS: &[&str] = &[
    "125.4(b)(9)",
    "125.4(b)(2)",
    "126.18",
    "126.18(e)",
    "126.5",
    "126.7",
    "125.5",
    "22 CFR 126.18(a)",
    "not a section",
];
const STATUSES: &[&str] = &[
    "us_citizen",
    "us_national",
    "permanent_resident",
    "protected_individual",
    "foreign_person",
    "unknown",
];

fn countries() -> impl Strategy<Value = Vec<&'static str>> {
    subsequence(COUNTRIES, 0..4)
}

/// An authorization that, about half the time, covers what the request needs (the
/// person's countries, the location, the data's category), so that allows through an
/// authorization are common and removing one is a meaningful change.
fn authorization(
    i: usize,
    fit: Vec<&'static str>,
    cat: &'static str,
    eccn: &'static str,
) -> impl Strategy<Value = Value> {
    (
        prop_oneof![3 => select(&["DSP-5", "TAA", "EAR-license", "exemption"][..]), 1 => select(TYPES)],
        select(EXEMPTIONS),
        countries(),
        any::<bool>(),
        subsequence(CATS, 0..3),
        subsequence(ECCNS, 0..3),
        select(DATES),
        select(DATES),
    )
        .prop_map(move |(t, ex, mut cs, fits, mut cats, mut eccns, d1, d2)| {
            let (from, to) = if d1 <= d2 { (d1, d2) } else { (d2, d1) };
            if fits {
                cs.extend(fit.iter().copied());
                cs.sort_unstable();
                cs.dedup();
                cats.push(cat);
                eccns.push(eccn);
            }
            let (from, to) = if fits { ("2021-01-01", "2027-12-31") } else { (from, to) };
            let mut a = json!({ "id": format!("A{i}"), "type": t, "countries": cs, "usml_categories": cats,
                                "eccns": eccns, "valid_from": from, "expires": to });
            if t == "exemption" {
                a["exemption"] = json!(ex);
            }
            a
        })
}

prop_compose! {
    fn base()(
        status in prop_oneof![2 => Just("foreign_person"), 1 => select(STATUSES)],
        cits in countries(),
        residence in proptest::option::weighted(0.3, select(COUNTRIES)),
        former in proptest::option::weighted(0.3, subsequence(COUNTRIES, 1..3)),
        action in prop_oneof![3 => Just("read"), 1 => select(&["read", "write", "store"][..])],
        src in proptest::option::weighted(0.9, select(COUNTRIES)),
        cat in select(CATS),
        eccn in select(&["9E003", "3A001.a.1", "3A001.b"][..]),
        program in any::<bool>(),
        other_label in select(&["EAR", "EAR99", "PUBLIC", "ITAR", "ITAR"][..]),
    ) -> (Value, &'static str, Option<&'static str>, &'static str, &'static str, Value) {
        let mut p = json!({ "id": "p1", "person_status": status, "citizenships": cits });
        if let Some(r) = residence { p["permanent_residence"] = json!(r); }
        if let Some(f) = former { p["former_citizenships"] = json!(f); }
        let label = match other_label {
            "EAR" => json!({ "jurisdiction": "EAR", "eccn": eccn }),
            "EAR99" | "PUBLIC" => json!({ "jurisdiction": other_label }),
            _ if program => json!({ "jurisdiction": "ITAR", "usml_category": cat, "program": "f35" }),
            _ => json!({ "jurisdiction": "ITAR", "usml_category": cat }),
        };
        (p, action, src, cat, eccn, label)
    }
}

fn request() -> impl Strategy<Value = Value> {
    base().prop_flat_map(|(p, action, src, cat, eccn, label)| {
        let mut fit: Vec<&'static str> = p["citizenships"].as_array().unwrap().iter()
            .filter_map(|c| COUNTRIES.iter().find(|k| **k == c.as_str().unwrap()).copied()).collect();
        if let Some(r) = p["permanent_residence"].as_str() {
            fit.extend(COUNTRIES.iter().find(|k| **k == r).copied());
        }
        for f in p["former_citizenships"].as_array().into_iter().flatten() {
            fit.extend(COUNTRIES.iter().find(|k| **k == f.as_str().unwrap()).copied());
        }
        fit.extend(src);
        let base_eccn = if eccn.starts_with("3A001") { "3A001" } else { eccn };
        (
            Just((p, action, src, label)),
            (0usize..4).prop_flat_map(move |n| (0..n).map(|i| authorization(i, fit.clone(), cat, base_eccn)).collect::<Vec<_>>()),
            select(DATES),
            0u32..24,
            proptest::bool::weighted(0.1),
            any::<bool>(),
            select(COUNTRIES),
        )
    })
    .prop_map(|((mut p, action, src, label), auths, day, hour, classified, e2e, storage)| {
        p["authorizations"] = json!(auths);
        json!({ "principal": p, "action": action,
                "context": { "source_country": src, "time": format!("{day}T{hour:02}:00:00Z") },
                "resource": { "label": label, "classified": classified, "end_to_end_encrypted": e2e, "storage_country": storage } })
    })
}

/// A read of ITAR data by a person holding one exemption whose record names every
/// country involved and the category, valid on the day: whether it is used depends on
/// its scope alone.
fn exemption_request() -> impl Strategy<Value = Value> {
    const PLACES: &[&str] = &["US", "CA", "AU", "GB", "JP", "DE", "CN", "CY"];
    (
        select(&["us_citizen", "foreign_person", "foreign_person"][..]),
        subsequence(PLACES, 1..3),
        proptest::option::weighted(0.3, select(PLACES)),
        proptest::option::weighted(0.2, select(PLACES)),
        select(PLACES),
        select(EXEMPTIONS),
        select(&["2026-01-15", "2026-11-22"][..]),
    )
        .prop_map(|(status, cits, residence, former, src, section, day)| {
            let mut named: Vec<&str> = cits.clone();
            named.extend(residence);
            named.extend(former);
            named.push(src);
            named.sort_unstable();
            named.dedup();
            let mut p = json!({ "id": "p1", "person_status": status, "citizenships": cits,
                "authorizations": [ { "id": "EX", "type": "exemption", "exemption": section, "countries": named,
                    "usml_categories": ["XI"], "valid_from": "2021-01-01", "expires": "2027-12-31" } ] });
            if let Some(r) = residence { p["permanent_residence"] = json!(r); }
            if let Some(f) = former { p["former_citizenships"] = json!([f]); }
            json!({ "principal": p, "action": "read",
                    "context": { "source_country": src, "time": format!("{day}T12:00:00Z") },
                    "resource": { "label": { "jurisdiction": "ITAR", "usml_category": "XI" } } })
        })
}

fn policy_template() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("permit(principal, action, resource);".to_owned()),
        Just("permit(principal, action, resource) when { principal.us_person == false };".to_owned()),
        Just("permit(principal, action, resource) when { resource.jurisdiction == \"ITAR\" };".to_owned()),
        Just("forbid(principal, action, resource) when { resource has program && resource.program == \"f35\" } unless { principal.id == \"p0\" };".to_owned()),
        (0i64..24).prop_map(|h| format!("forbid(principal, action == Itarvault::Action::\"read\", resource) when {{ context.hour_utc < {h} }};")),
        select(COUNTRIES).prop_map(|c| format!("forbid(principal, action, resource) when {{ principal.citizenships.contains(\"{c}\") }};")),
        select(COUNTRIES).prop_map(|c| format!("forbid(principal, action, resource) when {{ context has source_country && context.source_country == \"{c}\" }};")),
        Just("forbid(principal, action == Itarvault::Action::\"store\", resource) when { resource has storage_country && resource.storage_country != \"US\" };".to_owned()),
    ]
}

fn parse(v: &Value) -> Request {
    Request::from_json(v, time::OffsetDateTime::UNIX_EPOCH).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn org_policies_never_widen_the_floor(req in request(), pols in proptest::collection::vec(policy_template(), 0..6)) {
        let r = parse(&req);
        let floor = floor::evaluate(&r);
        let org = OrgPolicies::load(&[("gen.cedar".to_owned(), pols.join("\n"))]).unwrap();
        let d = Engine::new(Some(org)).decide(&r);
        if !floor.is_allow() {
            prop_assert!(!d.is_allow(), "org policies widened a floor deny: {}", d.explain());
            prop_assert_eq!(&d.reasons, &floor.reasons);
        }
    }

    #[test]
    fn removing_an_authorization_never_allows(req in request()) {
        let full = floor::evaluate(&parse(&req));
        let n = req["principal"]["authorizations"].as_array().unwrap().len();
        for i in 0..n {
            let mut fewer = req.clone();
            fewer["principal"]["authorizations"].as_array_mut().unwrap().remove(i);
            let d = floor::evaluate(&parse(&fewer));
            if !full.is_allow() {
                prop_assert!(!d.is_allow(), "removing authorization {} allowed: {}", i, d.explain());
            }
        }
    }

    #[test]
    fn a_former_citizenship_never_allows(req in request(), extra in select(COUNTRIES)) {
        prop_assume!(!req["principal"]["citizenships"].as_array().unwrap().is_empty());
        let before = floor::evaluate(&parse(&req));
        let mut more = req.clone();
        let former = more["principal"]["former_citizenships"].as_array().cloned().unwrap_or_default();
        more["principal"]["former_citizenships"] = json!(former.into_iter().chain([json!(extra)]).collect::<Vec<_>>());
        let after = floor::evaluate(&parse(&more));
        if !before.is_allow() {
            prop_assert!(!after.is_allow(), "a former citizenship allowed: {}", after.explain());
        }
    }

    #[test]
    fn the_authorization_used_is_within_its_scope(req in prop_oneof![request(), exemption_request()]) {
        let d = floor::evaluate(&parse(&req));
        if let Some(used) = &d.authorization_used {
            let auth = req["principal"]["authorizations"].as_array().unwrap().iter()
                .find(|a| a["id"] == used.as_str()).unwrap();
            if let Err(why) = reference_scope(&req, auth) {
                prop_assert!(false, "`{}` used outside its scope ({}): {}", used, why, d.explain());
            }
        }
    }

    #[test]
    fn every_decision_is_reasoned_and_cited(req in request()) {
        let d = floor::evaluate(&parse(&req));
        prop_assert!(!d.reasons.is_empty());
        for r in &d.reasons {
            prop_assert!(r.cite.contains("CFR"), "{} lacks a citation", r.rule);
        }
        if d.authorization_used.is_some() {
            prop_assert!(d.is_allow());
        }
    }
}

/// Whether `auth` may authorize `req`'s release, by a reference written from the
/// regulations' text (docs/rules.md), independent of the scope table.
fn reference_scope(req: &Value, auth: &Value) -> Result<(), String> {
    let d = data().unwrap();
    let day = parse_ymd(&req["context"]["time"].as_str().unwrap()[..10]).unwrap();
    let principal = &req["principal"];
    let status = principal["person_status"].as_str().unwrap();
    let us_person = !matches!(status, "foreign_person" | "unknown");
    let src = req["context"]["source_country"].as_str().unwrap();
    let itar = req["resource"]["label"]["jurisdiction"] == "ITAR";
    let codes = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    let mut countries = Vec::new();
    if !us_person {
        countries.extend(codes(&principal["citizenships"]));
        countries.extend(principal["permanent_residence"].as_str().map(str::to_owned));
        if itar {
            countries.extend(codes(&principal["former_citizenships"]));
        }
    }
    if src != "US" {
        countries.push(src.to_owned());
    }
    let proscribed = countries
        .iter()
        .any(|c| d.proscribed_on(Country::parse(c).unwrap(), day).is_some());
    let kind = auth["type"].as_str().unwrap();
    if matches!(kind, "DSP-73" | "DSP-61" | "DSP-85") {
        return Err("releases no technical data".into());
    }
    let named = codes(&auth["countries"]);
    if let Some(c) = countries.iter().find(|c| !named.contains(c)) {
        return Err(format!("does not name {c}"));
    }
    if kind == "EAR-exception" && proscribed {
        return Err("license exception for a D:5 country".into());
    }
    if kind != "exemption" {
        return Ok(());
    }
    let section = auth["exemption"].as_str().unwrap();
    if proscribed {
        return Err("exemption for a 126.1 country or national (126.1(a), 125.4(a))".into());
    }
    let within = |allowed: &[&str]| countries.iter().all(|c| allowed.contains(&c.as_str()));
    match section {
        "126.5" if !within(&["CA"]) => Err("126.5 outside Canada".into()),
        "126.7" if !within(&["AU", "GB", "US"]) => Err("126.7 outside AUKUS".into()),
        "126.18" | "22 CFR 126.18(a)" if us_person || src == "US" => {
            Err("126.18 for a US person or in the US".into())
        }
        "125.4(b)(9)" if !us_person => Err("125.4(b)(9) for a foreign person".into()),
        "126.18(e)" | "not a section" => Err("never authorizes".into()),
        _ => Ok(()),
    }
}

/// The properties above mean something only if generated requests often allow, and
/// sometimes allow *because of* an authorization.
#[test]
fn generated_requests_exercise_authorizations() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut allows, mut via_auth) = (0, 0);
    let n = 4000;
    for _ in 0..n {
        let v = request().new_tree(&mut runner).unwrap().current();
        let d = floor::evaluate(&parse(&v));
        allows += usize::from(d.is_allow());
        via_auth += usize::from(d.authorization_used.is_some());
    }
    eprintln!("generated: {allows}/{n} allow, {via_auth} through an authorization");
    assert!(allows > n / 10, "only {allows} allows");
    assert!(
        via_auth > n / 50,
        "only {via_auth} authorization-based allows"
    );
    let mut via_exemption = 0;
    for _ in 0..n {
        let v = exemption_request().new_tree(&mut runner).unwrap().current();
        via_exemption += usize::from(floor::evaluate(&parse(&v)).authorization_used.is_some());
    }
    eprintln!("exemption requests: {via_exemption}/{n} allowed through the exemption");
    assert!(
        via_exemption > n / 10,
        "only {via_exemption} exemption-based allows"
    );
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[A-Za-z0-9().:_ -]{0,12}".prop_map(Value::from),
        select(COUNTRIES).prop_map(Value::from),
        select(DATES).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            proptest::collection::btree_map(
                select(
                    &[
                        "principal",
                        "action",
                        "context",
                        "resource",
                        "id",
                        "label",
                        "citizenships",
                        "type",
                        "expires",
                        "x"
                    ][..]
                )
                .prop_map(str::to_owned),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Arbitrary JSON, and real requests with one field replaced by arbitrary JSON:
    /// always a decision with reasons or a non-empty list of problems, never a panic.
    #[test]
    fn parser_never_panics(v in any_json(), req in request(), path in 0usize..12, junk in any_json()) {
        for candidate in [v, {
            let mut r = req;
            let slot = match path {
                0 => &mut r["principal"],
                1 => &mut r["principal"]["citizenships"],
                2 => &mut r["principal"]["authorizations"],
                3 => &mut r["principal"]["person_status"],
                4 => &mut r["action"],
                5 => &mut r["context"],
                6 => &mut r["context"]["time"],
                7 => &mut r["context"]["source_country"],
                8 => &mut r["resource"],
                9 => &mut r["resource"]["label"],
                10 => &mut r["resource"]["storage_country"],
                _ => &mut r["resource"]["classified"],
            };
            *slot = junk;
            r
        }] {
            match itarvault_policy::decide_json(&candidate, time::OffsetDateTime::UNIX_EPOCH) {
                Ok(d) => prop_assert!(!d.reasons.is_empty()),
                Err(e) => prop_assert!(!e.0.is_empty()),
            }
        }
    }
}
