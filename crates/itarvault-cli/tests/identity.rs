//! An object is bound to its name: a row pointed at another object's blob releases
//! nothing; and what allowed a download is re-checked while it streams, so a revoked
//! grant or a disabled principal stops it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use std::io::{Read, Write};

use common::*;

#[test]
fn a_row_pointed_at_another_objects_blob_releases_nothing() {
    let v = cast();
    std::fs::write(v.p("a.txt"), b"alpha: the object the row names").unwrap();
    std::fs::write(v.p("b.txt"), b"bravo: another object, same label").unwrap();
    for k in ["a.txt", "b.txt"] {
        v.ok(
            "alice.tok",
            US,
            &["put", &format!("designs/{k}"), k, "-l", "ITAR:XI"],
        );
    }
    // Whoever can edit the database points a.txt's row at b.txt's blob: same label, so
    // the label check alone would pass.
    let db = rusqlite::Connection::open(v.p("data/meta.db")).unwrap();
    let b_blob: String = db
        .query_row(
            "SELECT blob FROM object_versions WHERE key = 'b.txt'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE object_versions SET blob = ?1 WHERE key = 'a.txt'",
        [&b_blob],
    )
    .unwrap();
    drop(db);
    let err = v.fails("alice.tok", US, &["get", "designs/a.txt", "out.txt"], 2);
    assert!(
        err.contains("500")
            && err.contains("integrity")
            && err.contains("belongs to object `b.txt`"),
        "{err}"
    );
    assert!(!v.p("out.txt").exists());
    let refused = v.audit_json(&[
        "--kind",
        "object.get",
        "--outcome",
        "error",
        "--object",
        "designs/a.txt",
    ]);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        v.audit_json(&[
            "--kind",
            "object.get",
            "--outcome",
            "ok",
            "--object",
            "designs/a.txt"
        ])
        .is_empty(),
        "nothing was released"
    );
    // b.txt itself still reads.
    assert_eq!(
        v.ok("alice.tok", US, &["get", "designs/b.txt", "-"]),
        "bravo: another object, same label"
    );
}

/// Opens a download of `path` as the holder of `token` and reads `first` bytes of its
/// body; returns the connection to read on.
fn start_download(
    v: &Vault,
    path: &str,
    token: &str,
    first: usize,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let mut s = v.connect(v.tls_client());
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        token.trim()
    )
    .unwrap();
    s.flush().unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let mut buf = vec![0u8; first];
    s.read_exact(&mut buf).unwrap();
    s
}

/// Reads what is left until the server closes; returns how many bytes came.
fn drain(mut s: rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>) -> usize {
    let mut n = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return n,
            Ok(k) => n += k,
        }
    }
}

#[test]
fn a_revoked_grant_stops_a_running_download() {
    let v = cast();
    v.person("olive", "us_citizen", &["US"]);
    v.staff("ursula", "us_citizen", "US", &["operator"]);
    v.ok(
        "admin.tok",
        US,
        &["buckets", "create", "secure", "--owner", "olive"],
    );
    // 48 MiB: far more than the server's channel and the sockets' buffers hold.
    let size = 48 << 20;
    std::fs::write(v.p("big.bin"), vec![0x5a; size]).unwrap();
    v.ok(
        "alice.tok",
        US,
        &["put", "secure/big.bin", "big.bin", "-l", "ITAR:XI"],
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
            "INC-9: restore check",
            "--minutes",
            "30",
        ],
    );
    let id = req["id"].as_str().unwrap().to_owned();
    v.ok("olive.tok", US, &["lockbox", "approve", &id]);
    let token = std::fs::read_to_string(v.p("ursula.tok")).unwrap();
    // The download runs; the owner revokes the grant in the middle of it.
    let s = start_download(&v, "/v1/buckets/secure/objects/big.bin", &token, 1 << 20);
    v.ok(
        "olive.tok",
        US,
        &["lockbox", "revoke", &id, "--reason", "INC-9 closed"],
    );
    let rest = drain(s);
    assert!(
        (1 << 20) + rest < size,
        "the whole object was released after the revocation ({rest} more bytes)"
    );
    let ended = v.audit_json(&["--kind", "object.get.end", "--grant", &id]);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(
        ended[0]["event"]["detail"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{ended:?}"
    );
    // And a new read under it is refused outright.
    let err = v.fails("ursula.tok", US, &["get", "secure/big.bin", "-"], 2);
    assert!(err.contains("no-standing-access"), "{err}");
}

#[test]
fn disabling_a_principal_stops_their_running_download() {
    let v = cast();
    let size = 48 << 20;
    std::fs::write(v.p("big.bin"), vec![0x5a; size]).unwrap();
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/big.bin", "big.bin", "-l", "ITAR:XI"],
    );
    let token = std::fs::read_to_string(v.p("alice.tok")).unwrap();
    let s = start_download(&v, "/v1/buckets/designs/objects/big.bin", &token, 1 << 20);
    v.ok("admin.tok", US, &["principals", "disable", "alice"]);
    let rest = drain(s);
    assert!((1 << 20) + rest < size, "released {rest} more bytes");
    let ended = v.audit_json(&["--kind", "object.get.end", "--principal", "alice"]);
    assert!(
        ended[0]["event"]["detail"]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{ended:?}"
    );
}
