#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! Every vault rule fires on a crafted posture and trail, stays silent on a sound one,
//! and the evidence pack says which 120.54(a)(5) condition fails and why.

use itarvault_assess::vault::{evidence, findings, Posture, Trail, RULES};
use itarvault_audit::{Event, Record, VerifyReport};
use serde_json::json;

fn day(s: &str) -> time::Date {
    itarvault_policy::data::parse_ymd(s).unwrap()
}

fn sound() -> Posture {
    serde_json::from_value(json!({
        "server_version": "0.1.0",
        "fips": { "active": true, "module": "AWS-LC FIPS 3.6.0", "validated": true, "validation": "FIPS 140-3 CMVP certificate #5314", "certificate": "5314" },
        "tls": { "enabled": true, "versions": ["TLSv1.2", "TLSv1.3"], "cipher_suites": [], "key_exchange_groups": [], "certificate": "configured", "client_certificates": false },
        "residency": { "mode": "us_only" },
        "backends": [{ "name": "local", "kind": "local", "country": "US", "operator": "self" }],
        "key_providers": [{ "name": "local", "kind": "local-keystore", "custody": "the owner", "third_party_access": false }],
        "buckets": [{ "name": "designs", "backend": "local", "key_id": "bucket/designs", "key_provider": "local", "owners": ["alice"] }],
        "lockbox": { "enabled": true, "approvals_required": 1, "max_grant_hours": 8 },
        "quorum": { "required": 2, "approvers": 3 },
        "admins": [{ "id": "root", "roles": ["admin"], "person_status": "us_citizen", "citizenships": ["US"] }],
        "audit": { "public_key": "04" }
    }))
    .unwrap()
}

fn intact() -> VerifyReport {
    VerifyReport {
        records: 1,
        head_checked: true,
        ..VerifyReport::default()
    }
}

fn put(seq: u64, time: &str, country: &str, outcome: &str) -> Record {
    let mut e = Event::new("object.put", outcome)
        .principal("mallory")
        .object("designs", "x.step");
    e.country = Some(country.into());
    Record {
        v: 1,
        seq,
        time: time.into(),
        prev: String::new(),
        event: e,
        restore: None,
        key_id: None,
        sig: None,
    }
}

#[test]
fn a_sound_vault_has_no_findings_and_its_evidence_holds() {
    let trail = Trail {
        report: intact(),
        records: vec![
            put(1, "2026-10-01T00:00:00Z", "US", "ok"),
            put(2, "2026-10-01T00:00:01Z", "IR", "deny"),
        ],
    };
    let (f, e) = findings(&sound(), Ok(&trail), day("2026-11-01"));
    assert!(f.is_empty() && e.is_empty(), "{f:#?} {e:?}");
    let files = evidence(&sound(), Ok(&trail), day("2026-11-01"));
    let readme = &files.iter().find(|(n, _)| n == "README.md").unwrap().1;
    assert!(readme.contains("all conditions hold"), "{readme}");
    assert!(readme.contains("by the operator: 5314"), "{readme}");
}

#[test]
fn every_vault_rule_fires_on_the_posture_it_describes() {
    let mut p = sound();
    p.fips.active = false;
    p.tls.certificate = itarvault_assess::vault::ServerCertificate::SelfSignedDevelopment;
    p.backends.push(
        serde_json::from_value(
            json!({ "name": "tehran", "kind": "s3", "country": "IR", "operator": "x" }),
        )
        .unwrap(),
    );
    p.backends.push(
        serde_json::from_value(
            json!({ "name": "eu", "kind": "s3", "country": "DE", "operator": "y" }),
        )
        .unwrap(),
    );
    p.quorum.bootstrap = true;
    p.admins.push(serde_json::from_value(json!({ "id": "omar", "roles": ["operator"], "person_status": "foreign_person", "citizenships": ["IN"] })).unwrap());
    let mut report = intact();
    report.head_checked = false;
    let trail = Trail {
        report,
        records: vec![put(7, "2026-10-01T00:00:00Z", "IR", "ok")],
    };
    let (f, _) = findings(&p, Ok(&trail), day("2026-11-01"));
    let mut fired: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
    let mut off = p.clone();
    off.tls.enabled = false;
    // FIPS mode on, but a module line still in CMVP review.
    off.fips.active = true;
    off.fips.validated = false;
    let (f2, _) = findings(&off, Ok(&trail), day("2026-11-01"));
    fired.extend(f2.iter().map(|f| f.rule.as_str()));
    for r in RULES {
        assert!(fired.contains(&r), "{r} did not fire: {fired:?}");
    }
    let by = |rule: &str| f.iter().find(|x| x.rule == rule).unwrap();
    assert_eq!(
        by("vault-backend-proscribed").subject,
        "vault/backends/tehran"
    );
    assert!(by("vault-backend-proscribed")
        .evidence
        .contains("22 CFR 126.1"));
    assert_eq!(
        by("vault-backend-abroad-us-only").subject,
        "vault/backends/eu"
    );
    assert_eq!(by("vault-write-from-proscribed").subject, "vault/audit/7");
    // Under the carve-out a German backend is allowed (its evidence must hold).
    let mut carve = p.clone();
    carve.residency.mode = itarvault_policy::ResidencyMode::CarveOut;
    let (f3, _) = findings(&carve, Ok(&trail), day("2026-11-01"));
    assert!(!f3.iter().any(|f| f.rule == "vault-backend-abroad-us-only"));
}

#[test]
fn an_unreadable_trail_is_an_error_and_the_evidence_says_so() {
    let (_, errors) = findings(&sound(), Err("403 Forbidden".into()), day("2026-11-01"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "audit-logging");
    let files = evidence(&sound(), Err("403 Forbidden".into()), day("2026-11-01"));
    let c: serde_json::Value = serde_json::from_str(
        &files
            .iter()
            .find(|(n, _)| n == "conditions.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let v = c["buckets"][0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cite"] == "22 CFR 120.54(a)(5)(v)")
        .unwrap()
        .clone();
    assert_eq!(v["holds"], false);
    assert!(v["proof"].as_str().unwrap().contains("403"));
}

#[test]
fn a_backend_becomes_proscribed_on_the_date_its_country_is_listed() {
    // Russia entered 22 CFR 126.1 on 2021-03-18.
    let mut p = sound();
    p.residency.mode = itarvault_policy::ResidencyMode::CarveOut;
    p.backends[0].country = itarvault_policy::data::Country::parse("RU").unwrap();
    let trail = Trail {
        report: intact(),
        records: vec![],
    };
    let (before, _) = findings(&p, Ok(&trail), day("2021-03-17"));
    assert!(!before.iter().any(|f| f.rule == "vault-backend-proscribed"));
    let (after, _) = findings(&p, Ok(&trail), day("2021-03-18"));
    assert!(after.iter().any(|f| f.rule == "vault-backend-proscribed"));
    let files = evidence(&p, Ok(&trail), day("2026-11-01"));
    assert!(files[0].1.contains("NOT ALL CONDITIONS HOLD"));
}
