//! The lockbox over HTTP: access requests and their grants, quorum proposals for
//! dangerous operations, and the check every content operation makes first.
//!
//! Roles separate duties. `admin` runs the service, `auditor` reads the trail,
//! `operator` is a support engineer (often the provider's): none of them has standing
//! access to object content. They reach it only through an access request that the
//! bucket's owners approve, and even then the export decision runs on every use
//! (22 CFR 120.56(b): access information goes only to those who may see the data).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use itarvault_audit::Event;
use itarvault_lockbox::{
    AccessRequest, Action, Ballot, Limits, LockboxError, NewAccess, Operation, Proposal, Quorum,
    Scope, State as LbState,
};
use itarvault_store::{LockboxRecord, PrincipalRecord, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::{outcome, record};
use crate::config::{BackendConfig, ResidencyMode};
use crate::error::ApiError;
use crate::state::{new_request_id, AppState, Caller};

/// Roles that carry no standing access to object content.
pub const PRIVILEGED: &[&str] = &["admin", "auditor", "operator"];

/// Whether `p` may touch content without a grant (the export decision still applies).
pub fn has_standing_access(p: &PrincipalRecord) -> bool {
    !p.roles.iter().any(|r| PRIVILEGED.contains(&r.as_str()))
}

/// How a content operation is allowed past the lockbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Standing,
    /// Under this approved access request.
    Grant(String),
}

impl Access {
    pub fn grant(&self) -> Option<String> {
        match self {
            Self::Standing => None,
            Self::Grant(id) => Some(id.clone()),
        }
    }
}

/// The two kinds of lockbox record, stored the same way.
trait Lockboxed: Serialize + DeserializeOwned {
    const KIND: &'static str;
    fn settle(&mut self, now: OffsetDateTime) -> bool;
    fn state(&self) -> LbState;
    fn ballot(&self) -> &Ballot;
}

impl Lockboxed for AccessRequest {
    const KIND: &'static str = "access";
    fn settle(&mut self, now: OffsetDateTime) -> bool {
        AccessRequest::settle(self, now)
    }
    fn state(&self) -> LbState {
        self.state
    }
    fn ballot(&self) -> &Ballot {
        &self.ballot
    }
}

impl Lockboxed for Proposal {
    const KIND: &'static str = "quorum";
    fn settle(&mut self, now: OffsetDateTime) -> bool {
        Proposal::settle(self, now)
    }
    fn state(&self) -> LbState {
        self.state
    }
    fn ballot(&self) -> &Ballot {
        &self.ballot
    }
}

