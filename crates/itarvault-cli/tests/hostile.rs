//! Hostile clients and hostile input (issue 21), end to end through the real binary:
//! control and bidi characters in text and object keys, integers at their limits,
//! JWTs with extreme times, and the first admin token kept out of the log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use common::*;
use serde_json::{json, Value};

/// The usual cast, a bucket `secure` owned by alice, and oscar, an operator (no
/// standing access: he asks for it through the lockbox).
fn hostile_vault() -> Vault {
    cast_of(QUORUM, "", |v| {
        v.ok(
            "admin.tok",
            US,
            &["buckets", "create", "secure", "--owner", "alice"],
        );
        v.staff("oscar", "us_citizen", "US", &["operator"]);
    })
}

/// Sends `method path` with a JSON body (or none) as the holder of `token_file`; the
/// status line and the parsed answer (`Value::Null` when it is not JSON).
fn call(
    v: &Vault,
    token_file: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (String, Value) {
    let token = std::fs::read_to_string(v.p(token_file)).unwrap();
    let body = body.unwrap_or("");
    let answer = v.raw(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            token.trim(),
            body.len()
        )
        .as_bytes(),
        false,
    );
    let (head, rest) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer to {method} {path}: {answer:?}"));
    let status = head.lines().next().unwrap_or("").to_owned();
    (status, serde_json::from_str(rest).unwrap_or(Value::Null))
}

/// Asserts a 400 whose message names `field` and `code_point` and says what to do.
fn refused_text(status: &str, answer: &Value, field: &str, code_point: &str) {
    assert!(status.starts_with("HTTP/1.1 400"), "{status} {answer}");
    assert_eq!(answer["error"], "bad-character", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains(field), "{field}: {answer}");
    assert!(message.contains(code_point), "{code_point}: {answer}");
    assert!(
        answer["hint"].as_str().unwrap().contains("remove it"),
        "{answer}"
    );
}

/// No byte of `out` is a C0 control other than a line feed, and no character is a C1
/// control, DEL or a bidi control: nothing a terminal acts on.
fn inert(out: &str) {
    for line in out.split('\n') {
        assert!(
            itarvault_api::text::check(line, itarvault_api::text::Lines::Single).is_ok(),
            "{line:?}"
        );
    }
}

