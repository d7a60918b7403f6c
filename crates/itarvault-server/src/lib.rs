//! The itarvault server: one binary, one data directory, no other service.
//!
//! [`Server::open`] prepares everything (first start: keystore, metadata, TLS
//! certificate, audit signing key, an admin principal and its token) and refuses to
//! start on a configuration that breaks a rule (a backend in a proscribed country, an
//! audit log that fails verification, plain HTTP on a network address).
//! [`Server::serve`] then answers HTTPS until it is told to stop.

pub mod api;
pub mod audit_log;
pub mod config;
pub mod crypto_module;
pub mod error;
pub mod fsutil;
pub mod limits;
pub mod location;
pub mod oidc;
pub mod pipeline;
pub mod tls;
pub mod token;
pub mod vault;
pub mod witness;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use itarvault_keys::{LocalKeystore, RootSecret};
use itarvault_policy::{Engine, OrgPolicies};
use itarvault_store::{
    Credentials, LocalBlobStore, Objects, PersonFacts, PrincipalRecord, Registry, Role,
    SqliteMetadata, TokenRecord,
};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::audit_log::{AuditLog, AuditOptions, AuditPaths, StartMode, WitnessLink};
use crate::config::Config;
use crate::location::Locator;
use crate::vault::settings::{check_backend_country, policy_digest, Controlled};
use crate::vault::{Backend, Vault, Webhook};

/// Why the server could not start, sorted by who must act.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The operator's configuration is wrong, or breaks a rule.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    ConfigFile(#[from] config::ConfigError),
    #[error("data directory `{0}`: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("keystore: {0}")]
    Keystore(#[from] itarvault_keys::KeystoreError),
    #[error("metadata: {0}")]
    Store(#[from] itarvault_store::StoreError),
    #[error(transparent)]
    Service(error::Error),
    #[error(transparent)]
    Audit(#[from] audit_log::AuditError),
    #[error(transparent)]
    Location(#[from] location::LocationError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("organisation policies: {0}")]
    Policies(String),
    #[error(transparent)]
    Oidc(#[from] oidc::OidcError),
    #[error("cannot listen on `{0}`: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// The platform failed us (the random number generator, a thread).
    #[error("{0}")]
    Platform(String),
    /// Our bug.
    #[error("{0}\nthis is a bug: please report it")]
    Bug(String),
}

/// The Cedar policy sources named by the config, in load order (`*.cedar` of a
/// directory sorted by name).
fn policy_sources(paths: &[PathBuf]) -> Result<Vec<(String, String)>, StartError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| StartError::Policies(format!("reading `{}`: {e}", p.display())))
    };
    let mut sources = Vec::new();
    for p in paths {
        let files = if p.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(p)
                .map_err(|e| {
                    StartError::Policies(format!("reading directory `{}`: {e}", p.display()))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "cedar"))
                .collect();
            v.sort();
            v
        } else {
            vec![p.clone()]
        };
        for f in files {
            sources.push((f.display().to_string(), read(&f)?));
        }
    }
    Ok(sources)
}

/// Reads Cedar policies from files and directories (`*.cedar`, sorted).
pub fn load_policies(paths: &[PathBuf]) -> Result<Option<OrgPolicies>, StartError> {
    if paths.is_empty() {
        return Ok(None);
    }
    OrgPolicies::load(&policy_sources(paths)?)
        .map(Some)
        .map_err(|e| StartError::Policies(e.to_string()))
}

/// What a person starting the server needs to be told.
pub struct Started {
    pub addr: SocketAddr,
    pub https: bool,
    /// SHA-256 fingerprint of the server certificate.
    pub fingerprint: Option<String>,
    /// The certificate clients should trust (the generated one, on a development setup).
    pub cert_file: Option<PathBuf>,
    pub generated_cert: bool,
    /// On the very first start: the admin's token, shown once and never stored.
    pub admin_token: Option<Zeroizing<String>>,
    pub fips: bool,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("addr", &self.addr)
            .field("fingerprint", &self.fingerprint)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The built-in marking rules, compiled once per process. Uploads carry their content
/// check from one blocking task to the next, which needs a scanner that outlives them.
fn builtin_scanner() -> Result<&'static itarvault_scan::Scanner, StartError> {
    static BUILTIN: std::sync::OnceLock<Result<itarvault_scan::Scanner, String>> =
        std::sync::OnceLock::new();
    BUILTIN
        .get_or_init(|| itarvault_scan::Scanner::builtin().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| StartError::Bug(format!("the built-in marking rules do not load: {e}")))
}

