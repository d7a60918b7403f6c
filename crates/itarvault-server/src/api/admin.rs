//! The principal registry, authorizations, tokens and buckets: admin operations, each
//! validated against the decision model and recorded in the audit trail.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use itarvault_policy::{InputProblem, Request};
use itarvault_store::{AuthorizationRecord, BucketRecord, PrincipalRecord, TokenRecord};
use serde::Deserialize;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use itarvault_lockbox::Operation;

use super::{lockbox, outcome, record};
use crate::error::ApiError;
use crate::state::{AppState, Caller};
use crate::token;

/// Roles a principal can hold. `admin` runs the service; `auditor` reads the trail;
/// `operator` supports it (a provider's engineer). None of them reads content without
/// an approved access request (`api::lockbox`).
pub const ROLES: &[&str] = &["admin", "auditor", "operator"];

fn valid_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

fn bad_id(what: &str, s: &str) -> ApiError {
    ApiError::bad_request("bad-id", format!("{what} `{s}` is not valid"))
        .hint("use 1 to 128 letters, digits and `._@-`")
}

/// Validates principal facts (and authorizations) with the decision model's own
/// parser, so the registry can only hold what decisions can evaluate. Paths are
/// rewritten to the request body's.
fn validate(principal: &Value, body_root: &str) -> Result<(), ApiError> {
    let probe = json!({
        "principal": principal,
        "action": "read",
        "context": { "source_country": "US" },
        "resource": { "label": { "jurisdiction": "PUBLIC" } },
    });
    match Request::from_json(&probe, OffsetDateTime::now_utc()) {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut err = ApiError::bad_request("invalid-input", "the request body is invalid");
            err.problems =
                e.0.into_iter()
                    .map(|p| InputProblem {
                        path: p.path.replacen(body_root, "$", 1),
                        message: p.message,
                    })
                    .collect();
            err.message = format!(
                "the request body is invalid: {}",
                err.problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            Err(err)
        }
    }
}

/// Runs an admin change: role check, the change, and its audit record (also when it
/// fails) before the response.
async fn admin_change<T>(
    st: &AppState,
    caller: &Caller,
    kind: &str,
    detail: String,
    change: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    change_as(
        st,
        caller,
        caller.require_role("admin"),
        kind,
        detail,
        change,
    )
    .await
}

/// [`admin_change`] with the permission check given by the caller.
async fn change_as<T>(
    st: &AppState,
    caller: &Caller,
    permitted: Result<(), ApiError>,
    kind: &str,
    detail: String,
    change: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut ev = caller.event(kind, "error").detail(detail);
    let res = permitted.and_then(|()| change());
    ev.outcome = outcome(&res).into();
    if let Err(e) = &res {
        ev.detail = Some(format!("{}: {}", ev.detail.unwrap_or_default(), e.message));
    }
    record(st, ev).await?;
    res
}

fn principal_view(st: &AppState, p: &PrincipalRecord) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(p).map_err(|e| ApiError::internal(e.to_string()))?;
    v["authorizations"] = serde_json::to_value(st.meta.authorizations(&p.id)?)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(v)
}

