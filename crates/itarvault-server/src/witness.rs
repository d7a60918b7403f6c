//! The audit trail's witnesses, at the edge: an append-only directory (on another
//! mount, or the store of a witness service) and a client of the witness service
//! `itarvault witness serve` runs on another host. Both keep the same thing: one file
//! per signed head, `<key id>/<shard>/<seq>.json`, created once and never replaced
//! (`itarvault_audit::witness` has the rule and the names). A directory written by a
//! service can be read as a directory witness, and the other way round.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use itarvault_audit::witness::{admit, entry_path, entry_seq, Admission};
use itarvault_audit::{Head, PublicKey, Witness, WitnessError};

use crate::config::WitnessConfig;

/// A directory that keeps heads: each in its own file, created with `create_new`,
/// written and synced with its directory before it counts. Put it where the vault's
/// host can create files but not replace or delete them (another machine's export,
/// an append-only or WORM mount): that is what makes it a witness.
#[derive(Debug)]
pub struct DirWitness {
    root: PathBuf,
    keys: Vec<PublicKey>,
    /// The newest head kept per key id, so that a submission need not list the
    /// directory. Holding the lock also serializes submissions.
    newest: Mutex<std::collections::HashMap<String, Option<Head>>>,
}

impl DirWitness {
    /// A witness in `root` for logs signed by `keys`.
    pub fn new(root: &Path, keys: Vec<PublicKey>) -> Self {
        Self {
            root: root.to_owned(),
            keys,
            newest: Mutex::default(),
        }
    }

    fn unavailable(&self, what: &Path, e: &io::Error) -> WitnessError {
        WitnessError::Unavailable {
            at: self.describe(),
            why: format!("`{}`: {e}", what.display()),
        }
    }

