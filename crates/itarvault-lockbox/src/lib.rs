//! The lockbox: nobody holds standing access to content they do not need, and nobody
//! makes a dangerous change alone.
//!
//! Two state machines, both pure (the caller supplies the clock, the ids and the
//! persistence):
//!
//! - [`AccessRequest`]: a principal without standing access (an administrator
//!   investigating an incident, a provider's support engineer) asks for actions on a
//!   scope for a bounded time; the scope's owners approve or deny; an approval is a
//!   time-boxed grant that expires by itself and can be revoked early. Modelled on
//!   Azure Customer Lockbox and Google Access Approval: terminal states are final, the requester never approves, approvers are
//!   fixed when the request is filed.
//! - [`Proposal`]: a dangerous operation (destroying a key, changing residency,
//!   widening a license, ...) that runs only once M distinct approvers other than the
//!   proposer agree within the window (the two-person rule of KMS and Vault control
//!   groups). The server defines the operations ([`QuorumOperation`]).
//!
//! A grant never replaces the export decision: the server runs the decision on every
//! use, so an approved request cannot let a foreign person read ITAR data
//! (22 CFR 120.50, 120.56).
//!
//! ```
//! use itarvault_lockbox::{AccessRequest, ContentAction, Limits, NewAccess, Scope, State};
//! use time::{Duration, OffsetDateTime};
//!
//! let now = OffsetDateTime::now_utc();
//! let ask = NewAccess {
//!     scope: Scope::Bucket { bucket: "designs".into() },
//!     actions: vec![ContentAction::Read],
//!     justification: "incident 42: corrupted upload".into(),
//!     duration: Duration::hours(2),
//! };
//! let mut r = AccessRequest::file("req_1", "sam", ask, &["olive".into()], 1, now, &Limits::default())?;
//! assert!(!r.permits("sam", "designs", "a.step", ContentAction::Read, now));
//! assert!(r.approve("sam", now).is_err()); // never one's own
//! r.approve("olive", now)?;
//! assert_eq!(r.state, State::Approved);
//! assert!(r.permits("sam", "designs", "a.step", ContentAction::Read, now));
//! assert!(!r.permits("sam", "designs", "a.step", ContentAction::Write, now));
//! assert!(!r.permits("sam", "designs", "a.step", ContentAction::Read, now + Duration::hours(3)));
//! # Ok::<(), itarvault_lockbox::LockboxError>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// What a principal does besides using content. None of these roles carries standing
/// access to object content: they reach it only through an approved access request
/// ([`has_standing_access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the service: registers principals and buckets, proposes quorum changes.
    Admin,
    /// Reads the audit trail and the posture.
    Auditor,
    /// Supports the service (often a provider's engineer).
    Operator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Auditor, Role::Operator];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Auditor => "auditor",
            Self::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role `{0}` does not exist; roles: admin, auditor, operator")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Whether a principal with `roles` may touch content without a grant (the export
/// decision still applies to everyone): only principals with none of the roles.
pub fn has_standing_access(roles: &[Role]) -> bool {
    roles.is_empty()
}

/// What a grant lets its holder do to object content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentAction {
    Read,
    Write,
    Delete,
}

impl fmt::Display for ContentAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Delete => "delete",
        })
    }
}

/// What a request covers: a whole bucket, the keys under a prefix, or one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    Bucket { bucket: String },
    Prefix { bucket: String, prefix: String },
    Object { bucket: String, key: String },
}

impl Scope {
    pub fn bucket(&self) -> &str {
        match self {
            Self::Bucket { bucket } | Self::Prefix { bucket, .. } | Self::Object { bucket, .. } => {
                bucket
            }
        }
    }

    /// Whether object `key` of `bucket` lies inside the scope. Prefixes are byte
    /// prefixes of the key, as in listings.
    pub fn covers(&self, bucket: &str, key: &str) -> bool {
        self.bucket() == bucket
            && match self {
                Self::Bucket { .. } => true,
                Self::Prefix { prefix, .. } => key.starts_with(prefix.as_str()),
                Self::Object { key: k, .. } => k == key,
            }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bucket { bucket } => write!(f, "bucket `{bucket}`"),
            Self::Prefix { bucket, prefix } => write!(f, "keys under `{prefix}` in `{bucket}`"),
            Self::Object { bucket, key } => write!(f, "object `{key}` in `{bucket}`"),
        }
    }
}

/// Where a request or proposal stands. Access requests use `pending`, `approved`,
/// `used` (approved and exercised at least once; still bounded by its window),
/// `denied`, `expired`, `revoked`. Proposals use `pending`, `approved` (agreed, not yet
/// run), `executed`, `failed`, `denied`, `expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Used,
    Denied,
    Expired,
    Revoked,
    Executed,
    Failed,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&s)
    }
}

