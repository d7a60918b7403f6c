//! Access requests and their grants: a principal without standing access (an
//! administrator, an auditor, an operator) asks a bucket's owners for time-boxed access
//! to content; the export decision still runs on every use (22 CFR 120.56(b): access
//! information goes only to those who may see the data). The same stored-record
//! machinery serves quorum proposals ([`super::quorum`]).

use itarvault_lockbox::{
    AccessRequest, Ballot, ContentAction, Limits, LockboxError, NewAccess, Proposal, Scope, State,
};
use itarvault_store::{doc, LockboxKind, LockboxRecord, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::gate::{Authorized, LockboxTarget, Nothing};
use super::quorum::Operation;
use super::{new_request_id, Caller, Vault};
use crate::error::Error;

/// The format version of a stored lockbox record.
const RECORD_VERSION: u32 = 1;

/// A lockbox record as stored: the state machine's value under its format version.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored<T> {
    record: T,
}

/// The two kinds of lockbox record, stored the same way.
pub(super) trait Lockboxed: Serialize + DeserializeOwned + Clone {
    const KIND: LockboxKind;
    fn settle(&mut self, now: OffsetDateTime) -> bool;
    fn state(&self) -> State;
    fn ballot(&self) -> &Ballot;
}

impl Lockboxed for AccessRequest {
    const KIND: LockboxKind = LockboxKind::Access;
    fn settle(&mut self, now: OffsetDateTime) -> bool {
        AccessRequest::settle(self, now)
    }
    fn state(&self) -> State {
        self.state
    }
    fn ballot(&self) -> &Ballot {
        &self.ballot
    }
}

impl Lockboxed for Proposal<Operation> {
    const KIND: LockboxKind = LockboxKind::Quorum;
    fn settle(&mut self, now: OffsetDateTime) -> bool {
        Proposal::settle(self, now)
    }
    fn state(&self) -> State {
        self.state
    }
    fn ballot(&self) -> &Ballot {
        &self.ballot
    }
}

pub(super) fn decode<T: Lockboxed>(rec: &LockboxRecord) -> Result<T, Error> {
    let stored: Stored<T> = doc::decode_value(rec.body.clone(), RECORD_VERSION, &[], || {
        format!("{} `{}`", rec.kind.as_str(), rec.id)
    })?;
    Ok(stored.record)
}

fn encode<T: Lockboxed>(value: &T) -> Result<serde_json::Value, Error> {
    Ok(doc::encode_value(
        RECORD_VERSION,
        &Stored { record: value },
    )?)
}

/// Who filed a record and who decides it, whatever its kind.
#[derive(Debug)]
pub(super) struct Ballots {
    pub requester: String,
    pub approvers: Vec<String>,
}

impl Ballots {
    pub fn of(rec: &LockboxRecord) -> Result<Self, Error> {
        let ballot = match rec.kind {
            LockboxKind::Access => decode::<AccessRequest>(rec)?.ballot,
            LockboxKind::Quorum => decode::<Proposal<Operation>>(rec)?.ballot,
        };
        Ok(Self {
            requester: ballot.requester,
            approvers: ballot.approvers,
        })
    }
}

pub(super) fn lockbox_error(e: LockboxError) -> Error {
    let message = e.to_string();
    match e {
        LockboxError::SelfApproval(..) => Error::forbidden("self-approval", message),
        LockboxError::NotApprover { .. } => Error::forbidden("not-approver", message),
        LockboxError::NotRevoker { .. } => Error::forbidden("not-revoker", message),
        LockboxError::AlreadyApproved { .. } => Error::conflict("already-approved", message),
        LockboxError::NotPending { .. } => Error::conflict("not-pending", message),
        LockboxError::NotActive { .. } => Error::conflict("not-active", message),
        // Who may approve is the state of the bucket or the quorum, not the request.
        LockboxError::Unreachable { .. } => Error::conflict("quorum-unreachable", message),
        LockboxError::Invalid(_) => Error::invalid("invalid-request", message),
    }
}

pub(super) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", new_request_id())
}

/// An access request as filed over the API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    bucket: String,
    prefix: Option<String>,
    key: Option<String>,
    actions: Vec<ContentAction>,
    justification: String,
    /// How long the grant should last once approved.
    minutes: i64,
}

/// `?state=` of a lockbox listing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFilter {
    pub state: Option<State>,
}

impl Vault {
    fn load<T: Lockboxed>(&self, id: &str) -> Result<(LockboxRecord, T), Error> {
        let rec = self
            .lockbox
            .lockbox(id)?
            .filter(|r| r.kind == T::KIND)
            .ok_or_else(|| {
                Error::not_found(format!("{} `{id}` does not exist", T::KIND.as_str()))
            })?;
        let v = decode(&rec)?;
        Ok((rec, v))
    }

