//! Operations endpoints and the decision endpoint.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use itarvault_policy::{InputProblem, Request};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::state::{audit_reasons, AppState, Caller};

/// The OpenAPI document, checked in at `docs/openapi.json`.
pub const OPENAPI: &str = include_str!("../../../../docs/openapi.json");

pub async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    if st.audit.is_failed() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "failing", "reason": "the audit log cannot be written"})),
        )
            .into_response();
    }
    Json(json!({"status": "ok", "fips": st.fips})).into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    let m = &st.metrics;
    let a = &st.audit.stats;
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
        "Authenticated and unauthenticated API requests.",
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
    counter("errors_total", "Operations that failed.", get(&m.errors));
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
        u8::from(st.fips)
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s).into_response()
}

/// `POST /v1/decide`: one request (or an array) in the spec's format. Each decision is
/// audited with the caller and the subject principal.
pub async fn decide(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let now = OffsetDateTime::now_utc();
    let (items, batch) = match body {
        Value::Array(a) => (a, true),
        one => (vec![one], false),
    };
    let mut requests = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, v) in items.iter().enumerate() {
        match Request::from_json(v, now) {
            Ok(r) => requests.push(r),
            Err(e) => problems.extend(e.0.into_iter().map(|p| InputProblem {
                path: if batch {
                    p.path.replacen('$', &format!("$[{i}]"), 1)
                } else {
                    p.path
                },
                message: p.message,
            })),
        }
    }
    if !problems.is_empty() {
        let mut err = ApiError::bad_request(
            "invalid-input",
            format!("{} problem(s) in the decision request", problems.len()),
        )
        .hint("fix each path listed; shared/spec/decision.md describes the format");
        err.problems = problems;
        let ev = caller
            .event("decide.api", "error")
            .detail(err.message.clone());
        st.audit
            .record(ev)
            .await
            .map_err(|e| ApiError::audit_unavailable(&e))?;
        return Err(err);
    }
    let mut events = Vec::with_capacity(requests.len());
    let decisions: Vec<_> = requests
        .iter()
        .map(|r| {
            let d = st.engine.decide(r);
            let mut ev = caller.event("decide.api", if d.is_allow() { "allow" } else { "deny" });
            ev.action = Some(r.action.as_str().into());
            ev.reasons = audit_reasons(&d);
            ev.authorization = d.authorization_used.clone();
            ev.detail = Some(format!("subject `{}`", r.principal.id));
            events.push(ev);
            d
        })
        .collect();
    st.audit
        .append(events)
        .await
        .map_err(|e| ApiError::audit_unavailable(&e))?;
    Ok(if batch {
        Json(json!(decisions)).into_response()
    } else {
        Json(json!(decisions[0])).into_response()
    })
}

/// The audit trail as stored (JSON Lines), for the `auditor` (and `admin`) role: it
/// holds who did what, never content. The signed head travels in a header so that
/// the copy can be verified offline (`itarvault audit verify`).
pub async fn audit_trail(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    if !caller.has_role("auditor") {
        caller.require_role("admin")?;
    }
    let paths = crate::audit_log::AuditPaths::new(&st.config.data_dir.join("audit"));
    let mut ev = caller.event("audit.read", "ok");
    ev.detail = Some("audit trail exported over the API".into());
    st.audit
        .record(ev)
        .await
        .map_err(|e| ApiError::audit_unavailable(&e))?;
    let head = tokio::fs::read_to_string(paths.head())
        .await
        .unwrap_or_default();
    let file = tokio::fs::File::open(paths.log())
        .await
        .map_err(|e| ApiError::internal(format!("opening the audit log: {e}")))?;
    let body = futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 << 10];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut resp = axum::body::Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/jsonl"),
    );
    if let Ok(v) = header::HeaderValue::from_str(head.trim()) {
        h.insert("x-itarvault-audit-head", v);
    }
    Ok(resp)
}

/// The server's own compliance posture, for `itarvault assess --vault` (auditor or
/// admin): the cryptographic module, TLS, residency and backends, key custody, the
/// lockbox and quorum, the administrators' person facts and the buckets. Facts only:
/// the assessor judges them, so that the judgement is in one place and cited.
pub async fn posture(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    if !caller.has_role("auditor") {
        caller.require_role("admin")?;
    }
    let cfg = &st.config;
    let admins: Vec<Value> = st
        .meta
        .principals()?
        .into_iter()
        .filter(|p| !p.disabled && p.roles.iter().any(|r| r == "admin" || r == "operator"))
        .map(|p| {
            json!({
                "id": p.id,
                "roles": p.roles,
                "person_status": p.person_status,
                "citizenships": p.citizenships,
            })
        })
        .collect();
    let buckets: Vec<Value> = st
        .meta
        .buckets()?
        .into_iter()
        .map(|b| json!({ "name": b.name, "backend": b.backend, "key_id": b.key_id, "key_provider": "local", "owners": b.owners }))
        .collect();
    let audit_key = crate::audit_log::AuditPaths::new(&cfg.data_dir.join("audit"))
        .verifying_key()
        .map_err(|e| ApiError::internal(format!("reading the audit verifying key: {e}")))?;
    let mut ev = caller.event("posture.read", "ok");
    ev.detail = Some("compliance posture read".into());
    st.audit
        .record(ev)
        .await
        .map_err(|e| ApiError::audit_unavailable(&e))?;
    Ok(Json(json!({
        "server_version": env!("CARGO_PKG_VERSION"),
        "fips": {
            "active": st.fips,
            "module": if st.fips { "AWS-LC FIPS (aws-lc-fips-sys)" } else { "AWS-LC (aws-lc-sys, not the validated module)" },
            "certificate": cfg.fips_certificate,
        },
        "tls": {
            "enabled": !cfg.tls.insecure_http,
            "versions": ["TLSv1.2", "TLSv1.3"],
            "cipher_suites": crate::tls::provider().cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect::<Vec<_>>(),
            "key_exchange_groups": crate::tls::provider().kx_groups.iter().map(|g| format!("{:?}", g.name())).collect::<Vec<_>>(),
            "certificate": if cfg.tls.cert_file.is_some() { "configured" } else { "self-signed (development)" },
            "client_certificates": cfg.tls.client_ca_file.is_some(),
        },
        "residency": {
            "mode": if st.us_only.load(Ordering::SeqCst) { "us_only" } else { "carve_out" },
        },
        "backends": cfg.effective_backends(),
        "key_providers": [{
            "name": "local",
            "kind": "local-keystore",
            "custody": "the owner: key-encryption keys live only in this server's keystore, wrapped under its master key; backends receive ciphertext only",
            "third_party_access": false,
        }],
        "buckets": buckets,
        "lockbox": {
            "enabled": true,
            "approvals_required": cfg.lockbox.approvals_required,
            "max_grant_hours": cfg.lockbox.max_grant_hours,
        },
        "quorum": {
            "required": cfg.quorum.required,
            "approvers": cfg.quorum.approvers.len(),
        },
        "admins": admins,
        "audit": { "public_key": audit_key.to_hex() },
    }))
    .into_response())
}
