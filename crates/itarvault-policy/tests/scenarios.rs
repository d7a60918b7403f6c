//! Every scenario in `testdata/decisions/` decides as its file says: decision, the set
//! of rule ids that fired, the authorization used, and (where `expect.cites` names them)
//! the sections a rule's citation contains. Each reason carries a citation; each
//! scenario states the regulation it rests on (`cite`, `basis`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::path::PathBuf;

use itarvault_policy::{decide_json, Effect};
use serde_json::Value;

#[test]
fn decision_scenarios() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/decisions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for path in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap();
        for field in ["cite", "basis"] {
            assert!(
                !v[field].as_str().unwrap_or("").is_empty(),
                "{name}: no `{field}`"
            );
        }
        let d = decide_json(&v["request"], time::OffsetDateTime::UNIX_EPOCH)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = v["expect"]["decision"].as_str().unwrap();
        let got = if d.decision == Effect::Allow {
            "allow"
        } else {
            "deny"
        };
        let mut got_rules: Vec<_> = d.reasons.iter().map(|r| r.rule.to_owned()).collect();
        let mut want_rules: Vec<String> = v["expect"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        got_rules.sort();
        want_rules.sort();
        let want_used = v["expect"]["authorization_used"].as_str();
        if got != want || got_rules != want_rules || d.authorization_used.as_deref() != want_used {
            failures.push(format!(
                "{name}: expected {want} {want_rules:?} used {want_used:?}, got {got} {got_rules:?} used {:?}\n{}",
                d.authorization_used,
                d.explain()
            ));
        }
        for (rule, section) in v["expect"]["cites"].as_object().into_iter().flatten() {
            let section = section.as_str().unwrap();
            let cited = d
                .reasons
                .iter()
                .any(|r| r.rule == rule && r.cite.contains(section));
            if !cited {
                failures.push(format!(
                    "{name}: no `{rule}` reason citing `{section}`: {:?}",
                    d.reasons
                ));
            }
        }
        for r in &d.reasons {
            assert!(
                r.cite.contains("CFR"),
                "{name}: rule {} has no CFR citation",
                r.rule
            );
            assert!(!r.message.is_empty());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert!(files.len() >= 160, "only {} scenarios", files.len());
    eprintln!("decision scenarios: {} passed", files.len());
}
