//! Client commands: talk to an itarvault server over HTTPS.

use std::io::{self, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::files::{open_input, progress_bar, Sink};
use crate::output::{print, print_json, safe};
use crate::OutputArgs;

/// Where the server is and how to reach it.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Server URL.
    #[arg(
        long,
        env = "ITARVAULT_SERVER",
        default_value = "https://127.0.0.1:8443",
        global = true
    )]
    server: String,
    /// File holding the API token. The token can also come from $ITARVAULT_TOKEN.
    #[arg(long, env = "ITARVAULT_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
    /// PEM certificate to trust for the server (a development server's generated
    /// `DATA_DIR/tls/cert.pem`); without it the system's roots are used.
    #[arg(long, env = "ITARVAULT_CACERT", global = true)]
    cacert: Option<PathBuf>,
    /// Local address to connect from (a host with several addresses, or tests).
    #[arg(long, global = true)]
    source_address: Option<IpAddr>,
    /// PEM client certificate (CAC/PIV or an internal CA) to authenticate with instead
    /// of a token; needs --client-key and --cacert.
    #[arg(
        long,
        env = "ITARVAULT_CLIENT_CERT",
        global = true,
        requires = "client_key"
    )]
    client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert (mode 0600).
    #[arg(
        long,
        env = "ITARVAULT_CLIENT_KEY",
        global = true,
        requires = "client_cert"
    )]
    client_key: Option<PathBuf>,
    /// Seconds to wait for the server: for an answer, and in a transfer for the next
    /// piece of it (a long transfer that keeps moving is never cut).
    #[arg(long, env = "ITARVAULT_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    timeout: u64,
}

impl ClientArgs {
    /// The same trust and credentials, for another server URL.
    pub fn with_server(mut self, server: String) -> Self {
        self.server = server;
        self
    }
}

/// A connected client: base URL, token, TLS trust.
pub struct Conn {
    http: Client,
    /// The same connection settings for streaming transfers (see [`put`] and [`get`]).
    stream: reqwest::Client,
    base: String,
    token: Option<Zeroizing<String>>,
    /// How long a download waits for its answer and for each next piece.
    wait: std::time::Duration,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn token(args: &ClientArgs) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(p) = &args.token_file {
        itarvault_keys::check_private(p)?;
        let t = Zeroizing::new(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading token file `{}`", p.display()))?,
        );
        return Ok(Some(Zeroizing::new(t.trim().to_owned())));
    }
    Ok(std::env::var("ITARVAULT_TOKEN").ok().map(Zeroizing::new))
}

impl Conn {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        let wait = std::time::Duration::from_secs(args.timeout);
        let connect = wait.min(std::time::Duration::from_secs(15));
        let mut b = Client::builder().timeout(wait).connect_timeout(connect);
        // No request-wide timeout on transfers: an upload's request lasts as long as the
        // file takes to send. `get` bounds each wait for the next piece instead.
        let mut ub = reqwest::Client::builder().connect_timeout(connect);
        if let Some(ca) = &args.cacert {
            let certs = itarvault_server::tls::load_certs(ca)?;
            let mut roots = rustls::RootCertStore::empty();
            for c in certs {
                roots
                    .add(c)
                    .with_context(|| format!("`{}` is not a usable certificate", ca.display()))?;
            }
            let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
                itarvault_server::tls::provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_root_certificates(roots);
            let cfg = match (&args.client_cert, &args.client_key) {
                (Some(cert), Some(key)) => cfg
                    .with_client_auth_cert(
                        itarvault_server::tls::load_certs(cert)?,
                        itarvault_server::tls::load_key(key)?,
                    )
                    .with_context(|| {
                        format!(
                            "client certificate `{}` does not match its key",
                            cert.display()
                        )
                    })?,
                _ => cfg.with_no_client_auth(),
            };
            ub = ub.tls_backend_preconfigured(cfg.clone());
            b = b.tls_backend_preconfigured(cfg);
        } else if args.client_cert.is_some() {
            bail!("--client-cert needs --cacert (the server's certificate or its CA)");
        }
        if let Some(a) = args.source_address {
            b = b.local_address(a);
            ub = ub.local_address(a);
        }
        Ok(Self {
            http: b.build().context("setting up the HTTPS client")?,
            stream: ub.build().context("setting up the HTTPS client")?,
            base: args.server.trim_end_matches('/').to_owned(),
            token: token(args)?,
            wait,
        })
    }

    /// A download that waited longer than `--timeout` for its next piece.
    fn stalled(&self) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot complete the exchange with {}\nhint: the server sent nothing for {} s: check the server's log and the network path, or allow longer with --timeout (ITARVAULT_TIMEOUT)",
            self.base,
            self.wait.as_secs()
        )
    }

    fn req(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(t) => r.bearer_auth(t.as_str()),
            None => r,
        }
    }

    fn send(&self, r: RequestBuilder) -> anyhow::Result<Response> {
        let resp = r.send().map_err(|e| network(&self.base, &e))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(ApiFailure::from_response(resp).into())
        }
    }

    /// A GET whose answer is not JSON (the audit trail), with the named header.
    pub fn text(&self, path: &str, header: &str) -> anyhow::Result<(String, Option<String>)> {
        let resp = self.send(self.req(reqwest::Method::GET, path))?;
        let h = resp
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((resp.text().context("reading the server's answer")?, h))
    }

    pub fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = self.send(r)?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        resp.json().context("the server's answer is not JSON")
    }
}

