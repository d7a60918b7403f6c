//! Nobody becomes someone else, and nobody widens access alone: each way an
//! administrator (or whoever holds the config file) could obtain a credential for
//! another principal, or loosen the quorum, tried against the running server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use common::idp::{jwks, jwt, key, now};
use common::pki::Ca;
use common::*;
use serde_json::{json, Value};

/// Runs a command expected to fail with exit status 2 and `why` in its message.
fn refused(v: &Vault, token: &str, args: &[&str], why: &str) -> String {
    let err = v.fails(token, US, args, 2);
    assert!(err.contains(why), "{args:?}: wanted `{why}` in: {err}");
    err
}

fn detail(record: &Value) -> &str {
    record["event"]["detail"].as_str().unwrap_or("")
}

fn token_ids(v: &Vault, who: &str) -> Vec<String> {
    v.json("admin.tok", &["tokens", "list", who])
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["revoked"].is_null() || t["revoked"] == false)
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_admin_obtains_no_credential_that_authenticates_as_someone_else() {
    let v = cast();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/blade.step", "blade.step", "-l", "ITAR:XI"],
    );

    // Re-mint: revoking alice's token narrows access and one admin may do it; minting
    // her a new one is hers alone.
    for id in token_ids(&v, "alice") {
        v.ok("admin.tok", US, &["tokens", "revoke", &id]);
    }
    refused(&v, "alice.tok", &["whoami"], "401");
    refused(
        &v,
        "admin.tok",
        &["tokens", "create", "alice"],
        "self-service-only",
    );

    // A principal with no token at all (a badge or OIDC user): the same.
    v.ok(
        "admin.tok",
        US,
        &[
            "principals",
            "add",
            "carol",
            "--status",
            "us_citizen",
            "--citizenship",
            "US",
        ],
    );
    refused(
        &v,
        "admin.tok",
        &["tokens", "create", "carol"],
        "self-service-only",
    );

    // A registration that carries the admin's own outside credential is a new way in:
    // it goes to the quorum, and nothing is registered meanwhile.
    let p = v.json(
        "admin.tok",
        &[
            "principals",
            "add",
            "sock",
            "--status",
            "us_citizen",
            "--citizenship",
            "US",
            "--oidc-issuer",
            "https://idp.example.test",
            "--oidc-subject",
            "admin",
        ],
    );
    assert_eq!(p["state"], "pending", "{p}");
    refused(&v, "admin.tok", &["principals", "show", "sock"], "404");

    // Binding alice to a credential the admin holds: also a proposal.
    let p = v.json(
        "admin.tok",
        &[
            "principals",
            "bind",
            "alice",
            "--cert-sha256",
            &"ab".repeat(32),
        ],
    );
    assert_eq!(p["state"], "pending", "{p}");
    let alice = v.json("admin.tok", &["principals", "show", "alice"]);
    assert!(alice["bindings"].is_null(), "{alice}");

    // An enrollment is a proposal too: the admin never sees the enrollment token.
    let p = v.json("admin.tok", &["principals", "enroll", "carol"]);
    assert_eq!(p["state"], "pending", "{p}");
    assert!(p["enrollment_token"].is_null(), "{p}");
    let shown = v.json("admin.tok", &["quorum", "show", p["id"].as_str().unwrap()]);
    assert!(shown["enrollment_token"].is_null(), "{shown}");

    // Every refusal is in the trail.
    let denied = v.audit_json(&["--kind", "admin.token.create", "--outcome", "deny"]);
    assert_eq!(denied.len(), 2, "{denied:?}");
}