/// Why a lockbox transition was refused. Each message names the fact and, where
/// there is one, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockboxError {
    #[error("`{0}` filed {1} and cannot approve it; another approver must")]
    SelfApproval(String, String),
    #[error("`{by}` is not an approver of {id}; its approvers are: {approvers}")]
    NotApprover {
        by: String,
        id: String,
        approvers: String,
    },
    #[error(
        "`{by}` has already approved {id}; it needs approvals from {required} distinct approvers"
    )]
    AlreadyApproved {
        by: String,
        id: String,
        required: u32,
    },
    #[error("{id} is {state}, not pending; only a pending request can be approved or denied")]
    NotPending { id: String, state: State },
    #[error("{id} is {state}; only an approved grant can be revoked")]
    NotActive { id: String, state: State },
    #[error("`{by}` may not revoke {id}: only its approvers or its requester may")]
    NotRevoker { by: String, id: String },
    #[error(
        "{required} approvals are needed but only {available} approvers other than `{requester}` exist; \
         add owners (or quorum approvers) or lower the requirement in the config"
    )]
    Unreachable {
        requester: String,
        required: u32,
        available: usize,
    },
    #[error("the request is invalid: {0}")]
    Invalid(String),
}

/// Bounds the server's config puts on requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest grant an approval can give.
    pub max_grant: Duration,
    /// How long a request may wait for a decision before it lapses (Azure: 4 days).
    pub pending: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_grant: Duration::hours(8),
            pending: Duration::days(4),
        }
    }
}

/// One approver's approval, denial or revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The approval bookkeeping access requests and proposals share: who asked, who may
/// approve (fixed when filed), how many must, and who did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ballot {
    pub requester: String,
    pub approvers: Vec<String>,
    pub required: u32,
    #[serde(default)]
    pub approvals: Vec<Vote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denial: Option<Vote>,
}

impl Ballot {
    /// A ballot that can be decided: at least one approval needed, and enough
    /// approvers besides the requester to give them.
    pub fn new(requester: &str, approvers: &[String], required: u32) -> Result<Self, LockboxError> {
        let mut list: Vec<String> = approvers.to_vec();
        list.sort();
        list.dedup();
        let available = list.iter().filter(|a| *a != requester).count();
        if required == 0 {
            return Err(LockboxError::Invalid(
                "at least one approval must be required".into(),
            ));
        }
        if available < required as usize {
            return Err(LockboxError::Unreachable {
                requester: requester.to_owned(),
                required,
                available,
            });
        }
        Ok(Self {
            requester: requester.to_owned(),
            approvers: list,
            required,
            approvals: Vec::new(),
            denial: None,
        })
    }

    fn check_approver(&self, id: &str, by: &str) -> Result<(), LockboxError> {
        if by == self.requester {
            return Err(LockboxError::SelfApproval(by.to_owned(), id.to_owned()));
        }
        if !self.approvers.iter().any(|a| a == by) {
            return Err(LockboxError::NotApprover {
                by: by.to_owned(),
                id: id.to_owned(),
                approvers: self.approvers.join(", "),
            });
        }
        Ok(())
    }

    /// Adds `by`'s approval; true when the requirement is now met.
    fn approve(&mut self, id: &str, by: &str, at: OffsetDateTime) -> Result<bool, LockboxError> {
        self.check_approver(id, by)?;
        if self.approvals.iter().any(|v| v.by == by) {
            return Err(LockboxError::AlreadyApproved {
                by: by.to_owned(),
                id: id.to_owned(),
                required: self.required,
            });
        }
        self.approvals.push(Vote {
            by: by.to_owned(),
            at,
            reason: None,
        });
        Ok(self.approvals.len() >= self.required as usize)
    }

    fn deny(
        &mut self,
        id: &str,
        by: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), LockboxError> {
        self.check_approver(id, by)?;
        self.denial = Some(Vote {
            by: by.to_owned(),
            at,
            reason: Some(reason.to_owned()),
        });
        Ok(())
    }
}

/// What a requester asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccess {
    pub scope: Scope,
    pub actions: Vec<ContentAction>,
    pub justification: String,
    pub duration: Duration,
}

fn check_justification(j: &str) -> Result<(), LockboxError> {
    let t = j.trim();
    if t.is_empty() || t.chars().count() > 2000 {
        return Err(LockboxError::Invalid(
            "a justification of 1 to 2000 characters is required (a ticket number and why)".into(),
        ));
    }
    Ok(())
}

