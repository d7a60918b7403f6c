//! A trail that cannot be cut: the real server with a witness outside its data
//! directory. Clean stops end with a signed checkpoint; cutting the log (with or without
//! its head) and rolling log and head back together are caught; a restore from backup
//! is an epoch a quorum approves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, Vault, QUORUM, US};

/// The witness: a directory beside the data directory (in a real deployment, another
/// mount; the server warns that this one is on the same filesystem).
fn witness_config(v_dir: &Path) -> String {
    format!(
        "[audit.witness]\ndir = {:?}\ninterval_secs = 1\nmax_lag_secs = 30\n",
        v_dir.join("witness")
    )
}

fn with_witness(extra: &str) -> Vault {
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!("{}{extra}", witness_config(dir.path()));
    let mut v = Vault {
        dir,
        child: None,
        url: String::new(),
        extra_config: cfg,
        extra_location: String::new(),
        quorum: String::new(),
        ranges: common::RANGES.to_owned(),
        stderr: Default::default(),
    };
    v.launch().expect("server should start");
    v
}

fn records(v: &Vault) -> Vec<serde_json::Value> {
    std::fs::read_to_string(v.p("data/audit/log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn head(v: &Vault) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(v.p("data/audit/head.json")).unwrap()).unwrap()
}

fn verify(v: &Vault, witness: bool) -> (i32, String) {
    let w = v.p("witness");
    let mut args = vec!["verify"];
    if witness {
        args.extend(["--witness", w.to_str().unwrap()]);
    }
    let o = v.audit(&args);
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// Some traffic: a principal, an upload, a denied read.
fn traffic(v: &Vault, n: usize) {
    for i in 0..n {
        v.ok(
            "alice.tok",
            US,
            &[
                "put",
                &format!("designs/t{i}.step"),
                "blade.step",
                "-l",
                "ITAR:XI",
            ],
        );
        let o = v.run("bob.tok", US, &["get", &format!("designs/t{i}.step"), "-"]);
        assert_eq!(o.status.code(), Some(1), "the foreign person is denied");
    }
}

fn cast(extra: &str) -> Vault {
    let v = with_witness(extra);
    v.ok("admin.tok", US, &["buckets", "create", "designs"]);
    v.person("alice", "us_citizen", &["US"]);
    v.person("bob", "foreign_person", &["CN"]);
    std::fs::write(v.p("blade.step"), b"ISO-10303-21; blade\n".repeat(100)).unwrap();
    v
}

/// The newest head the witness directory keeps (its highest-numbered file).
fn witnessed_newest(v: &Vault) -> serde_json::Value {
    let files = common::walk(&v.p("witness"));
    let newest = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
        .max_by_key(|f| f.file_name().unwrap().to_owned())
        .unwrap();
    serde_json::from_slice(&std::fs::read(newest).unwrap()).unwrap()
}

#[test]
fn sigterm_and_sigint_end_the_trail_with_a_final_checkpoint_head_and_witness() {
    let mut v = cast("");
    for signal in ["TERM", "INT"] {
        traffic(&v, 2);
        let status = v.stop(signal);
        assert!(status.success(), "SIG{signal}: {status:?}");
        let recs = records(&v);
        let last = &recs[recs.len() - 1];
        let close = &recs[recs.len() - 2];
        assert_eq!(last["event"]["kind"], "checkpoint", "{last}");
        assert!(last["sig"].is_string());
        assert_eq!(close["event"]["kind"], "log.close");
        assert!(
            close["event"]["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("SIG{signal}")),
            "{close}"
        );
        // The head names the final checkpoint, and so does the witness.
        let h = head(&v);
        assert_eq!(h["seq"], last["seq"]);
        assert_eq!(witnessed_newest(&v)["seq"], last["seq"]);
        assert!(v
            .stderr
            .lock()
            .unwrap()
            .contains("the audit trail ends with a signed checkpoint"));
        let (code, out) = verify(&v, true);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("audit trail intact") && out.contains("witness checked"),
            "{out}"
        );
        v.launch().unwrap();
    }
    // A start also signs where it began: log.open is followed by a checkpoint.
    let recs = records(&v);
    let open = recs
        .iter()
        .rposition(|r| r["event"]["kind"] == "log.open")
        .unwrap();
    assert_eq!(recs[open + 1]["event"]["kind"], "checkpoint");
}

/// Cut (a): delete `head.json` and cut the last 5 lines.
#[test]
fn deleting_the_head_and_cutting_the_log_is_detected_and_stops_the_server() {
    let mut v = cast("");
    traffic(&v, 3);
    v.stop("TERM");
    let log = v.p("data/audit/log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&log, lines[..lines.len() - 5].join("\n") + "\n").unwrap();
    std::fs::remove_file(v.p("data/audit/head.json")).unwrap();

    let (code, out) = verify(&v, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("head is missing") && out.contains("NOT INTACT"),
        "{out}"
    );
    let (code, out) = verify(&v, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("rolled back or cut"), "{out}");

    let err = v.launch().unwrap_err();
    assert!(err.contains("head"), "{err}");
    // Recovering the head does not cover a cut the witness saw.
    let err = v.launch_with(&["--recover-head", "ticket 1"]).unwrap_err();
    assert!(
        err.contains("rolled back or cut") && err.contains("--restore-epoch"),
        "{err}"
    );
}

/// Only the head lost (the log whole): a documented, audited recovery.
#[test]
fn a_lost_head_alone_is_recovered_by_an_audited_start() {
    let mut v = cast("");
    traffic(&v, 1);
    v.stop("TERM");
    std::fs::remove_file(v.p("data/audit/head.json")).unwrap();
    let err = v.launch().unwrap_err();
    assert!(err.contains("--recover-head"), "{err}");
    v.launch_with(&["--recover-head", "ticket 2: head lost in a disk error"])
        .unwrap();
    let rec = records(&v)
        .into_iter()
        .find(|r| r["event"]["kind"] == "log.recovered")
        .unwrap();
    let detail = rec["event"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("ticket 2") && detail.contains("agrees with the witness"),
        "{detail}"
    );
    traffic(&v, 1);
    v.stop("TERM");
    let (code, out) = verify(&v, true);
    assert_eq!(code, 0, "{out}");
    // And it is refused when the head is there.
    let err = v.launch_with(&["--recover-head", "x"]).unwrap_err();
    assert!(err.contains("nothing to recover"), "{err}");
}

/// Cut (b), and the whole audit directory rolled back: log and head agree, the witness
/// saw further.
#[test]
fn rolling_back_log_and_head_together_is_caught_by_the_witness() {
    let mut v = cast("");
    traffic(&v, 1);
    v.stop("TERM");
    let old_head = std::fs::read(v.p("data/audit/head.json")).unwrap();
    let old_seq = head(&v)["seq"].as_u64().unwrap();
    let old_audit = v.p("audit-backup");
    std::fs::create_dir(&old_audit).unwrap();
    for f in ["log.jsonl", "head.json"] {
        std::fs::copy(v.p("data/audit").join(f), old_audit.join(f)).unwrap();
    }
    v.launch().unwrap();
    traffic(&v, 2);
    v.stop("TERM");

    // (b) cut the log back to the old head's seq and put the old head back.
    let log = v.p("data/audit/log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: Vec<&str> = text.lines().take(old_seq as usize).collect();
    std::fs::write(&log, kept.join("\n") + "\n").unwrap();
    std::fs::write(v.p("data/audit/head.json"), &old_head).unwrap();
    let (code, out) = verify(&v, false);
    assert_eq!(code, 0, "without the witness the cut cannot be seen: {out}");
    assert!(out.contains("use --witness"), "{out}");
    let (code, out) = verify(&v, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("rolled back or cut"), "{out}");
    let err = v.launch().unwrap_err();
    assert!(err.contains("rolled back or cut"), "{err}");

    // Log and head copied back together from the earlier copy: the same.
    for f in ["log.jsonl", "head.json"] {
        std::fs::copy(old_audit.join(f), v.p("data/audit").join(f)).unwrap();
    }
    let (code, out) = verify(&v, true);
    assert_eq!(code, 1, "{out}");
    let err = v.launch().unwrap_err();
    assert!(err.contains("rolled back or cut"), "{err}");
    // Nor does a restore epoch cover it without a quorum: the start holds everything
    // but quorum and audit routes.
    v.launch_with(&["--restore-epoch", "testing"]).unwrap();
    let err = v.fails("alice.tok", US, &["get", "designs/t0.step", "-"], 2);
    assert!(err.contains("quorum approves the restore"), "{err}");
    v.stop("TERM");
    let (code, out) = verify(&v, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT APPROVED"), "{out}");
}

fn copy_dir(from: &Path, to: &Path) {
    let s = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(s.success());
}

#[test]
fn a_restore_from_backup_is_an_epoch_that_a_quorum_approves() {
    // People are onboarded in bootstrap mode; then the quorum is adopted.
    let mut v = cast("");
    v.stop("TERM");
    v.quorum = QUORUM.to_owned();
    v.launch().unwrap();
    traffic(&v, 1);
    v.stop("TERM");
    copy_dir(&v.p("data"), &v.p("backup"));
    v.launch().unwrap();
    traffic(&v, 2);
    v.stop("TERM");
    let lost_to = head(&v)["seq"].as_u64().unwrap();

    // The disk is replaced and the backup restored.
    std::fs::remove_dir_all(v.p("data")).unwrap();
    copy_dir(&v.p("backup"), &v.p("data"));
    let err = v.launch().unwrap_err();
    assert!(err.contains("--restore-epoch"), "{err}");

    v.launch_with(&["--restore-epoch", "disk replaced; nightly backup"])
        .unwrap();
    let restore = records(&v)
        .into_iter()
        .find(|r| r["event"]["kind"] == "restore")
        .unwrap();
    let seq = restore["seq"].as_u64().unwrap();
    assert_eq!(restore["event"]["outcome"], "pending");
    assert_eq!(
        restore["restore"]["witnessed"]["seq"].as_u64().unwrap(),
        lost_to
    );
    assert_eq!(
        seq,
        lost_to + 1,
        "the epoch continues after the witnessed head"
    );

    // Held: content and admin routes are refused (and recorded), quorum routes work.
    let err = v.fails("alice.tok", US, &["get", "designs/t0.step", "-"], 2);
    assert!(
        err.contains("restore-pending") || err.contains("quorum approves the restore"),
        "{err}"
    );
    v.ok("alice.tok", US, &["whoami"]);
    let health = v.raw(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        false,
    );
    assert!(
        health.starts_with("HTTP/1.1 503") && health.contains("restore-pending"),
        "{health}"
    );
    let wrong = v.run(
        "admin.tok",
        US,
        &[
            "quorum",
            "propose",
            "audit-restore",
            &(seq + 1).to_string(),
            "--justification",
            "x",
        ],
    );
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("not"),
        "{wrong:?}"
    );
    // Nothing else goes to the quorum while the restore waits.
    let other = v.run(
        "admin.tok",
        US,
        &[
            "quorum",
            "propose",
            "residency",
            "carve_out",
            "--justification",
            "x",
        ],
    );
    assert!(!other.status.success());

    let p = v.json(
        "admin.tok",
        &[
            "quorum",
            "propose",
            "audit-restore",
            &seq.to_string(),
            "--justification",
            "INC-42: disk failure, restored from the nightly backup",
        ],
    );
    assert_eq!(p["state"], "pending");
    // A restart while held stays held.
    v.stop("TERM");
    v.launch().unwrap();
    v.fails("alice.tok", US, &["get", "designs/t0.step", "-"], 2);
    let done = v.json(
        "alice.tok",
        &["quorum", "approve", p["id"].as_str().unwrap()],
    );
    assert_eq!(done["state"], "executed", "{done}");
    v.ok("alice.tok", US, &["get", "designs/t0.step", "t0.back"]);
    v.stop("TERM");

    let approved = records(&v)
        .into_iter()
        .rev()
        .find(|r| r["event"]["kind"] == "restore")
        .unwrap();
    assert_eq!(approved["event"]["outcome"], "ok");
    assert_eq!(approved["event"]["grant"], p["id"]);
    assert_eq!(approved["restore"], restore["restore"]);
    let (code, out) = verify(&v, true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("restore epoch at seq {seq}"))
            && out.contains("approved by quorum proposal"),
        "{out}"
    );
    // The epoch is accepted exactly: the same log with its restore record's statement
    // edited is not.
    let log = v.p("data/audit/log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let witnessed = format!("\"witnessed\":{{\"seq\":{lost_to}");
    assert!(text.contains(&witnessed));
    std::fs::write(
        &log,
        text.replacen(
            &witnessed,
            &format!("\"witnessed\":{{\"seq\":{}", lost_to - 1),
            1,
        ),
    )
    .unwrap();
    let (code, out) = verify(&v, true);
    assert_eq!(code, 1, "{out}");
}

/// `itarvault witness serve` on "another host": the vault sends its heads over HTTPS,
/// verification reads them back, and the service refuses to go back.
#[test]
fn a_witness_service_keeps_the_heads_and_refuses_a_rollback() {
    let wdir = tempfile::tempdir().unwrap();
    // The vault's key exists only once it has started; start it without a witness
    // first, then give the service its verifying key.
    let mut v = Vault::start_with("");
    v.stop("TERM");
    let (service, url) = witness_service(wdir.path(), &v.p("data/audit/signing-key.pub"));
    v.extra_config = format!(
        "[audit.witness]\nurl = {url:?}\nca_file = {:?}\ninterval_secs = 1\nmax_lag_secs = 30\n",
        wdir.path().join("store/tls/cert.pem")
    );
    v.launch().unwrap();
    v.ok("admin.tok", US, &["buckets", "create", "designs"]);
    // A copy taken at a clean stop, whose final head the witness keeps.
    v.stop("TERM");
    std::fs::copy(v.p("data/audit/log.jsonl"), v.p("old-log")).unwrap();
    std::fs::copy(v.p("data/audit/head.json"), v.p("old-head")).unwrap();
    v.launch().unwrap();
    v.ok("admin.tok", US, &["buckets", "create", "other"]);
    v.stop("TERM");
    let last = head(&v)["seq"].as_u64().unwrap();
    let ca = wdir.path().join("store/tls/cert.pem");
    let o = v.audit(&[
        "verify",
        "--witness",
        &url,
        "--witness-ca",
        ca.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(&format!("newest seq {last}")), "{out}");

    // Roll log and head back: the service's heads show it, and the server refuses.
    std::fs::copy(v.p("old-log"), v.p("data/audit/log.jsonl")).unwrap();
    std::fs::copy(v.p("old-head"), v.p("data/audit/head.json")).unwrap();
    let o = v.audit(&[
        "verify",
        "--witness",
        &url,
        "--witness-ca",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("rolled back"));
    let err = v.launch().unwrap_err();
    assert!(err.contains("rolled back or cut"), "{err}");

    // The service itself refuses an older head, and one signed by another key.
    let old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.p("old-head")).unwrap()).unwrap();
    let kid = old["key_id"].as_str().unwrap().to_owned();
    let post = |body: &serde_json::Value| {
        let mut roots = rustls::RootCertStore::empty();
        for c in itarvault_server::tls::load_certs(&ca).unwrap() {
            roots.add(c).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            itarvault_server::tls::provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let c = reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(cfg)
            .build()
            .unwrap();
        c.post(format!("{url}/v1/witness/{kid}/heads"))
            .json(body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // Re-sending a kept head is harmless...
    assert!(matches!(post(&old), 200 | 201));
    // ...a head edited after signing is refused as unsigned...
    let mut edited = old.clone();
    edited["seq"] = serde_json::json!(old["seq"].as_u64().unwrap() + 1);
    assert_eq!(post(&edited), 400);
    // ...and a properly signed head for an earlier seq (someone holding the vault's
    // key, writing another history) is refused as a rollback or a rewrite.
    let der = std::fs::read(v.p("data/audit/signing-key.p8")).unwrap();
    let signer = itarvault_audit::Signer::from_pkcs8(&der).unwrap();
    let mut other = itarvault_audit::Chain::resume(
        old["seq"].as_u64().unwrap() - 2,
        itarvault_audit::line_hash(b"another history"),
    );
    other.append(
        itarvault_audit::Event::new("object.get", "allow"),
        time::OffsetDateTime::now_utc(),
    );
    let forged = serde_json::to_value(
        other
            .head(&signer, time::OffsetDateTime::now_utc())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(post(&forged), 409);
    drop(service);
}

/// A running witness service, stopped when dropped.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn witness_service(dir: &Path, trust: &Path) -> (Service, String) {
    let mut child = Service(
        bin()
            .args(["witness", "serve", "--listen", "127.0.0.1:0", "--dir"])
            .arg(dir.join("store"))
            .arg("--trust")
            .arg(trust)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut err = BufReader::new(child.0.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0 && Instant::now() < deadline,
            "the witness did not start: {seen}"
        );
        seen.push_str(&line);
        if let Some(rest) = line.strip_prefix("itarvault witness listening on ") {
            let url = rest.trim().to_owned();
            std::thread::spawn(move || {
                let mut sink = String::new();
                let _ = std::io::Read::read_to_string(&mut err, &mut sink);
            });
            return (child, url);
        }
    }
}