#[test]
fn an_enrollment_token_serves_once_and_only_to_mint_its_holders_own_token() {
    let v = cast();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/blade.step", "blade.step", "-l", "ITAR:XI"],
    );
    v.ok(
        "admin.tok",
        US,
        &[
            "principals",
            "add",
            "dave",
            "--status",
            "us_citizen",
            "--citizenship",
            "US",
        ],
    );
    let p = v.json("admin.tok", &["principals", "enroll", "dave"]);
    let id = p["id"].as_str().unwrap();
    // The proposer cannot approve their own proposal.
    assert!(!v
        .run("admin.tok", US, &["quorum", "approve", id])
        .status
        .success());
    // The approver whose approval completes the quorum receives the token.
    let done = v.json("alice.tok", &["quorum", "approve", id]);
    assert_eq!(done["state"], "executed", "{done}");
    let enrollment = done["enrollment_token"].as_str().unwrap();
    write_private(&v.p("dave.enroll"), enrollment);

    // It reads nothing, lists nothing, and mints for nobody else.
    let me = v.json("dave.enroll", &["whoami"]);
    assert_eq!(me["credential"], "enrollment token", "{me}");
    refused(
        &v,
        "dave.enroll",
        &["get", "designs/blade.step", "-"],
        "enrollment-token",
    );
    refused(&v, "dave.enroll", &["ls", "designs"], "enrollment-token");
    refused(
        &v,
        "dave.enroll",
        &["tokens", "create", "alice"],
        "enrollment-token",
    );
    // It mints dave's own token, once.
    let out = v.json("dave.enroll", &["tokens", "create", "dave", "--days", "30"]);
    write_private(&v.p("dave.tok"), out["token"].as_str().unwrap());
    assert_eq!(v.json("dave.tok", &["whoami"])["credential"], "token");
    refused(&v, "dave.enroll", &["tokens", "create", "dave"], "401");
    let used = v.audit_json(&["--kind", "admin.token.revoke"]);
    assert!(
        used.iter().any(|e| detail(e).contains("used up")),
        "{used:?}"
    );
}

#[test]
fn minting_for_approvers_does_not_capture_the_quorum() {
    // olive and oscar approve with alice, two of three; neither has a credential yet.
    let v = cast_of(
        "[quorum]\napprovers = [\"alice\", \"olive\", \"oscar\"]\nrequired = 2\n",
        "",
        |v| {
            for who in ["olive", "oscar"] {
                v.ok(
                    "admin.tok",
                    US,
                    &[
                        "principals",
                        "add",
                        who,
                        "--status",
                        "us_citizen",
                        "--citizenship",
                        "US",
                    ],
                );
            }
        },
    );
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/blade.step", "blade.step", "-l", "ITAR:XI"],
    );
    v.fails("gwen.tok", US, &["get", "designs/blade.step", "-"], 1);
    std::fs::write(
        v.p("dsp5.json"),
        r#"{"id":"DSP5-9","type":"DSP-5","countries":["GB"],"usml_categories":["XI"],"eccns":[],"expires":"2099-01-01"}"#,
    )
    .unwrap();
    let grant = v.json(
        "admin.tok",
        &["authorizations", "add", "gwen", "--file", "dsp5.json"],
    );
    assert_eq!(grant["state"], "pending");
    // The admin cannot mint the approvers' credentials...
    for who in ["olive", "oscar"] {
        refused(
            &v,
            "admin.tok",
            &["tokens", "create", who],
            "self-service-only",
        );
    }
    // ...and enrolling them needs the same quorum: alice's approval alone is not it.
    let e = v.json("admin.tok", &["principals", "enroll", "olive"]);
    let after = v.json(
        "alice.tok",
        &["quorum", "approve", e["id"].as_str().unwrap()],
    );
    assert_eq!(after["state"], "pending", "{after}");
    assert!(after["enrollment_token"].is_null());
    let after = v.json(
        "alice.tok",
        &["quorum", "approve", grant["id"].as_str().unwrap()],
    );
    assert_eq!(after["state"], "pending", "{after}");
    v.fails("gwen.tok", US, &["get", "designs/blade.step", "-"], 1);
}

/// A config edit that touches one guarded setting.
struct Edit {
    key: &'static str,
    config: String,
    location: String,
}

