//! Handlers: each adapts HTTP to one service call of the vault. What they may touch
//! was decided by the gate before they run (the `Authorized` argument).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use itarvault_store::{ObjectRecord, TokenPurpose};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Json, Query, LABEL_HEADER, VERSION_HEADER};
use crate::error::Error;
use crate::vault::gate::{
    BucketList, LockboxTarget, Nothing, ObjectDelete, ObjectRead, ObjectWrite,
};
use crate::vault::{
    Authorized, Credential, ListQuery, NewBucket, NewPrincipal, NewRequest, Release, Vault,
};

type Answer = Result<Response, Error>;

fn json(value: impl serde::Serialize) -> Response {
    axum::Json(value).into_response()
}

fn created(value: impl serde::Serialize) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

/// The OpenAPI document, checked in at `docs/openapi.json`.
pub const OPENAPI: &str = include_str!("../../../../docs/openapi.json");

pub async fn healthz(State(vault): State<Arc<Vault>>) -> Response {
    if vault.audit_failed() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "failing", "reason": "the audit log cannot be written"})),
        )
            .into_response();
    }
    if let Some(why) = vault.audit_health() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "failing", "reason": format!("the audit trail cannot take records: {why}")})),
        )
            .into_response();
    }
    if let Some(p) = vault.pending_restore() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "restore-pending", "restore_seq": p.seq, "reason": "restored from a backup: only quorum and audit routes are served until a quorum approves the restore"})),
        )
            .into_response();
    }
    json(json!({"status": "ok", "fips": vault.fips()}))
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn metrics(State(vault): State<Arc<Vault>>, auth: Authorized<Nothing>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        vault.metrics_text(&auth),
    )
        .into_response()
}

pub async fn whoami(State(vault): State<Arc<Vault>>, auth: Authorized<Nothing>) -> Answer {
    let mut v =
        serde_json::to_value(vault.whoami(&auth)?).map_err(|e| Error::bug(e.to_string()))?;
    let located = &auth.caller().located;
    v["address"] = json!(located.addr.to_string());
    v["source_country"] = json!(located.country.map(|c| c.to_string()));
    v["location_source"] = json!(located.source);
    v["credential"] = json!(match &auth.caller().credential {
        Credential::Token {
            purpose: TokenPurpose::Enrollment,
            ..
        } => "enrollment token",
        Credential::Token { .. } => "token",
        Credential::Oidc { .. } => "oidc",
        Credential::Certificate { .. } => "certificate",
    });
    v["bootstrap"] = json!(vault.controlled().bootstrap());
    Ok(json(v))
}

pub async fn decide(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Json(body): Json<Value>,
) -> Answer {
    Ok(json(vault.decide_api(&auth, body).await?))
}

pub async fn list_principals(State(vault): State<Arc<Vault>>, auth: Authorized<Nothing>) -> Answer {
    Ok(json(vault.list_principals(&auth)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Justified {
    justification: Option<String>,
}

pub async fn add_principal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Query(q): Query<Justified>,
    Json(new): Json<NewPrincipal>,
) -> Answer {
    Ok(
        match vault.add_principal(&auth, new, q.justification).await? {
            crate::vault::registry::Registered::Now(v) => created(v),
            crate::vault::registry::Registered::Proposed(p) => {
                (StatusCode::ACCEPTED, axum::Json(p)).into_response()
            }
        },
    )
}

pub async fn show_principal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
) -> Answer {
    Ok(json(vault.show_principal(&auth, &id)?))
}

pub async fn disable_principal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
) -> Answer {
    Ok(json(vault.set_disabled(&auth, &id, true).await?))
}

pub async fn enable_principal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
) -> Answer {
    Ok(json(vault.set_disabled(&auth, &id, false).await?))
}

pub async fn list_authorizations(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
) -> Answer {
    Ok(json(vault.list_authorizations(&auth, &id)?))
}

/// The body is parsed by the decision model's own parser, so every problem comes back
/// with its JSON path.
pub async fn add_authorization(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
    Query(q): Query<Justified>,
    Json(body): Json<Value>,
) -> Answer {
    let authorization = itarvault_policy::Authorization::from_json(&body).map_err(|e| {
        Error::invalid(
            "invalid-input",
            format!("the authorization is invalid: {e}"),
        )
        .problems(e.0)
    })?;
    let p = vault
        .add_authorization(&auth, &id, authorization, q.justification)
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(p)).into_response())
}