    fn log_dir(&self, key_id: &str) -> Result<PathBuf, WitnessError> {
        // A key id is 16 hex digits; anything else must not become a path.
        if key_id.len() != 16 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(WitnessError::Refused {
                seq: 0,
                reason: format!("`{key_id}` is not a key id"),
            });
        }
        Ok(self.root.join(key_id))
    }

    fn read_entry(&self, path: &Path) -> Result<Head, WitnessError> {
        let bytes = fs::read(path).map_err(|e| self.unavailable(path, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| WitnessError::Corrupt {
            at: self.describe(),
            entry: path.display().to_string(),
            why: e.to_string(),
        })
    }

    /// Sorted names in `dir` that `keep` accepts; a missing directory is empty.
    fn names(&self, dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<String>, WitnessError> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.unavailable(dir, &e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| self.unavailable(dir, &e))?;
            if let Some(name) = entry.file_name().to_str() {
                if keep(name) {
                    out.push(name.to_owned());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn shards(&self, key_id: &str) -> Result<(PathBuf, Vec<String>), WitnessError> {
        let dir = self.log_dir(key_id)?;
        let shards = self.names(&dir, |n| {
            n.len() == 15 && n.bytes().all(|b| b.is_ascii_digit())
        })?;
        Ok((dir, shards))
    }

    fn find_newest(&self, key_id: &str) -> Result<Option<Head>, WitnessError> {
        let (dir, shards) = self.shards(key_id)?;
        for shard in shards.iter().rev() {
            let files = self.names(&dir.join(shard), |n| entry_seq(n).is_some())?;
            for f in files.iter().rev() {
                match self.read_entry(&dir.join(shard).join(f)) {
                    Ok(h) => return Ok(Some(h)),
                    // A write the witness's host cut short: the entry before it is the
                    // newest complete one.
                    Err(WitnessError::Corrupt { entry, why, .. }) => {
                        tracing::warn!(%entry, %why, "skipping an unreadable witness entry");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }

    fn write_new(&self, path: &Path, head: &Head) -> io::Result<bool> {
        let Some(shard) = path.parent() else {
            return Err(io::Error::other("an entry path has no directory"));
        };
        if !shard.exists() {
            fs::create_dir_all(shard)?;
            if let Some(log_dir) = shard.parent() {
                sync_dir(log_dir)?;
                if let Some(root) = log_dir.parent() {
                    sync_dir(root)?;
                }
            }
        }
        let mut f = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut text = serde_json::to_vec(head).map_err(io::Error::other)?;
        text.push(b'\n');
        f.write_all(&text)?;
        f.sync_all()?;
        sync_dir(shard)?;
        Ok(true)
    }
}

/// Makes a directory's entries durable (a new file's name survives a power loss).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Witness for DirWitness {
    fn submit(&self, head: &Head) -> Result<(), WitnessError> {
        let dir = self.log_dir(&head.key_id)?;
        let (shard, file) = entry_path(head.seq);
        let path = dir.join(shard).join(file);
        let mut cache = self
            .newest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let newest = match cache.get(&head.key_id) {
            Some(n) => n.clone(),
            None => self.find_newest(&head.key_id)?,
        };
        let kept = if path.exists() {
            Some(self.read_entry(&path)?)
        } else {
            None
        };
        if admit(head, &self.keys, kept.as_ref(), newest.as_ref())? == Admission::AlreadyKept {
            return Ok(());
        }
        let written = self
            .write_new(&path, head)
            .map_err(|e| self.unavailable(&path, &e))?;
        if !written {
            // Another writer made it between our look and our create: decide again.
            let kept = self.read_entry(&path)?;
            admit(head, &self.keys, Some(&kept), None)?;
        }
        cache.insert(head.key_id.clone(), Some(head.clone()));
        Ok(())
    }

    fn latest(&self, key_id: &str) -> Result<Option<Head>, WitnessError> {
        let newest = self.find_newest(key_id)?;
        self.newest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key_id.to_owned(), newest.clone());
        Ok(newest)
    }

    fn heads(&self, key_id: &str) -> Result<Vec<Head>, WitnessError> {
        let (dir, shards) = self.shards(key_id)?;
        let mut out = Vec::new();
        for shard in shards {
            for f in self.names(&dir.join(&shard), |n| entry_seq(n).is_some())? {
                out.push(self.read_entry(&dir.join(&shard).join(f))?);
            }
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("directory `{}`", self.root.display())
    }
}

/// A client of a witness service (`itarvault witness serve`): `POST` a head, `GET` the
/// newest or all of them. Each call runs on a thread of its own with a client made for
/// it, so it can be used from async code and from the audit writer's threads alike.
#[derive(Debug, Clone)]
pub struct HttpWitness {
    base: String,
    ca_file: Option<PathBuf>,
    timeout: Duration,
}

impl HttpWitness {
    pub fn new(base: &str, ca_file: Option<&Path>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            ca_file: ca_file.map(Path::to_owned),
            timeout: Duration::from_secs(10),
        }
    }

    fn down(&self, why: impl std::fmt::Display) -> WitnessError {
        WitnessError::Unavailable {
            at: self.describe(),
            why: why.to_string(),
        }
    }

    fn client(&self) -> Result<reqwest::blocking::Client, WitnessError> {
        let mut b = reqwest::blocking::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout);
        if let Some(ca) = &self.ca_file {
            let mut roots = rustls::RootCertStore::empty();
            for c in crate::tls::load_certs(ca).map_err(|e| self.down(e))? {
                roots.add(c).map_err(|e| self.down(e))?;
            }
            let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(crate::tls::provider()))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .map_err(|e| self.down(e))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            b = b.tls_backend_preconfigured(cfg);
        }
        b.build().map_err(|e| self.down(e))
    }

    /// Runs `f` with a fresh blocking client on a thread of its own (a blocking client
    /// must not be made or dropped on an async runtime's thread).
    fn call<T: Send>(
        &self,
        f: impl FnOnce(&reqwest::blocking::Client) -> Result<T, WitnessError> + Send,
    ) -> Result<T, WitnessError> {
        std::thread::scope(|s| {
            s.spawn(|| f(&self.client()?))
                .join()
                .unwrap_or_else(|_| Err(self.down("the witness client thread panicked")))
        })
    }

    fn url(&self, key_id: &str, tail: &str) -> String {
        format!("{}/v1/witness/{}/{tail}", self.base, urlencode_key(key_id))
    }
}

/// A key id goes into a URL path: only hex digits pass unchanged.
fn urlencode_key(key_id: &str) -> String {
    key_id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Witness for HttpWitness {
    fn submit(&self, head: &Head) -> Result<(), WitnessError> {
        let url = self.url(&head.key_id, "heads");
        self.call(|c| {
            let resp = c.post(&url).json(head).send().map_err(|e| self.down(e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let text = resp.text().unwrap_or_default();
            if status == reqwest::StatusCode::CONFLICT || status == reqwest::StatusCode::BAD_REQUEST
            {
                Err(WitnessError::Refused {
                    seq: head.seq,
                    reason: text.trim().to_owned(),
                })
            } else {
                Err(self.down(format!("HTTP {status}: {}", text.trim())))
            }
        })
    }

    fn latest(&self, key_id: &str) -> Result<Option<Head>, WitnessError> {
        let url = self.url(key_id, "latest");
        self.call(|c| {
            let resp = c.get(&url).send().map_err(|e| self.down(e))?;
            match resp.status() {
                reqwest::StatusCode::NOT_FOUND => Ok(None),
                s if s.is_success() => resp.json().map(Some).map_err(|e| self.down(e)),
                s => Err(self.down(format!("HTTP {s}"))),
            }
        })
    }

    fn heads(&self, key_id: &str) -> Result<Vec<Head>, WitnessError> {
        let url = self.url(key_id, "heads");
        self.call(|c| {
            let resp = c.get(&url).send().map_err(|e| self.down(e))?;
            if !resp.status().is_success() {
                return Err(self.down(format!("HTTP {}", resp.status())));
            }
            resp.json().map_err(|e| self.down(e))
        })
    }

    fn describe(&self) -> String {
        format!("service `{}`", self.base)
    }
}

/// The witness a config names, for logs signed by `keys`.
pub fn from_config(cfg: &WitnessConfig, keys: Vec<PublicKey>) -> Option<Arc<dyn Witness>> {
    match (&cfg.dir, &cfg.url) {
        (Some(dir), _) => Some(Arc::new(DirWitness::new(dir, keys))),
        (None, Some(url)) => Some(Arc::new(HttpWitness::new(url, cfg.ca_file.as_deref()))),
        (None, None) => None,
    }
}

/// A witness named on a command line: a URL (`https://…`, or `http://` to loopback) or
/// a directory.
pub fn from_arg(arg: &str, ca_file: Option<&Path>, keys: Vec<PublicKey>) -> Arc<dyn Witness> {
    if arg.starts_with("https://") || arg.starts_with("http://") {
        Arc::new(HttpWitness::new(arg, ca_file))
    } else {
        Arc::new(DirWitness::new(Path::new(arg), keys))
    }
}

/// The witness service's state: the directory it keeps and the keys it trusts.
#[derive(Debug, Clone)]
pub struct Service {
    store: Arc<DirWitness>,
}

impl Service {
    /// A service keeping heads in `dir` for logs signed by `keys` (and nobody else).
    pub fn new(dir: &Path, keys: Vec<PublicKey>) -> Self {
        Self {
            store: Arc::new(DirWitness::new(dir, keys)),
        }
    }

    /// `POST /v1/witness/{key_id}/heads`, `GET /v1/witness/{key_id}/latest`,
    /// `GET /v1/witness/{key_id}/heads`, `GET /healthz`. Reading needs no credential:
    /// a head says how long a log is and nothing of what it holds. Writing needs none
    /// either, because only heads signed by a trusted key are kept, and never one that
    /// goes back.
    pub fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/v1/witness/{key_id}/heads",
                post(submit_head).get(all_heads),
            )
            .route("/v1/witness/{key_id}/latest", get(latest_head))
            .with_state(self)
    }
}

fn answer(e: &WitnessError) -> Response {
    let status = match e {
        WitnessError::Refused { .. } => StatusCode::CONFLICT,
        WitnessError::Unsigned { .. } => StatusCode::BAD_REQUEST,
        WitnessError::Unavailable { .. } | WitnessError::Corrupt { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (status, e.to_string()).into_response()
}

/// Runs blocking directory work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WitnessError> + Send + 'static,
) -> Result<T, WitnessError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(WitnessError::Unavailable {
            at: "witness service".into(),
            why: e.to_string(),
        })
    })
}

async fn submit_head(
    State(s): State<Service>,
    UrlPath(key_id): UrlPath<String>,
    axum::Json(head): axum::Json<Head>,
) -> Response {
    if head.key_id != key_id {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "the head is signed by `{}`, not by `{key_id}` as the path says",
                head.key_id
            ),
        )
            .into_response();
    }
    let seq = head.seq;
    match blocking(move || s.store.submit(&head)).await {
        Ok(()) => {
            tracing::info!(%key_id, seq, "witnessed");
            (StatusCode::CREATED, "kept\n").into_response()
        }
        Err(e) => {
            if matches!(e, WitnessError::Refused { .. }) {
                tracing::error!(%key_id, seq, error = %e, "refused a head: a rollback or a rewritten log");
            }
            answer(&e)
        }
    }
}

