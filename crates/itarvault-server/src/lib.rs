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
pub mod error;
pub mod fsutil;
pub mod location;
pub mod oidc;
pub mod pipeline;
pub mod state;
pub mod tls;
pub mod token;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use itarvault_keys::{Keyring, LocalKeystore, RootSecret};
use itarvault_policy::data::{data, Country};
use itarvault_policy::{Engine, OrgPolicies};
use itarvault_store::{LocalBlobStore, Metadata, PrincipalRecord, SqliteMetadata, TokenRecord};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::audit_log::{AuditLog, AuditPaths};
use crate::config::{BackendConfig, Config, ResidencyMode};
use crate::location::Locator;
use crate::state::{AppState, Backend, Metrics};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Refused(String),
    #[error("data directory `{0}`: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("keystore: {0}")]
    Keystore(#[from] itarvault_keys::KeystoreError),
    #[error("metadata: {0}")]
    Store(#[from] itarvault_store::StoreError),
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
}

/// Setting names for what only a quorum changes once the server has started once.
pub const SETTING_RESIDENCY: &str = "residency.mode";
pub const SETTING_BACKENDS: &str = "backends.approved";
pub const SETTING_POLICIES: &str = "policies.sha256";

/// The Cedar policy sources named by the config, in load order (`*.cedar` of a
/// directory sorted by name).
fn policy_sources(paths: &[PathBuf]) -> Result<Vec<(String, String)>, ServerError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| ServerError::Policies(format!("reading `{}`: {e}", p.display())))
    };
    let mut sources = Vec::new();
    for p in paths {
        let files = if p.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(p)
                .map_err(|e| {
                    ServerError::Policies(format!("reading directory `{}`: {e}", p.display()))
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
pub fn load_policies(paths: &[PathBuf]) -> Result<Option<OrgPolicies>, ServerError> {
    if paths.is_empty() {
        return Ok(None);
    }
    OrgPolicies::load(&policy_sources(paths)?)
        .map(Some)
        .map_err(|e| ServerError::Policies(e.to_string()))
}

/// SHA-256 (hex) of policy text: what a quorum approves and the server checks at start.
/// For several files, the text is their concatenation in load order.
pub fn policy_digest(text: &str) -> String {
    itarvault_audit::line_hash(text.as_bytes())
}

/// Refuses a backend in a proscribed country (22 CFR 126.1) or an unknown one.
pub fn check_backend_country(b: &BackendConfig) -> Result<Country, ServerError> {
    let data = data().ok_or_else(|| {
        ServerError::Refused("the embedded regulatory data failed to load (a build defect)".into())
    })?;
    let country = Country::parse(&b.country).ok_or_else(|| {
        ServerError::Refused(format!(
            "backend `{}`: `{}` is not an ISO 3166-1 alpha-2 country code\ndeclare where the data physically is, e.g. `country = \"US\"`",
            b.name, b.country
        ))
    })?;
    if let Some(e) = data.proscribed_on(country, OffsetDateTime::now_utc().date()) {
        return Err(ServerError::Refused(format!(
            "backend `{}` is in {} ({}), a proscribed country under {}: technical data may not be stored there, even encrypted (22 CFR 120.54(a)(5)(iv))\nremove the backend or move it to another country",
            b.name,
            country.name(),
            country,
            e.cite()
        )));
    }
    Ok(country)
}

/// The backends a quorum approved (or that the first start adopted).
pub fn approved_backends(meta: &dyn Metadata) -> Result<Vec<BackendConfig>, ServerError> {
    match meta.setting(SETTING_BACKENDS)? {
        None => Ok(Vec::new()),
        Some(s) => serde_json::from_str(&s).map_err(|e| {
            ServerError::Refused(format!(
                "the approved-backends setting does not parse ({e}); the metadata database was edited or is damaged"
            ))
        }),
    }
}

/// Adopts the config's residency, backends and policies the first time, and afterwards
/// holds the config to what the quorum approved: editing the file is not a way around
/// the two-person rule. Returns the residency mode in force and what was adopted.
fn controlled_settings(
    cfg: &Config,
    meta: &dyn Metadata,
) -> Result<(ResidencyMode, Vec<String>), ServerError> {
    let mut adopted = Vec::new();
    let mode = match meta.setting(SETTING_RESIDENCY)? {
        None => {
            let m = serde_json::to_value(cfg.residency.mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            meta.set_setting(SETTING_RESIDENCY, &m)?;
            adopted.push(format!("residency mode `{m}`"));
            cfg.residency.mode
        }
        Some(m) => {
            let mode: ResidencyMode = serde_json::from_value(serde_json::json!(m)).map_err(|_| {
                ServerError::Refused(format!("the stored residency mode `{m}` is not known; the metadata database was edited or is damaged"))
            })?;
            if mode != cfg.residency.mode {
                tracing::warn!(stored = %m, "residency.mode in the config differs from the mode the quorum set; the quorum's applies");
            }
            mode
        }
    };
    let backends = cfg.effective_backends();
    if meta.setting(SETTING_BACKENDS)?.is_none() {
        meta.set_setting(
            SETTING_BACKENDS,
            &serde_json::to_string(&backends).unwrap_or_default(),
        )?;
        adopted.push(format!("{} backends", backends.len()));
    } else {
        let approved = approved_backends(meta)?;
        if let Some(b) = backends.iter().find(|b| !approved.contains(b)) {
            return Err(ServerError::Refused(format!(
                "backend `{}` in the config is not one a quorum approved (a new backend, or a changed entry)\npropose it with `itarvault quorum propose backend --name {} --country {} ...`, or restore the approved entry",
                b.name, b.name, b.country
            )));
        }
    }
    let text: String = policy_sources(&cfg.policies)?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let digest = policy_digest(&text);
    match meta.setting(SETTING_POLICIES)? {
        None => {
            meta.set_setting(SETTING_POLICIES, &digest)?;
            adopted.push(format!("policies sha256 {digest}"));
        }
        Some(d) if d == digest => {}
        Some(d) => {
            return Err(ServerError::Refused(format!(
                "the Cedar policies in the config (sha256 {digest}) are not the ones a quorum approved (sha256 {d})\npropose them with `itarvault quorum propose policies FILE...`, or restore the approved files"
            )))
        }
    }
    Ok((mode, adopted))
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

/// A server ready to serve.
pub struct Server {
    state: Arc<AppState>,
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

fn open_keystore(dir: &Path) -> Result<LocalKeystore, ServerError> {
    let keys = dir.join("keys");
    fsutil::private_dir(&keys).map_err(|e| ServerError::DataDir(keys.clone(), e))?;
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
    meta: &dyn Metadata,
) -> Result<HashMap<String, Backend>, ServerError> {
    let mut out = HashMap::new();
    for b in cfg.effective_backends() {
        let country = check_backend_country(&b)?;
        let path = cfg.in_data_dir(b.path.as_deref().unwrap_or(Path::new("blobs")));
        let store = Arc::new(LocalBlobStore::open_named(&b.name, &path)?);
        let swept = itarvault_store::sweep_orphans(meta, store.as_ref())?;
        if swept > 0 {
            tracing::info!(backend = %b.name, swept, "removed blobs left by interrupted uploads");
        }
        out.insert(
            b.name.clone(),
            Backend {
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
fn first_admin(meta: &dyn Metadata) -> Result<Option<Zeroizing<String>>, ServerError> {
    if !meta.principals()?.is_empty() {
        return Ok(None);
    }
    let now = OffsetDateTime::now_utc();
    meta.add_principal(&PrincipalRecord {
        id: "admin".into(),
        person_status: "unknown".into(),
        citizenships: vec![],
        permanent_residence: None,
        roles: vec!["admin".into()],
        disabled: false,
        created: now,
    })?;
    let t = token::mint()
        .map_err(|_| ServerError::Refused("the random number generator failed".into()))?;
    meta.add_token(&TokenRecord {
        id: t.id.clone(),
        principal: "admin".into(),
        secret_hash: t.secret_hash,
        created: now,
        expires: Some(now + time::Duration::days(90)),
        revoked: false,
    })?;
    Ok(Some(t.text))
}

impl Server {
    /// Prepares the data directory and every component; binds the listener.
    pub async fn open(cfg: Config) -> Result<Self, ServerError> {
        cfg.validate()?;
        let dir = cfg.data_dir.clone();
        fsutil::private_dir(&dir).map_err(|e| ServerError::DataDir(dir.clone(), e))?;
        let keystore = Arc::new(open_keystore(&dir)?);
        let meta: Arc<dyn Metadata> = Arc::new(itarvault_store::Cached::new(SqliteMetadata::open(
            &dir.join("meta.db"),
        )?));
        let backends = open_backends(&cfg, meta.as_ref())?;
        let audit = AuditLog::open(
            &AuditPaths::new(&dir.join("audit")),
            Duration::from_secs(cfg.audit.checkpoint_interval_secs),
        )?;
        let locator = Locator::new(
            cfg.location.ranges_file.as_deref(),
            cfg.location.geoip_db.as_deref(),
            &cfg.location.trusted_proxies,
        )?;
        let engine = Engine::new(load_policies(&cfg.policies)?);
        let (residency, adopted) = controlled_settings(&cfg, meta.as_ref())?;
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
            Some(u) => Some((
                u.clone(),
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| ServerError::Refused(format!("lockbox webhook client: {e}")))?,
            )),
        };
        let mut issuers = Vec::new();
        for o in &cfg.oidc {
            issuers.push(oidc::Issuer::load(o.clone()).await?);
        }
        let admin_token = first_admin(meta.as_ref())?;
        if admin_token.is_some() {
            audit
                .record(itarvault_audit::Event::new("admin.principal.add", "ok").principal("admin").detail(
                    "first start: created principal `admin` (role admin, person status unknown) and its token",
                ))
                .await?;
        }

        let (tls, fingerprint, cert_file, generated_cert) = if cfg.tls.insecure_http {
            (None, None, None, false)
        } else {
            let (cert, key, generated) = match (&cfg.tls.cert_file, &cfg.tls.key_file) {
                (Some(c), Some(k)) => (c.clone(), k.clone(), false),
                _ => {
                    let tdir = dir.join("tls");
                    fsutil::private_dir(&tdir)
                        .map_err(|e| ServerError::DataDir(tdir.clone(), e))?;
                    let (c, k) = (tdir.join("cert.pem"), tdir.join("key.pem"));
                    let made = tls::ensure_dev_cert(&c, &k)?;
                    (c, k, made)
                }
            };
            let (sc, fp) = tls::server_config(&cert, &key, cfg.tls.client_ca_file.as_deref())?;
            // In the FIPS build the TLS stack must run on the validated module only.
            if cfg!(feature = "fips") && !sc.fips() {
                return Err(ServerError::Refused(
                    "this is a FIPS build but the TLS configuration is not FIPS-compliant (rustls reports a non-FIPS component)\nthis is a bug: please report it".into(),
                ));
            }
            (
                Some(tokio_rustls::TlsAcceptor::from(sc)),
                Some(fp),
                Some(cert),
                generated,
            )
        };
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| ServerError::Listen(cfg.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ServerError::Listen(cfg.listen, e))?;
        let fips = aws_lc_rs::try_fips_mode().is_ok();
        let state = Arc::new(AppState {
            keyring: Keyring::new(vec![keystore.clone()]),
            keystore,
            config: cfg,
            meta,
            backends,
            engine,
            audit,
            locator,
            metrics: Metrics::default(),
            fips,
            issuers,
            us_only: std::sync::atomic::AtomicBool::new(residency == ResidencyMode::UsOnly),
            webhook,
            scanner: Arc::new(itarvault_scan::Scanner::builtin().map_err(|e| {
                ServerError::Refused(format!(
                    "the built-in marking rules do not load: {e}\nthis is a bug: please report it"
                ))
            })?),
        });
        // A proposal approved just before a crash runs now (every operation is
        // idempotent or refuses a repeat).
        for rec in state.meta.lockbox_list("quorum", None)? {
            if rec.body.get("state").and_then(|v| v.as_str()) == Some("approved") {
                api::lockbox::execute(&state, &rec.id, None)
                    .await
                    .map_err(|e| {
                        ServerError::Refused(format!(
                            "resuming proposal `{}`: {}",
                            rec.id, e.message
                        ))
                    })?;
            }
        }
        Ok(Self {
            state,
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

    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        let app = api::router(self.state.clone());
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new())
            .max_buf_size(64 << 10)
            .max_header_size(32 << 10)
            .header_read_timeout(Duration::from_secs(30));
        let http = Arc::new(http);
        let cert_field = self.state.config.tls.client_cert_principal;
        let refresher = self.state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(600)).await;
                for i in &refresher.issuers {
                    i.refresh().await;
                }
            }
        });
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                () = &mut shutdown => break,
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
            tokio::spawn(async move {
                let serve = |cert_principal: Option<String>| {
                    hyper::service::service_fn(
                        move |mut req: hyper::Request<hyper::body::Incoming>| {
                            req.extensions_mut().insert(api::Peer {
                                addr: peer,
                                cert_principal: cert_principal.clone(),
                            });
                            tower::ServiceExt::oneshot(app.clone(), req)
                        },
                    )
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
                            .and_then(|c| tls::cert_principal(c.as_ref(), cert_field));
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
        }
    }
}