/// A server ready to serve.
pub struct Server {
    vault: Arc<Vault>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    pub started: Started,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

fn open_keystore(dir: &Path) -> Result<LocalKeystore, StartError> {
    let keys = dir.join("keys");
    fsutil::private_dir(&keys).map_err(|e| StartError::DataDir(keys.clone(), e))?;
    let root = keys.join("root.key");
    let ks = keys.join("keystore.json");
    if ks.exists() {
        let secret = RootSecret::from_key_file(&root)?;
        return Ok(LocalKeystore::open(&ks, &secret)?);
    }
    let secret = if root.exists() {
        RootSecret::from_key_file(&root)?
    } else {
        RootSecret::generate_key_file(&root)?
    };
    Ok(LocalKeystore::init(&ks, &secret)?)
}

fn open_backends(
    cfg: &Config,
    objects: &dyn Objects,
) -> Result<HashMap<String, Backend>, StartError> {
    let mut out = HashMap::new();
    for b in cfg.effective_backends() {
        let country = check_backend_country(&b)?;
        let path = cfg.in_data_dir(b.path.as_deref().unwrap_or(Path::new("blobs")));
        let store = Arc::new(LocalBlobStore::open_named(&b.name, &path)?);
        let swept = itarvault_store::sweep_orphans(objects, store.as_ref())?;
        if swept > 0 {
            tracing::info!(backend = %b.name, swept, "removed blobs left by interrupted uploads");
        }
        out.insert(
            b.name.clone(),
            Backend {
                name: b.name.clone(),
                store,
                country,
                operator: b.operator.clone(),
            },
        );
    }
    Ok(out)
}

/// Creates the first admin (status `unknown`: an admin runs the service and is not
/// thereby cleared to read controlled data) and returns its token.
fn first_admin(
    registry: &dyn Registry,
    credentials: &dyn Credentials,
) -> Result<Option<Zeroizing<String>>, StartError> {
    if !registry.principals()?.is_empty() {
        return Ok(None);
    }
    let now = OffsetDateTime::now_utc();
    registry.add_principal(&PrincipalRecord {
        id: "admin".into(),
        facts: PersonFacts {
            person_status: itarvault_policy::PersonStatus::Unknown,
            citizenships: vec![],
            former_citizenships: vec![],
            permanent_residence: None,
        },
        roles: vec![Role::Admin],
        bindings: itarvault_store::Bindings::default(),
        disabled: false,
        created: now,
    })?;
    let t = token::mint()
        .map_err(|_| StartError::Platform("the random number generator failed".into()))?;
    credentials.add_token(&TokenRecord {
        id: t.id.clone(),
        principal: "admin".into(),
        purpose: itarvault_store::TokenPurpose::Access,
        secret_hash: t.secret_hash,
        created: now,
        expires: Some(now + time::Duration::days(90)),
        revoked: false,
    })?;
    Ok(Some(t.text))
}

/// The server's TLS acceptor, its certificate's fingerprint and file, and whether the
/// certificate was generated now.
type TlsSetup = (
    Option<tokio_rustls::TlsAcceptor>,
    Option<String>,
    Option<PathBuf>,
    bool,
);

fn tls_setup(cfg: &Config) -> Result<TlsSetup, StartError> {
    if cfg.tls.insecure_http {
        return Ok((None, None, None, false));
    }
    let (cert, key, generated) = match (&cfg.tls.cert_file, &cfg.tls.key_file) {
        (Some(c), Some(k)) => (c.clone(), k.clone(), false),
        _ => {
            let tdir = cfg.data_dir.join("tls");
            fsutil::private_dir(&tdir).map_err(|e| StartError::DataDir(tdir.clone(), e))?;
            let (c, k) = (tdir.join("cert.pem"), tdir.join("key.pem"));
            let made = tls::ensure_dev_cert(&c, &k)?;
            (c, k, made)
        }
    };
    let (sc, fp) = tls::server_config(
        &cert,
        &key,
        cfg.tls.client_ca_file.as_deref(),
        &cfg.tls.client_crl_files,
    )?;
    // In the FIPS build the TLS stack must run on the validated module only.
    if cfg!(feature = "fips") && !sc.fips() {
        return Err(StartError::Bug(
            "this is a FIPS build but the TLS configuration is not FIPS-compliant (rustls reports a non-FIPS component)".into(),
        ));
    }
    Ok((
        Some(tokio_rustls::TlsAcceptor::from(sc)),
        Some(fp),
        Some(cert),
        generated,
    ))
}

/// A vault opened on its data directory, before any listener: what tests and the
/// server share.
#[derive(Debug)]
pub struct Opened {
    pub vault: Arc<Vault>,
    /// On the very first start: the admin's token, shown once and never stored.
    pub admin_token: Option<Zeroizing<String>>,
}

/// Prepares the data directory and every component of the vault: keystore, metadata,
/// backends, audit log, location, policies, the settings the quorum controls, the first
/// admin; and runs a proposal approved just before a crash.
pub async fn open_vault(cfg: Config) -> Result<Opened, StartError> {
    open_vault_with(cfg, StartMode::Normal).await
}

/// The audit log's options from the config: checkpoints and the witness.
fn audit_options(cfg: &Config, start: StartMode) -> AuditOptions {
    let witness = cfg.audit.witness.clone().map(|w| {
        if let Some(dir) = &w.dir {
            warn_same_filesystem(dir, &cfg.data_dir);
        }
        WitnessLink {
            interval: Duration::from_secs(w.interval_secs),
            max_lag: Duration::from_secs(w.max_lag_secs),
            make: Box::new(move |key| match &w.url {
                Some(url) => Arc::new(witness::HttpWitness::new(url, w.ca_file.as_deref())),
                None => Arc::new(witness::DirWitness::new(
                    w.dir.as_deref().unwrap_or(Path::new("witness")),
                    vec![key],
                )),
            }),
        }
    });
    AuditOptions {
        checkpoint_every: Duration::from_secs(cfg.audit.checkpoint_interval_secs),
        witness,
        start,
    }
}

/// A witness directory on the data directory's own filesystem is still in reach of
/// whoever holds this host: allowed (for tests and trials), but said at every start.
fn warn_same_filesystem(witness: &Path, data_dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let dev = |p: &Path| std::fs::metadata(p).ok().map(|m| m.dev());
        let w = dev(witness).or_else(|| witness.parent().and_then(dev));
        if w.is_some() && w == dev(data_dir) {
            tracing::warn!(
                witness = %witness.display(),
                "the audit witness directory is on the same filesystem as the data directory: whoever holds this host can rewrite both; use another mount or a witness service"
            );
        }
    }
}

