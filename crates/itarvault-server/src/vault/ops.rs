//! The decision endpoint, the audit trail export, the posture and the metrics.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use itarvault_api::{
    Admin, AuditInfo, Backend as PostureBackend, Bucket, Fips, KeyProvider, Lockbox, ObjectsInfo,
    Posture, Quorum, Residency, ServerCertificate, Tls,
};
use itarvault_policy::{decide_batch, Decisions, INVALID_INPUT};
use itarvault_store::Role;
use serde_json::Value;
use time::OffsetDateTime;

use super::gate::{Authorized, Nothing};
use super::{audit_reasons, Vault};
use crate::audit_log::AuditPaths;
use crate::error::Error;

/// The audit trail as stored, with its signed head, for offline verification.
#[derive(Debug)]
pub struct TrailExport {
    pub head: Option<String>,
    pub log: tokio::fs::File,
}

impl Vault {
    /// Decides requests in the spec's format for another system (one request, or an
    /// array: the policy crate's batch rules). Each decision is audited with the caller
    /// and the subject principal.
    pub async fn decide_api(
        &self,
        auth: &Authorized<Nothing>,
        body: Value,
    ) -> Result<Decisions, Error> {
        let mut base = auth.event("error");
        base.kind = "decide.api".into();
        let decisions = match decide_batch(&body, OffsetDateTime::now_utc(), &self.engine) {
            Ok(d) => d,
            Err(invalid) => {
                let err = Error::invalid(
                    INVALID_INPUT,
                    format!("{} problem(s) in the decision request", invalid.0.len()),
                )
                .hint("fix each path listed; docs/decisions.md describes the format")
                .problems(invalid.0);
                return Err(self.fail(base, err).await);
            }
        };
        let events = decisions
            .iter()
            .map(|d| {
                let mut event = base.clone();
                event.outcome = if d.decision.is_allow() {
                    "allow"
                } else {
                    "deny"
                }
                .into();
                event.action = Some(d.request.action.as_str().into());
                event.reasons = audit_reasons(&d.decision);
                event.authorization = d.decision.authorization_used.clone();
                event.detail = Some(format!("subject `{}`", d.request.principal.id));
                event
            })
            .collect();
        self.record(events).await?;
        Ok(decisions)
    }

    /// The audit trail (JSON Lines) with its signed head: who did what, never content.
    pub async fn audit_trail(&self, _auth: &Authorized<Nothing>) -> Result<TrailExport, Error> {
        let paths = AuditPaths::new(&self.config.data_dir.join("audit"));
        let head = tokio::fs::read_to_string(paths.head())
            .await
            .ok()
            .map(|h| h.trim().to_owned());
        let log = tokio::fs::File::open(paths.log()).await.map_err(|e| {
            Error::unavailable("audit-unavailable", format!("opening the audit log: {e}"))
        })?;
        Ok(TrailExport { head, log })
    }