async fn latest_head(State(s): State<Service>, UrlPath(key_id): UrlPath<String>) -> Response {
    match blocking(move || s.store.latest(&key_id)).await {
        Ok(Some(h)) => axum::Json(h).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no head kept for this key\n").into_response(),
        Err(e) => answer(&e),
    }
}

async fn all_heads(State(s): State<Service>, UrlPath(key_id): UrlPath<String>) -> Response {
    match blocking(move || s.store.heads(&key_id)).await {
        Ok(h) => axum::Json(h).into_response(),
        Err(e) => answer(&e),
    }
}

/// The witness service's TLS: the given certificate and key, or a development
/// certificate made once in `dev_dir`. Returns the acceptor, the certificate file and
/// its SHA-256 fingerprint.
pub fn tls_acceptor(
    files: Option<(&Path, &Path)>,
    dev_dir: &Path,
) -> Result<(tokio_rustls::TlsAcceptor, PathBuf, String), crate::tls::TlsError> {
    let (cert, key) = match files {
        Some((c, k)) => (c.to_owned(), k.to_owned()),
        None => {
            crate::fsutil::private_dir(dev_dir)
                .map_err(|e| crate::tls::TlsError::Read(dev_dir.to_owned(), e))?;
            let (c, k) = (dev_dir.join("cert.pem"), dev_dir.join("key.pem"));
            crate::tls::ensure_dev_cert(&c, &k)?;
            (c, k)
        }
    };
    let (cfg, fingerprint) = crate::tls::server_config(&cert, &key, None, &[])?;
    Ok((tokio_rustls::TlsAcceptor::from(cfg), cert, fingerprint))
}