    /// Changes a record by compare-and-swap: `change` sees the latest version (time-driven
    /// transitions applied first) and the write succeeds only if nobody changed it in
    /// between, so two approvers acting at once are counted one after the other.
    pub(super) fn update<T: Lockboxed, R>(
        &self,
        id: &str,
        mut change: impl FnMut(&mut T) -> Result<R, Error>,
    ) -> Result<(T, R), Error> {
        for _ in 0..32 {
            let (mut rec, mut v) = self.load::<T>(id)?;
            v.settle(OffsetDateTime::now_utc());
            let outcome = change(&mut v);
            // Persist what time did even when the change itself is refused.
            let body = encode(&v)?;
            if body != rec.body {
                rec.body = body;
                match self.lockbox.update_lockbox(&rec) {
                    Ok(()) => self.note_change(),
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            return outcome.map(|r| (v, r));
        }
        Err(Error::conflict(
            "busy",
            format!(
                "{} `{id}` kept changing under this request; retry",
                T::KIND.as_str()
            ),
        ))
    }

    pub(super) fn add_record<T: Lockboxed>(
        &self,
        id: &str,
        subject: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.lockbox.add_lockbox(&LockboxRecord {
            id: id.to_owned(),
            kind: T::KIND,
            subject: subject.to_owned(),
            version: 0,
            created: OffsetDateTime::now_utc(),
            body: encode(value)?,
        })?;
        Ok(())
    }

    /// Every record of a kind `caller` may see (requester, approver, admin, auditor),
    /// with time-driven states applied.
    pub(super) fn list_records<T: Lockboxed>(
        &self,
        caller: &Caller,
        state: Option<State>,
    ) -> Result<Vec<T>, Error> {
        let now = OffsetDateTime::now_utc();
        let everyone = caller.has_role(itarvault_store::Role::Admin)
            || caller.has_role(itarvault_store::Role::Auditor);
        let mut out = Vec::new();
        for rec in self.lockbox.lockbox_list(T::KIND, None)? {
            let mut v: T = decode(&rec)?;
            v.settle(now);
            let me = caller.id();
            let mine = v.ballot().requester == me || v.ballot().approvers.iter().any(|a| a == me);
            if (everyone || mine) && state.is_none_or(|s| v.state() == s) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// A record the gate resolved, with time-driven states applied.
    pub(super) fn shown<T: Lockboxed>(&self, auth: &Authorized<LockboxTarget>) -> Result<T, Error> {
        let mut v: T = decode(&auth.target().record)?;
        v.settle(OffsetDateTime::now_utc());
        Ok(v)
    }

    /// An approver's or requester's action: the change (by compare-and-swap), its audit
    /// record (refusals too) and the notification.
    pub(super) async fn act<T: Lockboxed>(
        &self,
        auth: &Authorized<LockboxTarget>,
        change: impl FnMut(&mut T) -> Result<String, Error>,
    ) -> Result<T, Error> {
        let id = auth.target().record.id.clone();
        let res = self.update::<T, _>(&id, change);
        let mut event = auth.event("ok");
        event.grant = Some(id);
        let value = self.finish(event, res).await?;
        self.notify(auth.kind(), &value);
        Ok(value)
    }

    /// Tells the approvers' webhook, if one is configured. Best effort and asynchronous:
    /// the audit trail, not the webhook, is the record.
    pub(super) fn notify(&self, event: &str, body: &impl Serialize) {
        let Some(hook) = self.webhook.clone() else {
            return;
        };
        let payload = serde_json::json!({
            "event": event,
            "time": OffsetDateTime::now_utc().unix_timestamp(),
            "item": body,
        });
        tokio::spawn(async move {
            match hook.client.post(&hook.url).json(&payload).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(status = %r.status(), "lockbox webhook refused the notification")
                }
                // Without the URL: a webhook's path is often its credential.
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), "lockbox webhook unreachable")
                }
            }
        });
    }

    /// `principal`'s access requests.
    pub(super) fn access_requests_of(&self, principal: &str) -> Result<Vec<AccessRequest>, Error> {
        self.lockbox
            .lockbox_list(LockboxKind::Access, Some(principal))?
            .iter()
            .map(decode)
            .collect()
    }

    /// Finds a live grant of the caller's that covers `action` on `key`, and counts a
    /// use of it against its latest version (it may have been revoked since it was
    /// read). Returns its id.
    pub(super) fn use_grant(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        action: ContentAction,
    ) -> Result<Option<String>, Error> {
        let me = caller.id();
        for r in self.access_requests_of(me)? {
            if !r.permits(me, bucket, key, action, OffsetDateTime::now_utc()) {
                continue;
            }
            let (_, used) = self.update::<AccessRequest, bool>(&r.id, |r| {
                let ok = r.permits(me, bucket, key, action, OffsetDateTime::now_utc());
                if ok {
                    r.record_use();
                }
                Ok(ok)
            })?;
            if used {
                return Ok(Some(r.id));
            }
        }
        Ok(None)
    }

    /// Whether grant `id` (already used for this request) also covers `action`.
    pub(super) fn grant_allows(
        &self,
        caller: &Caller,
        id: &str,
        bucket: &str,
        key: &str,
        action: ContentAction,
    ) -> Result<bool, Error> {
        let (_, r) = self.load::<AccessRequest>(id)?;
        Ok(r.permits(caller.id(), bucket, key, action, OffsetDateTime::now_utc()))
    }

    /// Files an access request for the owners of its bucket to decide.
    pub async fn file_request(
        &self,
        auth: &Authorized<Nothing>,
        ask: NewRequest,
    ) -> Result<AccessRequest, Error> {
        let id = new_id("req");
        let res = self.new_request(auth.caller(), &id, ask);
        let mut event = auth.event("ok");
        event.grant = Some(id);
        event.bucket = res.as_ref().ok().map(|(r, _)| r.scope.bucket().to_owned());
        let r = self.finish(event, res).await?;
        self.notify("lockbox.request", &r);
        Ok(r)
    }

    fn new_request(
        &self,
        caller: &Caller,
        id: &str,
        ask: NewRequest,
    ) -> Result<(AccessRequest, String), Error> {
        let scope = match (ask.prefix, ask.key) {
            (None, None) => Scope::Bucket {
                bucket: ask.bucket.clone(),
            },
            (Some(prefix), None) => Scope::Prefix {
                bucket: ask.bucket.clone(),
                prefix,
            },
            (None, Some(key)) => Scope::Object {
                bucket: ask.bucket.clone(),
                key,
            },
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "bad-scope",
                    "give a prefix or a key, not both",
                ))
            }
        };
        let bucket = self
            .buckets
            .bucket(&ask.bucket)?
            .ok_or_else(|| Error::not_found(format!("bucket `{}` does not exist", ask.bucket)))?;
        let cfg = &self.config.lockbox;
        let limits = Limits {
            max_grant: Duration::hours(i64::from(cfg.max_grant_hours)),
            pending: Duration::hours(i64::from(cfg.pending_hours)),
        };
        // Range-checked before any arithmetic: a huge number is a bad request, not an
        // overflow.
        let max_minutes = limits.max_grant.whole_minutes();
        if !(1..=max_minutes).contains(&ask.minutes) {
            return Err(Error::invalid(
                "bad-duration",
                format!(
                    "`minutes` must be 1 to {max_minutes} (a grant lasts at most lockbox.max_grant_hours), not {}",
                    ask.minutes
                ),
            )
            .hint("ask for the time the task needs; the owners can approve a new request later"));
        }
        if let Scope::Object { key, .. } = &scope {
            super::gate::check_key(key, self.config.limits.max_key_bytes)?;
        }
        let new = NewAccess {
            scope,
            actions: ask.actions,
            justification: ask.justification,
            duration: Duration::minutes(ask.minutes),
        };
        let r = AccessRequest::file(
            id,
            caller.id(),
            new,
            &bucket.owners,
            cfg.approvals_required,
            OffsetDateTime::now_utc(),
            &limits,
        )
        .map_err(lockbox_error)?;
        self.add_record(id, caller.id(), &r)?;
        let detail = format!(
            "{} on {} for {} minutes, needs {} of [{}]: {}",
            r.actions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("+"),
            r.scope,
            ask.minutes,
            r.ballot.required,
            r.ballot.approvers.join(", "),
            r.justification
        );
        Ok((r, detail))
    }

    pub fn list_requests(
        &self,
        auth: &Authorized<Nothing>,
        filter: StateFilter,
    ) -> Result<Vec<AccessRequest>, Error> {
        self.list_records(auth.caller(), filter.state)
    }

    pub fn show_request(&self, auth: &Authorized<LockboxTarget>) -> Result<AccessRequest, Error> {
        self.shown(auth)
    }

    pub async fn approve_request(
        &self,
        auth: &Authorized<LockboxTarget>,
    ) -> Result<AccessRequest, Error> {
        let me = auth.caller().id().to_owned();
        self.act::<AccessRequest>(auth, |r| {
            r.approve(&me, OffsetDateTime::now_utc())
                .map_err(lockbox_error)?;
            Ok(match (r.state, r.not_after) {
                (State::Approved, Some(until)) => {
                    format!("granted to `{}` until {until}", r.ballot.requester)
                }
                _ => format!(
                    "approval {} of {}",
                    r.ballot.approvals.len(),
                    r.ballot.required
                ),
            })
        })
        .await
    }

    pub async fn deny_request(
        &self,
        auth: &Authorized<LockboxTarget>,
        reason: &str,
    ) -> Result<AccessRequest, Error> {
        let me = auth.caller().id().to_owned();
        self.act::<AccessRequest>(auth, |r| {
            r.deny(&me, reason, OffsetDateTime::now_utc())
                .map_err(lockbox_error)?;
            Ok(format!("denied: {reason}"))
        })
        .await
    }

    pub async fn revoke_request(
        &self,
        auth: &Authorized<LockboxTarget>,
        reason: &str,
    ) -> Result<AccessRequest, Error> {
        let me = auth.caller().id().to_owned();
        self.act::<AccessRequest>(auth, |r| {
            r.revoke(&me, reason, OffsetDateTime::now_utc())
                .map_err(lockbox_error)?;
            Ok(format!("revoked after {} uses: {reason}", r.uses))
        })
        .await
    }
}
