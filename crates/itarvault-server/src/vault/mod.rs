//! The vault as a service: every operation the API offers, as functions over the store
//! traits, the key providers, the decision engine and the audit log.
//!
//! The stores are private to this module tree. Outside it (the HTTP layer, tests) the
//! only way to act on content, metadata or the registry is an [`gate::Authorized`]
//! value, and only [`Vault::authorize`] makes one: authentication, standing access or
//! a live lockbox grant, the export decision, and the audit record of that decision all
//! happen there, for every route. A new operation cannot forget them, because it cannot
//! reach the data without the value.

mod epoch;
pub mod gate;
mod identity;
pub mod lockbox;
mod objects;
pub mod ops;
pub mod quorum;
pub mod registry;
pub mod settings;
mod upgrade;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use itarvault_audit::{Event, Reason as AuditReason};
use itarvault_format::Label;
use itarvault_keys::{Keyring, LocalKeystore};
use itarvault_policy::data::Country;
use itarvault_policy::model::{Action as ExportAction, Context, LabelFact, Resource};
use itarvault_policy::{Decision, Engine, Request};
use itarvault_store::{
    BlobStore, Buckets, Credentials, LockboxRecords, Metadata, Objects, PrincipalRecord, Registry,
    Role, Settings,
};
use time::OffsetDateTime;

pub use gate::{Authorized, Granted, Intent, ObjectAction, Permission, Route};
pub use identity::{Credential, Presented};
pub use lockbox::NewRequest;
pub use objects::{ListQuery, Release};
pub use quorum::Operation;
pub use registry::{NewBucket, NewPrincipal};

use crate::audit_log::AuditLog;
use crate::config::Config;
use crate::error::Error;
use crate::location::{Located, Locator};
use settings::Controlled;

/// A configured storage backend and what it declares about itself.
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    pub store: Arc<dyn BlobStore>,
    pub country: Country,
    pub operator: String,
}

/// Counters for `/metrics`, in Prometheus text.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
    pub auth_failures: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub errors: AtomicU64,
}

pub fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Who is asking, from where, with what, for the audit record of everything the
/// request does.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: PrincipalRecord,
    pub located: Located,
    pub request_id: String,
    pub credential: Credential,
}

impl Caller {
    pub fn id(&self) -> &str {
        &self.principal.id
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.principal.has_role(role)
    }

    /// An audit event pre-filled with who and where.
    pub fn event(&self, kind: &str, outcome: &str) -> Event {
        located_event(
            kind,
            outcome,
            Some(self.id()),
            &self.located,
            &self.request_id,
        )
    }
}

fn located_event(
    kind: &str,
    outcome: &str,
    principal: Option<&str>,
    at: &Located,
    request_id: &str,
) -> Event {
    let mut event = Event::new(kind, outcome);
    event.principal = principal.map(str::to_owned);
    event.addr = Some(at.addr.to_string());
    event.country = at.country.map(|c| c.to_string());
    event.request_id = Some(request_id.to_owned());
    event
}

/// The decision's reasons in the audit record's form.
pub fn audit_reasons(d: &Decision) -> Vec<AuditReason> {
    d.reasons
        .iter()
        .map(|r| AuditReason {
            rule: r.rule.to_owned(),
            cite: r.cite.clone(),
        })
        .collect()
}

pub fn new_request_id() -> String {
    let mut b = [0u8; 8];
    // A request id that failed to be random is still unique enough for correlation.
    let _ = aws_lc_rs::rand::fill(&mut b);
    hex::encode(b)
}

/// Where the lockbox webhook is and the client that posts to it.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub client: reqwest::Client,
}

/// Everything the vault's operations reach.
#[derive(Debug)]
pub struct Vault {
    config: Config,
    registry: Arc<dyn Registry>,
    credentials: Arc<dyn Credentials>,
    buckets: Arc<dyn Buckets>,
    objects: Arc<dyn Objects>,
    lockbox: Arc<dyn LockboxRecords>,
    settings: Arc<dyn Settings>,
    backends: HashMap<String, Backend>,
    keystore: Arc<LocalKeystore>,
    keyring: Keyring,
    engine: Engine,
    audit: AuditLog,
    locator: Locator,
    metrics: Arc<Metrics>,
    fips: bool,
    issuers: Vec<crate::oidc::Issuer>,
    /// What the quorum controls: the config's on first start, then only what a quorum
    /// sets.
    controlled: RwLock<Controlled>,
    webhook: Option<Webhook>,
    /// The marking rules every upload is scanned with.
    scanner: &'static itarvault_scan::Scanner,
    /// Counts writes to the registry and the lockbox (here, or announced by another
    /// node): a streaming download re-checks its grant and principal when it moves.
    changes: Arc<std::sync::atomic::AtomicU64>,
    uploads: Arc<crate::limits::UploadSlots>,
    auth_failures: crate::limits::FailureThrottle,
}

