//! A client that cannot complete an exchange says the likely cause and the setting to
//! check, on one `hint:` line, for each way a connection fails in the field: nothing
//! listening, a certificate from an untrusted CA, a certificate for another name, a
//! server that never answers, plain HTTP on the TLS port, and a proxy's 5xx.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{bin, Vault};

/// `itarvault whoami` against `server`, trusting `cacert`; its stderr, after checking
/// that it failed with exit status 2.
fn whoami(server: &str, cacert: &std::path::Path, extra: &[&str]) -> String {
    let out = bin()
        .args(["whoami", "--server", server, "--cacert"])
        .arg(cacert)
        .args(extra)
        .env("ITARVAULT_TOKEN", "itv_nothing")
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

fn hint(stderr: &str) -> &str {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("hint: "))
        .unwrap_or_else(|| panic!("no hint line in:\n{stderr}"))
}

/// A listener that answers every connection with `reply` (or, when it is empty, holds
/// the connection open and says nothing).
fn fake_server(reply: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in l.incoming().flatten() {
            if reply.is_empty() {
                held.push(s);
                continue;
            }
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    addr.to_string()
}

fn any_cert(dir: &std::path::Path) -> std::path::PathBuf {
    let k = rcgen::KeyPair::generate().unwrap();
    let c = rcgen::CertificateParams::new(vec!["elsewhere.example".into()])
        .unwrap()
        .self_signed(&k)
        .unwrap();
    let path = dir.join("elsewhere.pem");
    std::fs::write(&path, c.pem()).unwrap();
    common::write_private(&dir.join("elsewhere.key"), &k.serialize_pem());
    path
}

#[test]
fn nothing_listening_names_the_server_setting() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let err = whoami(
        &format!("https://127.0.0.1:{port}"),
        &any_cert(dir.path()),
        &[],
    );
    let h = hint(&err);
    assert!(
        h.contains("nothing is listening") && h.contains("ITARVAULT_SERVER"),
        "{err}"
    );
    assert!(
        err.starts_with("error: cannot complete the exchange with https://127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn untrusted_and_misnamed_certificates_name_the_trust_setting() {
    let v = Vault::start();
    let dir = tempfile::tempdir().unwrap();
    // The vault's certificate checked against another certificate: unknown issuer.
    let err = whoami(&v.url, &any_cert(dir.path()), &[]);
    assert!(hint(&err).contains("--cacert (ITARVAULT_CACERT)"), "{err}");

    // A vault whose certificate is for another host name.
    let cert = any_cert(dir.path());
    let other = Vault::start_with(&format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        cert,
        dir.path().join("elsewhere.key")
    ));
    let err = whoami(&other.url, &cert, &[]);
    assert!(hint(&err).contains("does not name the host"), "{err}");
}

#[test]
fn a_server_that_never_answers_times_out_with_a_hint() {
    let addr = fake_server(b"");
    let dir = tempfile::tempdir().unwrap();
    let err = whoami(
        &format!("https://{addr}"),
        &any_cert(dir.path()),
        &["--timeout", "1"],
    );
    assert!(hint(&err).contains("did not answer in time"), "{err}");
    assert!(hint(&err).contains("--timeout"), "{err}");
}

#[test]
fn plain_http_on_the_port_says_tls_is_not_spoken() {
    let addr =
        fake_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let dir = tempfile::tempdir().unwrap();
    let err = whoami(&format!("https://{addr}"), &any_cert(dir.path()), &[]);
    assert!(hint(&err).contains("does not speak TLS"), "{err}");
}

#[test]
fn a_proxy_error_points_at_the_server_behind_it() {
    let addr = fake_server(
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad gateway",
    );
    let dir = tempfile::tempdir().unwrap();
    let err = whoami(&format!("http://{addr}"), &any_cert(dir.path()), &[]);
    assert!(err.contains("502"), "{err}");
    assert!(hint(&err).contains("proxy in front of the vault"), "{err}");
}
