//! Hostile clients against the real server: a client that places itself through a
//! trusted proxy, uploads that stall or trickle, more uploads than the server runs,
//! and a flood of forged credentials. Each attack ends in a refusal the client can act
//! on and an audit trail that stays small and complete.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

type Tls = rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>;

fn status(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

fn token(v: &Vault, file: &str) -> String {
    std::fs::read_to_string(v.p(file)).unwrap()
}

/// Starts an upload of `declared` bytes as the holder of `token`, sends `first` of
/// them and leaves the connection open.
fn start_upload(v: &Vault, token: &str, key: &str, declared: usize, first: usize) -> Tls {
    let mut s = v.connect(v.tls_client());
    let head = format!(
        "PUT /v1/buckets/designs/objects/{key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nX-Itarvault-Label: EAR99\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&vec![b'x'; first]).unwrap();
    s.flush().unwrap();
    s
}

fn answer(mut s: Tls) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn small_put(v: &Vault, token: &str, key: &str) -> String {
    v.raw(
        format!(
            "PUT /v1/buckets/designs/objects/{key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nX-Itarvault-Label: EAR99\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
        )
        .as_bytes(),
        false,
    )
}

#[test]
fn a_client_behind_a_trusted_proxy_cannot_place_itself_in_the_us() {
    // The proxy runs on 127.0.0.1; the ranges put 127.0.0.1 in the US, .2 in China.
    let v = Vault::start_with_location("trusted_proxies = [\"127.0.0.1\"]\n");
    v.ok("admin.tok", US, &["buckets", "create", "designs"]);
    v.person("alice", "us_citizen", &["US"]);
    std::fs::write(v.p("blade.step"), b"turbine blade, rev C\n".repeat(200)).unwrap();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/b.step", "blade.step", "-l", "ITAR:XI"],
    );
    let alice = token(&v, "alice.tok");
    let get = |headers: &str| {
        let a = v.raw(
            format!("GET /v1/buckets/designs/objects/b.step HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n{headers}Connection: close\r\n\r\n").as_bytes(),
            false,
        );
        status(&a).to_owned()
    };
    // The proxy says its client is in the US, in either header: allowed.
    assert!(get("").contains("200"));
    assert!(get("X-Forwarded-For: 127.0.0.1\r\n").contains("200"));
    assert!(get("Forwarded: for=\"127.0.0.1:4711\";proto=https\r\n").contains("200"));
    // The client wrote a US address; the proxy appended the real one (China) as a
    // second line. Reading only the first line placed the client in the US.
    for attack in [
        "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-For: 127.0.0.2\r\n",
        "X-Forwarded-For: 127.0.0.1, 127.0.0.2\r\n",
        "Forwarded: for=127.0.0.1\r\nForwarded: for=127.0.0.2\r\n",
        // Headers that disagree, or a hop that is not an address: unknown, denied.
        "X-Forwarded-For: 127.0.0.1\r\nForwarded: for=127.0.0.2\r\n",
        "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-For: somewhere\r\n",
        "Forwarded: for=_hidden\r\n",
    ] {
        assert!(get(attack).contains("403"), "{attack}");
    }
    let denials = v.audit_json(&["--kind", "object.get", "--outcome", "deny"]);
    let countries: Vec<_> = denials
        .iter()
        .map(|r| {
            r["event"]["country"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned()
        })
        .collect();
    assert_eq!(
        countries.iter().filter(|c| *c == "CN").count(),
        3,
        "{countries:?}"
    );
    assert_eq!(
        countries.iter().filter(|c| *c == "unknown").count(),
        3,
        "{countries:?}"
    );
}

#[test]
fn stalled_and_trickling_uploads_are_cut_off_and_uploads_are_capped() {
    let mut v = Vault::start_with(
        "[limits]\nbody_idle_secs = 2\nbody_min_bytes_per_sec = 1024\nmax_uploads = 3\nmax_uploads_per_principal = 2\n",
    );
    v.ok("admin.tok", US, &["buckets", "create", "designs"]);
    v.person("alice", "us_citizen", &["US"]);
    v.person("carl", "us_citizen", &["US"]);
    v.person("dora", "us_citizen", &["US"]);
    let (alice, carl, dora) = (
        token(&v, "alice.tok"),
        token(&v, "carl.tok"),
        token(&v, "dora.tok"),
    );
    assert!(status(&small_put(&v, &alice, "small")).contains("201"));
    // Alice starts two uploads that stall; a third is hers over her share.
    let stalled = vec![
        start_upload(&v, &alice, "s1", 1 << 20, 10),
        start_upload(&v, &alice, "s2", 1 << 20, 10),
    ];
    // Give the server a moment to take both uploads' slots.
    std::thread::sleep(Duration::from_millis(300));
    let third = small_put(&v, &alice, "s3");
    assert!(status(&third).contains("429"), "{third}");
    assert!(third.to_lowercase().contains("retry-after: 5"), "{third}");
    assert!(
        third.contains("limits.max_uploads_per_principal"),
        "{third}"
    );
    // Carl takes the last slot; Dora finds the server full.
    let carls = start_upload(&v, &carl, "c1", 1 << 20, 10);
    std::thread::sleep(Duration::from_millis(300));
    let full = small_put(&v, &dora, "d1");
    assert!(status(&full).contains("503"), "{full}");
    assert!(full.to_lowercase().contains("retry-after: 5"), "{full}");
    // Reads go on while the uploads wait for their clients.
    v.ok("alice.tok", US, &["get", "designs/small", "small.out"]);
    // The stalled uploads are cut off with a 408 that says why; nothing was stored.
    for s in stalled.into_iter().chain([carls]) {
        let a = answer(s);
        assert!(status(&a).contains("408"), "{a}");
        assert!(a.contains("body-too-slow"), "{a}");
    }
    // A client that trickles a byte a second is cut off too, well before its end.
    let mut trickle = start_upload(&v, &dora, "t1", 100, 1);
    let mut cut = Vec::new();
    let mut sent = 1;
    while sent < 60 {
        std::thread::sleep(Duration::from_millis(500));
        // Through rustls, so that a session ticket is not taken for the answer.
        trickle
            .sock
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0u8; 4096];
        if let Ok(n @ 1..) = trickle.read(&mut buf) {
            cut.extend_from_slice(&buf[..n]);
            break;
        }
        if trickle
            .write_all(b"x")
            .and_then(|()| trickle.flush())
            .is_err()
        {
            break;
        }
        sent += 1;
    }
    trickle
        .sock
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let cut = String::from_utf8_lossy(&cut).into_owned() + &answer(trickle);
    assert!(
        sent < 60,
        "a trickle of one byte per half second was never cut off"
    );
    assert!(status(&cut).contains("408"), "{cut}");
    assert!(cut.contains("below the minimum"), "{cut}");
    // Every cut-off upload is recorded, and the slots are free again.
    let errors = v.audit_json(&["--kind", "object.put", "--outcome", "error"]);
    let details: Vec<_> = errors
        .iter()
        .filter_map(|r| r["event"]["detail"].as_str())
        .collect();
    assert_eq!(
        details
            .iter()
            .filter(|d| d.contains("no part of the request body arrived for 2 seconds"))
            .count(),
        3,
        "{details:?}"
    );
    assert!(details.iter().any(|d| d.contains("below the minimum")));
    assert!(status(&small_put(&v, &dora, "d2")).contains("201"));
    assert_eq!(
        v.ok("alice.tok", US, &["ls", "designs", "--json"])
            .matches("\"key\"")
            .count(),
        2,
        "only the two complete uploads are stored"
    );
    v.kill9();
}

#[test]
fn a_flood_of_forged_tokens_is_throttled_and_its_audit_records_stay_small() {
    let v = Vault::start_with("[limits]\nauth_failures_per_minute = 5\n");
    v.person("alice", "us_citizen", &["US"]);
    let before = std::fs::metadata(v.p("data/audit/log.jsonl"))
        .unwrap()
        .len();
    // A 15 KB JWT with an attacker-chosen issuer, twenty times.
    let iss = "https://evil.example/".to_owned() + &"a".repeat(15_000);
    let claims = format!("{{\"iss\":\"{iss}\",\"sub\":\"x\",\"exp\":4102444800}}");
    let b64 = |s: &str| idp::b64(s.as_bytes());
    let jwt = format!(
        "{}.{}.{}",
        b64("{\"alg\":\"RS256\",\"kid\":\"k\"}"),
        b64(&claims),
        b64("signature")
    );
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let a = v.raw(
            format!("GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {jwt}\r\nConnection: close\r\n\r\n").as_bytes(),
            false,
        );
        statuses.push(status(&a).to_owned());
        if statuses.len() == 20 {
            assert!(a.to_lowercase().contains("retry-after:"), "{a}");
            assert!(a.contains("auth-throttled"), "{a}");
        }
    }
    assert!(
        statuses[..5].iter().all(|s| s.contains("401")),
        "{statuses:?}"
    );
    assert!(
        statuses[5..].iter().all(|s| s.contains("429")),
        "{statuses:?}"
    );
    // A valid token from the same address waits too: the address is throttled before
    // any credential is checked.
    let o = v.run("alice.tok", US, &["whoami"]);
    assert!(!o.status.success());
    // Five failures recorded with bounded detail, one record of the throttling, and
    // nothing for the other fourteen.
    let failures = v.audit_json(&["--kind", "auth.failure"]);
    assert_eq!(failures.len(), 5, "{failures:?}");
    for f in &failures {
        let d = f["event"]["detail"].as_str().unwrap();
        assert!(d.len() < 700, "an unbounded detail of {} bytes", d.len());
        assert!(d.contains("[truncated:") || !d.contains("aaaa"), "{d}");
    }
    let throttled = v.audit_json(&["--kind", "auth.throttled"]);
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    let grown = std::fs::metadata(v.p("data/audit/log.jsonl"))
        .unwrap()
        .len()
        - before;
    assert!(
        grown < 20_000,
        "21 forged 15 KB requests grew the audit log by {grown} bytes"
    );
    // Other addresses are not affected.
    assert!(v.run("alice.tok", CN, &["whoami"]).status.success());
}