/// The issue's attack: escapes in a justification made a whole-bucket
/// read/write/delete request for 8 hours display as a read of one object in the
/// owner's `lockbox list`. The server refuses such text in every free-text field; a
/// request stored before the rule is shown escaped, with its real scope in words.
#[test]
fn terminal_escapes_in_free_text_are_refused_and_old_ones_are_shown_escaped() {
    let v = hostile_vault();
    let rewrite =
        "\u{1b}[1A\u{1b}[2K\rreq_1 [pending] by oscar: read on object `a.txt` for 5 minutes";
    let o = v.run(
        "oscar.tok",
        US,
        &[
            "lockbox",
            "request",
            "--bucket",
            "secure",
            "--action",
            "read",
            "--action",
            "write",
            "--action",
            "delete",
            "--minutes",
            "480",
            "--justification",
            &format!("ticket 9{rewrite}"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("`$.justification` contains U+001B (ESCAPE) at character 9"),
        "{err}"
    );
    inert(&err);

    // Each kind of refused character, in each one-line field of a request.
    let ask = |field: &str, text: &str| {
        let mut body = json!({"bucket": "secure", "actions": ["read"], "justification": "ticket 9", "minutes": 60});
        body[field] = json!(text);
        call(
            &v,
            "oscar.tok",
            "POST",
            "/v1/lockbox",
            Some(&body.to_string()),
        )
    };
    for (field, text, code_point) in [
        ("justification", "a\u{202e}b", "U+202E"),
        ("justification", "a\u{9b}2Jb", "U+009B"),
        ("justification", "two\nlines", "U+000A"),
        ("justification", "tab\there", "U+0009"),
        ("justification", "del\u{7f}", "U+007F"),
        ("justification", "mark\u{200f}", "U+200F"),
        ("justification", "arabic\u{61c}mark", "U+061C"),
        ("prefix", "a\u{2066}b", "U+2066"),
        ("key", "a\u{2069}b", "U+2069"),
        ("bucket", "se\u{0}cure", "U+0000"),
    ] {
        let (status, answer) = ask(field, text);
        refused_text(&status, &answer, &format!("`$.{field}`"), code_point);
    }
    // Field names are text too.
    let (status, answer) = call(
        &v,
        "oscar.tok",
        "POST",
        "/v1/lockbox",
        Some(
            r#"{"bucket":"secure","actions":["read"],"justification":"t","minutes":60,"x\u001b":1}"#,
        ),
    );
    refused_text(&status, &answer, "`$`", "U+001B");
    assert!(v
        .json("alice.tok", &["lockbox", "list"])
        .as_array()
        .unwrap()
        .is_empty());

    // Reasons, proposal justifications, query parameters, bindings, decisions.
    let id = v.json(
        "oscar.tok",
        &[
            "lockbox",
            "request",
            "--bucket",
            "secure",
            "--action",
            "read",
            "--action",
            "write",
            "--action",
            "delete",
            "--minutes",
            "480",
            "--justification",
            "ticket 9 PLACEHOLDER",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, answer) = call(
        &v,
        "alice.tok",
        "POST",
        &format!("/v1/lockbox/{id}/deny"),
        Some(r#"{"reason":"no\u001b[2J"}"#),
    );
    refused_text(&status, &answer, "`$.reason`", "U+001B");
    let (status, answer) = call(
        &v,
        "admin.tok",
        "POST",
        "/v1/quorum",
        Some(r#"{"operation":{"op":"residency_set","mode":"us_only"},"justification":"x\u202e"}"#),
    );
    refused_text(&status, &answer, "`$.justification`", "U+202E");
    let (status, answer) = call(
        &v,
        "admin.tok",
        "POST",
        "/v1/principals/bob/enrollment?justification=a%1B%5B1Ab",
        None,
    );
    refused_text(
        &status,
        &answer,
        "query parameter `justification`",
        "U+001B",
    );
    let (status, answer) = call(
        &v,
        "admin.tok",
        "PUT",
        "/v1/principals/bob/bindings",
        Some(r#"{"oidc":{"issuer":"https://idp.example.test","subject":"bob\u202e"}}"#),
    );
    refused_text(&status, &answer, "`$.oidc.subject`", "U+202E");
    let (status, answer) = call(
        &v,
        "alice.tok",
        "POST",
        "/v1/decide",
        Some(r#"{"principal":{"id":"a\u0085"}}"#),
    );
    refused_text(&status, &answer, "`$.principal.id`", "U+0085");
    // Cedar policy text is the one multi-line field: line feeds and tabs pass the rule
    // (the proposal is filed), a carriage return or an escape does not.
    let policy = |text: &str| {
        let body =
            json!({"operation": {"op": "policies_set", "text": text}, "justification": "ticket 9"});
        call(
            &v,
            "admin.tok",
            "POST",
            "/v1/quorum",
            Some(&body.to_string()),
        )
    };
    let (status, answer) =
        policy("@id(\"everything\")\npermit(principal, action, resource)\n\twhen { true };\n");
    assert!(status.starts_with("HTTP/1.1 202"), "{status} {answer}");
    for (text, code_point) in [
        ("permit(principal, action, resource);\r\n", "U+000D"),
        ("permit(principal, action, resource);\u{1b}[1A", "U+001B"),
    ] {
        let (status, answer) = policy(text);
        refused_text(&status, &answer, "`$.operation.text`", code_point);
    }

    // A request stored before this rule, as an older server would have kept it: the
    // owner's summary shows the real scope and duration, and the escapes as text.
    let stored = format!("ticket 9{rewrite}\u{9b}2K\u{202e}");
    let json_text = serde_json::to_string(&stored).unwrap();
    let db = rusqlite::Connection::open(v.p("data/meta.db")).unwrap();
    let n = db
        .execute(
            "UPDATE lockbox SET body = replace(body, 'ticket 9 PLACEHOLDER', ?1) WHERE id = ?2",
            [&json_text[1..json_text.len() - 1], id.as_str()],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let shown = v.ok("alice.tok", US, &["lockbox", "list"]);
    inert(&shown);
    assert!(
        shown.contains(&format!(
            "{id} [pending] by oscar: read+write+delete on the whole bucket `secure` for 480 minutes"
        )),
        "{shown}"
    );
    assert!(
        shown.contains("justification: ticket 9\\u{1b}[1A\\u{1b}[2K\\u{d}req_1 [pending]"),
        "{shown}"
    );
    assert!(shown.contains("\\u{9b}2K\\u{202e}"), "{shown}");
    let json_out = v.ok("alice.tok", US, &["lockbox", "show", &id, "--json"]);
    inert(&json_out);
    let back: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(back["justification"], stored.as_str());
}

/// The issue's attack: object keys accepted U+202E, which makes `invoice\u{202e}fdp.exe`
/// list as `invoiceexe.pdf`. Refused by the CLI before sending and by the server
/// (recorded); a key stored before the rule lists escaped.
#[test]
fn object_keys_with_bidi_or_control_characters_are_refused_and_old_ones_list_escaped() {
    let v = hostile_vault();
    std::fs::write(v.p("x.pdf"), b"an invoice").unwrap();
    let err = v.fails(
        "alice.tok",
        US,
        &[
            "put",
            "designs/invoice\u{202e}fdp.exe",
            "x.pdf",
            "-l",
            "EAR99",
        ],
        2,
    );
    assert!(err.contains("U+202E (RIGHT-TO-LEFT OVERRIDE)"), "{err}");
    let token = std::fs::read_to_string(v.p("alice.tok")).unwrap();
    let cases = [
        ("invoice%E2%80%AEfdp.exe", "U+202E"),
        ("a%E2%80%AAb", "U+202A"),
        ("a%E2%81%A7b", "U+2067"),
        ("a%E2%80%8Eb", "U+200E"),
        ("a%D8%9Cb", "U+061C"),
        ("a%C2%9Bb", "U+009B"),
        ("a%1B%5B2Jb", "U+001B"),
        ("a%7Fb", "U+007F"),
        ("a%09b", "U+0009"),
    ];
    for (key, code_point) in cases {
        let answer = v.raw(
            format!(
                "PUT /v1/buckets/designs/objects/{key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Itarvault-Label: EAR99\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
                token.trim()
            )
            .as_bytes(),
            false,
        );
        assert!(answer.starts_with("HTTP/1.1 400"), "{key}: {answer}");
        assert!(
            answer.contains(&format!("path parameter `key` contains {code_point}")),
            "{key}: {answer}"
        );
        inert(&answer.replace("\r\n", "\n"));
    }
    let errors = v.audit_json(&[
        "--principal",
        "alice",
        "--outcome",
        "error",
        "--kind",
        "object.put",
    ]);
    assert_eq!(errors.len(), cases.len(), "{errors:?}");
    assert!(errors.iter().all(|e| e["event"]["detail"]
        .as_str()
        .unwrap()
        .contains("path parameter `key` contains U+")));
    assert!(v
        .json("alice.tok", &["ls", "designs"])
        .as_array()
        .unwrap()
        .is_empty());

    // A key stored before the rule.
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/invoice-fdp.exe", "x.pdf", "-l", "EAR99"],
    );
    let db = rusqlite::Connection::open(v.p("data/meta.db")).unwrap();
    let n = db
        .execute(
            "UPDATE object_versions SET key = ?1 WHERE key = 'invoice-fdp.exe'",
            ["invoice\u{202e}fdp.exe"],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let listed = v.ok("alice.tok", US, &["ls", "designs"]);
    inert(&listed);
    assert!(listed.contains("invoice\\u{202e}fdp.exe"), "{listed}");
    let listed = v.ok("alice.tok", US, &["ls", "designs", "--json"]);
    inert(&listed);
    assert!(listed.contains("invoice\\u202efdp.exe"), "{listed}");
}

/// Every integer a request carries is range-checked before any arithmetic: a 400 that
/// names the field and its range, the connection answered (not dropped), and the
/// attempt recorded. The issue's panic was `"minutes": 9223372036854775807`.
#[test]
fn integers_at_their_limits_are_refused_with_the_field_and_its_range() {
    let v = hostile_vault();
    let lockbox = |minutes: &str| {
        format!(
            r#"{{"bucket":"secure","actions":["read","write","delete"],"justification":"ticket 9","minutes":{minutes}}}"#
        )
    };
    let cases: Vec<(&str, &str, String, String, &str)> = vec![
        ("oscar.tok", "POST", "/v1/lockbox".into(), lockbox("9223372036854775807"), "`minutes` must be 1 to 480"),
        ("oscar.tok", "POST", "/v1/lockbox".into(), lockbox("-9223372036854775808"), "`minutes` must be 1 to 480"),
        ("oscar.tok", "POST", "/v1/lockbox".into(), lockbox("0"), "`minutes` must be 1 to 480"),
        ("oscar.tok", "POST", "/v1/lockbox".into(), lockbox("18446744073709551616"), "`$.minutes`"),
        ("oscar.tok", "POST", "/v1/lockbox".into(), lockbox("1e300"), "`$.minutes`"),
        ("alice.tok", "POST", "/v1/principals/alice/tokens".into(), r#"{"days":4294967295}"#.into(), "`days` must be 1 to 365"),
        ("alice.tok", "POST", "/v1/principals/alice/tokens".into(), r#"{"days":0}"#.into(), "`days` must be 1 to 365"),
        ("alice.tok", "POST", "/v1/principals/alice/tokens".into(), r#"{"days":4294967296}"#.into(), "`$.days`"),
        ("alice.tok", "POST", "/v1/principals/alice/tokens".into(), r#"{"days":-1}"#.into(), "`$.days`"),
        ("admin.tok", "POST", "/v1/buckets".into(), r#"{"name":"many","versions_kept":4294967295}"#.into(), "0 to 1000 old versions"),
        ("admin.tok", "POST", "/v1/buckets".into(), r#"{"name":"many","versions_kept":4294967296}"#.into(), "`$.versions_kept`"),
        ("admin.tok", "POST", "/v1/quorum".into(), r#"{"operation":{"op":"key_destroy","key":"bucket/designs","days":9223372036854775807},"justification":"ticket 9"}"#.into(), "7 to 30 days"),
        ("admin.tok", "POST", "/v1/quorum".into(), r#"{"operation":{"op":"key_destroy","key":"bucket/designs","days":-9223372036854775808},"justification":"ticket 9"}"#.into(), "7 to 30 days"),
        ("alice.tok", "GET", "/v1/buckets/designs/objects?limit=18446744073709551616".into(), String::new(), "limit"),
        ("alice.tok", "GET", "/v1/buckets/designs/objects?limit=-1".into(), String::new(), "limit"),
    ];
    for (token, method, path, body, want) in &cases {
        let body = (!body.is_empty()).then_some(body.as_str());
        let (status, answer) = call(&v, token, method, path, body);
        assert!(
            status.starts_with("HTTP/1.1 400"),
            "{path} {body:?}: {status} {answer}"
        );
        let text = answer.to_string();
        assert!(text.contains(want), "{path} {body:?}: {text}");
    }
    // A listing asks for at least one entry and at most `limits.max_list`.
    for limit in ["0", "9223372036854775807"] {
        let (status, answer) = call(
            &v,
            "alice.tok",
            "GET",
            &format!("/v1/buckets/designs/objects?limit={limit}"),
            None,
        );
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "{limit}: {status} {answer}"
        );
    }
    // Recorded, with the range in the detail.
    let filed = v.audit_json(&["--kind", "lockbox.request", "--outcome", "error"]);
    assert_eq!(filed.len(), 3, "{filed:?}");
    assert!(filed.iter().all(|r| r["event"]["detail"]
        .as_str()
        .unwrap()
        .contains("`minutes` must be 1 to 480")));
    // The server is still up and the grant machinery still works.
    let r = v.json(
        "oscar.tok",
        &[
            "lockbox",
            "request",
            "--bucket",
            "secure",
            "--action",
            "read",
            "--minutes",
            "480",
            "--justification",
            "ticket 9",
        ],
    );
    assert_eq!(r["state"], "pending");
}

/// A signed JWT whose `exp` is i64::MAX made the server panic and drop the connection
/// without a record. Times at the ends of the range are compared without overflow: a
/// far-future expiry is honoured, the rest are refused with a 401 and recorded.
#[test]
fn jwts_with_extreme_times_are_judged_without_overflow() {
    use common::idp::{jwks, jwt, key, now};
    const ISS: &str = "https://idp.example.test";
    let idp = key();
    let keys_dir = tempfile::tempdir().unwrap();
    let jwks_path = keys_dir.path().join("jwks.json");
    std::fs::write(&jwks_path, jwks(&idp).to_string()).unwrap();
    let v = Vault::start_with(&format!(
        "[[oidc]]\nissuer = \"{ISS}\"\naudience = \"itarvault\"\njwks_file = {jwks_path:?}\n"
    ));
    v.person("alice", "us_citizen", &["US"]);
    v.ok(
        "admin.tok",
        US,
        &[
            "principals",
            "bind",
            "alice",
            "--oidc-issuer",
            ISS,
            "--oidc-subject",
            "alice",
        ],
    );
    let header = json!({"alg": "ES256", "kid": "k1", "typ": "JWT"});
    let with = |k: &str, t: Value| {
        let mut c = json!({"iss": ISS, "aud": "itarvault", "sub": "alice", "exp": now() + 300});
        c[k] = t;
        jwt(&idp, header.clone(), c)
    };
    write_private(&v.p("far.jwt"), &with("exp", json!(i64::MAX)));
    let who = v.json("far.jwt", &["whoami"]);
    assert_eq!(who["id"], "alice");
    let refused = [
        (with("exp", json!(i64::MIN)), "expired"),
        (with("nbf", json!(i64::MAX)), "not valid yet"),
        (with("exp", json!(u64::MAX)), "no numeric `exp`"),
        (with("exp", json!(9.3e18)), "no numeric `exp`"),
        (with("exp", json!(-1e300)), "no numeric `exp`"),
    ];
    for (i, (token, want)) in refused.iter().enumerate() {
        let file = format!("t{i}.jwt");
        write_private(&v.p(&file), token);
        let err = v.fails(&file, US, &["whoami"], 2);
        assert!(err.contains("401") && err.contains(want), "{want}: {err}");
    }
    let failures = v.audit_json(&["--kind", "auth.failure"]);
    assert_eq!(failures.len(), refused.len(), "{failures:?}");
    assert_eq!(v.json("far.jwt", &["whoami"])["id"], "alice");
}

/// Starts a fresh server; returns everything it wrote to stderr up to and including
/// the first-start notice, and the rest once it was stopped.
fn first_start(dir: &std::path::Path, token_file: Option<&std::path::Path>) -> String {
    std::fs::write(dir.join("ranges.csv"), RANGES).unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\n[location]\nranges_file = {:?}\n",
            dir.join("data"),
            dir.join("ranges.csv")
        ),
    )
    .unwrap();
    let mut cmd = bin();
    cmd.args(["server", "--config"]).arg(&cfg);
    if let Some(f) = token_file {
        cmd.arg("--admin-token-file").arg(f);
    }
    let mut child = cmd
        .env("ITARVAULT_LOG", "debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            panic!("the server stopped: {seen}");
        }
        seen.push_str(&line);
        if line.contains("itarvault whoami") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    err.read_to_string(&mut seen).unwrap();
    seen
}

/// The admin token was printed to stderr (the server's log stream) on first start,
/// even with `--admin-token-file`. It now goes to a new 0600 file only, and stderr
/// says where.
#[test]
fn the_first_admin_token_is_written_to_a_file_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    for given in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let file = if given {
            dir.path().join("admin.tok")
        } else {
            dir.path().join("data/admin.token")
        };
        let stderr = first_start(dir.path(), given.then_some(file.as_path()));
        let token = std::fs::read_to_string(&file).unwrap();
        assert!(token.starts_with("itv_"), "{token}");
        assert!(!stderr.contains(token.trim()), "{stderr}");
        assert!(!stderr.contains("itv_"), "{stderr}");
        assert!(
            stderr.contains(&format!("written to {}", file.display())),
            "{stderr}"
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