/// `now + span`, or an error naming the setting that made it leave the calendar
/// (no arithmetic on a configured or requested span may panic).
fn later(now: OffsetDateTime, span: Duration, what: &str) -> Result<OffsetDateTime, LockboxError> {
    now.checked_add(span).ok_or_else(|| {
        LockboxError::Invalid(format!(
            "{what} reaches past the year 9999; use a shorter span"
        ))
    })
}

/// Denies a pending request or proposal; the denial is final.
fn deny_pending(
    id: &str,
    state: &mut State,
    ballot: &mut Ballot,
    by: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<(), LockboxError> {
    if *state != State::Pending {
        return Err(not_pending(id, *state));
    }
    ballot.deny(id, by, reason, now)?;
    *state = State::Denied;
    Ok(())
}

fn not_pending(id: &str, state: State) -> LockboxError {
    LockboxError::NotPending {
        id: id.to_owned(),
        state,
    }
}

/// A request for time-boxed access to content, and once approved, the grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRequest {
    pub id: String,
    pub scope: Scope,
    pub actions: Vec<ContentAction>,
    pub justification: String,
    /// Length of the grant an approval gives, in seconds.
    pub duration_secs: i64,
    pub state: State,
    #[serde(flatten)]
    pub ballot: Ballot,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When a request still pending lapses.
    #[serde(with = "time::serde::rfc3339")]
    pub decide_by: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub not_before: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Vote>,
    #[serde(default)]
    pub uses: u64,
}

impl AccessRequest {
    /// Files a request. `approvers` are the owners of the scope's bucket at this
    /// moment; later changes of ownership do not change who decides this request.
    pub fn file(
        id: &str,
        requester: &str,
        ask: NewAccess,
        approvers: &[String],
        required: u32,
        now: OffsetDateTime,
        limits: &Limits,
    ) -> Result<Self, LockboxError> {
        if ask.actions.is_empty() {
            return Err(LockboxError::Invalid(
                "name at least one action (read, write, delete)".into(),
            ));
        }
        check_justification(&ask.justification)?;
        if ask.duration <= Duration::ZERO || ask.duration > limits.max_grant {
            return Err(LockboxError::Invalid(format!(
                "a grant lasts more than 0 and at most {} minutes (lockbox.max_grant_hours), not {} minutes",
                limits.max_grant.whole_minutes(),
                ask.duration.whole_minutes()
            )));
        }
        let decide_by = later(now, limits.pending, "lockbox.pending_hours")?;
        let mut actions = ask.actions;
        actions.sort_by_key(|a| *a as u8);
        actions.dedup();
        Ok(Self {
            id: id.to_owned(),
            scope: ask.scope,
            actions,
            justification: ask.justification,
            duration_secs: ask.duration.whole_seconds(),
            state: State::Pending,
            ballot: Ballot::new(requester, approvers, required)?,
            created: now,
            decide_by,
            not_before: None,
            not_after: None,
            revocation: None,
            uses: 0,
        })
    }

    /// Applies the transitions time alone makes: an undecided request lapses, a grant
    /// runs out. True if the state changed (the caller persists and audits it).
    pub fn settle(&mut self, now: OffsetDateTime) -> bool {
        let lapsed = match self.state {
            State::Pending => now >= self.decide_by,
            State::Approved | State::Used => self.not_after.is_none_or(|t| now >= t),
            _ => false,
        };
        if lapsed {
            self.state = State::Expired;
        }
        lapsed
    }

    /// `by` approves. The last needed approval turns the request into a grant from now
    /// for the requested duration.
    pub fn approve(&mut self, by: &str, now: OffsetDateTime) -> Result<(), LockboxError> {
        self.settle(now);
        if self.state != State::Pending {
            return Err(not_pending(&self.id, self.state));
        }
        let until = later(
            now,
            Duration::seconds(self.duration_secs),
            "the grant's duration",
        )?;
        if self.ballot.approve(&self.id, by, now)? {
            self.state = State::Approved;
            self.not_before = Some(now);
            self.not_after = Some(until);
        }
        Ok(())
    }

    pub fn deny(
        &mut self,
        by: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), LockboxError> {
        self.settle(now);
        deny_pending(&self.id, &mut self.state, &mut self.ballot, by, reason, now)
    }

    /// Ends a grant early (an approver), or withdraws a request (its requester).
    pub fn revoke(
        &mut self,
        by: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), LockboxError> {
        self.settle(now);
        if !matches!(self.state, State::Pending | State::Approved | State::Used) {
            return Err(LockboxError::NotActive {
                id: self.id.clone(),
                state: self.state,
            });
        }
        if by != self.ballot.requester && !self.ballot.approvers.iter().any(|a| a == by) {
            return Err(LockboxError::NotRevoker {
                by: by.to_owned(),
                id: self.id.clone(),
            });
        }
        self.revocation = Some(Vote {
            by: by.to_owned(),
            at: now,
            reason: Some(reason.to_owned()),
        });
        self.state = State::Revoked;
        Ok(())
    }

