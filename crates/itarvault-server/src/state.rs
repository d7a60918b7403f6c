//! The server's state: what every request handler reaches, and the two things every
//! request does first — say who is asking and where from — and the decision it needs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;
use itarvault_audit::{Event, Reason as AuditReason};
use itarvault_format::Label;
use itarvault_keys::{Keyring, LocalKeystore};
use itarvault_policy::data::Country;
use itarvault_policy::{Decision, Engine, Reason, Request};
use itarvault_store::{BlobStore, Metadata, PrincipalRecord};
use serde_json::json;
use time::OffsetDateTime;

use crate::audit_log::AuditLog;
use crate::config::{Config, ResidencyMode};
use crate::error::ApiError;
use crate::location::{Located, Locator};
use crate::token;

/// A configured storage backend and what it declares about itself.
#[derive(Debug, Clone)]
pub struct Backend {
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

#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub meta: Arc<dyn Metadata>,
    pub backends: HashMap<String, Backend>,
    pub keystore: Arc<LocalKeystore>,
    pub keyring: Keyring,
    pub engine: Engine,
    pub audit: AuditLog,
    pub locator: Locator,
    pub metrics: Metrics,
    pub fips: bool,
    pub issuers: Vec<crate::oidc::Issuer>,
    /// The residency mode in force: the config's on first start, then only what a
    /// quorum sets (`residency_set`).
    pub us_only: std::sync::atomic::AtomicBool,
    /// The lockbox webhook and the client that posts to it.
    pub webhook: Option<(String, reqwest::Client)>,
    /// The marking rules every upload is scanned with.
    pub scanner: Arc<itarvault_scan::Scanner>,
}

/// Who is asking, from where, for the audit record of everything the request does.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: PrincipalRecord,
    pub located: Located,
    pub request_id: String,
}

impl Caller {
    /// An audit event pre-filled with who and where.
    pub fn event(&self, kind: &str, outcome: &str) -> Event {
        event_from(
            kind,
            outcome,
            Some(&self.principal.id),
            &self.located,
            &self.request_id,
        )
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.principal.roles.iter().any(|r| r == role)
    }

    pub fn require_role(&self, role: &str) -> Result<(), ApiError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden_role(role))
        }
    }
}