/// Serves `router` on `listener` (TLS when `tls` is given) until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    tower::ServiceExt::oneshot(app.clone(), req)
                });
            let http = hyper::server::conn::http1::Builder::new();
            let res = match tls {
                Some(acc) => {
                    match tokio::time::timeout(Duration::from_secs(10), acc.accept(tcp)).await {
                        Ok(Ok(s)) => {
                            http.serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                                .await
                        }
                        _ => return,
                    }
                }
                None => {
                    http.serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                        .await
                }
            };
            if let Err(e) = res {
                tracing::debug!(%peer, error = %e, "witness connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use itarvault_audit::{Chain, Event, Signer};

    #[test]
    fn a_directory_witness_keeps_each_head_once_and_refuses_to_go_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = Signer::generate().unwrap();
        let w = DirWitness::new(dir.path(), vec![s.public_key()]);
        let now = time::OffsetDateTime::now_utc();
        let mut c = Chain::new();
        assert_eq!(w.latest(s.key_id()).unwrap(), None);
        c.append(Event::new("a", "ok"), now);
        let h1 = c.head(&s, now).unwrap();
        for _ in 0..150 {
            c.append(Event::new("b", "ok"), now);
        }
        let h2 = c.head(&s, now).unwrap();
        w.submit(&h1).unwrap();
        w.submit(&h2).unwrap();
        w.submit(&h2).unwrap();
        assert!(
            matches!(w.submit(&h1), Ok(())),
            "the same head again is kept already"
        );
        let again = DirWitness::new(dir.path(), vec![s.public_key()]);
        assert_eq!(again.latest(s.key_id()).unwrap(), Some(h2.clone()));
        assert_eq!(
            again.heads(s.key_id()).unwrap(),
            vec![h1.clone(), h2.clone()]
        );
        // A different head for a kept seq, or an older one, is refused.
        let mut other = Chain::resume(1, itarvault_audit::line_hash(b"x"));
        other.append(Event::new("c", "ok"), now);
        let older = other.head(&s, now).unwrap();
        assert!(matches!(
            again.submit(&older),
            Err(WitnessError::Refused { .. })
        ));
        let mut fork = Chain::resume(150, itarvault_audit::line_hash(b"y"));
        fork.append(Event::new("c", "ok"), now);
        let forked = fork.head(&s, now).unwrap();
        assert_eq!(forked.seq, h2.seq);
        let e = again.submit(&forked).unwrap_err();
        assert!(e.to_string().contains("rewritten"), "{e}");
        // Files are never replaced: the kept head is still the first.
        assert_eq!(again.latest(s.key_id()).unwrap(), Some(h2));
        // Nothing signed by another key, and no path tricks through the key id.
        let m = Signer::generate().unwrap();
        let mut mc = Chain::new();
        mc.append(Event::new("a", "ok"), now);
        assert!(matches!(
            again.submit(&mc.head(&m, now).unwrap()),
            Err(WitnessError::Unsigned { .. })
        ));
        assert!(again.latest("../../etc/passw").is_err());
    }

    #[test]
    fn a_torn_entry_is_skipped_when_looking_for_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let s = Signer::generate().unwrap();
        let w = DirWitness::new(dir.path(), vec![s.public_key()]);
        let now = time::OffsetDateTime::now_utc();
        let mut c = Chain::new();
        c.append(Event::new("a", "ok"), now);
        let h1 = c.head(&s, now).unwrap();
        w.submit(&h1).unwrap();
        let (shard, file) = entry_path(2);
        let torn = dir.path().join(s.key_id()).join(shard).join(file);
        std::fs::write(&torn, b"{\"v\":1,\"se").unwrap();
        let fresh = DirWitness::new(dir.path(), vec![s.public_key()]);
        assert_eq!(fresh.latest(s.key_id()).unwrap(), Some(h1));
        assert!(matches!(
            fresh.heads(s.key_id()),
            Err(WitnessError::Corrupt { .. })
        ));
    }
}