/// A failed exchange with the server, as text only (see [`crate::neterr::describe`]).
fn network(base: &str, e: &reqwest::Error) -> anyhow::Error {
    anyhow::anyhow!(crate::neterr::describe(base, e))
}

/// An error answer from the server, with what it said.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiFailure {
    fn from_response(resp: Response) -> Self {
        let status = resp.status();
        let code = resp
            .headers()
            .get(itarvault_server::error::ERROR_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut failure = Self::from_text(status, &resp.text().unwrap_or_default());
        // A HEAD answer has no body, only the code.
        if let (Some(code), None) = (code, failure.body["error"].as_str()) {
            failure.body = json!({
                "error": code,
                "message": "(an answer to HEAD carries no details; `itarvault get` on the same object shows the reasons)",
            });
        }
        failure
    }

    fn from_text(status: StatusCode, text: &str) -> Self {
        let body = serde_json::from_str(text).unwrap_or_else(|_| json!({ "message": text }));
        Self { status, body }
    }

    /// A refusal on export-control grounds (exit 1): a decision's deny, or an upload
    /// whose content contradicts its label or is classified.
    pub fn is_export_denial(&self) -> bool {
        matches!(
            self.body["error"].as_str(),
            Some("export-denied" | "content-mislabelled" | "content-classified")
        )
    }
}

/// The server's words, shown escaped (`crate::output::safe`): an error message is
/// its text too, and may quote what someone else stored.
impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |v: &Value, default: &'static str| safe(v.as_str().unwrap_or(default)).into_owned();
        let msg = s(&self.body["message"], "(no message)");
        match self.body["error"].as_str() {
            Some(code) => write!(f, "server answered {} ({}): {msg}", self.status, safe(code))?,
            None => write!(f, "server answered {}: {msg}", self.status)?,
        }
        for r in self.body["decision"]["reasons"]
            .as_array()
            .into_iter()
            .flatten()
        {
            write!(
                f,
                "\n  {} ({}): {}",
                s(&r["rule"], "?"),
                s(&r["cite"], "?"),
                s(&r["message"], "")
            )?;
        }
        for p in self.body["problems"].as_array().into_iter().flatten() {
            write!(f, "\n  {}: {}", s(&p["path"], "$"), s(&p["message"], ""))?;
        }
        match (
            self.body["hint"].as_str(),
            crate::neterr::status_hint(self.status),
        ) {
            (Some(h), _) => write!(f, "\n{}", safe(h))?,
            (None, Some(h)) => write!(f, "\nhint: {h}")?,
            (None, None) => {}
        }
        Ok(())
    }
}