fn lockbox_error(e: LockboxError) -> ApiError {
    let (status, code) = match &e {
        LockboxError::SelfApproval(..) => (StatusCode::FORBIDDEN, "self-approval"),
        LockboxError::NotApprover { .. } => (StatusCode::FORBIDDEN, "not-approver"),
        LockboxError::NotRevoker { .. } => (StatusCode::FORBIDDEN, "not-revoker"),
        LockboxError::AlreadyApproved { .. } => (StatusCode::CONFLICT, "already-approved"),
        LockboxError::NotPending { .. } => (StatusCode::CONFLICT, "not-pending"),
        LockboxError::NotActive { .. } => (StatusCode::CONFLICT, "not-active"),
        LockboxError::Unreachable { .. } => (StatusCode::BAD_REQUEST, "quorum-unreachable"),
        LockboxError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid-request"),
    };
    ApiError::new(status, code, e.to_string())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

fn decode<T: Lockboxed>(rec: &LockboxRecord) -> Result<T, ApiError> {
    serde_json::from_value(rec.body.clone()).map_err(|e| {
        ApiError::internal(format!(
            "stored {} `{}` does not parse ({e}); the metadata database was edited or is damaged",
            rec.kind, rec.id
        ))
    })
}

fn load<T: Lockboxed>(st: &AppState, id: &str) -> Result<(LockboxRecord, T), ApiError> {
    let rec = st
        .meta
        .lockbox(id)?
        .filter(|r| r.kind == T::KIND)
        .ok_or_else(|| ApiError::not_found(format!("{} `{id}` does not exist", T::KIND)))?;
    let v = decode(&rec)?;
    Ok((rec, v))
}

/// Changes a record by compare-and-swap: `change` sees the latest version (time-driven
/// transitions applied first) and the write succeeds only if nobody changed it in
/// between, so two approvers acting at once are counted one after the other. Returns
/// the new value, `change`'s result, and whether time alone ended the record.
fn update<T: Lockboxed, R>(
    st: &AppState,
    id: &str,
    mut change: impl FnMut(&mut T) -> Result<R, ApiError>,
) -> Result<(T, R), ApiError> {
    for _ in 0..32 {
        let (mut rec, mut v) = load::<T>(st, id)?;
        v.settle(OffsetDateTime::now_utc());
        let outcome = change(&mut v);
        // Persist what time did even when the change itself is refused.
        let body = serde_json::to_value(&v).map_err(internal)?;
        if body != rec.body {
            rec.body = body;
            match st.meta.update_lockbox(&rec) {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        return outcome.map(|r| (v, r));
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "busy",
        format!("{} `{id}` kept changing under this request; retry", T::KIND),
    ))
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", new_request_id())
}

/// Records the outcome of a lockbox action (refusals too), then returns it.
async fn audited<T>(
    st: &AppState,
    caller: &Caller,
    kind: &str,
    id: &str,
    res: Result<(T, String), ApiError>,
) -> Result<T, ApiError> {
    let detail = match &res {
        Ok((_, d)) => d.clone(),
        Err(e) => e.message.clone(),
    };
    let ev = caller.event(kind, outcome(&res)).grant(id).detail(detail);
    record(st, ev).await?;
    res.map(|(v, _)| v)
}

/// Tells the approvers' webhook, if one is configured. Best effort and asynchronous:
/// the audit trail, not the webhook, is the record.
fn notify(st: &AppState, event: &str, body: &impl Serialize) {
    let Some((url, client)) = st.webhook.clone() else {
        return;
    };
    let payload =
        json!({ "event": event, "time": OffsetDateTime::now_utc().unix_timestamp(), "item": body });
    tokio::spawn(async move {
        match client.post(&url).json(&payload).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(status = %r.status(), "lockbox webhook refused the notification")
            }
            Err(e) => tracing::warn!(error = %e, "lockbox webhook unreachable"),
        }
    });
}

impl AppState {
    /// Lets `caller` do `action` to content of `bucket`/`key` past the lockbox, or says
    /// why not. The export decision is separate and always runs as well.
    pub fn content_access(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        action: Action,
    ) -> Result<Access, ApiError> {
        if has_standing_access(&caller.principal) {
            return Ok(Access::Standing);
        }
        let me = &caller.principal.id;
        for rec in self.meta.lockbox_list(AccessRequest::KIND, Some(me))? {
            let r: AccessRequest = decode(&rec)?;
            if !r.permits(me, bucket, key, action, OffsetDateTime::now_utc()) {
                continue;
            }
            // Count the use against the latest version (it may have been revoked since).
            let used = update::<AccessRequest, bool>(self, &r.id, |r| {
                let ok = r.permits(me, bucket, key, action, OffsetDateTime::now_utc());
                if ok {
                    r.record_use();
                }
                Ok(ok)
            })?;
            if used.1 {
                return Ok(Access::Grant(r.id));
            }
        }
        let roles = caller
            .principal
            .roles
            .iter()
            .filter(|r| PRIVILEGED.contains(&r.as_str()))
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "no-standing-access",
            format!(
                "`{me}` holds the role {roles}, which gives no standing access to object content, and no approved, unexpired access request covers {action} on `{key}` in bucket `{bucket}`"
            ),
        )
        .hint(format!(
            "file one for an owner of `{bucket}` to approve: itarvault lockbox request --bucket {bucket} --action {action} --justification \"<ticket and reason>\""
        )))
    }
}

/// An access request as filed over the API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    bucket: String,
    prefix: Option<String>,
    key: Option<String>,
    actions: Vec<Action>,
    justification: String,
    /// How long the grant should last once approved.
    minutes: i64,
}

