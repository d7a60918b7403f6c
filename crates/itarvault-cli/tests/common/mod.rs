//! The harness the end-to-end tests share: the real binary, a generated config, real
//! HTTPS on loopback. People abroad are played by 127.0.0.x source addresses that the
//! ranges CSV places in other countries.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic; each test file uses part of the harness"
)]

pub mod idp;
pub mod pki;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 127.0.0.1 is in the US, .2 in China (proscribed, 22 CFR 126.1), .3 in the UK; .9 is
/// in no range (unknown).
pub const RANGES: &str = "cidr,country\n127.0.0.1/32,US\n127.0.0.2/32,CN\n127.0.0.3/32,GB\n";
pub const US: &str = "127.0.0.1";
pub const CN: &str = "127.0.0.2";
pub const GB: &str = "127.0.0.3";
pub const NOWHERE: &str = "127.0.0.9";

pub struct Vault {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub url: String,
    pub extra_config: String,
    /// More keys for the `[location]` section.
    pub extra_location: String,
    /// The `[quorum]` section once [`Vault::govern`] adopted one (empty in bootstrap
    /// mode).
    pub quorum: String,
    /// The location ranges file's contents, written at each launch.
    pub ranges: String,
    /// What the running server wrote to stderr after it started listening.
    pub stderr: Arc<std::sync::Mutex<String>>,
}

impl Drop for Vault {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_itarvault"));
    for v in [
        "ITARVAULT_TOKEN",
        "ITARVAULT_TOKEN_FILE",
        "ITARVAULT_CACERT",
        "ITARVAULT_SERVER",
        "ITARVAULT_CONFIG",
        "ITARVAULT_DATA_DIR",
    ] {
        c.env_remove(v);
    }
    c.stdin(Stdio::null());
    c
}

impl Vault {
    pub fn start() -> Self {
        Self::start_with("")
    }

    pub fn start_with(extra_config: &str) -> Self {
        Self::start_full(extra_config, "")
    }

    pub fn start_with_location(extra_location: &str) -> Self {
        Self::start_full("", extra_location)
    }