#[test]
fn editing_the_config_does_not_change_a_guarded_setting_and_the_quorum_does() {
    let mut v = Vault::start();
    // Bootstrap mode is visible, and ends for good with the first quorum.
    assert_eq!(v.json("admin.tok", &["whoami"])["bootstrap"], true);
    assert_eq!(
        v.get_json("admin.tok", "/v1/posture")["quorum"]["bootstrap"],
        true
    );
    v.person("alice", "us_citizen", &["US"]);
    // Even in bootstrap mode, the admin mints a token only for someone who has none.
    refused(
        &v,
        "admin.tok",
        &["tokens", "create", "alice"],
        "already holds live token",
    );
    v.govern(QUORUM);
    assert_eq!(v.json("admin.tok", &["whoami"])["bootstrap"], false);
    assert_eq!(
        v.get_json("admin.tok", "/v1/posture")["quorum"]["bootstrap"],
        false
    );
    let adopted = v.audit_json(&["--kind", "settings.adopt"]);
    assert!(
        adopted
            .iter()
            .any(|e| detail(e).contains("bootstrap mode has ended")),
        "{adopted:?}"
    );

    let dir = v.dir.path().to_owned();
    let ca_dir = tempfile::tempdir().unwrap();
    Ca::new(ca_dir.path());
    std::fs::write(dir.join("jwks.json"), jwks(&key()).to_string()).unwrap();
    let edits = [
        Edit {
            key: "quorum (approvers, required, window_hours)",
            config: "[quorum]\napprovers = [\"alice\", \"mallory\"]\nrequired = 1\n".into(),
            location: String::new(),
        },
        Edit {
            key: "quorum (approvers, required, window_hours)",
            config: String::new(),
            location: String::new(),
        },
        Edit {
            key: "quorum.principals",
            config: format!("{QUORUM}principals = true\n"),
            location: String::new(),
        },
        Edit {
            key: "location.trusted_proxies",
            config: QUORUM.into(),
            location: "trusted_proxies = [\"127.0.0.1\"]\n".into(),
        },
        Edit {
            key: "[[oidc]]",
            config: format!(
                "{QUORUM}[[oidc]]\nissuer = \"https://idp.example.test\"\naudience = \"itarvault\"\njwks_file = {:?}\n",
                dir.join("jwks.json")
            ),
            location: String::new(),
        },
        Edit {
            key: "tls.client_ca_file",
            config: format!(
                "{QUORUM}[tls]\nclient_ca_file = {:?}\n",
                ca_dir.path().join("ca.pem")
            ),
            location: String::new(),
        },
        Edit {
            key: "tls.client_cert_principal",
            config: format!("{QUORUM}[tls]\nclient_cert_principal = \"email\"\n"),
            location: String::new(),
        },
        Edit {
            key: "lockbox (max_grant_hours, pending_hours, approvals_required)",
            config: format!("{QUORUM}[lockbox]\nmax_grant_hours = 72\n"),
            location: String::new(),
        },
        Edit {
            key: "lockbox (max_grant_hours, pending_hours, approvals_required)",
            config: format!("{QUORUM}[lockbox]\napprovals_required = 2\n"),
            location: String::new(),
        },
        Edit {
            key: "scan.on_mismatch",
            config: format!("{QUORUM}[scan]\non_mismatch = \"flag\"\n"),
            location: String::new(),
        },
    ];
    v.kill9();
    v.quorum = String::new();
    for e in &edits {
        v.extra_config = e.config.clone();
        v.extra_location = e.location.clone();
        let err = v.launch().expect_err(e.key);
        assert!(
            err.contains(e.key) && err.contains("itarvault quorum propose settings"),
            "{}: {err}",
            e.key
        );
    }
    // The location ranges file is held by its contents: moving China into the US
    // range is refused like any other edit.
    v.extra_config = QUORUM.into();
    v.extra_location = String::new();
    v.ranges = RANGES.replace("127.0.0.2/32,CN", "127.0.0.2/32,US");
    let err = v.launch().expect_err("ranges");
    assert!(err.contains("location.ranges_file (its contents)"), "{err}");
    v.ranges = RANGES.into();
    // A GeoIP database the quorum never saw: the same.
    let db = dir.join("country.mmdb");
    let o = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/make_test_mmdb.py"
        ))
        .arg(&db)
        .arg("127.0.0.2/32=US")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    v.extra_location = format!("geoip_db = {db:?}\n");
    let err = v.launch().expect_err("geoip");
    assert!(err.contains("location.geoip_db (its contents)"), "{err}");
    v.extra_location = String::new();

    // The approved config starts, and the quorum changes a setting: the admin
    // proposes the new config, an approver agrees, and it starts.
    v.launch().expect("the approved config starts");
    let wanted = format!("{QUORUM}[lockbox]\nmax_grant_hours = 2\n");
    let cfg_path = dir.join("wanted.toml");
    std::fs::write(
        &cfg_path,
        std::fs::read_to_string(v.write_config())
            .unwrap()
            .replace(QUORUM, &wanted),
    )
    .unwrap();
    let p = v.json(
        "admin.tok",
        &[
            "quorum",
            "propose",
            "settings",
            "--config",
            cfg_path.to_str().unwrap(),
            "--justification",
            "shorter grants",
        ],
    );
    assert_eq!(p["state"], "pending", "{p}");
    assert!(p["effect"]
        .as_str()
        .unwrap()
        .contains("\"lockbox_max_grant_hours\":2"));
    let done = v.json(
        "alice.tok",
        &["quorum", "approve", p["id"].as_str().unwrap()],
    );
    assert_eq!(done["state"], "executed", "{done}");
    v.kill9();
    v.extra_config = "[lockbox]\nmax_grant_hours = 2\n".into();
    v.quorum = QUORUM.into();
    v.launch().expect("the config the quorum approved starts");
    assert_eq!(
        v.get_json("admin.tok", "/v1/posture")["lockbox"]["max_grant_hours"],
        2
    );
    let executed = v.audit_json(&["--kind", "quorum.execute"]);
    assert!(
        executed.iter().any(|e| detail(e).contains("settings")),
        "{executed:?}"
    );
}

