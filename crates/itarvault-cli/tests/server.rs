//! The vault server end to end: the real binary, a generated config, real HTTPS on
//! loopback. People abroad are played by 127.0.0.x source addresses that the test's
//! ranges CSV places in other countries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_newcomer_story_holds_end_to_end() {
    let v = cast();
    v.ok(
        "alice.tok",
        US,
        &[
            "put",
            "designs/engines/blade.step",
            "blade.step",
            "--label",
            "ITAR:XI(a)(3);CUI//SP-EXPT",
        ],
    );
    v.ok(
        "alice.tok",
        US,
        &["get", "designs/engines/blade.step", "back.step"],
    );
    assert_eq!(
        std::fs::read(v.p("back.step")).unwrap(),
        std::fs::read(v.p("blade.step")).unwrap()
    );

    // A foreign person in the US: a deemed export without an authorization.
    let err = v.fails(
        "bob.tok",
        US,
        &["get", "designs/engines/blade.step", "bob.step"],
        1,
    );
    assert!(
        err.contains("deemed-export-foreign-person") && err.contains("22 CFR 120.50(a)(2)"),
        "{err}"
    );
    assert!(!v.p("bob.step").exists());
    // A US person connecting from a proscribed country.
    let err = v.fails(
        "alice.tok",
        CN,
        &["get", "designs/engines/blade.step", "cn.step"],
        1,
    );
    assert!(err.contains("located-in-proscribed-country"), "{err}");
    // From nowhere known: fail closed.
    let err = v.fails(
        "alice.tok",
        NOWHERE,
        &["get", "designs/engines/blade.step", "x.step"],
        1,
    );
    assert!(err.contains("unknown-location"), "{err}");

    // Stored bytes are ciphertext only.
    let plain = std::fs::read(v.p("blade.step")).unwrap();
    for f in walk(&v.p("data/blobs/objects")) {
        let b = std::fs::read(&f).unwrap();
        assert!(
            !b.windows(32).any(|w| plain.starts_with(w)),
            "plaintext in {f:?}"
        );
    }

    let o = v.audit(&["verify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("audit trail intact"));
    let denies = v.audit_json(&["--kind", "object.get", "--outcome", "deny"]);
    assert_eq!(denies.len(), 3);
    assert_eq!(denies[0]["event"]["principal"], "bob");
    assert_eq!(denies[0]["event"]["country"], "US");
    assert_eq!(denies[1]["event"]["country"], "CN");
    assert_eq!(denies[0]["event"]["label"], "ITAR:XI(a)(3);CUI//SP-EXPT");
    let cites: Vec<_> = denies[0]["event"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cite"].as_str().unwrap())
        .collect();
    assert!(
        cites.contains(&"22 CFR 120.50(a)(2); 22 CFR 120.50(b)"),
        "{cites:?}"
    );
    // The gate's decision, then the release with its key use, both before any byte.
    assert_eq!(
        v.audit_json(&["--kind", "object.get", "--outcome", "allow"])
            .len(),
        1
    );
    let release = v.audit_json(&["--kind", "object.get", "--outcome", "ok"]);
    assert_eq!(release.len(), 1);
    assert!(release[0]["event"]["key"]
        .as_str()
        .unwrap()
        .starts_with("unwrap local:bucket/designs v1"));
}

#[test]
fn an_authorization_allows_exactly_what_it_covers_and_revocation_ends_it() {
    let v = cast();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/b.step", "blade.step", "-l", "ITAR:XI"],
    );
    std::fs::write(
        v.p("dsp5.json"),
        r#"{"id":"DSP5-1","type":"DSP-5","countries":["GB"],"usml_categories":["XI"],"eccns":[],"expires":"2099-01-01"}"#,
    )
    .unwrap();
    v.fails("gwen.tok", GB, &["get", "designs/b.step", "g.step"], 1);
    // Widening what someone may read waits for the quorum.
    let prop = v.json(
        "admin.tok",
        &[
            "authorizations",
            "add",
            "gwen",
            "--file",
            "dsp5.json",
            "--justification",
            "TAA-7",
        ],
    );
    assert_eq!(prop["state"], "pending");
    v.fails("gwen.tok", GB, &["get", "designs/b.step", "g.step"], 1);
    let done = v.json(
        "alice.tok",
        &["quorum", "approve", prop["id"].as_str().unwrap()],
    );
    assert_eq!(done["state"], "executed", "{done}");
    v.ok("gwen.tok", GB, &["get", "designs/b.step", "g.step"]);
    let allowed = v.audit_json(&[
        "--principal",
        "gwen",
        "--outcome",
        "allow",
        "--kind",
        "object.get",
    ]);
    assert_eq!(allowed[0]["event"]["authorization"], "DSP5-1");
    // Not from China, whatever the license says.
    v.fails("gwen.tok", CN, &["get", "designs/b.step", "g2.step"], 1);
    v.ok(
        "admin.tok",
        US,
        &["authorizations", "revoke", "gwen", "DSP5-1"],
    );
    v.fails("gwen.tok", GB, &["get", "designs/b.step", "g3.step"], 1);
    // An authorization the decision model cannot read is refused at the door.
    std::fs::write(
        v.p("bad.json"),
        r#"{"id":"X","type":"DSP-5","countries":["ZZ"],"expires":"2099-13-01"}"#,
    )
    .unwrap();
    let err = v.fails(
        "admin.tok",
        US,
        &["authorizations", "add", "gwen", "--file", "bad.json"],
        2,
    );
    assert!(
        err.contains("$.countries[0]") && err.contains("$.expires"),
        "{err}"
    );
}

#[test]
fn writes_need_a_label_and_a_writer_and_a_place_the_rules_allow() {
    let v = cast();
    let put = |tok: &str, src: &str, label: &str| {
        v.run(
            tok,
            src,
            &["put", "designs/x.step", "blade.step", "-l", label],
        )
    };
    // From a proscribed country: sent from a 126.1 country.
    let o = put("alice.tok", CN, "ITAR:XI");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("write-from-proscribed-country"));
    let o = put("alice.tok", US, "ITAR:XXII");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("label-unparseable"));
    // No label at all (a client that forgets the header).
    let body = "hello";
    let req = format!(
        "PUT /v1/buckets/designs/objects/nolabel HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        v.admin_token(),
        body.len()
    );
    let resp = v.raw(req.as_bytes(), false);
    assert!(
        resp.starts_with("HTTP/1.1 400") && resp.contains("label-missing"),
        "{resp}"
    );
    // Nothing became visible.
    let ls = v.ok("alice.tok", US, &["ls", "designs", "--json"]);
    assert_eq!(ls.trim(), "[]");
    let recorded = v.audit_json(&["--kind", "object.put", "--outcome", "deny"]);
    assert!(recorded
        .iter()
        .any(|r| r["event"]["reasons"][0]["rule"] == "write-from-proscribed-country"));
}