fn event_from(
    kind: &str,
    outcome: &str,
    principal: Option<&str>,
    at: &Located,
    rid: &str,
) -> Event {
    let mut ev = Event::new(kind, outcome);
    ev.principal = principal.map(str::to_owned);
    ev.addr = Some(at.addr.to_string());
    ev.country = at.country.map(|c| c.to_string());
    ev.request_id = Some(rid.to_owned());
    ev
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

impl AppState {
    pub fn residency(&self) -> ResidencyMode {
        if self.us_only.load(Ordering::SeqCst) {
            ResidencyMode::UsOnly
        } else {
            ResidencyMode::CarveOut
        }
    }

    pub fn set_residency(&self, m: ResidencyMode) {
        self.us_only
            .store(m == ResidencyMode::UsOnly, Ordering::SeqCst);
    }

    /// Where the request comes from.
    pub fn locate(&self, peer: IpAddr, headers: &HeaderMap) -> Located {
        let xff = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        self.locator.locate(self.locator.client_addr(peer, xff))
    }

    /// Authenticates the request. A failure is audited (and counted) before the 401.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        cert_principal: Option<String>,
        located: Located,
        request_id: String,
    ) -> Result<Caller, ApiError> {
        match self.identify(headers, cert_principal) {
            Ok(principal) => Ok(Caller {
                principal,
                located,
                request_id,
            }),
            Err(why) => {
                bump(&self.metrics.auth_failures, 1);
                let ev = event_from("auth.failure", "deny", None, &located, &request_id)
                    .detail(why.clone());
                self.audit
                    .record(ev)
                    .await
                    .map_err(|e| ApiError::audit_unavailable(&e))?;
                Err(ApiError::unauthorized(why))
            }
        }
    }

    /// The principal a request authenticates as: a bearer credential (API token or
    /// OIDC JWT) if one is sent, else a verified client certificate.
    fn identify(
        &self,
        headers: &HeaderMap,
        cert_principal: Option<String>,
    ) -> Result<PrincipalRecord, String> {
        let Some(raw) = headers.get(axum::http::header::AUTHORIZATION) else {
            let id = cert_principal.ok_or("no credentials were presented")?;
            return self.registered(&id, "the client certificate");
        };
        let raw = raw
            .to_str()
            .map_err(|_| "the Authorization header is not ASCII")?;
        let bearer = raw
            .strip_prefix("Bearer ")
            .ok_or("the Authorization header is not a Bearer token")?
            .trim();
        if crate::oidc::looks_like_jwt(bearer) {
            let v = crate::oidc::verify(&self.issuers, bearer, OffsetDateTime::now_utc())?;
            let mut p = self
                .meta
                .principal(&v.principal)
                .map_err(|e| format!("principal lookup failed: {e}"))?
                .ok_or_else(|| {
                    format!(
                        "issuer `{}` names principal `{}`, which is not registered",
                        v.issuer, v.principal
                    )
                })?;
            if p.disabled {
                return Err(format!("principal `{}` is disabled", p.id));
            }
            // Only an issuer trusted for person facts may state them (config).
            if let Some(s) = v.person_status {
                p.person_status = s;
            }
            if let Some(c) = v.citizenships {
                p.citizenships = c;
            }
            return Ok(p);
        }
        let (id, secret) = token::parse(bearer).ok_or("the token is malformed")?;
        let rec = self
            .meta
            .token(id)
            .map_err(|e| format!("token lookup failed: {e}"))?
            // Same message for unknown and wrong: no oracle for token ids.
            .ok_or("the token is not valid")?;
        if !token::matches(&rec.secret_hash, &secret) {
            return Err("the token is not valid".into());
        }
        if rec.revoked {
            return Err(format!("token `{}` was revoked", rec.id));
        }
        if rec.expires.is_some_and(|e| e <= OffsetDateTime::now_utc()) {
            return Err(format!("token `{}` has expired", rec.id));
        }
        self.registered(&rec.principal, &format!("token `{}`", rec.id))
    }

    /// An enabled principal of the registry that `source` named.
    fn registered(&self, id: &str, source: &str) -> Result<PrincipalRecord, String> {
        let p = self
            .meta
            .principal(id)
            .map_err(|e| format!("principal lookup failed: {e}"))?
            .ok_or_else(|| format!("{source} names principal `{id}`, which is not registered"))?;
        if p.disabled {
            return Err(format!("principal `{}` is disabled", p.id));
        }
        Ok(p)
    }

    /// The spec's JSON form of a principal with its live (unrevoked) authorizations.
    pub fn principal_json(&self, p: &PrincipalRecord) -> Result<serde_json::Value, ApiError> {
        let auths: Vec<_> = self
            .meta
            .authorizations(&p.id)?
            .into_iter()
            .filter(|a| !a.revoked)
            .map(|a| a.body)
            .collect();
        let mut j = json!({
            "id": p.id,
            "person_status": p.person_status,
            "citizenships": p.citizenships,
            "authorizations": auths,
        });
        if let Some(r) = &p.permanent_residence {
            j["permanent_residence"] = json!(r);
        }
        Ok(j)
    }

    /// Runs the decision engine for `caller` doing `action` on data labelled `label`
    /// (and for `store`, placing it in `backend`). Never an error: what cannot be
    /// evaluated denies, with a reason that says why.
    pub fn decide(
        &self,
        caller: &Caller,
        action: &str,
        label: &Label,
        backend: Option<&Backend>,
    ) -> Result<Decision, ApiError> {
        let mut resource = json!({ "label": label, "end_to_end_encrypted": true });
        if let Some(b) = backend {
            resource["storage_country"] = json!(b.country.as_str());
        }
        let now = OffsetDateTime::now_utc();
        let req = json!({
            "principal": self.principal_json(&caller.principal)?,
            "action": action,
            "context": {
                "source_country": caller.located.country.map(|c| c.to_string()),
                "time": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            },
            "resource": resource,
        });
        let mut d = match Request::from_json(&req, now) {
            Ok(r) => self.engine.decide(&r),
            Err(e) => {
                let mut d = Decision::new();
                d.narrow(Reason::new(
                    "principal-record-invalid",
                    "22 CFR 120.56",
                    format!("the registry's facts about `{}` cannot be evaluated ({e}); fix the principal record", caller.principal.id),
                ));
                d
            }
        };
        if let Some(b) = backend {
            if self.residency() == ResidencyMode::UsOnly && b.country != Country::US {
                d.narrow(Reason::new(
                    "residency-us-only",
                    "organisation residency policy (residency mode us_only)",
                    format!(
                        "backend in `{}` is outside the US and this organisation stores controlled data only in the US",
                        b.country
                    ),
                ));
            }
        }
        if d.is_allow() {
            bump(&self.metrics.allowed, 1);
        } else {
            bump(&self.metrics.denied, 1);
        }
        Ok(d)
    }
}
