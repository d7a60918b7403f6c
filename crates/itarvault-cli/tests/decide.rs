//! `itarvault decide` and friends, through the real binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_itarvault"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = c.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = sin.write_all(&data);
    });
    let out = c.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn scenarios() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/decisions");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

fn sorted_rules(d: &Value) -> Vec<String> {
    let mut r: Vec<String> = d["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect();
    r.sort();
    r
}

#[test]
fn decide_answers_every_scenario_in_one_batch() {
    let sc = scenarios();
    let batch: Vec<_> = sc.iter().map(|s| s["request"].clone()).collect();
    let out = run(
        &["decide", "--batch"],
        serde_json::to_string(&batch).unwrap().as_bytes(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got.len(), sc.len());
    for (s, d) in sc.iter().zip(&got) {
        let name = s["name"].as_str().unwrap();
        assert_eq!(d["decision"], s["expect"]["decision"], "{name}");
        let mut want: Vec<String> = s["expect"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        want.sort();
        assert_eq!(sorted_rules(d), want, "{name}");
        assert_eq!(
            d["authorization_used"], s["expect"]["authorization_used"],
            "{name}"
        );
        // Exactly the spec's fields, nothing more.
        let mut keys: Vec<_> = d.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["authorization_used", "decision", "reasons"],
            "{name}"
        );
    }
    // --exit-code turns any deny into 1.
    let out = run(
        &["decide", "--batch", "--exit-code"],
        serde_json::to_string(&batch).unwrap().as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn single_requests_and_exit_codes() {
    let sc = scenarios();
    let allow = sc
        .iter()
        .find(|s| s["expect"]["decision"] == "allow")
        .unwrap();
    let deny = sc
        .iter()
        .find(|s| s["expect"]["decision"] == "deny")
        .unwrap();
    for (s, plain, with_flag) in [(allow, 0, 0), (deny, 0, 1)] {
        let body = serde_json::to_vec(&s["request"]).unwrap();
        assert_eq!(run(&["decide"], &body).status.code(), Some(plain));
        assert_eq!(
            run(&["decide", "--exit-code"], &body).status.code(),
            Some(with_flag)
        );
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &body).unwrap();
        let out = run(&["decide", "--request", f.path().to_str().unwrap()], b"");
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(d["decision"], s["expect"]["decision"]);
    }
    let explain = run(
        &["decide", "--explain"],
        &serde_json::to_vec(&deny["request"]).unwrap(),
    );
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(
        text.contains("decision: DENY")
            && text.contains("facts used:")
            && text.contains("what would change"),
        "{text}"
    );
}

#[test]
fn invalid_input_is_never_decided() {
    let good = scenarios()[0]["request"].clone();
    let mut bad = good.clone();
    bad["principal"]["citizenships"] = json!(["USA"]);
    bad["context"]["colour"] = json!("red");
    let out = run(&["decide"], &serde_json::to_vec(&bad).unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("$.principal.citizenships[0]") && err.contains("$.context.colour"),
        "{err}"
    );

    for junk in [&b"not json"[..], b"", b"[1,2]", b"{\"principal\": 5}"] {
        let out = run(&["decide"], junk);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{:?}",
            String::from_utf8_lossy(junk)
        );
    }

    // In a batch, the invalid element is reported at its index; the others are decided.
    let batch = json!([good, bad, good]);
    let out = run(&["decide", "--batch"], &serde_json::to_vec(&batch).unwrap());
    assert_eq!(out.status.code(), Some(2));
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1]["error"], "invalid-input");
    assert!(got[1]["problems"]
        .to_string()
        .contains("$[1].principal.citizenships[0]"));
    assert!(got[0]["decision"].is_string() && got[2]["decision"].is_string());

    // A batch that is not an array, and an oversized element.
    assert_eq!(run(&["decide", "--batch"], b"{}").status.code(), Some(2));
    let mut huge = good.clone();
    huge["principal"]["id"] = json!("x".repeat(2 << 20));
    let out = run(
        &["decide", "--batch"],
        &serde_json::to_vec(&json!([huge])).unwrap(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than"));
}

/// `--as-of` judges requests without `context.time` on that day; a request's own time
/// wins; a bad date is a usage error.
#[test]
fn as_of_sets_the_default_time() {
    let request = json!({
        "principal": { "id": "p", "person_status": "foreign_person", "citizenships": ["GB"],
            "authorizations": [ { "id": "DSP5-1", "type": "DSP-5", "countries": ["GB"], "usml_categories": ["XI"],
                                  "valid_from": "2026-01-01", "expires": "2026-06-30" } ] },
        "action": "read",
        "context": { "source_country": "US" },
        "resource": { "label": { "jurisdiction": "ITAR", "usml_category": "XI" } }
    });
    let body = serde_json::to_vec(&request).unwrap();
    let decide = |args: &[&str], body: &[u8]| -> Value {
        let out = run(args, body);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(
        decide(&["decide", "--as-of", "2026-06-30"], &body)["decision"],
        "allow"
    );
    assert_eq!(
        decide(&["decide", "--as-of", "2026-07-01"], &body)["decision"],
        "deny"
    );
    assert_eq!(
        decide(&["decide", "--as-of", "2025-12-31"], &body)["decision"],
        "deny"
    );
    // Without --as-of the request is judged now, after the DSP-5 expired.
    assert_eq!(decide(&["decide"], &body)["decision"], "deny");
    // The explanation shows the date used.
    let out = run(&["decide", "--explain", "--as-of", "2026-06-30"], &body);
    assert!(String::from_utf8_lossy(&out.stdout).contains("date: 2026-06-30"));

    // A request's own time wins over --as-of.
    let mut timed = request.clone();
    timed["context"]["time"] = json!("2026-07-01T00:00:00Z");
    let timed = serde_json::to_vec(&timed).unwrap();
    assert_eq!(
        decide(&["decide", "--as-of", "2026-06-30"], &timed)["decision"],
        "deny"
    );

    // Streamed batches use it too.
    let batch = serde_json::to_vec(&json!([request, request])).unwrap();
    let got = decide(&["decide", "--batch", "--as-of", "2026-03-01"], &batch);
    assert_eq!(got[0]["decision"], "allow");
    assert_eq!(got[1]["decision"], "allow");

    for bad in ["2026-13-01", "tomorrow", "2026-6-30", ""] {
        let out = run(&["decide", "--as-of", bad], &body);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--as-of") && err.contains("YYYY-MM-DD"),
            "{err}"
        );
    }
}

#[test]
fn large_batches_stream() {
    let req = serde_json::to_string(&scenarios()[0]["request"]).unwrap();
    let n = 20_000;
    let mut body = String::with_capacity(n * (req.len() + 1) + 2);
    body.push('[');
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&req);
    }
    body.push(']');
    let out = run(&["decide", "--batch"], body.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got.len(), n);
}

