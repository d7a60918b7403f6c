//! The one enforcement point, tried as an attacker would: every route refuses an
//! unauthorized call and records it; an overwrite needs the right to delete; listings
//! and HEAD release metadata only under the read rules; versions are kept and deleted
//! under the delete rules.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use common::*;
use itarvault_server::vault::gate::{LockboxRole, ObjectAction, Permission};
use serde_json::Value;

/// Sends one request over raw HTTPS from 127.0.0.1; returns the status code.
fn call(v: &Vault, method: &str, path: &str, token: Option<&str>, headers: &str) -> u16 {
    let auth = token
        .map(|t| format!("Authorization: Bearer {}\r\n", t.trim()))
        .unwrap_or_default();
    let body = if matches!(method, "POST" | "PUT") {
        "{}"
    } else {
        ""
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let resp = v.raw(req.as_bytes(), false);
    resp.get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no status in {resp:?}"))
}

fn token(v: &Vault, who: &str) -> String {
    std::fs::read_to_string(v.p(&format!("{who}.tok"))).unwrap()
}

fn records(v: &Vault, kind: &str, principal: Option<&str>) -> Vec<Value> {
    let mut args = vec!["--kind", kind];
    if let Some(p) = principal {
        args.extend(["--principal", p]);
    }
    v.audit_json(&args)
}

/// A cast with a lockbox bucket, an ITAR object, a pending access request and a
/// pending quorum proposal, for routes that name them.
struct Fixture {
    v: Vault,
    request: String,
    proposal: String,
    bob_token: String,
}

fn fixture() -> Fixture {
    // Every route is called without credentials from one address: more failures a
    // minute than the default limit allows.
    let v = cast_of(
        QUORUM,
        "[limits]\nauth_failures_per_minute = 10000\n",
        |v| {
            v.person("olive", "us_citizen", &["US"]);
            v.staff("ursula", "us_citizen", "US", &["operator"]);
        },
    );
    v.ok(
        "admin.tok",
        US,
        &["buckets", "create", "secure", "--owner", "olive"],
    );
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/x.step", "blade.step", "-l", "ITAR:XI"],
    );
    let req = v.json(
        "ursula.tok",
        &[
            "lockbox",
            "request",
            "--bucket",
            "secure",
            "--action",
            "read",
            "--justification",
            "INC-1",
            "--minutes",
            "30",
        ],
    );
    let prop = v.json(
        "admin.tok",
        &[
            "quorum",
            "propose",
            "residency",
            "carve_out",
            "--justification",
            "move to the EU",
        ],
    );
    let tokens = v.json("admin.tok", &["tokens", "list", "bob"]);
    Fixture {
        request: req["id"].as_str().unwrap().to_owned(),
        proposal: prop["id"].as_str().unwrap().to_owned(),
        bob_token: tokens[0]["id"].as_str().unwrap().to_owned(),
        v,
    }
}