impl std::error::Error for ApiFailure {}

/// Exit status for a client error: 1 for an export denial (a definite "no"), else 2.
pub fn exit_code(e: &anyhow::Error) -> Option<ExitCode> {
    e.downcast_ref::<ApiFailure>()
        .filter(|f| f.is_export_denial())
        .map(|_| ExitCode::from(1))
}

/// `BUCKET/KEY` → (bucket, key); the key may contain `/`. The key is checked here as
/// the server would, because a URL library would silently resolve a `..` segment and
/// name another object.
fn split_target(t: &str) -> anyhow::Result<(&str, &str)> {
    match t.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => {
            itarvault_server::vault::gate::check_key(k, usize::MAX)
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            Ok((b, k))
        }
        _ => {
            bail!("`{t}` is not BUCKET/KEY\nname the object as bucket/key, e.g. designs/blade.step")
        }
    }
}

fn object_path(bucket: &str, key: &str) -> String {
    let key: Vec<_> = key
        .split('/')
        .map(|s| urlencoding::encode(s).into_owned())
        .collect();
    format!(
        "/v1/buckets/{}/objects/{}",
        urlencoding::encode(bucket),
        key.join("/")
    )
}

/// [`object_path`] naming one version, or the current one.
fn version_path(bucket: &str, key: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!(
            "{}?version={}",
            object_path(bucket, key),
            urlencoding::encode(v)
        ),
        None => object_path(bucket, key),
    }
}