/// [`open_vault`], with what the operator asked of the audit log's start: recover a
/// lost head, or begin a restore epoch after a restore from backup.
pub async fn open_vault_with(cfg: Config, start: StartMode) -> Result<Opened, StartError> {
    cfg.validate()?;
    let dir = cfg.data_dir.clone();
    fsutil::private_dir(&dir).map_err(|e| StartError::DataDir(dir.clone(), e))?;
    let keystore = Arc::new(open_keystore(&dir)?);
    let store = Arc::new(itarvault_store::Cached::new(SqliteMetadata::open(
        &dir.join("meta.db"),
    )?));
    let backends = open_backends(&cfg, store.as_ref())?;
    let audit = AuditLog::open(
        &AuditPaths::new(&dir.join("audit")),
        audit_options(&cfg, start),
    )?;
    let locator = Locator::new(
        cfg.location.ranges_file.as_deref(),
        cfg.location.geoip_db.as_deref(),
        &cfg.location.trusted_proxies,
    )?;
    let engine = Engine::new(load_policies(&cfg.policies)?);
    let policy_text: String = policy_sources(&cfg.policies)?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let (controlled, adopted) =
        Controlled::adopt_or_check(&cfg, store.as_ref(), policy_digest(&policy_text))?;
    if !adopted.is_empty() {
        audit
            .record(
                itarvault_audit::Event::new("settings.adopt", "ok").detail(format!(
                    "adopted from the config; from now on only a quorum changes them: {}",
                    adopted.join(", ")
                )),
            )
            .await?;
    }
    let webhook = match &cfg.lockbox.webhook_url {
        None => None,
        Some(u) => Some(Webhook {
            url: u.clone(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| StartError::Platform(format!("lockbox webhook client: {e}")))?,
        }),
    };
    let mut issuers = Vec::new();
    for o in &cfg.oidc {
        issuers.push(oidc::Issuer::load(o.clone()).await?);
    }
    let admin_token = first_admin(store.as_ref(), store.as_ref())?;
    if admin_token.is_some() {
        audit
            .record(itarvault_audit::Event::new("admin.principal.add", "ok").principal("admin").detail(
                "first start: created principal `admin` (role admin, person status unknown) and its token",
            ))
            .await?;
    }
    let scanner = builtin_scanner()?;
    let vault = Arc::new(Vault::new(vault::Parts {
        config: cfg,
        store,
        backends,
        keystore,
        engine,
        audit,
        locator,
        fips: aws_lc_rs::try_fips_mode().is_ok(),
        issuers,
        controlled,
        webhook,
        scanner,
    }));
    vault.resume_approved().await.map_err(StartError::Service)?;
    let bound = vault.bind_legacy_rows().map_err(StartError::Service)?;
    if bound > 0 {
        tracing::info!(
            bound,
            "bound objects stored in envelope format 1 to their rows; they are rewritten in format 2 in the background"
        );
    }
    Ok(Opened { vault, admin_token })
}