pub async fn whoami(State(st): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    let mut v = principal_view(&st, &caller.principal)?;
    v["address"] = json!(caller.located.addr.to_string());
    v["source_country"] = json!(caller.located.country.map(|c| c.to_string()));
    v["location_source"] = json!(caller.located.source);
    Ok(Json(v).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPrincipal {
    id: String,
    person_status: String,
    #[serde(default)]
    citizenships: Vec<String>,
    permanent_residence: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// A principal record from the API's JSON form, validated.
pub fn principal_record(body: &Value) -> Result<PrincipalRecord, ApiError> {
    let np: NewPrincipal = serde_json::from_value(body.clone()).map_err(|e| {
        ApiError::bad_request("invalid-input", format!("the principal is invalid: {e}"))
    })?;
    if !valid_id(&np.id) {
        return Err(bad_id("principal id", &np.id));
    }
    if let Some(r) = np.roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
        return Err(
            ApiError::bad_request("bad-role", format!("role `{r}` does not exist"))
                .hint(format!("roles: {}", ROLES.join(", "))),
        );
    }
    let mut facts = json!({
        "id": np.id, "person_status": np.person_status, "citizenships": np.citizenships,
    });
    if let Some(r) = &np.permanent_residence {
        facts["permanent_residence"] = json!(r);
    }
    validate(&facts, "$.principal")?;
    Ok(PrincipalRecord {
        id: np.id,
        person_status: np.person_status,
        citizenships: np.citizenships,
        permanent_residence: np.permanent_residence,
        roles: np.roles,
        disabled: false,
        created: OffsetDateTime::now_utc(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Justified {
    justification: Option<String>,
}

fn justification(q: Justified, default: String) -> String {
    q.justification
        .filter(|j| !j.trim().is_empty())
        .unwrap_or(default)
}

/// Registers a principal; an administrator (or anyone, under `quorum.principals`) only
/// through the quorum, since whoever registers a person decides what they may read.
pub async fn add_principal(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<Justified>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let detail = format!("principal {body}");
    let rec = principal_record(&body);
    if let Ok(r) = &rec {
        if r.roles.iter().any(|r| r == "admin") || st.config.quorum.principals {
            let why = justification(q, format!("register principal `{}`", r.id));
            return lockbox::propose(
                &st,
                &caller,
                Operation::PrincipalAdd { principal: body },
                &why,
            )
            .await;
        }
    }
    let rec = admin_change(&st, &caller, "admin.principal.add", detail, || {
        let rec = rec?;
        st.meta.add_principal(&rec)?;
        Ok(rec)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(principal_view(&st, &rec)?)).into_response())
}

pub async fn list_principals(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_role("admin")?;
    Ok(Json(st.meta.principals()?).into_response())
}

fn existing(st: &AppState, id: &str) -> Result<PrincipalRecord, ApiError> {
    st.meta
        .principal(id)?
        .ok_or_else(|| ApiError::not_found(format!("principal `{id}` does not exist")))
}

pub async fn show_principal(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if caller.principal.id != id {
        caller.require_role("admin")?;
    }
    Ok(Json(principal_view(&st, &existing(&st, &id)?)?).into_response())
}

async fn set_disabled(
    st: &AppState,
    caller: &Caller,
    id: &str,
    disabled: bool,
) -> Result<Response, ApiError> {
    let kind = if disabled {
        "admin.principal.disable"
    } else {
        "admin.principal.enable"
    };
    admin_change(st, caller, kind, format!("principal `{id}`"), || {
        if disabled && caller.principal.id == id {
            return Err(ApiError::bad_request(
                "self-disable",
                "an admin cannot disable themselves",
            )
            .hint("ask another admin, so that the service always keeps one"));
        }
        Ok(st.meta.set_disabled(id, disabled)?)
    })
    .await?;
    Ok(Json(principal_view(st, &existing(st, id)?)?).into_response())
}

pub async fn disable_principal(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_disabled(&st, &caller, &id, true).await
}

pub async fn enable_principal(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_disabled(&st, &caller, &id, false).await
}

pub async fn list_authorizations(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if caller.principal.id != id {
        caller.require_role("admin")?;
    }
    existing(&st, &id)?;
    Ok(Json(st.meta.authorizations(&id)?).into_response())
}

/// An authorization record for `principal`, validated by the decision model.
pub fn authorization_record(
    st: &AppState,
    principal: &str,
    body: &Value,
) -> Result<AuthorizationRecord, ApiError> {
    let p = existing(st, principal)?;
    let facts = json!({
        "id": p.id, "person_status": p.person_status, "citizenships": p.citizenships,
        "authorizations": [body],
    });
    validate(&facts, "$.principal.authorizations[0]")?;
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if st
        .meta
        .authorizations(principal)?
        .iter()
        .any(|a| a.id == id)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("`{principal}` already has authorization `{id}`"),
        )
        .hint("authorizations are never edited: revoke it and add one with a new id"));
    }
    Ok(AuthorizationRecord {
        principal: principal.to_owned(),
        id,
        body: body.clone(),
        revoked: false,
        added: OffsetDateTime::now_utc(),
    })
}

/// Adding a license widens what someone may read: it goes to the quorum (202).
pub async fn add_authorization(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<Justified>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let auth_id = body
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let why = justification(q, format!("add authorization `{auth_id}` to `{id}`"));
    let op = Operation::AuthorizationAdd {
        principal: id,
        authorization: body,
    };
    lockbox::propose(&st, &caller, op, &why).await
}

pub async fn revoke_authorization(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path((id, auth)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    admin_change(
        &st,
        &caller,
        "admin.authorization.revoke",
        format!("authorization `{auth}` of `{id}`"),
        || Ok(st.meta.revoke_authorization(&id, &auth)?),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Lifetime in days (default 90, at most `limits.max_token_days`).
    days: Option<u32>,
}

pub async fn create_token(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<Json<NewToken>>,
) -> Result<Response, ApiError> {
    let days = body.and_then(|b| b.0.days).unwrap_or(90);
    let max = st.config.limits.max_token_days;
    // Anyone may mint their own tokens. An admin may mint one for someone else only
    // while they hold no live token (onboarding, or after a revocation they will
    // notice): otherwise a token minted for a cleared person would let the admin read
    // as them.
    let now = OffsetDateTime::now_utc();
    let permitted = if caller.principal.id == id {
        Ok(())
    } else {
        caller.require_role("admin").and_then(|()| {
            let live = st
                .meta
                .tokens(&id)?
                .into_iter()
                .find(|t| !t.revoked && t.expires.is_none_or(|e| e > now));
            match live {
                None => Ok(()),
                Some(t) => Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "principal-has-token",
                    format!("`{id}` already holds live token `{}`; an admin cannot mint another for them", t.id),
                )
                .hint(format!("`{id}` mints their own with `itarvault tokens create {id}`"))),
            }
        })
    };
    let (rec, text) = change_as(
        &st,
        &caller,
        permitted,
        "admin.token.create",
        format!("token for `{id}`, {days} days"),
        || {
            existing(&st, &id)?;
            if days == 0 || days > max {
                return Err(ApiError::bad_request(
                    "bad-lifetime",
                    format!("a token lives 1 to {max} days, not {days}"),
                ));
            }
            let t = token::mint()
                .map_err(|_| ApiError::internal("the random number generator failed"))?;
            let rec = TokenRecord {
                id: t.id.clone(),
                principal: id.clone(),
                secret_hash: t.secret_hash,
                created: OffsetDateTime::now_utc(),
                expires: Some(OffsetDateTime::now_utc() + Duration::days(i64::from(days))),
                revoked: false,
            };
            st.meta.add_token(&rec)?;
            Ok((rec, t.text))
        },
    )
    .await?;
    let mut v = serde_json::to_value(&rec).map_err(|e| ApiError::internal(e.to_string()))?;
    v["token"] = json!(text.as_str());
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn list_tokens(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if caller.principal.id != id {
        caller.require_role("admin")?;
    }
    Ok(Json(st.meta.tokens(&id)?).into_response())
}

pub async fn revoke_token(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_change(
        &st,
        &caller,
        "admin.token.revoke",
        format!("token `{id}`"),
        || Ok(st.meta.revoke_token(&id)?),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_buckets(
    State(st): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    Ok(Json(st.meta.buckets()?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBucket {
    name: String,
    backend: Option<String>,
    /// Who approves access requests to the bucket's content.
    #[serde(default)]
    owners: Vec<String>,
}

/// Bucket names as in S3: 3 to 63 lowercase letters, digits, `.` and `-`.
fn valid_bucket(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

pub async fn create_bucket(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Json(nb): Json<NewBucket>,
) -> Result<Response, ApiError> {
    let backend = nb.backend.clone().unwrap_or_else(|| "local".into());
    let detail = format!(
        "bucket `{}` on backend `{backend}`, owners [{}]",
        nb.name,
        nb.owners.join(", ")
    );
    let rec = admin_change(&st, &caller, "admin.bucket.create", detail, || {
        if !valid_bucket(&nb.name) {
            return Err(ApiError::bad_request("bad-bucket", format!("bucket name `{}` is not valid", nb.name))
                .hint("use 3 to 63 lowercase letters, digits, `.` and `-`, starting with a letter or digit"));
        }
        if !st.backends.contains_key(&backend) {
            return Err(ApiError::bad_request("unknown-backend", format!("backend `{backend}` is not configured"))
                .hint("declare it under [[backends]] in the config file"));
        }
        for o in &nb.owners {
            if existing(&st, o)?.disabled {
                return Err(ApiError::bad_request("bad-owner", format!("owner `{o}` is disabled")));
            }
        }
        if st.meta.bucket(&nb.name)?.is_some() {
            return Err(ApiError::new(StatusCode::CONFLICT, "exists", format!("bucket `{}` already exists", nb.name)));
        }
        let key_id = format!("bucket/{}", nb.name);
        if itarvault_keys::KeyProvider::describe(st.keystore.as_ref(), &key_id).is_err() {
            st.keystore
                .create_key(&key_id)
                .map_err(|e| ApiError::internal(format!("creating the bucket key failed: {e}")))?;
        }
        let rec = BucketRecord {
            name: nb.name.clone(),
            key_id,
            backend: backend.clone(),
            created: OffsetDateTime::now_utc(),
            owners: nb.owners.clone(),
        };
        st.meta.add_bucket(&rec)?;
        Ok(rec)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(rec)).into_response())
}