/// The OpenAPI document's routes, as `METHOD path`.
fn documented() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(include_str!("../../../docs/openapi.json")).unwrap();
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys() {
            if m != "parameters" {
                out.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_route_refuses_an_unauthorized_call_and_records_it() {
    let f = fixture();
    let v = &f.v;
    // The document and the server's table name exactly the same routes: a route the
    // server has but the table (and so the gate) does not know cannot exist.
    let table = itarvault_server::api::table();
    let mut served: Vec<(String, String)> = table
        .iter()
        .map(|(r, _)| (r.method.to_string(), r.path.replace("{*", "{")))
        .collect();
    served.sort();
    assert_eq!(served, documented());
    let public: Vec<&str> = table
        .iter()
        .filter(|(r, _)| r.permission == Permission::Public)
        .map(|(r, _)| r.path)
        .collect();
    assert_eq!(
        public,
        ["/healthz", "/openapi.json"],
        "the public list is short and explicit"
    );

    for (route, _) in &table {
        let id = if route.path.starts_with("/v1/lockbox/") {
            f.request.as_str()
        } else if route.path.starts_with("/v1/quorum/") {
            f.proposal.as_str()
        } else if route.path.starts_with("/v1/tokens/") {
            f.bob_token.as_str()
        } else {
            "bob"
        };
        let path = route
            .path
            .replace("{bucket}", "designs")
            .replace("{*key}", "x.step")
            .replace("{id}", id)
            .replace("{auth}", "DSP5-1");
        let method = route.method.as_str();
        let label = "X-Itarvault-Label: PUBLIC\r\n";
        if route.permission == Permission::Public {
            assert_eq!(call(v, method, &path, None, ""), 200, "{method} {path}");
            continue;
        }
        // Nobody: refused and recorded as an authentication failure.
        let before = records(v, "auth.failure", None).len();
        assert_eq!(call(v, method, &path, None, label), 401, "{method} {path}");
        assert_eq!(
            records(v, "auth.failure", None).len(),
            before + 1,
            "{method} {path}: the refusal was not recorded"
        );
        // Someone authenticated but without the right: refused by the gate, recorded
        // under the route's own kind.
        let who = match route.permission {
            Permission::Authenticated | Permission::Public => continue,
            Permission::Roles(_) | Permission::SelfOr(_) | Permission::TokenOwnerOr(_) => "alice",
            Permission::Object(ObjectAction::Read | ObjectAction::Head) => "bob",
            Permission::Object(ObjectAction::Write | ObjectAction::Delete) => "gwen",
            Permission::List => "ursula",
            // Neither its requester nor one of its approvers.
            Permission::Lockbox(..) => "bob",
        };
        let before = records(v, route.kind, Some(who)).len();
        let status = call(v, method, &path, Some(&token(v, who)), label);
        let want: &[u16] = match route.permission {
            // Not a party: the record does not exist as far as they can tell.
            Permission::Lockbox(_, LockboxRole::Party) => &[404],
            _ => &[403],
        };
        assert!(want.contains(&status), "{method} {path} as {who}: {status}");
        let after = records(v, route.kind, Some(who));
        assert_eq!(
            after.len(),
            before + 1,
            "{method} {path} as {who}: no record of the refusal"
        );
        let outcome = after.last().unwrap()["event"]["outcome"].as_str().unwrap();
        assert!(
            matches!(outcome, "deny" | "error"),
            "{method} {path}: recorded as {outcome}"
        );
    }
}

#[test]
fn an_overwrite_needs_the_right_to_delete_and_keeps_the_old_version() {
    let v = cast();
    v.person("olive", "us_citizen", &["US"]);
    std::fs::write(v.p("public.txt"), b"nothing to see").unwrap();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/spec.step", "blade.step", "-l", "ITAR:XI"],
    );
    // A Chinese national, from a 126.1 address and from the US, tries to replace a US
    // person's ITAR object with PUBLIC content, then to delete it.
    for from in [CN, US] {
        let err = v.fails(
            "bob.tok",
            from,
            &["put", "designs/spec.step", "public.txt", "-l", "PUBLIC"],
            2,
        );
        assert!(err.contains("overwrite-needs-delete"), "{err}");
        let err = v.fails("bob.tok", from, &["rm", "designs/spec.step"], 2);
        assert!(err.contains("not-owner"), "{err}");
    }
    // A US person who is not the uploader nor an owner cannot either.
    let err = v.fails(
        "olive.tok",
        US,
        &["put", "designs/spec.step", "public.txt", "-l", "PUBLIC"],
        2,
    );
    assert!(err.contains("overwrite-needs-delete"), "{err}");
    // Alice's object is untouched, one version, still hers.
    v.ok("alice.tok", US, &["get", "designs/spec.step", "back.step"]);
    assert_eq!(
        std::fs::read(v.p("back.step")).unwrap(),
        std::fs::read(v.p("blade.step")).unwrap()
    );
    let versions: Value =
        serde_json::from_str(&v.ok("alice.tok", US, &["ls", "designs", "--versions", "--json"]))
            .unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["created_by"], "alice");
    let denied = v.audit_json(&[
        "--kind",
        "object.put",
        "--principal",
        "bob",
        "--outcome",
        "deny",
    ]);
    assert_eq!(denied.len(), 2, "{denied:#?}");
    assert_eq!(
        v.audit_json(&[
            "--kind",
            "object.delete",
            "--principal",
            "bob",
            "--outcome",
            "deny"
        ])
        .len(),
        2
    );
    // The uploader may overwrite: the old version stays readable.
    let first = versions[0]["version"].as_str().unwrap().to_owned();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/spec.step", "public.txt", "-l", "PUBLIC"],
    );
    v.ok(
        "alice.tok",
        US,
        &[
            "get",
            "designs/spec.step",
            "old.step",
            "--version-id",
            &first,
        ],
    );
    assert_eq!(
        std::fs::read(v.p("old.step")).unwrap(),
        std::fs::read(v.p("blade.step")).unwrap()
    );
}

