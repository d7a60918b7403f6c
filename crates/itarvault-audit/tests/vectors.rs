//! Known-answer vectors (`testdata/audit/`, made by `examples/gen_vectors.rs`): each
//! scenario's log, checked against its head and what its witness holds, verifies to
//! the expected outcome, with the expected problem.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use itarvault_audit::{verify_witnessed, Head, PublicKey};

#[test]
fn every_vector_verifies_to_its_expected_outcome() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/audit");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let key = PublicKey::from_hex(v["public_key"].as_str().unwrap()).unwrap();
        let head: Option<Head> = serde_json::from_value(v["head"].clone()).unwrap();
        let witnessed: Vec<Head> = match v.get("witnessed") {
            Some(w) => serde_json::from_value(w.clone()).unwrap(),
            None => Vec::new(),
        };
        let rep = verify_witnessed(
            v["log"].as_str().unwrap().as_bytes(),
            &[key],
            head.as_ref(),
            &witnessed,
        );
        let name = v["scenario"].as_str().unwrap();
        match v["expect"].as_str().unwrap() {
            "intact" => assert!(rep.is_intact(), "{name}: {:?}", rep.problems),
            _ => {
                let want = v["problem_contains"].as_str().unwrap();
                assert!(
                    rep.problems.iter().any(|p| p.message.contains(want)),
                    "{name}: want `{want}` in {:?}",
                    rep.problems
                );
            }
        }
        n += 1;
    }
    assert_eq!(n, 13, "scenarios found");
}