/// `put`: stream a file (or stdin) to the server with its label.
pub fn put(
    c: &ClientArgs,
    out: OutputArgs,
    target: &str,
    file: &Path,
    label: &str,
) -> anyhow::Result<()> {
    let (bucket, key) = split_target(target)?;
    let conn = Conn::new(c)?;
    let (mut input, len) = open_input(file)?;
    let pb = progress_bar(out, len);
    // A reader thread feeds the request 1 MiB at a time: reqwest's blocking body sends
    // 8 KiB frames, which costs two thirds of the upload rate.
    const PIECE: usize = 1 << 20;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(4);
    let progress = pb.clone();
    std::thread::spawn(move || loop {
        let mut buf = vec![0u8; PIECE];
        let piece = itarvault_format::stream::read_full(&mut input, &mut buf).map(|n| {
            buf.truncate(n);
            bytes::Bytes::from(buf)
        });
        let last = piece.as_ref().map_or(true, |b| b.len() < PIECE);
        if let Ok(b) = &piece {
            progress.inc(b.len() as u64);
        }
        if tx.blocking_send(piece).is_err() || last {
            break;
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut r = conn
        .stream
        .put(format!("{}{}", conn.base, object_path(bucket, key)))
        .header(itarvault_server::api::LABEL_HEADER, label)
        .body(reqwest::Body::wrap_stream(stream));
    if let Some(n) = len {
        r = r.header(reqwest::header::CONTENT_LENGTH, n);
    }
    if let Some(t) = &conn.token {
        r = r.bearer_auth(t.as_str());
    }
    let (status, text) = runtime()?.block_on(async {
        let resp = r.send().await.map_err(|e| network(&conn.base, &e))?;
        let status = resp.status();
        Ok::<_, anyhow::Error>((status, resp.text().await.unwrap_or_default()))
    })?;
    if !status.is_success() {
        return Err(ApiFailure::from_text(status, &text).into());
    }
    let v: Value = serde_json::from_str(&text).context("the server's answer is not JSON")?;
    pb.finish_and_clear();
    print(out, &v, |v| {
        format!(
            "stored {target} ({} bytes, label {}, version {})",
            v["size"].as_u64().unwrap_or(0),
            safe(v["label"].as_str().unwrap_or("?")),
            safe(v["version"].as_str().unwrap_or("?"))
        )
    });
    Ok(())
}

/// A runtime on this thread for one streaming transfer: the body is read and written
/// where it arrives. (The blocking client hands every piece across threads, which cost
/// a third of the client's time on a download.)
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `get`: stream an object to a file (published only when complete) or stdout.
pub fn get(
    c: &ClientArgs,
    out: OutputArgs,
    target: &str,
    version: Option<&str>,
    dest: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let (bucket, key) = split_target(target)?;
    let conn = Conn::new(c)?;
    let mut r = conn.stream.get(format!(
        "{}{}",
        conn.base,
        version_path(bucket, key, version)
    ));
    if let Some(t) = &conn.token {
        r = r.bearer_auth(t.as_str());
    }
    let n = runtime()?.block_on(async {
        let mut resp = tokio::time::timeout(conn.wait, r.send())
            .await
            .map_err(|_| conn.stalled())?
            .map_err(|e| network(&conn.base, &e))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(ApiFailure::from_text(status, &text).into());
        }
        let len = resp.content_length();
        let mut sink = Sink::create(dest, force)?;
        let pb = progress_bar(out, len);
        let mut n = 0u64;
        // Writing blocks this thread, which has nothing else to do meanwhile.
        while let Some(piece) = tokio::time::timeout(conn.wait, resp.chunk())
            .await
            .map_err(|_| conn.stalled())?
            .map_err(|e| {
                network(&conn.base, &e).context(format!(
                    "downloading {target}: the transfer was cut short or the object failed verification"
                ))
            })?
        {
            sink.writer().write_all(&piece)?;
            n += piece.len() as u64;
            pb.inc(piece.len() as u64);
        }
        if len.is_some_and(|l| l != n) {
            bail!(
                "downloading {target}: received {n} of {} bytes\nnothing was written; retry",
                len.unwrap_or(0)
            );
        }
        sink.commit()?;
        pb.finish_and_clear();
        Ok::<_, anyhow::Error>(n)
    })?;
    if dest.as_os_str() != "-" {
        print(
            out,
            &json!({"object": target, "bytes": n, "file": dest}),
            |_| format!("read {target} ({n} bytes) into {}", dest.display()),
        );
    }
    Ok(())
}

/// `stat`: an object's label and size without its content.
pub fn stat(
    c: &ClientArgs,
    out: OutputArgs,
    target: &str,
    version: Option<&str>,
) -> anyhow::Result<()> {
    let (bucket, key) = split_target(target)?;
    let conn = Conn::new(c)?;
    let resp = conn.send(conn.req(reqwest::Method::HEAD, &version_path(bucket, key, version)))?;
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let v = json!({
        "object": target,
        "label": h(itarvault_server::api::LABEL_HEADER),
        "size": h("content-length").parse::<u64>().ok(),
        "version": h(itarvault_server::api::VERSION_HEADER),
    });
    print(out, &v, |v| {
        format!(
            "{target}\n  label:   {}\n  size:    {}\n  version: {}",
            safe(v["label"].as_str().unwrap_or("?")),
            v["size"],
            safe(v["version"].as_str().unwrap_or("?"))
        )
    });
    Ok(())
}

pub fn rm(
    c: &ClientArgs,
    out: OutputArgs,
    target: &str,
    version: Option<&str>,
) -> anyhow::Result<()> {
    let (bucket, key) = split_target(target)?;
    let conn = Conn::new(c)?;
    let resp = conn.send(conn.req(reqwest::Method::DELETE, &version_path(bucket, key, version)))?;
    let gone = resp
        .headers()
        .get(itarvault_server::api::VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    print(
        out,
        &json!({"deleted": target, "version": gone}),
        |_| match version {
            Some(v) => format!("deleted version {v} of {target} for good"),
            None => format!("deleted {target} (delete marker {gone}; older versions are kept)"),
        },
    );
    Ok(())
}

/// `ls BUCKET[/PREFIX]`: every page, in key order (with `versions`, every version).
pub fn ls(c: &ClientArgs, out: OutputArgs, target: &str, versions: bool) -> anyhow::Result<()> {
    let (bucket, prefix) = target.split_once('/').unwrap_or((target, ""));
    let conn = Conn::new(c)?;
    let field = if versions { "versions" } else { "objects" };
    let mut after: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let mut q = format!(
            "/v1/buckets/{}/objects?prefix={}",
            urlencoding::encode(bucket),
            urlencoding::encode(prefix)
        );
        if versions {
            q.push_str("&versions=true");
        }
        if let Some(a) = &after {
            q.push_str(&format!("&after={}", urlencoding::encode(a)));
        }
        let page = conn.json(reqwest::Method::GET, &q, None)?;
        all.extend(page[field].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    if out.json {
        println!("{}", crate::output::json_text(&Value::Array(all), false));
        return Ok(());
    }
    for o in &all {
        // Keys, labels and versions are the server's text: shown escaped, so a key
        // holding bidi or control characters cannot pass for another name.
        let s = |k: &str| safe(o[k].as_str().unwrap_or("?")).into_owned();
        if o["kind"] == "delete_marker" {
            println!(
                "{:>12}  {:<24}  {}  {}",
                "-",
                "(deleted)",
                s("version"),
                s("key")
            );
        } else if versions {
            println!(
                "{:>12}  {:<24}  {}  {}",
                o["size"].as_u64().unwrap_or(0),
                s("label"),
                s("version"),
                s("key")
            );
        } else {
            println!(
                "{:>12}  {:<24}  {}",
                o["size"].as_u64().unwrap_or(0),
                s("label"),
                s("key")
            );
        }
    }
    Ok(())
}

pub fn whoami(c: &ClientArgs, out: OutputArgs) -> anyhow::Result<()> {
    let v = Conn::new(c)?.json(reqwest::Method::GET, "/v1/whoami", None)?;
    print_json(out, &v);
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum PrincipalsCommand {
    /// Register a person or service with the facts export decisions need.
    Add {
        id: String,
        /// us_citizen, us_national, permanent_resident, protected_individual,
        /// foreign_person or unknown (22 CFR 120.62-120.63).
        #[arg(long)]
        status: String,
        /// A citizenship (ISO 3166-1 alpha-2); repeat for every one the person holds.
        #[arg(long = "citizenship")]
        citizenships: Vec<String>,
        /// A citizenship the person once held and no longer holds; repeatable. The
        /// ITAR attributes it like a current one (22 CFR 120.50(b)).
        #[arg(long = "former-citizenship")]
        former_citizenships: Vec<String>,
        /// A foreign person's country of permanent residence.
        #[arg(long)]
        permanent_residence: Option<String>,
        /// `admin`, `auditor` or `operator`; repeatable. Registering an admin goes to
        /// the quorum.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        bind: BindArgs,
        /// Why, for the quorum when one must approve.
        #[arg(long)]
        justification: Option<String>,
    },
    /// Set the OIDC identity and client certificate that authenticate as a principal
    /// (replacing the ones it has). Adding one goes to the quorum once a quorum
    /// governs; removing one (leave its flags out) does not.
    Bind {
        id: String,
        #[command(flatten)]
        bind: BindArgs,
        /// Why, for the quorum.
        #[arg(long)]
        justification: Option<String>,
    },
    /// Issue a one-time enrollment token with which a principal mints their own first
    /// access token. Once a quorum governs this is a proposal, and the approver whose
    /// approval completes it receives the enrollment token to hand over in person.
    Enroll {
        id: String,
        /// Why, for the quorum.
        #[arg(long)]
        justification: Option<String>,
    },
    Show {
        id: String,
    },
    List,
    /// Refuse all of a principal's tokens until enabled again.
    Disable {
        id: String,
    },
    Enable {
        id: String,
    },
}

/// The outside credentials bound to a principal (docs/threat-model.md, credential
/// paths).
#[derive(clap::Args, Debug, Default)]
pub struct BindArgs {
    /// The OIDC issuer URL (`iss`) whose tokens may authenticate as the principal;
    /// needs --oidc-subject.
    #[arg(long, requires = "oidc_subject")]
    oidc_issuer: Option<String>,
    /// The subject (`sub`) the issuer gives this person.
    #[arg(long, requires = "oidc_issuer")]
    oidc_subject: Option<String>,
    /// The client certificate's SHA-256 fingerprint (of its DER encoding, 64 hex
    /// digits): exactly that certificate.
    #[arg(long, conflicts_with_all = ["cert_san", "cert_file"])]
    cert_sha256: Option<String>,
    /// The client certificate itself (PEM): binds its SHA-256 fingerprint.
    #[arg(long, conflicts_with = "cert_san")]
    cert_file: Option<PathBuf>,
    /// The e-mail address in the client certificate's subject alternative name: any
    /// certificate the configured client CA issues with it (renewals included).
    #[arg(long)]
    cert_san: Option<String>,
}

impl BindArgs {
    fn to_json(&self) -> anyhow::Result<Value> {
        let mut b = json!({});
        if let (Some(issuer), Some(subject)) = (&self.oidc_issuer, &self.oidc_subject) {
            b["oidc"] = json!({"issuer": issuer, "subject": subject});
        }
        let sha256 = match (&self.cert_sha256, &self.cert_file) {
            (Some(h), _) => Some(h.clone()),
            (None, Some(f)) => {
                let certs = itarvault_server::tls::load_certs(f)?;
                let first = certs
                    .first()
                    .with_context(|| format!("`{}` holds no certificate", f.display()))?;
                Some(itarvault_server::tls::fingerprint(first))
            }
            (None, None) => None,
        };
        if let Some(h) = sha256 {
            b["certificate"] = json!({"sha256": h.to_ascii_lowercase().replace(':', "")});
        } else if let Some(e) = &self.cert_san {
            b["certificate"] = json!({"san": e});
        }
        Ok(b)
    }
}

pub fn principals(c: &ClientArgs, out: OutputArgs, cmd: PrincipalsCommand) -> anyhow::Result<()> {
    let conn = Conn::new(c)?;
    use reqwest::Method as M;
    let v = match cmd {
        PrincipalsCommand::Add {
            id,
            status,
            citizenships,
            former_citizenships,
            permanent_residence,
            roles,
            bind,
            justification,
        } => {
            let mut b = json!({
                "id": id, "person_status": status, "citizenships": citizenships,
                "former_citizenships": former_citizenships, "roles": roles,
            });
            if let Some(r) = permanent_residence {
                b["permanent_residence"] = json!(r);
            }
            if let (Value::Object(m), Some(o)) = (bind.to_json()?, b.as_object_mut()) {
                o.extend(m);
            }
            let v = conn.json(
                M::POST,
                &justified("/v1/principals", justification.as_deref()),
                Some(b),
            )?;
            return crate::output::print_item(out, &v);
        }
        PrincipalsCommand::Bind {
            id,
            bind,
            justification,
        } => {
            let path = format!("/v1/principals/{}/bindings", urlencoding::encode(&id));
            let v = conn.json(
                M::PUT,
                &justified(&path, justification.as_deref()),
                Some(bind.to_json()?),
            )?;
            return crate::output::print_item(out, &v);
        }
        PrincipalsCommand::Enroll { id, justification } => {
            let path = format!("/v1/principals/{}/enrollment", urlencoding::encode(&id));
            let v = conn.json(M::POST, &justified(&path, justification.as_deref()), None)?;
            return crate::output::print_item(out, &v);
        }
        PrincipalsCommand::Show { id } => conn.json(
            M::GET,
            &format!("/v1/principals/{}", urlencoding::encode(&id)),
            None,
        )?,
        PrincipalsCommand::List => conn.json(M::GET, "/v1/principals", None)?,
        PrincipalsCommand::Disable { id } => conn.json(
            M::POST,
            &format!("/v1/principals/{}/disable", urlencoding::encode(&id)),
            None,
        )?,
        PrincipalsCommand::Enable { id } => conn.json(
            M::POST,
            &format!("/v1/principals/{}/enable", urlencoding::encode(&id)),
            None,
        )?,
    };
    print_json(out, &v);
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum AuthorizationsCommand {
    /// Propose a license, agreement or exemption for a principal; it takes effect
    /// when the quorum approves (`itarvault quorum approve`).
    Add {
        principal: String,
        /// The authorization as JSON (docs/rules.md), from a file or `-`.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Why, for the approvers.
        #[arg(long)]
        justification: Option<String>,
    },
    /// Revoke an authorization (kept in the record, no longer used).
    Revoke {
        principal: String,
        id: String,
    },
    List {
        principal: String,
    },
}

pub fn authorizations(
    c: &ClientArgs,
    out: OutputArgs,
    cmd: AuthorizationsCommand,
) -> anyhow::Result<()> {
    let conn = Conn::new(c)?;
    use reqwest::Method as M;
    let base = |p: &str| format!("/v1/principals/{}/authorizations", urlencoding::encode(p));
    let v = match cmd {
        AuthorizationsCommand::Add {
            principal,
            file,
            justification,
        } => {
            let (mut r, _) = open_input(&file)?;
            let mut text = String::new();
            r.read_to_string(&mut text)?;
            let body: Value = serde_json::from_str(&text)
                .with_context(|| format!("`{}` is not JSON", file.display()))?;
            let v = conn.json(
                M::POST,
                &justified(&base(&principal), justification.as_deref()),
                Some(body),
            )?;
            return crate::output::print_item(out, &v);
        }
        AuthorizationsCommand::Revoke { principal, id } => conn.json(
            M::DELETE,
            &format!("{}/{}", base(&principal), urlencoding::encode(&id)),
            None,
        )?,
        AuthorizationsCommand::List { principal } => conn.json(M::GET, &base(&principal), None)?,
    };
    print_json(out, &v);
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Issue an API token (printed once).
    Create {
        principal: String,
        /// Lifetime in days.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    List {
        principal: String,
    },
    Revoke {
        id: String,
    },
}

pub fn tokens(c: &ClientArgs, out: OutputArgs, cmd: TokensCommand) -> anyhow::Result<()> {
    let conn = Conn::new(c)?;
    use reqwest::Method as M;
    let v = match cmd {
        TokensCommand::Create { principal, days } => conn.json(
            M::POST,
            &format!("/v1/principals/{}/tokens", urlencoding::encode(&principal)),
            Some(json!({"days": days})),
        )?,
        TokensCommand::List { principal } => conn.json(
            M::GET,
            &format!("/v1/principals/{}/tokens", urlencoding::encode(&principal)),
            None,
        )?,
        TokensCommand::Revoke { id } => conn.json(
            M::DELETE,
            &format!("/v1/tokens/{}", urlencoding::encode(&id)),
            None,
        )?,
    };
    print_json(out, &v);
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum BucketsCommand {
    /// Create a bucket with its own key, on a configured backend.
    Create {
        name: String,
        #[arg(long)]
        backend: Option<String>,
        /// A principal who approves access requests to the bucket; repeatable.
        #[arg(long = "owner")]
        owners: Vec<String>,
        /// Old versions of each object to keep (default 10); older ones are removed
        /// when a new version is written.
        #[arg(long)]
        keep_versions: Option<u32>,
    },
    List,
}

/// `path` with a `justification` query parameter when one is given.
fn justified(path: &str, j: Option<&str>) -> String {
    match j {
        Some(j) => format!("{path}?justification={}", urlencoding::encode(j)),
        None => path.to_owned(),
    }
}

pub fn buckets(c: &ClientArgs, out: OutputArgs, cmd: BucketsCommand) -> anyhow::Result<()> {
    let conn = Conn::new(c)?;
    let v = match cmd {
        BucketsCommand::Create {
            name,
            backend,
            owners,
            keep_versions,
        } => {
            let mut b = json!({"name": name, "owners": owners});
            if let Some(be) = backend {
                b["backend"] = json!(be);
            }
            if let Some(n) = keep_versions {
                b["versions_kept"] = json!(n);
            }
            conn.json(reqwest::Method::POST, "/v1/buckets", Some(b))?
        }
        BucketsCommand::List => conn.json(reqwest::Method::GET, "/v1/buckets", None)?,
    };
    print_json(out, &v);
    Ok(())
}