#[test]
fn bad_requests_get_precise_errors_and_audit_records() {
    let v = cast();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/ok.step", "blade.step", "-l", "EAR99"],
    );
    let cases: &[(&[&str], &str)] = &[
        (&["get", "nosuch/x", "o1"], "bucket `nosuch` does not exist"),
        (
            &["get", "designs/missing", "o2"],
            "does not exist in bucket",
        ),
        (&["get", "designs/a/../b", "o3"], "`.` or `..` segment"),
        (
            &["put", "designs/a//b", "blade.step", "-l", "EAR99"],
            "empty, `.` or `..` segment",
        ),
        (
            &["principals", "list"],
            "needs the `admin` or `auditor` role",
        ),
    ];
    for (args, want) in cases {
        let err = v.fails("alice.tok", US, args, 2);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let long = format!("designs/{}", "k".repeat(1100));
    assert!(v
        .fails("alice.tok", US, &["stat", &long], 2)
        .contains("400"));
    // Through raw HTTP, what a URL library would normalise away or refuse to send.
    for (path, want) in [
        ("a%00b", "control character"),
        ("a/%2E%2E/b", "`..` segment"),
        ("a/../b", "`..` segment"),
    ] {
        let req = format!(
            "GET /v1/buckets/designs/objects/{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            v.admin_token()
        );
        let resp = v.raw(req.as_bytes(), false);
        assert!(
            resp.starts_with("HTTP/1.1 400") && resp.contains(want),
            "{path}: {resp}"
        );
    }
    // Oversized headers.
    let req = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let resp = v.raw(req.as_bytes(), false);
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");
    // Every request that reached the server left a record (the CLI refuses bad keys
    // before sending them).
    let errors = v.audit_json(&["--principal", "alice", "--outcome", "error"]);
    assert_eq!(errors.len(), 3, "{errors:?}");
    let admin_errors = v.audit_json(&["--principal", "admin", "--outcome", "error"]);
    assert_eq!(admin_errors.len(), 3, "{admin_errors:?}");
}

#[test]
fn forged_revoked_and_disabled_credentials_are_refused_and_recorded() {
    let v = cast();
    let real = std::fs::read_to_string(v.p("alice.tok")).unwrap();
    let mut forged = real.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    write_private(&v.p("forged.tok"), &forged);
    write_private(&v.p("junk.tok"), "not-a-token");
    for t in ["forged.tok", "junk.tok"] {
        let err = v.fails(t, US, &["whoami"], 2);
        assert!(
            err.contains("401") && err.contains("not valid") || err.contains("malformed"),
            "{err}"
        );
    }
    let id = &real[4..20];
    // Expiry, set in the past behind the server's back.
    let db = rusqlite::Connection::open(v.p("data/meta.db")).unwrap();
    let gwen_id = std::fs::read_to_string(v.p("gwen.tok")).unwrap()[4..20].to_owned();
    db.execute("UPDATE tokens SET expires = 1 WHERE id = ?1", [&gwen_id])
        .unwrap();
    drop(db);
    assert!(v.fails("gwen.tok", US, &["whoami"], 2).contains("expired"));
    v.ok("admin.tok", US, &["tokens", "revoke", id]);
    assert!(v.fails("alice.tok", US, &["whoami"], 2).contains("revoked"));
    v.ok("admin.tok", US, &["principals", "disable", "bob"]);
    assert!(v.fails("bob.tok", US, &["whoami"], 2).contains("disabled"));
    let fails = v.audit_json(&["--kind", "auth.failure"]);
    assert_eq!(fails.len(), 5);
    assert!(fails.iter().all(|f| f["event"]["outcome"] == "deny"));
}