impl Server {
    /// Opens the vault ([`open_vault`]), sets up TLS and binds the listener.
    pub async fn open(cfg: Config) -> Result<Self, StartError> {
        Self::open_with(cfg, StartMode::Normal).await
    }

    /// [`Self::open`] with an audit start mode ([`open_vault_with`]).
    pub async fn open_with(cfg: Config, start: StartMode) -> Result<Self, StartError> {
        cfg.validate()?;
        let (tls, fingerprint, cert_file, generated_cert) = tls_setup(&cfg)?;
        let listen = cfg.listen;
        let Opened { vault, admin_token } = open_vault_with(cfg, start).await?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| StartError::Listen(listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Listen(listen, e))?;
        let fips = vault.fips();
        Ok(Self {
            vault,
            listener,
            started: Started {
                addr,
                https: tls.is_some(),
                fingerprint,
                cert_file,
                generated_cert,
                admin_token,
                fips,
            },
            tls,
        })
    }

    /// Serves until `shutdown` completes (with what stopped it), then stops the audit
    /// trail cleanly: connections still open get a short grace period, then the log
    /// ends with `log.close` and a final signed checkpoint, its head synced and
    /// witnessed. Returns what the close wrote or why it could not.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = String>,
    ) -> Result<u64, audit_log::AuditError> {
        let app = api::router(self.vault.clone());
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new())
            .max_buf_size(64 << 10)
            .max_header_size(32 << 10)
            .header_read_timeout(Duration::from_secs(30));
        let http = Arc::new(http);
        let cert_field = self.vault.config().tls.client_cert_principal;
        let limits = &self.vault.config().limits;
        let pace = limits::BodyPace {
            idle: Duration::from_secs(limits.body_idle_secs),
            min_bytes_per_sec: limits.body_min_bytes_per_sec,
        };
        let upgrader = self.vault.clone();
        tokio::spawn(async move {
            match upgrader.upgrade_legacy().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rewritten = n, "objects rewritten in envelope format 2"),
                Err(e) => tracing::error!(error = %e, "rewriting format 1 objects stopped"),
            }
        });
        let refresher = self.vault.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(600)).await;
                refresher.refresh_issuers().await;
            }
        });
        tokio::pin!(shutdown);
        let open = Arc::new(());
        let reason = loop {
            let (tcp, peer) = tokio::select! {
                why = &mut shutdown => break why,
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let app = app.clone();
            let tls = self.tls.clone();
            let http = http.clone();
            let open = open.clone();
            tokio::spawn(async move {
                let _open = open;
                let serve = |cert: Option<tls::PeerCert>| {
                    hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        // Every body, upload or JSON, is cut off when it arrives
                        // too slowly: a slow client holds a connection, not more.
                        let mut req =
                            req.map(|b| axum::body::Body::new(limits::PacedBody::new(b, pace)));
                        req.extensions_mut().insert(api::Peer {
                            addr: peer,
                            cert: cert.clone(),
                        });
                        tower::ServiceExt::oneshot(app.clone(), req)
                    })
                };
                let res = match tls {
                    Some(acc) => {
                        let stream =
                            match tokio::time::timeout(Duration::from_secs(10), acc.accept(tcp))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => return,
                            };
                        let cert = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| tls::peer_cert(c.as_ref(), cert_field));
                        http.serve_connection(hyper_util::rt::TokioIo::new(stream), serve(cert))
                            .await
                    }
                    None => {
                        http.serve_connection(hyper_util::rt::TokioIo::new(tcp), serve(None))
                            .await
                    }
                };
                if let Err(e) = res {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        };
        drop(self.listener);
        // Requests in flight finish (and are recorded) if they can within the grace
        // period; whatever arrives after the close is refused for want of a record.
        let grace = tokio::time::Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&open) > 1 && tokio::time::Instant::now() < grace {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.vault.close_audit(&reason).await
    }
}