#[test]
fn an_oidc_token_authenticates_only_the_principal_bound_to_its_issuer_and_subject() {
    let keys = tempfile::tempdir().unwrap();
    let (a, b) = (key(), key());
    let issuer = |name: &str, k| {
        let path = keys.path().join(format!("{name}.json"));
        std::fs::write(&path, jwks(k).to_string()).unwrap();
        format!(
            "[[oidc]]\nissuer = \"https://{name}.example.test\"\naudience = \"itarvault\"\njwks_file = {path:?}\n"
        )
    };
    let cfg = format!("{}{}", issuer("corp", &a), issuer("partner", &b));
    let v = Vault::start_with(&cfg);
    v.ok("admin.tok", US, &["buckets", "create", "designs"]);
    v.person("alice", "us_citizen", &["US"]);
    v.ok(
        "admin.tok",
        US,
        &[
            "principals",
            "bind",
            "alice",
            "--oidc-issuer",
            "https://corp.example.test",
            "--oidc-subject",
            "alice",
        ],
    );
    let token = |k, iss: &str, sub: &str| {
        jwt(
            k,
            json!({"alg": "ES256", "kid": "k1"}),
            json!({"iss": iss, "aud": "itarvault", "sub": sub, "exp": now() + 300}),
        )
    };
    write_private(
        &v.p("corp.jwt"),
        &token(&a, "https://corp.example.test", "alice"),
    );
    assert_eq!(v.json("corp.jwt", &["whoami"])["id"], "alice");
    // The partner's IdP issues "alice" to someone else: it is not our alice.
    write_private(
        &v.p("partner.jwt"),
        &token(&b, "https://partner.example.test", "alice"),
    );
    refused(
        &v,
        "partner.jwt",
        &["whoami"],
        "is not bound to principal `alice`",
    );
    // Nor is any issuer's "admin": the admin has no OIDC binding.
    write_private(
        &v.p("admin.jwt"),
        &token(&a, "https://corp.example.test", "admin"),
    );
    refused(
        &v,
        "admin.jwt",
        &["whoami"],
        "is not bound to principal `admin`",
    );
    let failures: Vec<Value> = v.audit_json(&["--kind", "auth.failure"]);
    assert_eq!(failures.len(), 2, "{failures:?}");
}

#[test]
fn a_certificate_authenticates_only_its_bound_principal_and_a_revoked_one_not_at_all() {
    let pki = tempfile::tempdir().unwrap();
    let mut ca = Ca::new(pki.path());
    let old = ca.issue("alice-2025", "alice", Some("alice@acme.test"));
    ca.issue("alice-2026", "alice", Some("alice@acme.test"));
    ca.issue("alice-fake", "alice", Some("mallory@acme.test"));
    let crl = ca.revoke(&[old]);
    let v = Vault::start_with(&format!(
        "[tls]\nclient_ca_file = {:?}\nclient_crl_files = [{crl:?}]\n",
        pki.path().join("ca.pem")
    ));
    v.person("alice", "us_citizen", &["US"]);
    v.ok(
        "admin.tok",
        US,
        &[
            "principals",
            "bind",
            "alice",
            "--cert-san",
            "alice@acme.test",
        ],
    );
    let with_cert = |file: &str| {
        bin()
            .args(["whoami", "--json", "--server", &v.url, "--cacert"])
            .arg(v.p("data/tls/cert.pem"))
            .arg("--client-cert")
            .arg(pki.path().join(format!("{file}.crt")))
            .arg("--client-key")
            .arg(pki.path().join(format!("{file}.key")))
            .output()
            .unwrap()
    };
    // The renewed certificate carries the bound address: it is alice.
    let o = with_cert("alice-2026");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let me: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (me["id"].as_str(), me["credential"].as_str()),
        (Some("alice"), Some("certificate"))
    );
    // Same CA, same common name, another address: not alice.
    let o = with_cert("alice-fake");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not bound to principal `alice`"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The revoked certificate never completes the handshake.
    let o = with_cert("alice-2025");
    assert_eq!(o.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("alice"));
}
