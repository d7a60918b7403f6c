//! `itarvault server` and the offline `itarvault audit` commands.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use itarvault_audit::{parse_line, verify_witnessed, Record};
use itarvault_server::audit_log::{AuditPaths, StartMode};
use itarvault_server::config::Config;
use itarvault_server::Server;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::output::{json_text, safe};
use crate::OutputArgs;

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// TOML config file (every key: docs/config.md).
    #[arg(long, env = "ITARVAULT_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides the config's `data_dir`).
    #[arg(long, env = "ITARVAULT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on (overrides the config's `listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Serve plain HTTP. Refused unless listening on a loopback address.
    #[arg(long)]
    insecure_http: bool,
    /// On first start, write the admin token to this new file (mode 0600; default
    /// `DATA_DIR/admin.token`). The token is never printed or logged.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// The audit head (`audit/head.json`) was lost: start on a log without one (it must
    /// verify otherwise, against the witness too) and record this recovery, with this
    /// reason, in the trail.
    #[arg(long, value_name = "REASON", conflicts_with = "restore_epoch")]
    recover_head: Option<String>,
    /// The data directory was restored from a backup, so the audit log is behind its
    /// witness: begin a restore epoch (a signed record naming the backup's end and the
    /// witness's newest head, with this reason) and serve only quorum and audit routes
    /// until a quorum approves it (`itarvault quorum propose audit-restore SEQ`).
    #[arg(long, value_name = "REASON")]
    restore_epoch: Option<String>,
}

/// Where the first start writes the admin token when no --admin-token-file is given.
const DEFAULT_ADMIN_TOKEN_FILE: &str = "admin.token";

/// SIGTERM and SIGINT, caught from before the server opens: a stop that arrives while
/// it starts still ends the trail with its final checkpoint instead of killing it.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Must run inside the runtime.
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate()).context("catching SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("catching SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for either and says which.
    async fn wait(mut self) -> String {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT".into(),
                _ = self.term.recv() => "SIGTERM".into(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C".into()
        }
    }
}