pub async fn revoke_authorization(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path((id, authorization)): Path<(String, String)>,
) -> Answer {
    vault
        .revoke_authorization(&auth, &id, &authorization)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_tokens(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
) -> Answer {
    Ok(json(vault.list_tokens(&auth, &id)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Lifetime in days (default 90, at most `limits.max_token_days`).
    days: Option<u32>,
}

pub async fn create_token(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
    body: Option<Json<NewToken>>,
) -> Answer {
    let days = body.and_then(|b| b.0.days).unwrap_or(90);
    let minted = vault.create_token(&auth, &id, days).await?;
    let mut v = serde_json::to_value(&minted.record).map_err(|e| Error::bug(e.to_string()))?;
    v["token"] = json!(minted.text.as_str());
    Ok(created(v))
}

pub async fn revoke_token(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
) -> Answer {
    vault.revoke_token(&auth, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_buckets(State(vault): State<Arc<Vault>>, auth: Authorized<Nothing>) -> Answer {
    Ok(json(vault.list_buckets(&auth)?))
}

pub async fn create_bucket(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Json(new): Json<NewBucket>,
) -> Answer {
    Ok(created(vault.create_bucket(&auth, new).await?))
}

fn object_headers(o: &ObjectRecord) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(o.size));
    if let Ok(v) = HeaderValue::from_str(&o.label.to_string()) {
        h.insert(LABEL_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(o.version.as_str()) {
        h.insert(VERSION_HEADER, v);
    }
    h
}

pub async fn list_objects(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<BucketList>,
    Query(q): Query<ListQuery>,
) -> Answer {
    Ok(json(vault.list_objects(auth, q).await?))
}

pub async fn put_object(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<ObjectWrite>,
    body: Body,
) -> Answer {
    let record = vault.put_object(auth, body.into_data_stream()).await?;
    Ok(created(record))
}

pub async fn get_object(State(vault): State<Arc<Vault>>, auth: Authorized<ObjectRead>) -> Answer {
    Ok(match vault.get_object(auth).await? {
        Release::Whole(o, plain) => (object_headers(&o), Body::from(plain)).into_response(),
        Release::Stream(o, stream) => {
            (object_headers(&o), Body::from_stream(stream)).into_response()
        }
    })
}

pub async fn head_object(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<ObjectRead>,
) -> Response {
    (object_headers(&vault.head_object(&auth)), ()).into_response()
}

pub async fn delete_object(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<ObjectDelete>,
) -> Answer {
    let gone = vault.delete_object(auth).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(gone.version().as_str()) {
        resp.headers_mut().insert(VERSION_HEADER, v);
    }
    Ok(resp)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Why {
    #[serde(default)]
    reason: String,
}

pub async fn list_requests(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Query(q): Query<crate::vault::lockbox::StateFilter>,
) -> Answer {
    Ok(json(vault.list_requests(&auth, q)?))
}

pub async fn file_request(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Json(ask): Json<NewRequest>,
) -> Answer {
    Ok(created(vault.file_request(&auth, ask).await?))
}

pub async fn show_request(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<LockboxTarget>,
) -> Answer {
    Ok(json(vault.show_request(&auth)?))
}

pub async fn approve_request(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<LockboxTarget>,
) -> Answer {
    Ok(json(vault.approve_request(&auth).await?))
}

pub async fn deny_request(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<LockboxTarget>,
    body: Option<Json<Why>>,
) -> Answer {
    let why = body.map(|b| b.0.reason).unwrap_or_default();
    Ok(json(vault.deny_request(&auth, &why).await?))
}

pub async fn revoke_request(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<LockboxTarget>,
    body: Option<Json<Why>>,
) -> Answer {
    let why = body.map(|b| b.0.reason).unwrap_or_default();
    Ok(json(vault.revoke_request(&auth, &why).await?))
}

pub async fn list_proposals(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Query(q): Query<crate::vault::lockbox::StateFilter>,
) -> Answer {
    Ok(json(vault.list_proposals(&auth, q)?))
}

pub async fn create_proposal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Json(new): Json<crate::vault::quorum::NewProposal>,
) -> Answer {
    let p = vault
        .propose(&auth, new.operation, &new.justification)
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(p)).into_response())
}

pub async fn show_proposal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<LockboxTarget>,
) -> Answer {
    Ok(json(vault.show_proposal(&auth)?))
}

pub async fn approve_proposal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<LockboxTarget>,
) -> Answer {
    let (p, minted) = vault.approve_proposal(&auth).await?;
    let mut v = serde_json::to_value(&p).map_err(|e| Error::bug(e.to_string()))?;
    if let Some(m) = minted {
        v["enrollment_token"] = json!(m.text.as_str());
    }
    Ok(json(v))
}

/// The outside credentials that authenticate as a principal: now (removal, bootstrap
/// mode) or through the quorum.
pub async fn bind_principal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
    Query(q): Query<Justified>,
    Json(bindings): Json<itarvault_store::Bindings>,
) -> Answer {
    Ok(
        match vault
            .bind_principal(&auth, &id, bindings, q.justification)
            .await?
        {
            crate::vault::registry::Registered::Now(v) => json(v),
            crate::vault::registry::Registered::Proposed(p) => {
                (StatusCode::ACCEPTED, axum::Json(p)).into_response()
            }
        },
    )
}

/// A first credential for someone: now (bootstrap mode) or through the quorum.
pub async fn enroll(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<Nothing>,
    Path(id): Path<String>,
    Query(q): Query<Justified>,
) -> Answer {
    Ok(match vault.enroll(&auth, &id, q.justification).await? {
        crate::vault::registry::Enrolled::Now(m) => {
            let mut v = serde_json::to_value(&m.record).map_err(|e| Error::bug(e.to_string()))?;
            v["enrollment_token"] = json!(m.text.as_str());
            created(v)
        }
        crate::vault::registry::Enrolled::Proposed(p) => {
            (StatusCode::ACCEPTED, axum::Json(p)).into_response()
        }
    })
}

pub async fn deny_proposal(
    State(vault): State<Arc<Vault>>,
    auth: Authorized<LockboxTarget>,
    body: Option<Json<Why>>,
) -> Answer {
    let why = body.map(|b| b.0.reason).unwrap_or_default();
    Ok(json(vault.deny_proposal(&auth, &why).await?))
}

/// The audit trail as stored (JSON Lines); the signed head travels in a header so that
/// the copy can be verified offline (`itarvault audit verify`).
pub async fn audit_trail(State(vault): State<Arc<Vault>>, auth: Authorized<Nothing>) -> Answer {
    let export = vault.audit_trail(&auth).await?;
    let body = futures_util::stream::unfold(export.log, |mut f| async move {
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
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jsonl"),
    );
    if let Some(v) = export
        .head
        .and_then(|head| HeaderValue::from_str(&head).ok())
    {
        h.insert("x-itarvault-audit-head", v);
    }
    Ok(resp)
}

pub async fn posture(State(vault): State<Arc<Vault>>, auth: Authorized<Nothing>) -> Answer {
    Ok(json(vault.posture(&auth)?))
}