#[test]
fn an_upload_cut_short_leaves_nothing_behind() {
    let v = cast();
    let req = format!(
        "PUT /v1/buckets/designs/objects/partial HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Itarvault-Label: EAR99\r\nContent-Length: 1000000\r\n\r\n{}",
        std::fs::read_to_string(v.p("alice.tok")).unwrap(),
        "x".repeat(200_000)
    );
    let _ = v.raw(req.as_bytes(), true);
    // The server notices the body ended early; give it a moment to record that.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let errs = v.audit_json(&["--kind", "object.put", "--outcome", "error"]);
        if !errs.is_empty() {
            assert!(
                errs[0]["event"]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("ended early"),
                "{errs:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no audit record of the cut-short upload"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        v.ok("alice.tok", US, &["ls", "designs", "--json"]).trim(),
        "[]"
    );
    assert!(walk(&v.p("data/blobs/objects")).is_empty());
    assert!(walk(&v.p("data/blobs/tmp")).is_empty());
}

#[test]
fn tampering_with_the_audit_trail_is_detected_and_the_server_refuses_it() {
    let mut v = cast();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/t.step", "blade.step", "-l", "EAR99"],
    );
    v.kill9();
    let log = v.p("data/audit/log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let edited = text.replacen("\"outcome\":\"deny\"", "\"outcome\":\"allow\"", 1);
    let edited = if edited == text {
        text.replacen("\"alice\"", "\"mallory\"", 1)
    } else {
        edited
    };
    std::fs::write(&log, &edited).unwrap();
    let o = v.audit(&["verify"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("problem at line") && out.contains("NOT INTACT"),
        "{out}"
    );
    let err = v.launch().unwrap_err();
    assert!(err.contains("failed verification"), "{err}");
    // Truncation, with the edit undone.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&log, lines[..lines.len() - 3].join("\n") + "\n").unwrap();
    let o = v.audit(&["verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("truncated"));
}

#[test]
fn kill_9_during_concurrent_uploads_loses_no_acknowledged_object() {
    let mut v = cast();
    let mut workers = Vec::new();
    for i in 0..6 {
        let data = format!("object {i} ").repeat(20_000 + i * 997);
        std::fs::write(v.p(&format!("o{i}")), &data).unwrap();
        // Each worker uploads its object repeatedly under new keys until killed.
        let script = format!(
            "n=0; while true; do {bin} put designs/w{i}/$n o{i} -l EAR99 --server {url} --cacert {cert} --token-file alice.tok --json >> acked{i} 2>/dev/null || exit 0; n=$((n+1)); done",
            bin = env!("CARGO_BIN_EXE_itarvault"),
            url = v.url,
            cert = v.p("data/tls/cert.pem").display(),
        );
        let mut sh = Command::new("sh");
        sh.args(["-c", &script]).current_dir(v.dir.path());
        workers.push(sh.spawn().unwrap());
    }
    std::thread::sleep(Duration::from_secs(4));
    v.kill9();
    for mut w in workers {
        let _ = w.wait();
    }
    v.launch().expect("restart after kill -9");
    let mut acked = 0;
    for i in 0..6 {
        let want = std::fs::read(v.p(&format!("o{i}"))).unwrap();
        let log = std::fs::read_to_string(v.p(&format!("acked{i}"))).unwrap_or_default();
        for line in log.lines() {
            let rec: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = rec["key"].as_str().unwrap();
            let out = format!("back-{i}-{}", key.replace('/', "_"));
            v.ok("alice.tok", US, &["get", &format!("designs/{key}"), &out]);
            assert_eq!(std::fs::read(v.p(&out)).unwrap(), want, "{key}");
            acked += 1;
        }
    }
    assert!(acked > 0, "no upload was acknowledged before the kill");
    // Whatever is listed reads back whole; nothing half-written is visible.
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&v.ok("alice.tok", US, &["ls", "designs", "--json"])).unwrap();
    assert!(listed.len() >= acked);
    for o in listed {
        let key = o["key"].as_str().unwrap();
        v.ok("alice.tok", US, &["get", &format!("designs/{key}"), "-"]);
    }
    let o = v.audit(&["verify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn a_backend_in_a_proscribed_country_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\n[[backends]]\nname = \"cheap\"\nkind = \"local\"\ncountry = \"CN\"\noperator = \"some cloud\"\n",
        dir.path().join("data")
    );
    std::fs::write(dir.path().join("c.toml"), cfg).unwrap();
    let o = bin()
        .args(["server", "--config"])
        .arg(dir.path().join("c.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("proscribed country") && err.contains("126.1"),
        "{err}"
    );
    // And a typo in the config is an error, not a default.
    std::fs::write(
        dir.path().join("t.toml"),
        "[residency]\nmdoe = \"carve_out\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["server", "--config"])
        .arg(dir.path().join("t.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown field `mdoe`"));
    // Plain HTTP on a network address is refused.
    let o = bin()
        .args([
            "server",
            "--insecure-http",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(dir.path().join("d2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("loopback"));
}

#[test]
fn residency_us_only_keeps_controlled_data_out_of_foreign_backends() {
    let extra = "[[backends]]\nname = \"local\"\nkind = \"local\"\ncountry = \"US\"\noperator = \"self\"\n[[backends]]\nname = \"eu\"\nkind = \"local\"\npath = \"eu-blobs\"\ncountry = \"DE\"\noperator = \"a cloud provider\"\n";
    let v = Vault::start_with(extra);
    v.ok(
        "admin.tok",
        US,
        &["buckets", "create", "europe", "--backend", "eu"],
    );
    v.person("alice", "us_citizen", &["US"]);
    std::fs::write(v.p("f"), b"data").unwrap();
    let err = v.fails(
        "alice.tok",
        US,
        &["put", "europe/f", "f", "-l", "ITAR:XI"],
        1,
    );
    assert!(err.contains("residency-us-only"), "{err}");
    // Public data is not controlled, but the org's US-only mode still applies to it.
    let err = v.fails(
        "alice.tok",
        US,
        &["put", "europe/p", "f", "-l", "PUBLIC"],
        1,
    );
    assert!(err.contains("residency-us-only"), "{err}");
}

#[test]
fn the_decide_endpoint_answers_in_the_spec_format_and_is_audited() {
    let v = cast();
    let req = r#"{"principal":{"id":"carol","person_status":"foreign_person","citizenships":["CN"]},"action":"read","context":{"source_country":"US"},"resource":{"label":{"jurisdiction":"ITAR","usml_category":"XI"}}}"#;
    let http = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{req}",
        v.admin_token(),
        req.len()
    );
    let resp = v.raw(http.as_bytes(), false);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let body: serde_json::Value =
        serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["decision"], "deny");
    assert_eq!(body["authorization_used"], serde_json::Value::Null);
    let bad = r#"{"principal":{"id":"c","person_status":"martian","citizenships":["XX"]},"action":"read","context":{},"resource":{}}"#;
    let http = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{bad}",
        v.admin_token(),
        bad.len()
    );
    let resp = v.raw(http.as_bytes(), false);
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(
        resp.contains("$.principal.person_status") && resp.contains("$.principal.citizenships[0]"),
        "{resp}"
    );
    let rec = v.audit_json(&["--kind", "decide.api"]);
    assert_eq!(rec.len(), 2);
    assert_eq!(rec[0]["event"]["outcome"], "deny");
}

#[test]
fn health_metrics_and_openapi_are_served() {
    let v = Vault::start();
    let get = |path: &str| {
        v.raw(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            false,
        )
    };
    let health = get("/healthz");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    // The FIPS build runs (and says it runs) on the validated module.
    assert!(
        health.contains(&format!("\"fips\":{}", cfg!(feature = "fips"))),
        "{health}"
    );
    // Counters describe the service's use: only admins, auditors and operators see them.
    assert!(get("/metrics").starts_with("HTTP/1.1 401"));
    let m = v.raw(
        format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            v.admin_token()
        )
        .as_bytes(),
        false,
    );
    assert!(
        m.contains("itarvault_audit_records_total") && m.contains("itarvault_fips_mode"),
        "{m}"
    );
    assert!(get("/openapi.json").contains("\"openapi\""));
}

mod oidc {
    use super::*;
    use aws_lc_rs::signature::EcdsaKeyPair;
    use common::idp::{b64, jwks, jwt, key, now};
    use serde_json::json;

    const ISS: &str = "https://idp.example.test";

    /// A vault that trusts one identity provider (its key is returned), with a bucket
    /// and `alice` (a US citizen) registered. The server reads the JWKS file at start.
    fn vault_with_idp(trusted_for_person_facts: bool) -> (Vault, EcdsaKeyPair) {
        let idp = key();
        let keys_dir = tempfile::tempdir().unwrap();
        let jwks_path = keys_dir.path().join("jwks.json");
        std::fs::write(&jwks_path, jwks(&idp).to_string()).unwrap();
        let v = Vault::start_with(&format!(
            "[[oidc]]\nissuer = \"{ISS}\"\naudience = \"itarvault\"\njwks_file = {jwks_path:?}\ntrusted_for_person_facts = {trusted_for_person_facts}\n"
        ));
        v.ok("admin.tok", US, &["buckets", "create", "designs"]);
        v.person("alice", "us_citizen", &["US"]);
        bind(&v, "alice");
        std::fs::write(v.p("f"), b"drawing").unwrap();
        (v, idp)
    }

    /// Binds `id` to the subject of the same name at the test issuer.
    fn bind(v: &Vault, id: &str) {
        v.ok(
            "admin.tok",
            US,
            &[
                "principals",
                "bind",
                id,
                "--oidc-issuer",
                ISS,
                "--oidc-subject",
                id,
            ],
        );
    }

    #[test]
    fn jwts_identify_registered_principals_and_everything_else_is_refused() {
        let (v, idp) = vault_with_idp(false);
        v.person("bob", "foreign_person", &["CN"]);
        bind(&v, "bob");
        let header = json!({"alg": "ES256", "kid": "k1", "typ": "JWT"});
        let claims =
            |sub: &str| json!({"iss": ISS, "aud": "itarvault", "sub": sub, "exp": now() + 300});
        let use_token = |name: &str, t: &str| write_private(&v.p(name), t);

        use_token("alice.jwt", &jwt(&idp, header.clone(), claims("alice")));
        v.ok("alice.jwt", US, &["put", "designs/f", "f", "-l", "ITAR:XI"]);
        v.ok("alice.jwt", US, &["get", "designs/f", "-"]);

        // An untrusted issuer cannot make bob a US person by saying so.
        let mut lie = claims("bob");
        lie["person_status"] = json!("us_citizen");
        lie["citizenships"] = json!(["US"]);
        use_token("bob.jwt", &jwt(&idp, header.clone(), lie));
        let err = v.fails("bob.jwt", US, &["get", "designs/f", "-"], 1);
        assert!(err.contains("deemed-export-foreign-person"), "{err}");

        let mallory = key();
        let mut expired = claims("alice");
        expired["exp"] = json!(now() - 3600);
        let mut wrong_aud = claims("alice");
        wrong_aud["aud"] = json!("another-app");
        let mut other_iss = claims("alice");
        other_iss["iss"] = json!("https://evil.example");
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(claims("alice").to_string().as_bytes())
        );
        let hs = jwt(&idp, json!({"alg": "HS256", "kid": "k1"}), claims("alice"));
        let cases = [
            (
                jwt(&mallory, header.clone(), claims("alice")),
                "signature does not verify",
            ),
            (jwt(&idp, header.clone(), expired), "expired"),
            (jwt(&idp, header.clone(), wrong_aud), "audience"),
            (jwt(&idp, header.clone(), other_iss), "not configured"),
            (
                jwt(&idp, header.clone(), claims("nobody")),
                "not registered",
            ),
            (none, "`none` is not accepted"),
            (hs, "`HS256` is not accepted"),
        ];
        for (i, (t, want)) in cases.iter().enumerate() {
            use_token("bad.jwt", t);
            let err = v.fails("bad.jwt", US, &["whoami"], 2);
            assert!(err.contains("401") && err.contains(want), "case {i}: {err}");
        }
        let fails = v.audit_json(&["--kind", "auth.failure"]);
        assert_eq!(fails.len(), cases.len());
    }

    /// An issuer the config trusts for person facts supplies them; the registry still
    /// decides who exists.
    #[test]
    fn a_trusted_issuer_supplies_person_facts() {
        let (v, idp) = vault_with_idp(true);
        v.person("dana", "unknown", &[]);
        bind(&v, "dana");
        v.ok("alice.tok", US, &["put", "designs/f", "f", "-l", "ITAR:XI"]);
        let header = json!({"alg": "ES256", "kid": "k1"});
        let mut c = json!({"iss": ISS, "aud": "itarvault", "sub": "dana", "exp": now() + 300});
        write_private(&v.p("plain.jwt"), &jwt(&idp, header.clone(), c.clone()));
        assert!(v
            .fails("plain.jwt", US, &["get", "designs/f", "-"], 1)
            .contains("unknown-person-status"));
        c["person_status"] = json!("us_citizen");
        c["citizenships"] = json!(["US"]);
        write_private(&v.p("facts.jwt"), &jwt(&idp, header, c));
        v.ok("facts.jwt", US, &["get", "designs/f", "-"]);
    }
}

/// An external scanner (sslyze, installed by scripts/test.sh) sees TLS 1.2 and 1.3 only,
/// AES-GCM suites only, and ECDHE on P-256 and P-384 only.
#[test]
fn sslyze_finds_nothing_but_tls12_and_13_with_aes_gcm_on_nist_curves() {
    let v = Vault::start();
    let target = v.url.trim_start_matches("https://").to_owned();
    let out = v.p("sslyze.json");
    let o = Command::new("python3")
        .args([
            "-m",
            "sslyze",
            &target,
            "--sslv2",
            "--sslv3",
            "--tlsv1",
            "--tlsv1_1",
            "--tlsv1_2",
            "--tlsv1_3",
            "--elliptic_curves",
            "--quiet",
        ])
        .arg(format!("--json_out={}", out.display()))
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "sslyze failed (scripts/test.sh installs it): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let d: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let r = &d["server_scan_results"][0]["scan_result"];
    let names = |k: &str| -> Vec<String> {
        r[k]["result"]["accepted_cipher_suites"]
            .as_array()
            .unwrap_or_else(|| panic!("{k} was not scanned: {}", r[k]))
            .iter()
            .map(|c| c["cipher_suite"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for old in [
        "ssl_2_0_cipher_suites",
        "ssl_3_0_cipher_suites",
        "tls_1_0_cipher_suites",
        "tls_1_1_cipher_suites",
    ] {
        assert!(names(old).is_empty(), "{old}: {:?}", names(old));
    }
    let tls12 = names("tls_1_2_cipher_suites");
    let tls13 = names("tls_1_3_cipher_suites");
    assert!(!tls13.is_empty());
    // The FIPS build requires the extended master secret for TLS 1.2 (FIPS 140-3 IG
    // D.Q), which sslyze's TLS 1.2 client does not send: there, check TLS 1.2 with a
    // client that does.
    if cfg!(feature = "fips") {
        assert!(
            tls12.is_empty(),
            "TLS 1.2 without EMS accepted in the FIPS build: {tls12:?}"
        );
        let suite = v.tls12_suite();
        assert!(suite.contains("GCM") && suite.contains("ECDHE"), "{suite}");
    } else {
        assert!(!tls12.is_empty());
    }
    for s in tls12.iter().chain(&tls13) {
        assert!(s.contains("_GCM_"), "non-GCM suite offered: {s}");
    }
    for s in &tls12 {
        assert!(
            s.starts_with("TLS_ECDHE_"),
            "TLS 1.2 suite without ECDHE: {s}"
        );
    }
    let curves: Vec<&str> = r["elliptic_curves"]["result"]["supported_curves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(!curves.is_empty());
    for c in &curves {
        assert!(
            matches!(*c, "secp256r1" | "secp384r1"),
            "curve offered: {c}"
        );
    }
}

mod mtls {
    use super::*;
    use common::pki::Ca;

    /// A CA, and client certificates it issues with the given common names.
    fn pki(dir: &Path, names: &[&str]) {
        let mut ca = Ca::new(dir);
        for n in names {
            ca.issue(n, n, None);
        }
    }

    #[test]
    fn a_client_certificate_from_the_configured_ca_identifies_its_principal() {
        let pki_dir = tempfile::tempdir().unwrap();
        pki(pki_dir.path(), &["alice", "mallory", "nobody"]);
        let other = tempfile::tempdir().unwrap();
        pki(other.path(), &["alice"]);
        let v = Vault::start_with(&format!(
            "[tls]\nclient_ca_file = {:?}\n",
            pki_dir.path().join("ca.pem")
        ));
        v.person("alice", "us_citizen", &["US"]);
        v.person("mallory", "us_citizen", &["US"]);
        let alice_crt = pki_dir.path().join("alice.crt");
        v.ok(
            "admin.tok",
            US,
            &[
                "principals",
                "bind",
                "alice",
                "--cert-file",
                alice_crt.to_str().unwrap(),
            ],
        );
        let with_cert = |dir: &Path, who: &str| {
            bin()
                .args(["whoami", "--json", "--server", &v.url, "--cacert"])
                .arg(v.p("data/tls/cert.pem"))
                .arg("--client-cert")
                .arg(dir.join(format!("{who}.crt")))
                .arg("--client-key")
                .arg(dir.join(format!("{who}.key")))
                .output()
                .unwrap()
        };
        let o = with_cert(pki_dir.path(), "alice");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let me: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(me["id"], "alice");
        // A valid certificate naming a registered principal it is not bound to.
        let o = with_cert(pki_dir.path(), "mallory");
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("not bound to principal `mallory`"));
        // A valid certificate for someone the registry does not know.
        let o = with_cert(pki_dir.path(), "nobody");
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("not registered"));
        // "alice" from another CA never gets past the handshake.
        let o = with_cert(other.path(), "alice");
        assert_eq!(o.status.code(), Some(2));
        assert!(!String::from_utf8_lossy(&o.stderr).contains("\"id\""));
        // Without any certificate, token holders still work.
        v.ok("alice.tok", US, &["whoami"]);
    }
}

/// A MaxMind DB country database places addresses the ranges file does not; the
/// ranges file wins where both answer.
#[test]
fn a_geoip_database_places_addresses_and_the_ranges_file_wins() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("country.mmdb");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/make_test_mmdb.py"
    );
    let o = Command::new("python3")
        .args([
            script,
            db.to_str().unwrap(),
            "127.0.0.1/32=GB",
            "127.0.0.4/32=IR",
            "127.0.0.5/32=CA",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "making the test database (scripts/test.sh installs mmdb-writer): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = Vault::start_with_location(&format!("geoip_db = {db:?}\n"));
    v.ok("admin.tok", US, &["buckets", "create", "designs"]);
    v.person("alice", "us_citizen", &["US"]);
    let whoami = |src: &str| -> serde_json::Value {
        serde_json::from_str(&v.ok("alice.tok", src, &["whoami", "--json"])).unwrap()
    };
    let me = whoami(US);
    assert_eq!(
        (
            me["source_country"].as_str(),
            me["location_source"].as_str()
        ),
        (Some("US"), Some("ranges"))
    );
    let me = whoami("127.0.0.5");
    assert_eq!(
        (
            me["source_country"].as_str(),
            me["location_source"].as_str()
        ),
        (Some("CA"), Some("geoip"))
    );
    std::fs::write(v.p("f"), b"x").unwrap();
    v.ok("alice.tok", US, &["put", "designs/f", "f", "-l", "ITAR:IV"]);
    let err = v.fails("alice.tok", "127.0.0.4", &["get", "designs/f", "-"], 1);
    assert!(err.contains("located-in-proscribed-country"), "{err}");
    let rec = v.audit_json(&["--kind", "object.get", "--outcome", "deny"]);
    assert_eq!(rec[0]["event"]["country"], "IR");
}

/// A blob altered at rest never reads back as data, and a label edited in the metadata
/// cannot release the object under the wrong label (the envelope's label is
/// authenticated).
#[test]
fn a_tampered_blob_or_a_swapped_label_never_releases_data() {
    let v = cast();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/b.step", "blade.step", "-l", "ITAR:XI"],
    );
    let blobs = walk(&v.p("data/blobs/objects"));
    assert_eq!(blobs.len(), 1);
    let mut b = std::fs::read(&blobs[0]).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x40;
    std::fs::write(&blobs[0], &b).unwrap();
    let err = v.fails("alice.tok", US, &["get", "designs/b.step", "out.step"], 2);
    assert!(
        err.contains("cut short or the object failed verification"),
        "{err}"
    );
    assert!(!v.p("out.step").exists());
    let deadline = Instant::now() + Duration::from_secs(10);
    while v.audit_json(&["--kind", "object.get.end"]).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the failed download was not recorded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ended = v.audit_json(&["--kind", "object.get.end"]);
    assert!(
        ended[0]["event"]["detail"]
            .as_str()
            .unwrap()
            .contains("failed authentication"),
        "{ended:?}"
    );

    // A small object is decrypted whole before its release, so a damaged one is refused
    // up front: nothing is released, and the record says why.
    std::fs::write(v.p("note.txt"), vec![b'n'; 4096]).unwrap();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/note.txt", "note.txt", "-l", "ITAR:XI"],
    );
    let small = walk(&v.p("data/blobs/objects"))
        .into_iter()
        .find(|p| std::fs::metadata(p).unwrap().len() < 8192)
        .unwrap();
    let mut b = std::fs::read(&small).unwrap();
    let last = b.len() - 1;
    b[last] ^= 0x01;
    std::fs::write(&small, &b).unwrap();
    let err = v.fails("alice.tok", US, &["get", "designs/note.txt", "note.out"], 2);
    assert!(err.contains("failed authentication"), "{err}");
    assert!(!v.p("note.out").exists());
    let refused = v.audit_json(&["--kind", "object.get", "--outcome", "error"]);
    assert!(
        refused.iter().any(|r| r["event"]["object"] == "note.txt"
            && r["event"]["detail"]
                .as_str()
                .unwrap()
                .contains("failed authentication")),
        "{refused:?}"
    );
    assert!(
        v.audit_json(&["--kind", "object.get", "--outcome", "ok"])
            .iter()
            .all(|r| r["event"]["object"] != "note.txt"),
        "a refused object was recorded as released"
    );

    // A recorded size edited behind the server's back cuts the read short of the real
    // final chunk, which then fails authentication: nothing is released.
    std::fs::write(v.p("memo.txt"), vec![b'm'; 4096]).unwrap();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/memo.txt", "memo.txt", "-l", "ITAR:XI"],
    );
    let db = rusqlite::Connection::open(v.p("data/meta.db")).unwrap();
    db.execute(
        "UPDATE object_versions SET size = 100 WHERE key = 'memo.txt'",
        [],
    )
    .unwrap();
    drop(db);
    let err = v.fails("alice.tok", US, &["get", "designs/memo.txt", "memo.out"], 2);
    assert!(err.contains("failed authentication"), "{err}");
    assert!(!v.p("memo.out").exists());

    // Relabel a stored object behind the server's back: EAR99 would let a foreign
    // person read it, but the envelope still says ITAR:XI.
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/c.step", "blade.step", "-l", "ITAR:XI"],
    );
    let db = rusqlite::Connection::open(v.p("data/meta.db")).unwrap();
    db.execute(
        "UPDATE object_versions SET label = 'EAR99' WHERE key = 'c.step'",
        [],
    )
    .unwrap();
    drop(db);
    let err = v.fails("gwen.tok", GB, &["get", "designs/c.step", "gwen.step"], 2);
    assert!(err.contains("differs from the recorded label"), "{err}");
    assert!(!v.p("gwen.step").exists());
}

/// When the audit trail cannot be written (here: the disk is "full" for it), nothing is
/// done without a record: requests fail with 503 and no data is released.
#[test]
fn when_the_audit_log_cannot_be_written_every_request_fails_closed() {
    let mut v = cast();
    let key = format!("k/{}", "x".repeat(900));
    v.ok(
        "alice.tok",
        US,
        &[
            "put",
            &format!("designs/{key}"),
            "blade.step",
            "-l",
            "EAR99",
        ],
    );
    v.kill9();
    let log_kib = std::fs::metadata(v.p("data/audit/log.jsonl"))
        .unwrap()
        .len()
        / 1024;
    v.launch_limited(Some(log_kib + 64)).unwrap();
    let tok = std::fs::read_to_string(v.p("alice.tok")).unwrap();
    let (status, ok) =
        v.head_until_failure(&format!("/v1/buckets/designs/objects/{key}"), &tok, 2000);
    assert!(status.starts_with("HTTP/1.1 503"), "{status}");
    assert!(ok > 10, "the log should take some records first ({ok})");
    // From now on nothing is released, and health says why.
    let err = v.fails(
        "alice.tok",
        US,
        &["get", &format!("designs/{key}"), "out"],
        2,
    );
    assert!(err.contains("503") && err.contains("audit"), "{err}");
    assert!(!v.p("out").exists());
    let health = v.raw(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        false,
    );
    assert!(
        health.starts_with("HTTP/1.1 503") && health.contains("audit"),
        "{health}"
    );
    // No upload is accepted without its record.
    let o = v.run(
        "alice.tok",
        US,
        &["put", "designs/new", "blade.step", "-l", "EAR99", "--json"],
    );
    eprintln!(
        "DEBUG stdout={} stderr={}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let err = v.fails(
        "alice.tok",
        US,
        &["put", "designs/new", "blade.step", "-l", "EAR99"],
        2,
    );
    assert!(err.contains("503"), "{err}");
    // What was written is intact, and the refused upload left nothing.
    v.kill9();
    let o = v.audit(&["verify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    v.launch().unwrap();
    v.fails("alice.tok", US, &["stat", "designs/new"], 2);
}

/// An upload the server refuses while the body is still coming (larger than it drains)
/// ends with the connection closed under the client: that is a failure, never exit 0.
#[test]
fn a_refused_large_upload_is_never_reported_as_success() {
    let v = cast();
    let big = vec![7u8; 40 << 20];
    std::fs::write(v.p("big.bin"), &big).unwrap();
    let o = v.run(
        "alice.tok",
        CN,
        &["put", "designs/big", "big.bin", "-l", "ITAR:XI"],
    );
    assert!(
        matches!(o.status.code(), Some(1 | 2)),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!String::from_utf8_lossy(&o.stderr).is_empty());
    v.fails("alice.tok", US, &["stat", "designs/big"], 2);
}

/// A disk that fills during an upload: the client gets a precise error, nothing
/// half-written becomes visible, and the failure is recorded.
#[test]
fn a_full_disk_during_an_upload_leaves_no_partial_object() {
    let mut v = cast();
    v.kill9();
    let log_kib = std::fs::metadata(v.p("data/audit/log.jsonl"))
        .unwrap()
        .len()
        / 1024;
    v.launch_limited(Some(log_kib + 256)).unwrap();
    std::fs::write(v.p("two-mib"), vec![1u8; 2 << 20]).unwrap();
    let err = v.fails(
        "alice.tok",
        US,
        &["put", "designs/full", "two-mib", "-l", "EAR99"],
        2,
    );
    assert!(
        err.contains("503") && err.contains("storing the object failed"),
        "{err}"
    );
    assert!(walk(&v.p("data/blobs/objects")).is_empty());
    assert!(walk(&v.p("data/blobs/tmp")).is_empty());
    v.fails("alice.tok", US, &["stat", "designs/full"], 2);
    let errs = v.audit_json(&["--kind", "object.put", "--outcome", "error"]);
    assert_eq!(errs.len(), 1, "{errs:?}");
}

/// A bucket owned by olive and oscar with two ITAR objects, a US-person support
/// engineer (ursula) and a foreign-person one (fritz), both `operator`s.
fn lockbox_cast() -> Vault {
    let v = cast_of(QUORUM, "", |v| {
        v.person("olive", "us_citizen", &["US"]);
        v.person("oscar", "us_citizen", &["US"]);
        v.staff("ursula", "us_citizen", "US", &["operator"]);
        v.staff("fritz", "foreign_person", "GB", &["operator"]);
    });
    v.ok(
        "admin.tok",
        US,
        &[
            "buckets", "create", "secure", "--owner", "olive", "--owner", "oscar",
        ],
    );
    for key in ["secure/wing/spar.step", "secure/tail/fin.step"] {
        v.ok(
            "alice.tok",
            US,
            &["put", key, "blade.step", "-l", "ITAR:XI"],
        );
    }
    v
}

fn refused(v: &Vault, token: &str, args: &[&str], why: &str) {
    let o = v.run(token, US, args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains(why), "{args:?}: {err}");
}

fn request(v: &Vault, token: &str, scope: &[&str], action: &str) -> String {
    let mut a = vec!["lockbox", "request"];
    a.extend_from_slice(scope);
    a.extend([
        "--action",
        action,
        "--justification",
        "INC-77: corrupted part file",
        "--minutes",
        "30",
    ]);
    let r = v.json(token, &a);
    assert_eq!(r["state"], "pending", "{r}");
    r["id"].as_str().unwrap().to_owned()
}

#[test]
fn operators_read_content_only_through_an_approved_grant_and_never_past_the_export_rules() {
    let v = lockbox_cast();
    // No role reads content by standing: not the admin, not support.
    refused(
        &v,
        "admin.tok",
        &["get", "secure/wing/spar.step", "a.step"],
        "no standing access",
    );
    refused(
        &v,
        "ursula.tok",
        &["get", "secure/wing/spar.step", "u.step"],
        "no standing access",
    );

    let id = request(
        &v,
        "ursula.tok",
        &["--bucket", "secure", "--prefix", "wing/"],
        "read",
    );
    refused(
        &v,
        "ursula.tok",
        &["lockbox", "approve", &id],
        "cannot approve it",
    );
    refused(
        &v,
        "alice.tok",
        &["lockbox", "approve", &id],
        "not an approver",
    );
    refused(
        &v,
        "ursula.tok",
        &["get", "secure/wing/spar.step", "u.step"],
        "no standing access",
    );
    let r = v.json("olive.tok", &["lockbox", "approve", &id]);
    assert_eq!(r["state"], "approved", "{r}");
    refused(&v, "oscar.tok", &["lockbox", "approve", &id], "not pending");

    // Within scope only: the prefix, the action.
    v.ok(
        "ursula.tok",
        US,
        &["get", "secure/wing/spar.step", "u.step"],
    );
    refused(
        &v,
        "ursula.tok",
        &["get", "secure/tail/fin.step", "t.step"],
        "no standing access",
    );
    refused(
        &v,
        "ursula.tok",
        &["put", "secure/wing/new.step", "blade.step", "-l", "ITAR:XI"],
        "no standing access",
    );
    refused(
        &v,
        "ursula.tok",
        &["rm", "secure/wing/spar.step"],
        "no standing access",
    );
    // From a proscribed country the export rules still say no, grant or not.
    let o = v.run(
        "ursula.tok",
        CN,
        &["get", "secure/wing/spar.step", "cn.step"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A foreign-person engineer with an approved grant is still denied ITAR data.
    let fid = request(
        &v,
        "fritz.tok",
        &["--bucket", "secure", "--key", "wing/spar.step"],
        "read",
    );
    v.json("oscar.tok", &["lockbox", "approve", &fid]);
    let err = v.fails(
        "fritz.tok",
        US,
        &["get", "secure/wing/spar.step", "f.step"],
        1,
    );
    assert!(err.contains("deemed-export-foreign-person"), "{err}");
    assert!(!v.p("f.step").exists());

    // An owner ends the grant early; it is then useless and final.
    let r = v.json(
        "oscar.tok",
        &["lockbox", "revoke", &id, "--reason", "incident closed"],
    );
    assert_eq!(r["state"], "revoked");
    refused(
        &v,
        "ursula.tok",
        &["get", "secure/wing/spar.step", "u2.step"],
        "no standing access",
    );
    refused(&v, "olive.tok", &["lockbox", "approve", &id], "not pending");

    // Listing: the requester and the owners see it; others do not.
    let mine = v.json("ursula.tok", &["lockbox", "list"]);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert!(v
        .json("alice.tok", &["lockbox", "list"])
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        v.json("olive.tok", &["lockbox", "list"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The trail ties every use to its request and the owner who approved it.
    let trail = v.audit_json(&["--grant", &id]);
    let kinds: Vec<_> = trail
        .iter()
        .map(|r| r["event"]["kind"].as_str().unwrap().to_owned())
        .collect();
    for k in [
        "lockbox.request",
        "lockbox.approve",
        "object.get",
        "lockbox.revoke",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let uses: Vec<_> = trail
        .iter()
        .filter(|r| r["event"]["kind"] == "object.get" && r["event"]["outcome"] == "allow")
        .collect();
    assert_eq!(uses.len(), 1, "one read was allowed under the grant");
    assert_eq!(uses[0]["event"]["principal"], "ursula");
    assert!(trail.iter().any(|r| r["event"]["kind"] == "lockbox.approve"
        && r["event"]["principal"] == "olive"
        && r["event"]["outcome"] == "ok"));
    assert!(
        v.audit_json(&["--grant", &fid, "--kind", "object.get", "--outcome", "deny"])
            .len()
            == 1
    );
    let o = v.audit(&["verify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn racing_owners_count_once_and_pending_requests_survive_a_restart() {
    let mut v = lockbox_cast();
    let id = request(&v, "ursula.tok", &["--bucket", "secure"], "read");
    // Restart while pending: nothing is lost, nothing is granted.
    v.kill9();
    v.launch().unwrap();
    refused(
        &v,
        "ursula.tok",
        &["get", "secure/tail/fin.step", "x.step"],
        "no standing access",
    );
    let shown = v.json("olive.tok", &["lockbox", "show", &id]);
    assert_eq!(shown["state"], "pending");

    // Both owners approve at the same instant; one approval is needed and exactly one
    // is recorded.
    let spawn = |tok: &str| {
        bin()
            .args(["lockbox", "approve", &id, "--server", &v.url, "--cacert"])
            .arg(v.p("data/tls/cert.pem"))
            .arg("--token-file")
            .arg(v.p(tok))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("olive.tok"), spawn("oscar.tok"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(
        [a.status.success(), b.status.success()]
            .iter()
            .filter(|x| **x)
            .count(),
        1,
        "{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let r = v.json("ursula.tok", &["lockbox", "show", &id]);
    assert_eq!(r["state"], "approved");
    assert_eq!(r["approvals"].as_array().unwrap().len(), 1);
    v.ok("ursula.tok", US, &["get", "secure/tail/fin.step", "x.step"]);
}

/// Reads one HTTP request from `l` and answers 200; returns its body.
fn receive_webhook(l: &std::net::TcpListener) -> String {
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut len = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = n.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (&s).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .unwrap();
    String::from_utf8(body).unwrap()
}

#[test]
fn dangerous_operations_wait_for_m_distinct_approvers_other_than_the_proposer() {
    let hook = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = format!(
        "[lockbox]\nwebhook_url = \"http://127.0.0.1:{}/hook\"\n",
        hook.local_addr().unwrap().port()
    );
    let mut v = cast_of(
        "[quorum]\napprovers = [\"admin\", \"alice\", \"olive\"]\nrequired = 2\n",
        &cfg,
        |v| v.person("olive", "us_citizen", &["US"]),
    );
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/k.step", "blade.step", "-l", "ITAR:XI"],
    );

    // Key destruction is proposed, shown with its effect, and waits.
    let p = v.json(
        "admin.tok",
        &[
            "quorum",
            "propose",
            "key-destroy",
            "bucket/designs",
            "--days",
            "7",
            "--justification",
            "program ended",
        ],
    );
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(p["state"], "pending");
    assert!(
        p["effect"].as_str().unwrap().contains("unrecoverable"),
        "{p}"
    );
    let note: serde_json::Value = serde_json::from_str(&receive_webhook(&hook)).unwrap();
    assert_eq!(note["event"], "quorum.propose");
    assert_eq!(note["item"]["id"], id.as_str());

    refused(
        &v,
        "admin.tok",
        &["quorum", "approve", &id],
        "cannot approve it",
    );
    refused(
        &v,
        "bob.tok",
        &["quorum", "approve", &id],
        "not an approver",
    );
    refused(
        &v,
        "alice.tok",
        &[
            "quorum",
            "propose",
            "residency",
            "carve_out",
            "--justification",
            "x",
        ],
        "needs the `admin` role",
    );
    let one = v.json("alice.tok", &["quorum", "approve", &id]);
    assert_eq!(one["state"], "pending", "one of two approvals");
    refused(
        &v,
        "alice.tok",
        &["quorum", "approve", &id],
        "already approved",
    );
    v.ok("alice.tok", US, &["get", "designs/k.step", "k1.step"]);
    // A restart keeps it pending.
    v.kill9();
    v.launch().unwrap();
    v.ok("alice.tok", US, &["get", "designs/k.step", "k2.step"]);
    let done = v.json("olive.tok", &["quorum", "approve", &id]);
    assert_eq!(done["state"], "executed", "{done}");
    assert!(done["result"]
        .as_str()
        .unwrap()
        .contains("scheduled for destruction"));
    let o = v.run("alice.tok", US, &["get", "designs/k.step", "k3.step"]);
    assert!(!o.status.success(), "a key pending destruction refuses use");
    assert_eq!(
        v.audit_json(&["--grant", &id, "--kind", "quorum.execute"])
            .len(),
        1
    );

    // Denied is final.
    let r = v.json(
        "admin.tok",
        &[
            "quorum",
            "propose",
            "residency",
            "carve_out",
            "--justification",
            "UK subsidiary",
        ],
    );
    let rid = r["id"].as_str().unwrap().to_owned();
    let d = v.json(
        "olive.tok",
        &[
            "quorum",
            "deny",
            &rid,
            "--reason",
            "contract requires US only",
        ],
    );
    assert_eq!(d["state"], "denied");
    refused(&v, "alice.tok", &["quorum", "approve", &rid], "not pending");

    // Creating an admin is a quorum operation too.
    let out = v.json(
        "admin.tok",
        &[
            "principals",
            "add",
            "root2",
            "--status",
            "us_citizen",
            "--citizenship",
            "US",
            "--role",
            "admin",
        ],
    );
    assert_eq!(out["state"], "pending", "{out}");
    refused(
        &v,
        "admin.tok",
        &["principals", "show", "root2"],
        "does not exist",
    );

    // Editing the config is no way around it: an unapproved backend stops the start.
    v.kill9();
    v.extra_config.push_str(&format!(
        "[[backends]]\nname = \"local\"\nkind = \"local\"\npath = \"blobs\"\ncountry = \"US\"\noperator = \"self\"\n[[backends]]\nname = \"annex\"\nkind = \"local\"\npath = {:?}\ncountry = \"US\"\noperator = \"self\"\n",
        v.p("annex")
    ));
    let err = v.launch().unwrap_err();
    assert!(
        err.contains("backend `annex`") && err.contains("quorum"),
        "{err}"
    );
}

#[test]
fn the_admin_cannot_mint_a_second_token_for_someone_and_auditors_read_the_trail() {
    let v = cast();
    refused(
        &v,
        "admin.tok",
        &["tokens", "create", "alice"],
        "self-service-only",
    );
    // Alice mints her own.
    v.ok("alice.tok", US, &["tokens", "create", "alice"]);
    v.staff("audrey", "us_citizen", "US", &["auditor"]);
    let o = v.run("audrey.tok", US, &["get", "designs/none", "n"]);
    assert!(!o.status.success());
    let get_trail = |tok: &str| {
        let t = std::fs::read_to_string(v.p(tok)).unwrap();
        v.raw(
            format!("GET /v1/audit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n").as_bytes(),
            false,
        )
    };
    let text = get_trail("audrey.tok");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("x-itarvault-audit-head"),
        "{text}"
    );
    assert!(text.contains("\"kind\":\"admin.token.create\""), "{text}");
    assert!(get_trail("bob.tok").starts_with("HTTP/1.1 403"));
}

/// A document of `size` bytes of filler with `marking` placed across the server's
/// 64 KiB plaintext chunk boundary, so the check must join two chunks to see it.
fn marked_document(marking: &str, size: usize) -> Vec<u8> {
    let mut doc =
        b"Turbine blade cooling passages, rev C; nothing to see here.\n".repeat(size / 60 + 1);
    doc.truncate(size);
    let at = 65_536 - marking.len() / 2;
    doc[at - 1] = b'\n';
    doc[at..at + marking.len()].copy_from_slice(marking.as_bytes());
    doc[at + marking.len()] = b'\n';
    doc
}

#[test]
fn uploads_are_scanned_as_they_stream_and_mislabelled_or_classified_content_is_refused() {
    let v = cast();
    let blobs = || walk(&v.p("data/blobs")).len();
    std::fs::write(
        v.p("xi.txt"),
        marked_document("Export: USML Category XI(a)(3)", 300_000),
    )
    .unwrap();
    std::fs::write(
        v.p("banner.txt"),
        marked_document("SECRET//NOFORN", 200_000),
    )
    .unwrap();
    let before = blobs();
    // Category XI content labelled EAR99: refused, with the label it should carry.
    let err = v.fails(
        "alice.tok",
        US,
        &["put", "designs/xi.txt", "xi.txt", "-l", "EAR99"],
        1,
    );
    assert!(
        err.contains("content-mislabelled") && err.contains("ITAR:XI(a)(3)"),
        "{err}"
    );
    // Another category is a mismatch too; a classification banner is refused whatever the label.
    v.fails(
        "alice.tok",
        US,
        &["put", "designs/xi.txt", "xi.txt", "-l", "ITAR:XV"],
        1,
    );
    let err = v.fails(
        "alice.tok",
        US,
        &["put", "designs/s.txt", "banner.txt", "-l", "ITAR:XI"],
        1,
    );
    assert!(
        err.contains("content-classified") && err.contains("facility security officer"),
        "{err}"
    );
    // Nothing was stored, not even a stray blob.
    assert_eq!(
        v.ok("alice.tok", US, &["ls", "designs", "--json"]).trim(),
        "[]"
    );
    assert_eq!(blobs(), before);
    let denied = v.audit_json(&["--kind", "object.put", "--outcome", "deny"]);
    assert_eq!(denied.len(), 3, "{denied:#?}");
    assert_eq!(
        denied[0]["event"]["reasons"][0]["rule"],
        "scan:usml-category"
    );
    assert_eq!(denied[0]["event"]["reasons"][0]["cite"], "22 CFR 121.1");
    assert!(denied[2]["event"]["detail"]
        .as_str()
        .unwrap()
        .contains("classification banner"));
    // Labelled as the content says: stored, and the record says what the check found.
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/xi.txt", "xi.txt", "-l", "ITAR:XI"],
    );
    let ok = v.audit_json(&["--kind", "object.put", "--outcome", "ok"]);
    let detail = ok[0]["event"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("1 marking(s), consistent with the label"),
        "{detail}"
    );
    assert_eq!(ok[0]["event"]["reasons"][0]["rule"], "scan:usml-category");
    v.ok("alice.tok", US, &["get", "designs/xi.txt", "back.txt"]);
    assert_eq!(
        std::fs::read(v.p("xi.txt")).unwrap(),
        std::fs::read(v.p("back.txt")).unwrap(),
        "the scan must not alter what is stored"
    );
    assert!(v.audit(&["verify"]).status.success());

    // `on_mismatch = "flag"`: stored, and flagged in the audit record; a banner is still refused.
    let f = cast_of(QUORUM, "[scan]\non_mismatch = \"flag\"\n", |_| {});
    std::fs::write(f.p("xi.txt"), marked_document("USML Category XI", 100_000)).unwrap();
    std::fs::write(
        f.p("banner.txt"),
        marked_document("TOP SECRET//SI//NOFORN", 100_000),
    )
    .unwrap();
    f.ok(
        "alice.tok",
        US,
        &["put", "designs/xi.txt", "xi.txt", "-l", "EAR99"],
    );
    let ok = f.audit_json(&["--kind", "object.put", "--outcome", "ok"]);
    let detail = ok[0]["event"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("FLAGGED") && detail.contains("`ITAR:XI`") && detail.contains("`EAR99`"),
        "{detail}"
    );
    f.fails(
        "alice.tok",
        US,
        &["put", "designs/s.txt", "banner.txt", "-l", "ITAR:XI"],
        1,
    );
}

#[test]
fn the_vault_assesses_itself_and_writes_the_carve_out_evidence() {
    let v = cast();
    v.staff("audra", "us_citizen", "US", &["auditor"]);
    v.staff("omar", "foreign_person", "IN", &["operator"]);
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/blade.step", "blade.step", "-l", "ITAR:XIX"],
    );
    let inventory = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/inventory.yaml");
    let fips = serde_json::from_slice::<serde_json::Value>(
        &bin().args(["version", "--json"]).output().unwrap().stdout,
    )
    .unwrap()["fips_mode"]
        .as_bool()
        .unwrap();
    let assess = |token: &str, extra: &[&str]| {
        bin()
            .args([
                "assess", inventory, "--format", "json", "--vault", &v.url, "--cacert",
            ])
            .arg(v.p("data/tls/cert.pem"))
            .arg("--token-file")
            .arg(v.p(token))
            .args(extra)
            .current_dir(v.dir.path())
            .output()
            .unwrap()
    };
    let o = assess("audra.tok", &["--evidence", "evidence"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules: Vec<(&str, &str)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["subject"].as_str().unwrap()))
        .collect();
    assert!(
        rules.contains(&("vault-admin-not-us-person", "vault/principals/omar")),
        "{rules:?}"
    );
    assert!(!rules.iter().any(|(_, s)| *s == "vault/principals/audra"));
    // The cast runs under a quorum: no admin acts alone.
    assert!(
        !rules.iter().any(|(r, _)| *r == "vault-bootstrap-mode"),
        "{rules:?}"
    );
    assert_eq!(
        rules.contains(&("vault-fips-inactive", "vault/fips")),
        !fips,
        "{rules:?}"
    );
    assert!(
        !rules.contains(&("vault-fips-unvalidated", "vault/fips")),
        "the module this release links is validated: {rules:?}"
    );
    assert!(
        !rules.iter().any(|(r, _)| *r == "vault-audit-not-intact"),
        "{rules:?}"
    );
    let item = |id: &str| {
        r["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["item"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(item("staff-us-persons"), "fail");
    assert_eq!(item("audit-logging"), "pass");

    // The evidence pack: every condition of 120.54(a)(5) for the bucket, with proof.
    let ev = v.p("evidence");
    let readme = std::fs::read_to_string(ev.join("README.md")).unwrap();
    assert!(
        readme.contains("## Bucket `designs` on backend `local` (US"),
        "{readme}"
    );
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ev.join("conditions.json")).unwrap())
            .unwrap();
    let conds = c["buckets"][0]["conditions"].as_array().unwrap();
    let cites: Vec<&str> = conds.iter().map(|c| c["cite"].as_str().unwrap()).collect();
    for want in [
        "(a)(5)(i)",
        "(a)(5)(ii)",
        "(a)(5)(iii)",
        "(a)(5)(iv)",
        "(a)(5)(v)",
    ] {
        assert!(
            cites.iter().any(|c| c.contains(want)),
            "{want} missing: {cites:?}"
        );
    }
    let holds = |cite: &str| {
        conds
            .iter()
            .find(|c| c["cite"].as_str().unwrap().starts_with(cite))
            .unwrap()["holds"]
            .as_bool()
            .unwrap()
    };
    assert!(holds("22 CFR 120.54(a)(5)(iv)"));
    assert!(holds("22 CFR 120.54(a)(5)(v)"));
    assert_eq!(holds("22 CFR 120.54(a)(5)(iii)"), fips);
    let verification: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ev.join("audit-verification.json")).unwrap())
            .unwrap();
    assert_eq!(verification["problems"].as_array().unwrap().len(), 0);
    assert!(ev.join("posture.json").exists());

    // Only auditors and admins see the posture: others get the server's refusal, exit 2.
    let o = assess("alice.tok", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // An altered trail shows up in the report as a critical finding.
    let log = v.p("data/audit/log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replacen("\"alice\"", "\"mallory\"", 1)).unwrap();
    let o = assess("audra.tok", &["--evidence", "evidence2"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let broken = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "vault-audit-not-intact")
        .unwrap_or_else(|| panic!("no audit finding: {r}"));
    assert_eq!(broken["severity"], "critical");
    let readme = std::fs::read_to_string(v.p("evidence2/README.md")).unwrap();
    assert!(readme.contains("NOT ALL CONDITIONS HOLD"), "{readme}");
}