pub async fn file_request(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Json(nr): Json<NewRequest>,
) -> Result<Response, ApiError> {
    let id = new_id("req");
    let res = (|| {
        let scope = match (nr.prefix.clone(), nr.key.clone()) {
            (None, None) => Scope::Bucket {
                bucket: nr.bucket.clone(),
            },
            (Some(prefix), None) => Scope::Prefix {
                bucket: nr.bucket.clone(),
                prefix,
            },
            (None, Some(key)) => Scope::Object {
                bucket: nr.bucket.clone(),
                key,
            },
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "bad-scope",
                    "give a prefix or a key, not both",
                ))
            }
        };
        let bucket = st
            .meta
            .bucket(&nr.bucket)?
            .ok_or_else(|| ApiError::not_found(format!("bucket `{}` does not exist", nr.bucket)))?;
        let cfg = &st.config.lockbox;
        let limits = Limits {
            max_grant: Duration::hours(i64::from(cfg.max_grant_hours)),
            pending: Duration::hours(i64::from(cfg.pending_hours)),
        };
        let ask = NewAccess {
            scope,
            actions: nr.actions.clone(),
            justification: nr.justification.clone(),
            duration: Duration::minutes(nr.minutes),
        };
        let now = OffsetDateTime::now_utc();
        let r = AccessRequest::file(
            &id,
            &caller.principal.id,
            ask,
            &bucket.owners,
            cfg.approvals_required,
            now,
            &limits,
        )
        .map_err(lockbox_error)?;
        st.meta.add_lockbox(&LockboxRecord {
            id: id.clone(),
            kind: AccessRequest::KIND.into(),
            subject: caller.principal.id.clone(),
            version: 0,
            created: now,
            body: serde_json::to_value(&r).map_err(internal)?,
        })?;
        let detail = format!(
            "{} on {} for {} minutes, needs {} of [{}]: {}",
            r.actions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("+"),
            r.scope,
            nr.minutes,
            r.ballot.required,
            r.ballot.approvers.join(", "),
            r.justification
        );
        Ok((r, detail))
    })();
    let r = audited(&st, &caller, "lockbox.request", &id, res).await?;
    notify(&st, "lockbox.request", &r);
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<LbState>,
}

fn may_see_all(caller: &Caller) -> bool {
    caller.has_role("admin") || caller.has_role("auditor")
}

/// Admins and auditors see every record; others those they filed or may decide.
fn may_see<T: Lockboxed>(caller: &Caller, v: &T) -> bool {
    let me = &caller.principal.id;
    may_see_all(caller) || v.ballot().requester == *me || v.ballot().approvers.contains(me)
}

/// Every record of a kind the caller may see, with time-driven states applied.
fn list<T: Lockboxed>(st: &AppState, caller: &Caller, q: ListQuery) -> Result<Response, ApiError> {
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::new();
    for rec in st.meta.lockbox_list(T::KIND, None)? {
        let mut v: T = decode(&rec)?;
        v.settle(now);
        if may_see(caller, &v) && q.state.is_none_or(|s| v.state() == s) {
            out.push(v);
        }
    }
    Ok(Json(out).into_response())
}

fn show<T: Lockboxed>(st: &AppState, caller: &Caller, id: &str) -> Result<Response, ApiError> {
    let (_, mut v) = load::<T>(st, id)?;
    if !may_see(caller, &v) {
        return Err(ApiError::not_found(format!(
            "{} `{id}` does not exist",
            T::KIND
        )));
    }
    v.settle(OffsetDateTime::now_utc());
    Ok(Json(v).into_response())
}

/// An approver's or requester's action: the change (by compare-and-swap), its audit
/// record (refusals too) and the notification.
async fn act<T: Lockboxed>(
    st: &AppState,
    caller: &Caller,
    id: &str,
    kind: &str,
    change: impl FnMut(&mut T) -> Result<String, ApiError>,
) -> Result<T, ApiError> {
    let res = update::<T, _>(st, id, change);
    let v = audited(st, caller, kind, id, res).await?;
    notify(st, kind, &v);
    Ok(v)
}

pub async fn list_requests(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    list::<AccessRequest>(&st, &caller, q)
}

pub async fn show_request(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    show::<AccessRequest>(&st, &caller, &id)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Why {
    #[serde(default)]
    reason: String,
}

pub async fn approve_request(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let me = caller.principal.id.clone();
    let r = act::<AccessRequest>(&st, &caller, &id, "lockbox.approve", |r| {
        r.approve(&me, OffsetDateTime::now_utc())
            .map_err(lockbox_error)?;
        Ok(match (r.state, r.not_after) {
            (LbState::Approved, Some(until)) => {
                format!("granted to `{}` until {until}", r.ballot.requester)
            }
            _ => format!(
                "approval {} of {}",
                r.ballot.approvals.len(),
                r.ballot.required
            ),
        })
    })
    .await?;
    Ok(Json(r).into_response())
}

pub async fn deny_request(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<Json<Why>>,
) -> Result<Response, ApiError> {
    let why = body.map(|b| b.0.reason).unwrap_or_default();
    let me = caller.principal.id.clone();
    let r = act::<AccessRequest>(&st, &caller, &id, "lockbox.deny", |r| {
        r.deny(&me, &why, OffsetDateTime::now_utc())
            .map_err(lockbox_error)?;
        Ok(format!("denied: {why}"))
    })
    .await?;
    Ok(Json(r).into_response())
}

pub async fn revoke_request(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<Json<Why>>,
) -> Result<Response, ApiError> {
    let why = body.map(|b| b.0.reason).unwrap_or_default();
    let me = caller.principal.id.clone();
    let r = act::<AccessRequest>(&st, &caller, &id, "lockbox.revoke", |r| {
        r.revoke(&me, &why, OffsetDateTime::now_utc())
            .map_err(lockbox_error)?;
        Ok(format!("revoked after {} uses: {why}", r.uses))
    })
    .await?;
    Ok(Json(r).into_response())
}

// ---- Quorum ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProposal {
    operation: Operation,
    justification: String,
}