    pub fn start_full(extra_config: &str, extra_location: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Self {
            dir,
            child: None,
            url: String::new(),
            extra_config: extra_config.to_owned(),
            extra_location: extra_location.to_owned(),
            quorum: String::new(),
            ranges: RANGES.to_owned(),
            stderr: Arc::default(),
        };
        v.launch().expect("server should start");
        v
    }

    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write_config(&self) -> PathBuf {
        std::fs::write(self.p("ranges.csv"), &self.ranges).unwrap();
        let cfg = format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\n[location]\nranges_file = {:?}\n{}[audit]\ncheckpoint_interval_secs = 1\n{}{}",
            self.p("data"),
            self.p("ranges.csv"),
            self.extra_location,
            self.extra_config,
            self.quorum
        );
        std::fs::write(self.p("config.toml"), cfg).unwrap();
        self.p("config.toml")
    }

    /// Starts the server; returns its stderr on failure.
    pub fn launch(&mut self) -> Result<(), String> {
        self.launch_limited(None)
    }

    /// Starts the server, optionally with a file-size limit (KiB) that makes writes
    /// past it fail as on a full disk (SIGXFSZ ignored, so the write returns EFBIG).
    pub fn launch_limited(&mut self, fsize_kib: Option<u64>) -> Result<(), String> {
        self.launch_full(fsize_kib, &[])
    }

    /// Starts the server with more `server` arguments (`--recover-head WHY`, ...).
    pub fn launch_with(&mut self, args: &[&str]) -> Result<(), String> {
        self.launch_full(None, args)
    }

    fn launch_full(&mut self, fsize_kib: Option<u64>, args: &[&str]) -> Result<(), String> {
        let cfg = self.write_config();
        let mut cmd = match fsize_kib {
            Some(k) => {
                let mut c = Command::new("bash");
                c.args([
                    "-c",
                    &format!("trap '' XFSZ; ulimit -f {k}; exec \"$0\" \"$@\""),
                    env!("CARGO_BIN_EXE_itarvault"),
                ]);
                c
            }
            None => bin(),
        };
        let mut child = cmd
            .args(["server", "--config"])
            .arg(&cfg)
            .arg("--admin-token-file")
            .arg(self.p("admin.tok"))
            .args(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
                let _ = child.wait();
                return Err(seen);
            }
            seen.push_str(&line);
            if let Some(rest) = line.strip_prefix("itarvault server listening on ") {
                self.url = rest.trim().to_owned();
                break;
            }
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        let keep = Arc::new(std::sync::Mutex::new(String::new()));
        self.stderr = keep.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).is_ok_and(|n| n > 0) {
                keep.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        self.child = Some(child);
        Ok(())
    }

    /// Sends requests on one keep-alive connection until one is not answered 200;
    /// returns that answer's status line and how many were answered 200 before it.
    pub fn head_until_failure(&self, path: &str, token: &str, max: usize) -> (String, usize) {
        let mut s = self.connect(self.tls_client());
        for n in 0..max {
            write!(
                s,
                "HEAD {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .unwrap();
            s.flush().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                s.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            if !text.starts_with("HTTP/1.1 200") {
                return (text, n);
            }
        }
        panic!("every request succeeded");
    }

    /// Stops the server with `signal` (`TERM`, `INT`) as an operator or init would, and
    /// returns its exit status.
    pub fn stop(&mut self, signal: &str) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("the server is running");
        let sent = Command::new("kill")
            .args([format!("-{signal}"), c.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Runs a client command as the holder of `token_file` from `source`.
    pub fn run(&self, token: &str, source: &str, args: &[&str]) -> Output {
        bin()
            .args(args)
            .args(["--server", &self.url, "--cacert"])
            .arg(self.p("data/tls/cert.pem"))
            .args(["--source-address", source])
            .arg("--token-file")
            .arg(self.p(token))
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    pub fn ok(&self, token: &str, source: &str, args: &[&str]) -> String {
        let o = self.run(token, source, args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    pub fn fails(&self, token: &str, source: &str, args: &[&str], code: i32) -> String {
        let o = self.run(token, source, args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    }

    /// Ends bootstrap mode: restarts with `quorum` (a `[quorum]` section) adopted.
    pub fn govern(&mut self, quorum: &str) {
        self.kill9();
        self.quorum = quorum.to_owned();
        self.launch().expect("the server should adopt the quorum");
    }

    /// Adds a principal and writes its token to `<id>.tok`.
    pub fn person(&self, id: &str, status: &str, citizenships: &[&str]) {
        let mut args = vec!["principals", "add", id, "--status", status];
        for c in citizenships {
            args.extend(["--citizenship", c]);
        }
        self.ok("admin.tok", US, &args);
        self.first_token(id);
    }

    /// Gives `id` a first token in `<id>.tok` the way a deployment does: in bootstrap
    /// mode the admin issues it; once a quorum governs, the admin proposes an
    /// enrollment, approvers holding tokens approve, and the person mints their own
    /// token with the one-time enrollment token the last approver receives.
    pub fn first_token(&self, id: &str) {
        if self.quorum.is_empty() {
            let out = self.ok("admin.tok", US, &["tokens", "create", id, "--json"]);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            write_private(&self.p(&format!("{id}.tok")), v["token"].as_str().unwrap());
            return;
        }
        let p = self.json("admin.tok", &["principals", "enroll", id]);
        let pid = p["id"].as_str().unwrap().to_owned();
        let quorum: toml::Table = toml::from_str(&self.quorum).unwrap();
        let approvers = quorum["quorum"]["approvers"].as_array().unwrap();
        let enrollment = approvers
            .iter()
            .filter_map(|a| a.as_str())
            .filter(|a| *a != "admin" && self.p(&format!("{a}.tok")).exists())
            .find_map(|a| {
                let r = self.json(&format!("{a}.tok"), &["quorum", "approve", &pid]);
                r["enrollment_token"].as_str().map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("no approver with a token completed enrollment {pid}"));
        let file = format!("{id}.enrollment.tok");
        write_private(&self.p(&file), &enrollment);
        let out = self.ok(&file, US, &["tokens", "create", id, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        write_private(&self.p(&format!("{id}.tok")), v["token"].as_str().unwrap());
    }

    /// Adds a principal holding `roles`, with a token in `<id>.tok`.
    pub fn staff(&self, id: &str, status: &str, citizenship: &str, roles: &[&str]) {
        let mut args = vec![
            "principals",
            "add",
            id,
            "--status",
            status,
            "--citizenship",
            citizenship,
        ];
        for r in roles {
            args.extend(["--role", r]);
        }
        self.ok("admin.tok", US, &args);
        self.first_token(id);
    }

    /// Runs a client command that answers with JSON.
    pub fn json(&self, token: &str, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(token, US, &a)).unwrap()
    }

    pub fn audit(&self, args: &[&str]) -> Output {
        bin()
            .arg("audit")
            .args(args)
            .arg("--data-dir")
            .arg(self.p("data"))
            .output()
            .unwrap()
    }

    pub fn audit_json(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut a = vec!["query", "--json"];
        a.extend_from_slice(args);
        let o = self.audit(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// The server's certificate as the only trust anchor.
    pub fn roots(&self) -> rustls::RootCertStore {
        let pem = std::fs::read(self.p("data/tls/cert.pem")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(c.unwrap()).unwrap();
        }
        roots
    }

    pub fn tls_client(&self) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(self.roots())
        .with_no_client_auth()
    }

    /// A TLS connection to the server with `cfg`.
    pub fn connect(
        &self,
        cfg: rustls::ClientConfig,
    ) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
        let tcp = std::net::TcpStream::connect(self.url.trim_start_matches("https://")).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let conn =
            rustls::ClientConnection::new(Arc::new(cfg), "localhost".try_into().unwrap()).unwrap();
        rustls::StreamOwned::new(conn, tcp)
    }

    pub fn raw(&self, request: &[u8], hang_up: bool) -> String {
        let mut s = self.connect(self.tls_client());
        s.write_all(request).unwrap();
        s.flush().unwrap();
        if hang_up {
            s.conn.send_close_notify();
            let _ = s.flush();
            let _ = s.sock.shutdown(std::net::Shutdown::Write);
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Connects with a TLS 1.2-only client (extended master secret on) and returns the
    /// negotiated suite.
    pub fn tls12_suite(&self) -> String {
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(self.roots())
        .with_no_client_auth();
        let mut s = self.connect(cfg);
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        format!("{:?}", s.conn.negotiated_cipher_suite().unwrap().suite())
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.p("admin.tok")).unwrap()
    }

    /// GETs `path` as the holder of `token_file` (from 127.0.0.1); the JSON answer of
    /// a 200.
    pub fn get_json(&self, token_file: &str, path: &str) -> serde_json::Value {
        let token = std::fs::read_to_string(self.p(token_file)).unwrap();
        let answer = self.raw(
            format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
                token.trim()
            )
            .as_bytes(),
            false,
        );
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

pub fn write_private(p: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Quorum config for the cast: alice and olive approve, one approval is enough.
pub const QUORUM: &str = "[quorum]\napprovers = [\"alice\", \"olive\"]\nrequired = 1\n";

/// A vault with a bucket and the usual cast, governed by [`QUORUM`].
pub fn cast() -> Vault {
    cast_of(QUORUM, "", |_| {})
}

/// The usual cast and whoever `more` adds, registered in bootstrap mode; then the
/// vault restarts with `quorum` (a `[quorum]` section) adopted and `extra_config`.
pub fn cast_of(quorum: &str, extra_config: &str, more: impl FnOnce(&Vault)) -> Vault {
    let mut v = Vault::start_with(extra_config);
    v.ok("admin.tok", US, &["buckets", "create", "designs"]);
    v.person("alice", "us_citizen", &["US"]);
    v.person("bob", "foreign_person", &["CN"]);
    v.person("gwen", "foreign_person", &["GB"]);
    more(&v);
    v.govern(quorum);
    std::fs::write(
        v.p("blade.step"),
        b"ISO-10303-21; turbine blade cooling passages, rev C\n".repeat(3000),
    )
    .unwrap();
    v
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