pub fn server(a: ServerArgs) -> anyhow::Result<()> {
    let mut cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(d) = a.data_dir {
        cfg.data_dir = d;
    }
    if let Some(l) = a.listen {
        cfg.listen = l;
    }
    cfg.tls.insecure_http |= a.insecure_http;
    let filter = tracing_subscriber::EnvFilter::try_from_env("ITARVAULT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(io::stderr)
        .with_env_filter(filter)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let start = match (a.recover_head, a.restore_epoch) {
        (Some(why), _) => StartMode::RecoverHead(why),
        (None, Some(why)) => StartMode::RestoreEpoch(why),
        (None, None) => StartMode::Normal,
    };
    rt.block_on(async {
        let stop = StopSignals::install()?;
        let server = Server::open_with(cfg.clone(), start).await?;
        let s = &server.started;
        // Everything a first start leaves behind exists before the server says it is
        // listening (scripts wait for that line).
        // The first admin token goes to a file only: stderr is the server's log stream
        // (collected, shipped, kept), and no secret is ever written to it.
        let token_file = match &s.admin_token {
            Some(t) => {
                let file = a
                    .admin_token_file
                    .clone()
                    .unwrap_or_else(|| cfg.data_dir.join(DEFAULT_ADMIN_TOKEN_FILE));
                if let Err(err) = itarvault_server::fsutil::write_private(&file, t.as_bytes()) {
                    bail!(
                        "first start: the admin token could not be written to `{}`: {err}\nnothing depends on it yet: remove the data directory `{}` and start again with a writable --admin-token-file (a new file; an existing one is never overwritten)",
                        file.display(),
                        cfg.data_dir.display()
                    );
                }
                Some(file)
            }
            None => None,
        };
        let scheme = if s.https { "https" } else { "http" };
        let mut e = io::stderr().lock();
        writeln!(e, "itarvault server listening on {scheme}://{}", s.addr)?;
        writeln!(e, "data directory: {}", cfg.data_dir.display())?;
        writeln!(e, "FIPS mode: {}", itarvault_server::crypto_module::current().summary())?;
        if let (Some(fp), Some(cert)) = (&s.fingerprint, &s.cert_file) {
            if s.generated_cert {
                writeln!(e, "generated a self-signed development certificate: {}", cert.display())?;
            }
            writeln!(e, "TLS certificate SHA-256 fingerprint: {fp}")?;
        }
        if let Some(file) = &token_file {
            writeln!(e, "\nfirst start: created principal `admin`; its API token was written to {} (mode 0600) and is shown nowhere else", file.display())?;
            if a.admin_token_file.is_none() {
                writeln!(e, "move that file to where only you can read it: it administers this vault")?;
            }
            writeln!(e, "use it with:\n    export ITARVAULT_SERVER={scheme}://{}", s.addr)?;
            if let Some(cert) = &s.cert_file {
                writeln!(e, "    export ITARVAULT_CACERT={}", cert.display())?;
            }
            writeln!(e, "    export ITARVAULT_TOKEN_FILE={}\n    itarvault whoami\n", file.display())?;
        }
        drop(e);
        let last = server
            .serve(stop.wait())
            .await
            .context("stopping the audit trail cleanly")?;
        eprintln!("itarvault server stopped; the audit trail ends with a signed checkpoint at seq {last}");
        Ok(())
    })
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole trail: hash chain, checkpoint signatures, signed head, and with
    /// `--witness` every head the witness kept. Exit 1 if anything was edited,
    /// deleted, inserted, reordered, truncated or rolled back, if the head is missing,
    /// or if a restore from backup awaits its quorum.
    Verify {
        /// The witness: its directory, or the URL of a witness service.
        #[arg(long, value_name = "DIR|URL")]
        witness: Option<String>,
        /// PEM certificates to trust for a witness service's URL.
        #[arg(long, value_name = "FILE", requires = "witness")]
        witness_ca: Option<PathBuf>,
    },
    /// Write every record for a SIEM.
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
    },
    /// Records matching every filter given.
    Query(QueryArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// The records as stored, one JSON object per line.
    Jsonl,
    /// OCSF 1.1 API Activity events (class 6003), one per line.
    Ocsf,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    #[arg(long)]
    principal: Option<String>,
    /// `BUCKET/KEY`, or `BUCKET/` for a whole bucket.
    #[arg(long)]
    object: Option<String>,
    /// allow, deny, ok or error.
    #[arg(long)]
    outcome: Option<String>,
    /// Record kind, e.g. `decision`, `object.get`, `auth.failure`.
    #[arg(long)]
    kind: Option<String>,
    /// Records acting on or under this access request or quorum proposal.
    #[arg(long)]
    grant: Option<String>,
    /// RFC 3339 time: records at or after it.
    #[arg(long)]
    since: Option<String>,
    /// RFC 3339 time: records before it.
    #[arg(long)]
    until: Option<String>,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The server's data directory.
    #[arg(
        long,
        env = "ITARVAULT_DATA_DIR",
        default_value = "itarvault-data",
        global = true
    )]
    data_dir: PathBuf,
}

fn paths(a: &AuditArgs) -> AuditPaths {
    AuditPaths::new(&a.data_dir.join("audit"))
}