#[test]
fn org_policies_narrow_but_never_widen() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("programs.cedar"),
        r#"@id("f35-need-to-know")
@reason("F-35 program data is limited to the program roster")
forbid(principal, action == Itarvault::Action::"read", resource)
when { resource has program && resource.program == "f35" }
unless { ["alice"].contains(principal.id) };

@id("permit-everything")
permit(principal, action, resource);
"#,
    )
    .unwrap();
    let pol = dir.path().to_str().unwrap();
    let us = |id: &str, label: Value| {
        json!({ "principal": { "id": id, "person_status": "us_citizen", "citizenships": ["US"] }, "action": "read",
                "context": { "source_country": "US", "time": "2026-11-22T10:00:00Z" },
                "resource": { "label": label } })
    };
    let f35 = json!({ "jurisdiction": "ITAR", "usml_category": "VIII", "program": "f35" });
    let decide = |body: Value| -> Value {
        let out = run(
            &["decide", "--policies", pol],
            &serde_json::to_vec(&body).unwrap(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(decide(us("alice", f35.clone()))["decision"], "allow");
    let d = decide(us("bob", f35.clone()));
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["reasons"][0]["rule"], "org-policy");
    assert!(d["reasons"][0]["message"]
        .as_str()
        .unwrap()
        .contains("program roster"));
    // `permit-everything` cannot undo a floor deny.
    let mut foreign = us(
        "carol",
        json!({ "jurisdiction": "ITAR", "usml_category": "VIII" }),
    );
    foreign["principal"]["person_status"] = json!("foreign_person");
    foreign["principal"]["citizenships"] = json!(["CN"]);
    assert_eq!(decide(foreign)["decision"], "deny");

    let ok = run(&["policy", "validate", pol], b"");
    assert_eq!(ok.status.code(), Some(0));
    std::fs::write(
        dir.path().join("bad.cedar"),
        "forbid(principal, action, resource) when { resource.nope };",
    )
    .unwrap();
    let bad = run(&["policy", "validate", pol], b"");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad.cedar"));
}

#[test]
fn countries_and_categories_print_their_sources() {
    let out = run(&["countries", "--json", "--as-of", "2026-01-15"], b"");
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |code: &str| {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["code"] == code)
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status("CN"), "proscribed");
    assert_eq!(status("CY"), "suspended");
    assert_eq!(status("KH"), "removed");
    assert!(!v["source"].as_array().unwrap().is_empty());
    let text = run(&["countries"], b"");
    assert!(String::from_utf8_lossy(&text.stdout).contains("22 CFR 126.1"));
    assert_eq!(
        run(&["countries", "--as-of", "tomorrow"], b"")
            .status
            .code(),
        Some(2)
    );

    let cats = run(&["categories", "--json"], b"");
    let v: Value = serde_json::from_slice(&cats.stdout).unwrap();
    assert_eq!(v["categories"].as_array().unwrap().len(), 21);
    assert_eq!(v["categories"][10]["category"], "XI");
}