    /// Whether this grant lets `principal` do `action` to `key` of `bucket` at `now`.
    /// Reads the state as stored; call [`Self::settle`] first to persist an expiry.
    pub fn permits(
        &self,
        principal: &str,
        bucket: &str,
        key: &str,
        action: ContentAction,
        now: OffsetDateTime,
    ) -> bool {
        self.permits_at(principal, now)
            && self.actions.contains(&action)
            && self.scope.covers(bucket, key)
    }

    /// Whether this is a live grant of `principal`'s at `now`, whatever it covers.
    pub fn permits_at(&self, principal: &str, now: OffsetDateTime) -> bool {
        matches!(self.state, State::Approved | State::Used)
            && self.ballot.requester == principal
            && self.not_before.is_some_and(|t| now >= t)
            && self.not_after.is_some_and(|t| now < t)
    }

    /// Counts a use of the grant (the caller checked [`Self::permits`]).
    pub fn record_use(&mut self) {
        if self.state == State::Approved {
            self.state = State::Used;
        }
        self.uses = self.uses.saturating_add(1);
    }
}

/// A dangerous change, held until a quorum agrees. The server defines its operations
/// (typed, with its own validation and execution); the lockbox only needs to show
/// approvers what they agree to.
pub trait QuorumOperation {
    /// The exact effect, in words, for approvers.
    fn effect(&self) -> String;
    /// A short stable name (`key_destroy`, `residency_set`, ...).
    fn name(&self) -> &'static str;
}

/// What running an approved proposal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran; what changed.
    Executed(String),
    /// It could not run; why (the world changed since it was proposed).
    Failed(String),
}

/// Who approves dangerous operations: N approvers, M of whom (never the proposer)
/// must agree within the window.
#[derive(Debug, Clone, Copy)]
pub struct Quorum<'a> {
    pub approvers: &'a [String],
    pub required: u32,
    pub window: Duration,
}

/// A proposed dangerous operation and its quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal<O> {
    pub id: String,
    pub operation: O,
    /// [`QuorumOperation::effect`] when proposed: what the approvers agreed to.
    pub effect: String,
    pub justification: String,
    pub state: State,
    #[serde(flatten)]
    pub ballot: Ballot,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The approvals must all arrive before this.
    #[serde(with = "time::serde::rfc3339")]
    pub window_ends: OffsetDateTime,
    /// What running it did (or why it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl<O: QuorumOperation> Proposal<O> {
    /// Proposes `operation` to `quorum` (the config's N approvers and M).
    pub fn propose(
        id: &str,
        proposer: &str,
        operation: O,
        justification: &str,
        quorum: &Quorum<'_>,
        now: OffsetDateTime,
    ) -> Result<Self, LockboxError> {
        check_justification(justification)?;
        let window_ends = later(now, quorum.window, "quorum.window_hours")?;
        Ok(Self {
            id: id.to_owned(),
            effect: operation.effect(),
            operation,
            justification: justification.to_owned(),
            state: State::Pending,
            ballot: Ballot::new(proposer, quorum.approvers, quorum.required)?,
            created: now,
            window_ends,
            result: None,
        })
    }

    /// A proposal whose window passed without the quorum lapses. True if it changed.
    pub fn settle(&mut self, now: OffsetDateTime) -> bool {
        let lapsed = self.state == State::Pending && now >= self.window_ends;
        if lapsed {
            self.state = State::Expired;
        }
        lapsed
    }

    /// `by` approves; the M-th distinct approval makes it `approved`, which the caller
    /// then runs and finishes with [`Self::finish`].
    pub fn approve(&mut self, by: &str, now: OffsetDateTime) -> Result<(), LockboxError> {
        self.settle(now);
        if self.state != State::Pending {
            return Err(not_pending(&self.id, self.state));
        }
        if self.ballot.approve(&self.id, by, now)? {
            self.state = State::Approved;
        }
        Ok(())
    }

    pub fn deny(
        &mut self,
        by: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), LockboxError> {
        self.settle(now);
        deny_pending(&self.id, &mut self.state, &mut self.ballot, by, reason, now)
    }

    /// Records the outcome of running an approved proposal.
    pub fn finish(&mut self, outcome: Outcome) {
        if self.state != State::Approved {
            return;
        }
        (self.state, self.result) = match outcome {
            Outcome::Executed(r) => (State::Executed, Some(r)),
            Outcome::Failed(e) => (State::Failed, Some(e)),
        };
    }
}