/// Runs an audit command; `Ok(false)` means verification failed.
pub fn audit(a: &AuditArgs, out: OutputArgs, cmd: AuditCommand) -> anyhow::Result<bool> {
    let p = paths(a);
    match cmd {
        AuditCommand::Verify {
            witness,
            witness_ca,
        } => {
            let key = p.verifying_key()?;
            let head = match p.read_head() {
                Ok(h) => h,
                // Unreadable counts as missing: verification says so below.
                Err(e) => {
                    eprintln!("warning: {e}");
                    None
                }
            };
            let witnessed = match &witness {
                Some(w) => {
                    itarvault_server::witness::from_arg(w, witness_ca.as_deref(), vec![key.clone()])
                        .heads(key.key_id())
                        .with_context(|| format!("reading the witness `{w}`"))?
                }
                None => Vec::new(),
            };
            let log =
                File::open(p.log()).with_context(|| format!("opening `{}`", p.log().display()))?;
            let rep = verify_witnessed(BufReader::new(log), &[key], head.as_ref(), &witnessed);
            if out.json {
                println!("{}", json_text(&rep, false));
            } else {
                for pr in &rep.problems {
                    match pr.line {
                        0 => println!("problem: {}", safe(&pr.message)),
                        n => println!("problem at line {n}: {}", safe(&pr.message)),
                    }
                }
                for n in &rep.notes {
                    println!("note: {}", safe(n));
                }
                for r in &rep.restores {
                    println!(
                        "restore epoch at seq {}: continues from a backup ending at seq {}; records {}..{} the witness saw are not in the log ({}){}",
                        r.seq,
                        r.restored.seq,
                        r.restored.seq + 1,
                        r.witnessed.seq,
                        match (&r.grant, r.approved_seq) {
                            (Some(g), Some(at)) => format!("approved by quorum proposal {g}, seq {at}"),
                            _ => "NOT APPROVED".into(),
                        },
                        if witness.is_some() {
                            format!("; {} witnessed heads lie in that range", r.abandoned_witnessed)
                        } else {
                            String::new()
                        }
                    );
                }
                let state = if rep.is_intact() {
                    "intact"
                } else {
                    "NOT INTACT"
                };
                println!(
                    "audit trail {state}: {} records (seq 1..{}), {} signed checkpoints (last at seq {}), head {}, witness {}",
                    rep.records,
                    rep.last_seq,
                    rep.checkpoints,
                    rep.last_signed_seq,
                    if rep.head_checked { "checked" } else { "missing" },
                    match (&witness, rep.witness_last_seq) {
                        (None, _) => "not checked (use --witness to rule out a rollback)".to_owned(),
                        (Some(_), None) => "holds no head of this log".to_owned(),
                        (Some(_), Some(s)) =>
                            format!("checked ({} heads, newest seq {s})", rep.witness_checked),
                    }
                );
            }
            Ok(rep.is_intact())
        }
        AuditCommand::Export { format } => {
            each_record(&p.log(), |line, rec| {
                let mut o = io::stdout().lock();
                match format {
                    ExportFormat::Jsonl => o.write_all(line).and_then(|()| o.write_all(b"\n")),
                    ExportFormat::Ocsf => writeln!(o, "{}", json_text(&ocsf(rec), false)),
                }
                .map_err(Into::into)
            })?;
            Ok(true)
        }
        AuditCommand::Query(q) => {
            let since = q.since.as_deref().map(parse_time).transpose()?;
            let until = q.until.as_deref().map(parse_time).transpose()?;
            let mut found = Vec::new();
            each_record(&p.log(), |_, rec| {
                let ev = &rec.event;
                let t = OffsetDateTime::parse(&rec.time, &Rfc3339).ok();
                let object_ok = q.object.as_deref().is_none_or(|o| {
                    let (b, k) = o.split_once('/').unwrap_or((o, ""));
                    ev.bucket.as_deref() == Some(b)
                        && (k.is_empty() || ev.object.as_deref() == Some(k))
                });
                let keep = q
                    .principal
                    .as_deref()
                    .is_none_or(|p| ev.principal.as_deref() == Some(p))
                    && object_ok
                    && q.outcome.as_deref().is_none_or(|d| ev.outcome == d)
                    && q.kind.as_deref().is_none_or(|k| ev.kind == k)
                    && q.grant
                        .as_deref()
                        .is_none_or(|g| ev.grant.as_deref() == Some(g))
                    && since.is_none_or(|s| t.is_some_and(|t| t >= s))
                    && until.is_none_or(|u| t.is_some_and(|t| t < u));
                if keep {
                    found.push(rec.clone());
                }
                Ok(())
            })?;
            if out.json {
                println!("{}", json_text(&found, false));
            } else {
                // Every field is someone's input (a key, a principal, an address
                // header's text): shown escaped.
                for r in &found {
                    let e = &r.event;
                    let opt = |v: &Option<String>| v.as_deref().map(|t| safe(t).into_owned());
                    println!(
                        "{:>6} {} {:<14} {:<5} {:<10} {:<15} {}{}",
                        r.seq,
                        safe(&r.time),
                        safe(&e.kind),
                        safe(&e.outcome),
                        opt(&e.principal).unwrap_or("-".into()),
                        opt(&e.addr)
                            .map(|a| format!("{a}/{}", opt(&e.country).unwrap_or("??".into())))
                            .unwrap_or_else(|| "-".into()),
                        match (opt(&e.bucket), opt(&e.object)) {
                            (Some(b), Some(o)) => format!("{b}/{o} "),
                            (Some(b), None) => format!("{b}/ "),
                            _ => String::new(),
                        },
                        e.reasons
                            .iter()
                            .map(|r| safe(&r.rule))
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                }
                eprintln!("{} records", found.len());
            }
            Ok(true)
        }
    }
}

fn parse_time(s: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .with_context(|| format!("`{s}` is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)"))
}

fn each_record(
    log: &Path,
    mut f: impl FnMut(&[u8], &Record) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let r =
        BufReader::new(File::open(log).with_context(|| format!("opening `{}`", log.display()))?);
    for (i, line) in r.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading `{}`", log.display()))?;
        match parse_line(&line) {
            Ok(rec) => f(&line, &rec)?,
            Err(e) => bail!(
                "line {} of `{}` is not a valid record ({e})\nrun `itarvault audit verify`",
                i + 1,
                log.display()
            ),
        }
    }
    Ok(())
}