fn keys(listing: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(listing).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn listings_and_head_release_metadata_only_under_the_read_rules() {
    let v = cast();
    v.staff("ursula", "us_citizen", "US", &["operator"]);
    v.staff("audrey", "us_citizen", "US", &["auditor"]);
    std::fs::write(v.p("note.txt"), b"a note").unwrap();
    for (key, label) in [
        ("itar.step", "ITAR:XI"),
        ("ear99.txt", "EAR99"),
        ("public.txt", "PUBLIC"),
    ] {
        v.ok(
            "alice.tok",
            US,
            &["put", &format!("designs/{key}"), "note.txt", "-l", label],
        );
    }
    let ls = |who: &str, from: &str| {
        keys(&v.ok(&format!("{who}.tok"), from, &["ls", "designs", "--json"]))
    };
    assert_eq!(ls("alice", US), ["ear99.txt", "itar.step", "public.txt"]);
    // A foreign person in the US, a US person in a 126.1 country, a US person at an
    // address no source places: the ITAR object's name and label stay hidden.
    assert_eq!(ls("bob", US), ["ear99.txt", "public.txt"]);
    assert_eq!(ls("alice", CN), ["ear99.txt", "public.txt"]);
    assert_eq!(ls("alice", NOWHERE), ["public.txt"]);
    // HEAD is a read decision: refused, and recorded like a GET.
    for (who, from) in [("bob", US), ("alice", CN), ("alice", NOWHERE)] {
        let o = v.run(&format!("{who}.tok"), from, &["stat", "designs/itar.step"]);
        assert_eq!(o.status.code(), Some(1), "{who} from {from}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("export-denied"));
    }
    let heads = v.audit_json(&["--kind", "object.head", "--outcome", "deny"]);
    assert_eq!(heads.len(), 3);
    assert!(heads.iter().all(|r| r["event"]["object"] == "itar.step"));
    // Roles without standing access see nothing, listed or not, without a grant.
    for who in ["admin", "ursula", "audrey"] {
        for args in [&["ls", "designs"][..], &["stat", "designs/public.txt"][..]] {
            let err = v.fails(&format!("{who}.tok"), US, args, 2);
            assert!(err.contains("no-standing-access"), "{who} {args:?}: {err}");
        }
    }
    // Each listing is one record naming what was withheld.
    let bob = v.audit_json(&[
        "--kind",
        "object.list",
        "--principal",
        "bob",
        "--outcome",
        "ok",
    ]);
    assert_eq!(bob.len(), 1);
    assert!(
        bob[0]["event"]["detail"]
            .as_str()
            .unwrap()
            .contains("2 entries shown, 1 withheld"),
        "{bob:?}"
    );
}

#[test]
fn refusals_on_admin_and_auditor_routes_are_audited() {
    let v = cast();
    std::fs::write(
        v.p("dsp5.json"),
        r#"{"id":"DSP5-9","type":"DSP-5","countries":["CN"],"usml_categories":["XI"],"expires":"2030-01-01"}"#,
    )
    .unwrap();
    let attempts: &[&[&str]] = &[
        &["principals", "list"],
        &[
            "principals",
            "add",
            "mallory",
            "--status",
            "us_citizen",
            "--citizenship",
            "US",
        ],
        &["principals", "disable", "alice"],
        &["authorizations", "add", "bob", "--file", "dsp5.json"],
        &["buckets", "create", "mine"],
        &[
            "quorum",
            "propose",
            "residency",
            "carve_out",
            "--justification",
            "x",
        ],
        &["tokens", "create", "alice"],
    ];
    for args in attempts {
        let err = v.fails("bob.tok", US, args, 2);
        assert!(err.contains("403"), "{args:?}: {err}");
    }
    let denied = v.audit_json(&["--principal", "bob", "--outcome", "deny"]);
    let kinds: Vec<&str> = denied
        .iter()
        .map(|r| r["event"]["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "admin.principal.list",
        "admin.principal.add",
        "admin.principal.disable",
        "admin.authorization.add",
        "admin.bucket.create",
        "quorum.propose",
        "admin.token.create",
    ] {
        assert!(kinds.contains(&kind), "{kind} not recorded: {kinds:?}");
    }
    // The auditor routes, over raw HTTP.
    for path in ["/v1/audit", "/v1/posture", "/metrics"] {
        assert_eq!(
            call(&v, "GET", path, Some(&token(&v, "bob")), ""),
            403,
            "{path}"
        );
    }
    let denied = v.audit_json(&["--principal", "bob", "--outcome", "deny"]);
    for kind in ["audit.read", "posture.read", "metrics.read"] {
        assert!(
            denied.iter().any(|r| r["event"]["kind"] == kind),
            "{kind} not recorded"
        );
    }
}

#[test]
fn versions_are_kept_within_the_bound_and_deleted_under_the_delete_rules() {
    let v = cast();
    v.ok(
        "admin.tok",
        US,
        &["buckets", "create", "hist", "--keep-versions", "2"],
    );
    let mut ids = Vec::new();
    for n in 1..=4 {
        std::fs::write(v.p("v.txt"), format!("version {n}")).unwrap();
        let out = v.json(
            "alice.tok",
            &["put", "hist/a.txt", "v.txt", "-l", "ITAR:XI"],
        );
        ids.push(out["version"].as_str().unwrap().to_owned());
    }
    let versions = |who: &str| -> Vec<Value> {
        serde_json::from_str::<Value>(&v.ok(
            &format!("{who}.tok"),
            US,
            &["ls", "hist", "--versions", "--json"],
        ))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
    };
    let listed: Vec<String> = versions("alice")
        .iter()
        .map(|x| x["version"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        [ids[3].clone(), ids[2].clone(), ids[1].clone()],
        "newest first, the oldest pruned"
    );
    let read = |version: Option<&str>| {
        let mut args = vec!["get", "hist/a.txt", "-"];
        if let Some(x) = version {
            args.extend(["--version-id", x]);
        }
        v.ok("alice.tok", US, &args)
    };
    assert_eq!(read(None), "version 4");
    assert_eq!(read(Some(&ids[1])), "version 2");
    let err = v.fails(
        "alice.tok",
        US,
        &["get", "hist/a.txt", "-", "--version-id", &ids[0]],
        2,
    );
    assert!(err.contains("no version"), "{err}");
    // A foreign person sees no version of an ITAR object, and cannot delete one.
    assert!(versions("bob").is_empty());
    let err = v.fails(
        "bob.tok",
        US,
        &["rm", "hist/a.txt", "--version-id", &ids[2]],
        2,
    );
    assert!(err.contains("not-owner"), "{err}");
    // Deleting leaves a marker: the key reads as absent, its versions stay.
    let gone = v.json("alice.tok", &["rm", "hist/a.txt"]);
    let marker = gone["version"].as_str().unwrap().to_owned();
    v.fails("alice.tok", US, &["get", "hist/a.txt", "-"], 2);
    assert!(keys(&v.ok("alice.tok", US, &["ls", "hist", "--json"])).is_empty());
    let all = versions("alice");
    assert_eq!(all[0]["kind"], "delete_marker");
    assert_eq!(read(Some(&ids[3])), "version 4");
    // Removing the marker brings the last version back; one version goes for good.
    v.ok(
        "alice.tok",
        US,
        &["rm", "hist/a.txt", "--version-id", &marker],
    );
    assert_eq!(read(None), "version 4");
    v.ok(
        "alice.tok",
        US,
        &["rm", "hist/a.txt", "--version-id", &ids[2]],
    );
    v.fails(
        "alice.tok",
        US,
        &["get", "hist/a.txt", "-", "--version-id", &ids[2]],
        2,
    );
    let deletes = v.audit_json(&[
        "--kind",
        "object.delete",
        "--principal",
        "alice",
        "--outcome",
        "ok",
    ]);
    assert_eq!(deletes.len(), 3);
}

/// A citizenship once held reaches the decision through the registry: the ITAR
/// attributes it (22 CFR 120.50(b)), so a DSP-5 naming only the current one does not
/// cover a former Chinese national.
#[test]
fn former_citizenships_reach_the_decision_through_the_registry() {
    let v = cast();
    v.person("olive", "us_citizen", &["US"]);
    v.ok(
        "admin.tok",
        US,
        &[
            "principals",
            "add",
            "hana",
            "--status",
            "foreign_person",
            "--citizenship",
            "GB",
            "--former-citizenship",
            "CN",
        ],
    );
    v.first_token("hana");
    let shown = v.json("admin.tok", &["principals", "show", "hana"]);
    assert_eq!(shown["former_citizenships"], serde_json::json!(["CN"]));
    std::fs::write(
        v.p("dsp5.json"),
        r#"{"id":"DSP5-7","type":"DSP-5","countries":["GB"],"usml_categories":["XI"],"expires":"2030-01-01"}"#,
    )
    .unwrap();
    let p = v.json(
        "admin.tok",
        &["authorizations", "add", "hana", "--file", "dsp5.json"],
    );
    v.ok(
        "alice.tok",
        US,
        &["quorum", "approve", p["id"].as_str().unwrap()],
    );
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/wing.step", "blade.step", "-l", "ITAR:XI"],
    );
    let o = v.run("hana.tok", US, &["get", "designs/wing.step", "-"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("proscribed-country-national"), "{err}");
    assert!(err.contains("`CN`"), "{err}");
}