/// Files a proposal for `op` by `caller` (an admin), after checking that it could
/// run. Returns 202 with the proposal: nothing has changed yet.
pub async fn propose(
    st: &AppState,
    caller: &Caller,
    op: Operation,
    justification: &str,
) -> Result<Response, ApiError> {
    let id = new_id("prop");
    let res = async {
        caller.require_role("admin")?;
        run(st, &op, false).map_err(|e| {
            ApiError::bad_request(
                "invalid-operation",
                format!("the operation cannot run: {e}"),
            )
        })?;
        let q = &st.config.quorum;
        if q.approvers.is_empty() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "no-quorum",
                format!(
                    "`{}` needs a quorum of approvers and none is configured",
                    op.name()
                ),
            )
            .hint("set [quorum] approvers and required in the config (docs/config.md#quorum)"));
        }
        let now = OffsetDateTime::now_utc();
        let p = Proposal::propose(
            &id,
            &caller.principal.id,
            op,
            justification,
            &Quorum {
                approvers: &q.approvers,
                required: q.required,
                window: Duration::hours(i64::from(q.window_hours)),
            },
            now,
        )
        .map_err(lockbox_error)?;
        st.meta.add_lockbox(&LockboxRecord {
            id: id.clone(),
            kind: Proposal::KIND.into(),
            subject: caller.principal.id.clone(),
            version: 0,
            created: now,
            body: serde_json::to_value(&p).map_err(internal)?,
        })?;
        let detail = format!(
            "{}; needs {} of [{}] by {}: {}",
            p.effect,
            p.ballot.required,
            p.ballot.approvers.join(", "),
            p.window_ends,
            p.justification
        );
        Ok((p, detail))
    }
    .await;
    let p = audited(st, caller, "quorum.propose", &id, res).await?;
    notify(st, "quorum.propose", &p);
    Ok((StatusCode::ACCEPTED, Json(p)).into_response())
}

pub async fn create_proposal(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Json(np): Json<NewProposal>,
) -> Result<Response, ApiError> {
    propose(&st, &caller, np.operation, &np.justification).await
}

pub async fn list_proposals(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    list::<Proposal>(&st, &caller, q)
}

pub async fn show_proposal(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    show::<Proposal>(&st, &caller, &id)
}

pub async fn approve_proposal(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let me = caller.principal.id.clone();
    let mut p = act::<Proposal>(&st, &caller, &id, "quorum.approve", |p| {
        p.approve(&me, OffsetDateTime::now_utc())
            .map_err(lockbox_error)?;
        Ok(format!(
            "approval {} of {}",
            p.ballot.approvals.len(),
            p.ballot.required
        ))
    })
    .await?;
    // Only the approval that completed the quorum sees `approved`: the compare-and-swap
    // made sure exactly one did.
    if p.state == LbState::Approved {
        p = execute(&st, &id, Some(&caller)).await?;
    }
    Ok(Json(p).into_response())
}

pub async fn deny_proposal(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<Json<Why>>,
) -> Result<Response, ApiError> {
    let why = body.map(|b| b.0.reason).unwrap_or_default();
    let me = caller.principal.id.clone();
    let p = act::<Proposal>(&st, &caller, &id, "quorum.deny", |p| {
        p.deny(&me, &why, OffsetDateTime::now_utc())
            .map_err(lockbox_error)?;
        Ok(format!("denied: {why}"))
    })
    .await?;
    Ok(Json(p).into_response())
}