/// One record as an OCSF 1.1 API Activity event; what OCSF has no field for goes to
/// `unmapped`, so nothing is lost.
fn ocsf(r: &Record) -> Value {
    let e = &r.event;
    let activity = match e.kind.as_str() {
        "object.put" => (1, "Create"),
        "object.get" | "object.head" | "object.list" => (2, "Read"),
        "object.delete" => (4, "Delete"),
        _ => (99, "Other"),
    };
    let success = matches!(e.outcome.as_str(), "ok" | "allow");
    let ms = OffsetDateTime::parse(&r.time, &Rfc3339)
        .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
    json!({
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "activity_id": activity.0,
        "activity_name": activity.1,
        "type_uid": 600300 + activity.0,
        "time": ms,
        "severity_id": if success { 1 } else { 3 },
        "status_id": if success { 1 } else { 2 },
        "status": if success { "Success" } else { "Failure" },
        "actor": { "user": { "uid": e.principal } },
        "src_endpoint": { "ip": e.addr, "location": { "country": e.country } },
        "api": { "operation": e.kind, "request": { "uid": e.request_id } },
        "resources": e.bucket.as_ref().map(|b| json!([{ "type": "object", "name": format!("{b}/{}", e.object.as_deref().unwrap_or("")), "labels": e.label.iter().collect::<Vec<_>>() }])),
        "metadata": { "version": "1.1.0", "uid": r.seq.to_string(), "product": { "name": "itarvault", "vendor_name": "itarvault" } },
        "unmapped": { "outcome": e.outcome, "action": e.action, "reasons": e.reasons, "authorization": e.authorization, "key": e.key, "detail": e.detail, "prev": r.prev },
    })
}

#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Run a witness service: keep the signed audit heads vaults send, each once, never
    /// replaced and never older than the newest. Run it on a host the vault's
    /// administrators do not control.
    Serve(WitnessServeArgs),
}

#[derive(Args, Debug)]
pub struct WitnessServeArgs {
    /// Where to keep the heads (one file per head, `<key id>/<shard>/<seq>.json`).
    #[arg(long)]
    dir: PathBuf,
    /// A vault's audit verifying key (its `audit/signing-key.pub`); repeat for several
    /// vaults. Heads signed by any other key are refused.
    #[arg(long = "trust", value_name = "PUBKEY_FILE", required = true)]
    trust: Vec<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8444")]
    listen: SocketAddr,
    /// PEM certificate chain; without it a self-signed development certificate is made
    /// in `DIR/tls/`.
    #[arg(long, requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// PEM private key for `--cert-file` (mode 0600).
    #[arg(long, requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// Serve plain HTTP. Refused unless listening on a loopback address.
    #[arg(long)]
    insecure_http: bool,
}

pub fn witness(cmd: WitnessCommand) -> anyhow::Result<()> {
    let WitnessCommand::Serve(a) = cmd;
    if a.insecure_http && !a.listen.ip().is_loopback() {
        bail!(
            "`--insecure-http` is only allowed on a loopback address, not `{}`\nserve HTTPS (--cert-file, --key-file)",
            a.listen
        );
    }
    let mut keys = Vec::new();
    for f in &a.trust {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading the verifying key `{}`", f.display()))?;
        keys.push(
            itarvault_audit::PublicKey::from_hex(&text).with_context(|| {
                format!(
                    "`{}` is not a hex public key (a vault's audit/signing-key.pub)",
                    f.display()
                )
            })?,
        );
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("ITARVAULT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(io::stderr)
        .with_env_filter(filter)
        .try_init();
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating `{}`", a.dir.display()))?;
    let tls = if a.insecure_http {
        None
    } else {
        let files = a.cert_file.as_deref().zip(a.key_file.as_deref());
        let (acceptor, cert, fingerprint) =
            itarvault_server::witness::tls_acceptor(files, &a.dir.join("tls"))?;
        eprintln!(
            "witness certificate: {} (SHA-256 {fingerprint})",
            cert.display()
        );
        Some(acceptor)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let stop = StopSignals::install()?;
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", a.listen))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "itarvault witness listening on {}://{addr}",
            if tls.is_some() { "https" } else { "http" }
        );
        eprintln!(
            "keeping heads in {} for {} key(s)",
            a.dir.display(),
            keys.len()
        );
        let router = itarvault_server::witness::Service::new(&a.dir, keys).router();
        itarvault_server::witness::serve(listener, tls, router, async {
            let why = stop.wait().await;
            eprintln!("itarvault witness stopping ({why})");
        })
        .await;
        Ok(())
    })
}