    /// The server's own compliance posture, for `itarvault assess --vault`: facts only;
    /// the assessor judges them, so that the judgement is in one place and cited.
    pub fn posture(&self, _auth: &Authorized<Nothing>) -> Result<Posture, Error> {
        let cfg = &self.config;
        let admins = self
            .registry
            .principals()?
            .into_iter()
            .filter(|p| !p.disabled && (p.has_role(Role::Admin) || p.has_role(Role::Operator)))
            .map(|p| Admin {
                id: p.id,
                roles: p.roles,
                person_status: p.facts.person_status,
                citizenships: p.facts.citizenships,
            })
            .collect();
        let buckets = self
            .buckets
            .buckets()?
            .into_iter()
            .map(|b| Bucket {
                name: b.name,
                backend: b.backend,
                key_id: b.key_id,
                key_provider: "local".into(),
                owners: b.owners,
            })
            .collect();
        let audit_key = AuditPaths::new(&cfg.data_dir.join("audit"))
            .verifying_key()
            .map_err(|e| {
                Error::unavailable(
                    "audit-unavailable",
                    format!("reading the audit verifying key: {e}"),
                )
            })?;
        let provider = crate::tls::provider();
        Ok(Posture {
            server_version: env!("CARGO_PKG_VERSION").into(),
            fips: {
                let m = crate::crypto_module::current();
                Fips {
                    active: self.fips,
                    module: m.title(),
                    validated: m.validated,
                    validation: m.validation,
                    certificate: cfg.fips_certificate.clone(),
                }
            },
            tls: Tls {
                enabled: !cfg.tls.insecure_http,
                versions: vec!["TLSv1.2".into(), "TLSv1.3".into()],
                cipher_suites: provider
                    .cipher_suites
                    .iter()
                    .map(|s| format!("{:?}", s.suite()))
                    .collect(),
                key_exchange_groups: provider
                    .kx_groups
                    .iter()
                    .map(|g| format!("{:?}", g.name()))
                    .collect(),
                certificate: if cfg.tls.cert_file.is_some() {
                    ServerCertificate::Configured
                } else {
                    ServerCertificate::SelfSignedDevelopment
                },
                client_certificates: cfg.tls.client_ca_file.is_some(),
            },
            residency: Residency {
                mode: self.controlled().residency,
            },
            backends: self
                .backends
                .values()
                .map(|b| PostureBackend {
                    name: b.name.clone(),
                    kind: "local".into(),
                    country: b.country,
                    operator: b.operator.clone(),
                })
                .collect(),
            key_providers: vec![KeyProvider {
                name: "local".into(),
                kind: "local-keystore".into(),
                custody: "the owner: key-encryption keys live only in this server's keystore, wrapped under its master key; backends receive ciphertext only".into(),
                third_party_access: false,
            }],
            buckets,
            lockbox: Lockbox {
                enabled: true,
                approvals_required: cfg.lockbox.approvals_required,
                max_grant_hours: cfg.lockbox.max_grant_hours,
            },
            quorum: Quorum {
                required: cfg.quorum.required,
                approvers: cfg.quorum.approvers.len(),
                bootstrap: self.controlled().bootstrap(),
            },
            admins,
            audit: AuditInfo {
                public_key: audit_key.to_hex(),
            },
            objects: ObjectsInfo {
                format_1_remaining: self.legacy_remaining()?,
            },
        })
    }

    /// Counters in Prometheus text.
    pub fn metrics_text(&self, _auth: &Authorized<Nothing>) -> String {
        let m = &self.metrics;
        let a = &self.audit.stats;
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                s,
                "# HELP itarvault_{name} {help}\n# TYPE itarvault_{name} counter\nitarvault_{name} {v}"
            );
        };
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        counter(
            "requests_total",
            "Requests that presented credentials.",
            get(&m.requests),
        );
        counter(
            "decisions_allowed_total",
            "Export decisions that allowed.",
            get(&m.allowed),
        );
        counter(
            "decisions_denied_total",
            "Export decisions that denied.",
            get(&m.denied),
        );
        counter(
            "auth_failures_total",
            "Requests whose credentials failed.",
            get(&m.auth_failures),
        );
        counter(
            "errors_total",
            "Operations that failed or were refused.",
            get(&m.errors),
        );
        counter(
            "bytes_in_total",
            "Plaintext bytes received in uploads.",
            get(&m.bytes_in),
        );
        counter(
            "bytes_out_total",
            "Plaintext bytes released in downloads.",
            get(&m.bytes_out),
        );
        counter(
            "audit_records_total",
            "Audit records made durable.",
            get(&a.records),
        );
        counter(
            "audit_commits_total",
            "Group commits (one fsync each).",
            get(&a.commits),
        );
        counter(
            "audit_checkpoints_total",
            "Signed audit checkpoints.",
            get(&a.checkpoints),
        );
        let _ = writeln!(
            s,
            "# HELP itarvault_fips_mode Whether the FIPS 140-3 module is active.\n# TYPE itarvault_fips_mode gauge\nitarvault_fips_mode {}",
            u8::from(self.fips)
        );
        s
    }
}