/// Runs an approved proposal and records how it went. Also called at start for a
/// proposal approved just before a crash.
pub async fn execute(
    st: &AppState,
    id: &str,
    caller: Option<&Caller>,
) -> Result<Proposal, ApiError> {
    let (_, p) = load::<Proposal>(st, id)?;
    if p.state != LbState::Approved {
        return Ok(p);
    }
    let outcome = run(st, &p.operation, true);
    let ok = outcome.is_ok();
    let (p, ()) = update::<Proposal, _>(st, id, |p| {
        p.finish(outcome.clone());
        Ok(())
    })?;
    let mut ev = match caller {
        Some(c) => c.event("quorum.execute", if ok { "ok" } else { "error" }),
        None => Event::new("quorum.execute", if ok { "ok" } else { "error" }),
    }
    .grant(id);
    ev.detail = Some(format!(
        "{}: {}",
        p.effect,
        p.result.clone().unwrap_or_default()
    ));
    record(st, ev).await?;
    notify(st, "quorum.execute", &p);
    Ok(p)
}

/// Validates (`apply == false`) or performs an operation. The same code does both, so
/// a proposal that was valid when proposed fails only if the world changed since.
pub fn run(st: &AppState, op: &Operation, apply: bool) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    match op {
        Operation::KeyDisable { key } => {
            itarvault_keys::KeyProvider::describe(st.keystore.as_ref(), key)
                .map_err(|e| err(&e))?;
            if apply {
                st.keystore.disable(key).map_err(|e| err(&e))?;
            }
            Ok(format!("key `{key}` disabled"))
        }
        Operation::KeyDestroy { key, days } => {
            itarvault_keys::KeyProvider::describe(st.keystore.as_ref(), key)
                .map_err(|e| err(&e))?;
            if !(7..=30).contains(days) {
                return Err(format!("the waiting period is 7 to 30 days, not {days}"));
            }
            if apply {
                st.keystore
                    .schedule_destruction(key, *days)
                    .map_err(|e| err(&e))?;
            }
            Ok(format!(
                "key `{key}` scheduled for destruction in {days} days"
            ))
        }
        Operation::ResidencySet { mode } => {
            let m: ResidencyMode = serde_json::from_value(json!(mode))
                .map_err(|_| format!("residency mode `{mode}` is not `us_only` or `carve_out`"))?;
            if apply {
                st.meta
                    .set_setting(crate::SETTING_RESIDENCY, mode)
                    .map_err(|e| err(&e))?;
                st.set_residency(m);
            }
            Ok(format!("residency mode is now `{mode}`"))
        }
        Operation::BackendAdd { backend } => {
            let b: BackendConfig = serde_json::from_value(backend.clone())
                .map_err(|e| format!("not a [[backends]] entry: {e}"))?;
            crate::check_backend_country(&b).map_err(|e| err(&e))?;
            if apply {
                let mut approved =
                    crate::approved_backends(st.meta.as_ref()).map_err(|e| err(&e))?;
                if !approved.contains(&b) {
                    approved.push(b.clone());
                }
                st.meta
                    .set_setting(
                        crate::SETTING_BACKENDS,
                        &serde_json::to_string(&approved).map_err(|e| err(&e))?,
                    )
                    .map_err(|e| err(&e))?;
            }
            Ok(format!(
                "backend `{}` approved; add it under [[backends]] and restart to use it",
                b.name
            ))
        }
        Operation::AuthorizationAdd {
            principal,
            authorization,
        } => {
            let rec = super::admin::authorization_record(st, principal, authorization)
                .map_err(|e| e.message)?;
            if apply {
                st.meta.add_authorization(&rec).map_err(|e| err(&e))?;
            }
            Ok(format!("authorization `{}` added to `{principal}`", rec.id))
        }
        Operation::PoliciesSet { text } => {
            itarvault_policy::OrgPolicies::load(&[("proposal".into(), text.clone())])
                .map_err(|e| err(&e))?;
            if apply {
                st.meta
                    .set_setting(crate::SETTING_POLICIES, &crate::policy_digest(text))
                    .map_err(|e| err(&e))?;
            }
            Ok("policies approved; install them in the configured policy files and restart".into())
        }
        Operation::PrincipalAdd { principal } => {
            let rec = super::admin::principal_record(principal).map_err(|e| e.message)?;
            if apply {
                st.meta.add_principal(&rec).map_err(|e| err(&e))?;
            }
            Ok(format!(
                "principal `{}` registered (roles {:?})",
                rec.id, rec.roles
            ))
        }
    }
}