/// What [`Vault::new`] is built from (prepared by [`crate::Server::open`]).
#[derive(Debug)]
pub struct Parts<M> {
    pub config: Config,
    pub store: Arc<M>,
    pub backends: HashMap<String, Backend>,
    pub keystore: Arc<LocalKeystore>,
    pub engine: Engine,
    pub audit: AuditLog,
    pub locator: Locator,
    pub fips: bool,
    pub issuers: Vec<crate::oidc::Issuer>,
    pub controlled: Controlled,
    pub webhook: Option<Webhook>,
    pub scanner: &'static itarvault_scan::Scanner,
}

impl Vault {
    pub fn new<M: Metadata + 'static>(p: Parts<M>) -> Self {
        let limits = &p.config.limits;
        let uploads =
            crate::limits::UploadSlots::new(limits.max_uploads, limits.max_uploads_per_principal);
        let auth_failures = crate::limits::FailureThrottle::new(limits.auth_failures_per_minute);
        Self {
            config: p.config,
            registry: p.store.clone(),
            credentials: p.store.clone(),
            buckets: p.store.clone(),
            objects: p.store.clone(),
            lockbox: p.store.clone(),
            settings: p.store,
            backends: p.backends,
            keyring: Keyring::new(vec![p.keystore.clone()]),
            keystore: p.keystore,
            engine: p.engine,
            audit: p.audit,
            locator: p.locator,
            metrics: Arc::default(),
            fips: p.fips,
            issuers: p.issuers,
            controlled: RwLock::new(p.controlled),
            webhook: p.webhook,
            scanner: p.scanner,
            changes: Arc::default(),
            uploads,
            auth_failures,
        }
    }

    /// Notes a change to the registry or the lockbox (see `changes`).
    pub fn note_change(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn audit_failed(&self) -> bool {
        self.audit.is_failed()
    }

    pub fn fips(&self) -> bool {
        self.fips
    }

    /// The settings in force (residency, approved backends and policies).
    pub fn controlled(&self) -> Controlled {
        self.controlled
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Refreshes OIDC issuers' keys fetched from a URL (key rotation).
    pub async fn refresh_issuers(&self) {
        for i in &self.issuers {
            i.refresh().await;
        }
    }

    /// Appends events; a failure to record fails the operation.
    async fn record(&self, events: Vec<Event>) -> Result<(), Error> {
        self.audit
            .append(events)
            .await
            .map(|_| ())
            .map_err(|e| Error::audit(&e))
    }

    /// Records an operation's failure, then returns its error. If even the record
    /// fails, the audit error wins: the caller must know nothing was recorded.
    async fn fail(&self, event: Event, err: Error) -> Error {
        bump(&self.metrics.errors, 1);
        let mut event = event;
        event.outcome = err.outcome().into();
        event.detail = Some(match event.detail.take() {
            Some(d) => format!("{d}: {}", err.message()),
            None => err.message().to_owned(),
        });
        match self.audit.record(event).await {
            Ok(_) => err,
            Err(e) => Error::audit(&e),
        }
    }

    /// Records the outcome of an operation (its result or its failure) and returns it.
    async fn finish<T>(
        &self,
        event: Event,
        result: Result<(T, String), Error>,
    ) -> Result<T, Error> {
        match result {
            Ok((value, detail)) => {
                let mut event = event;
                event.outcome = "ok".into();
                event.detail = Some(detail);
                self.record(vec![event]).await?;
                Ok(value)
            }
            Err(e) => Err(self.fail(event, e).await),
        }
    }

    fn backend(&self, name: &str) -> Result<&Backend, Error> {
        self.backends.get(name).ok_or_else(|| {
            Error::config(
                "backend-missing",
                format!("backend `{name}` is used by stored data but not configured"),
            )
            .hint("restore its [[backends]] entry in the config and restart")
        })
    }

    /// The export decision for `caller` doing `action` with data labelled `label` (and
    /// for a placement, in `storage`). Never an error for what the engine evaluates: what
    /// cannot be evaluated denies with a reason. The organisation's residency mode
    /// narrows a placement.
    fn decide(
        &self,
        caller: &Caller,
        action: ExportAction,
        label: &Label,
        storage: Option<&Backend>,
    ) -> Result<Decision, Error> {
        let now = OffsetDateTime::now_utc();
        let authorizations = self
            .registry
            .authorizations(caller.id())?
            .into_iter()
            .filter(|a| !a.revoked)
            .map(|a| a.authorization)
            .collect();
        let request = Request {
            principal: caller.principal.to_policy(authorizations),
            action,
            context: Context {
                source_country: caller.located.country,
                time: now,
            },
            resource: Resource {
                label: LabelFact::Parsed(label.clone()),
                classified: false,
                end_to_end_encrypted: true,
                storage_country: storage.map(|b| b.country),
            },
        };
        let mut decision = self.engine.decide(&request);
        if let Some(b) = storage {
            if let Some(reason) = self.controlled().residency.refuses(b.country) {
                decision.narrow(reason);
            }
        }
        if decision.is_allow() {
            bump(&self.metrics.allowed, 1);
        } else {
            bump(&self.metrics.denied, 1);
        }
        Ok(decision)
    }
}
