//! Dangerous operations wait for M of N approvers, never counting the proposer: the
//! operations are typed here, validated when proposed, and run once the quorum agrees
//! (or at the next start, when a crash came between the last approval and the run).

use itarvault_audit::Event;
use itarvault_lockbox::{Outcome, Proposal, Quorum, QuorumOperation, State};
use itarvault_policy::{Authorization, OrgPolicies, ResidencyMode};
use itarvault_store::AuthorizationRecord;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::gate::{Authorized, LockboxTarget, Nothing};
use super::lockbox::{lockbox_error, new_id, StateFilter};
use super::registry::NewPrincipal;
use super::Vault;
use crate::config::BackendConfig;
use crate::error::Error;

/// A change only a quorum makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Stops all use of a key-encryption key (data under it becomes unreadable).
    KeyDisable { key: String },
    /// Schedules a key's destruction after a waiting period (crypto-shredding).
    KeyDestroy { key: String, days: i64 },
    /// Changes where controlled data may be stored.
    ResidencySet { mode: ResidencyMode },
    /// Approves a storage backend (its `[[backends]]` entry).
    BackendAdd { backend: BackendConfig },
    /// Gives a principal a license, agreement or exemption (widens what they may read).
    AuthorizationAdd {
        principal: String,
        authorization: Authorization,
    },
    /// Approves a new set of Cedar organisation policies (their full text).
    PoliciesSet { text: String },
    /// Registers a principal: always for one holding the `admin` role, for everyone
    /// when the organisation says so (`quorum.principals`).
    PrincipalAdd { principal: NewPrincipal },
    /// Issues a one-time enrollment token for a principal's first credential, handed
    /// to the approver whose approval completes the quorum.
    EnrollmentIssue { principal: String },
    /// Binds a principal to an OIDC identity or a client certificate (a new way to
    /// authenticate as them).
    PrincipalBind {
        principal: String,
        bindings: itarvault_store::Bindings,
    },
    /// Approves new guarded settings (the quorum itself, location sources, trusted
    /// proxies, OIDC issuers, the client CA, lockbox limits, the content check's
    /// mismatch mode): install the config that produced them and restart.
    SettingsSet { guarded: super::settings::Guarded },
    /// Accepts a restore from backup: the audit trail's restore epoch begun at record
    /// `seq` (docs/audit.md#restore).
    AuditRestore { seq: u64 },
}

fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl QuorumOperation for Operation {
    fn effect(&self) -> String {
        match self {
            Self::KeyDisable { key } => format!(
                "disable key `{key}`: every object wrapped under it becomes unreadable until the key is enabled again"
            ),
            Self::KeyDestroy { key, days } => format!(
                "schedule key `{key}` for destruction in {days} days: afterwards every object wrapped only under it, every version, is unrecoverable"
            ),
            Self::ResidencySet { mode } => {
                format!("set the organisation's residency mode to `{mode}`")
            }
            Self::BackendAdd { backend } => format!("approve storage backend {}", json(backend)),
            Self::AuthorizationAdd {
                principal,
                authorization,
            } => format!(
                "give `{principal}` the authorization {}",
                json(authorization)
            ),
            Self::PoliciesSet { text } => format!(
                "replace the organisation's Cedar policies with these {} bytes:\n{text}",
                text.len()
            ),
            Self::PrincipalAdd { principal } => {
                format!("register principal {}", json(principal))
            }
            Self::EnrollmentIssue { principal } => format!(
                "issue a one-time enrollment token for `{principal}` (valid {} days), handed to the approver whose approval completes this proposal, who gives it to `{principal}` in person",
                super::registry::ENROLLMENT_DAYS
            ),
            Self::PrincipalBind {
                principal,
                bindings,
            } => format!(
                "let the credentials {} authenticate as `{principal}`",
                json(bindings)
            ),
            Self::SettingsSet { guarded } => {
                format!("adopt these guarded settings: {}", json(guarded))
            }
            Self::AuditRestore { seq } => format!(
                "accept the restore from backup recorded at audit seq {seq}: the vault continues from the backup, and the audit records the witness saw after the backup's end are declared lost from the log (the witness keeps them)"
            ),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::KeyDisable { .. } => "key_disable",
            Self::KeyDestroy { .. } => "key_destroy",
            Self::ResidencySet { .. } => "residency_set",
            Self::BackendAdd { .. } => "backend_add",
            Self::AuthorizationAdd { .. } => "authorization_add",
            Self::PoliciesSet { .. } => "policies_set",
            Self::PrincipalAdd { .. } => "principal_add",
            Self::EnrollmentIssue { .. } => "enrollment_issue",
            Self::PrincipalBind { .. } => "principal_bind",
            Self::SettingsSet { .. } => "settings_set",
            Self::AuditRestore { .. } => "audit_restore",
        }
    }
}

/// A proposal as filed over the API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProposal {
    pub operation: Operation,
    pub justification: String,
}

impl Vault {
    /// Files a proposal for `op`, after checking that it could run. Nothing changes
    /// until the quorum agrees.
    pub async fn propose(
        &self,
        auth: &Authorized<Nothing>,
        op: Operation,
        justification: &str,
    ) -> Result<Proposal<Operation>, Error> {
        let id = new_id("prop");
        let res = self.new_proposal(auth, &id, op, justification);
        let mut event = auth.event("ok");
        event.kind = "quorum.propose".into();
        event.grant = Some(id);
        let p = self.finish(event, res).await?;
        self.notify("quorum.propose", &p);
        Ok(p)
    }

    fn new_proposal(
        &self,
        auth: &Authorized<Nothing>,
        id: &str,
        op: Operation,
        justification: &str,
    ) -> Result<(Proposal<Operation>, String), Error> {
        self.run(&op, false).map_err(|e| {
            Error::invalid(
                "invalid-operation",
                format!("the operation cannot run: {}", e.message()),
            )
        })?;
        let controlled = self.controlled();
        // Bootstrap mode is the vault's state, not a fault of the request or the server.
        let Some(q) = controlled.guarded()?.quorum.clone() else {
            return Err(Error::conflict(
                "no-quorum",
                format!(
                    "`{}` needs a quorum of approvers and none is configured (bootstrap mode)",
                    op.name()
                ),
            )
            .hint("set [quorum] approvers and required in the config and restart: that ends bootstrap mode for good (docs/config.md#quorum)"));
        };
        let p = Proposal::propose(
            id,
            auth.caller().id(),
            op,
            justification,
            &Quorum {
                approvers: &q.approvers,
                required: q.required,
                window: Duration::hours(i64::from(q.window_hours)),
            },
            OffsetDateTime::now_utc(),
        )
        .map_err(lockbox_error)?;
        self.add_record(id, auth.caller().id(), &p)?;
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

    pub fn list_proposals(
        &self,
        auth: &Authorized<Nothing>,
        filter: StateFilter,
    ) -> Result<Vec<Proposal<Operation>>, Error> {
        self.list_records(auth.caller(), filter.state)
    }

    pub fn show_proposal(
        &self,
        auth: &Authorized<LockboxTarget>,
    ) -> Result<Proposal<Operation>, Error> {
        self.shown(auth)
    }

    /// An approval; the one that completes the quorum runs the operation (and, for an
    /// enrollment, receives the one-time token).
    pub async fn approve_proposal(
        &self,
        auth: &Authorized<LockboxTarget>,
    ) -> Result<(Proposal<Operation>, Option<super::registry::Minted>), Error> {
        let me = auth.caller().id().to_owned();
        let p = self
            .act::<Proposal<Operation>>(auth, |p| {
                p.approve(&me, OffsetDateTime::now_utc())
                    .map_err(lockbox_error)?;
                Ok(format!(
                    "approval {} of {}",
                    p.ballot.approvals.len(),
                    p.ballot.required
                ))
            })
            .await?;
        // Only the approval that completed the quorum sees `approved`: the
        // compare-and-swap made sure exactly one did.
        if p.state == State::Approved {
            return self.execute(&p.id, Some(auth)).await;
        }
        Ok((p, None))
    }

    pub async fn deny_proposal(
        &self,
        auth: &Authorized<LockboxTarget>,
        reason: &str,
    ) -> Result<Proposal<Operation>, Error> {
        let me = auth.caller().id().to_owned();
        self.act::<Proposal<Operation>>(auth, |p| {
            p.deny(&me, reason, OffsetDateTime::now_utc())
                .map_err(lockbox_error)?;
            Ok(format!("denied: {reason}"))
        })
        .await
    }

    /// Runs proposals approved just before a crash (every operation is idempotent or
    /// refuses a repeat).
    pub async fn resume_approved(&self) -> Result<(), Error> {
        for rec in self
            .lockbox
            .lockbox_list(itarvault_store::LockboxKind::Quorum, None)?
        {
            let p: Proposal<Operation> = super::lockbox::decode(&rec)?;
            if p.state == State::Approved {
                // An enrollment run now would have nobody to hand its token to: it
                // fails, and can be proposed again.
                self.execute(&p.id, None).await?;
            }
        }
        Ok(())
    }

    /// Runs an approved proposal and records how it went.
    async fn execute(
        &self,
        id: &str,
        by: Option<&Authorized<LockboxTarget>>,
    ) -> Result<(Proposal<Operation>, Option<super::registry::Minted>), Error> {
        let (p, ()) = self.update::<Proposal<Operation>, _>(id, |_| Ok(()))?;
        if p.state != State::Approved {
            return Ok((p, None));
        }
        let mut minted = None;
        let outcome = match &p.operation {
            Operation::EnrollmentIssue { principal } => match by {
                None => Outcome::Failed(
                    "the server restarted between the last approval and the issue: nobody to hand the token to; propose it again".into(),
                ),
                Some(a) => match self.mint(
                    principal,
                    super::registry::ENROLLMENT_DAYS,
                    itarvault_store::TokenPurpose::Enrollment,
                ) {
                    Ok(m) => {
                        let done = format!(
                            "enrollment token `{}` for `{principal}` handed to `{}`",
                            m.record.id,
                            a.caller().id()
                        );
                        minted = Some(m);
                        Outcome::Executed(done)
                    }
                    Err(e) => Outcome::Failed(e.message().to_owned()),
                },
            },
            op => match self.run(op, true) {
                Ok(done) => Outcome::Executed(done),
                Err(e) => Outcome::Failed(e.message().to_owned()),
            },
        };
        let ok = matches!(outcome, Outcome::Executed(_));
        let (p, ()) = self.update::<Proposal<Operation>, _>(id, |p| {
            p.finish(outcome.clone());
            Ok(())
        })?;
        let result = if ok { "ok" } else { "error" };
        let mut event = match by {
            Some(a) => a.event(result),
            None => Event::new("quorum.execute", result),
        };
        event.kind = "quorum.execute".into();
        event.grant = Some(id.to_owned());
        event.detail = Some(format!(
            "{}: {}",
            p.effect,
            p.result.clone().unwrap_or_default()
        ));
        self.record(vec![event]).await?;
        self.notify("quorum.execute", &p);
        Ok((p, minted))
    }

    /// Validates (`apply == false`) or performs an operation. The same code does both,
    /// so a proposal that was valid when proposed fails only if the world changed since.
    pub(super) fn run(&self, op: &Operation, apply: bool) -> Result<String, Error> {
        self.check_epoch_operation(op)?;
        let keys = |e: itarvault_keys::KeyError| Error::invalid("key", e.to_string());
        match op {
            Operation::KeyDisable { key } => {
                itarvault_keys::KeyProvider::describe(self.keystore.as_ref(), key).map_err(keys)?;
                if apply {
                    self.keystore
                        .disable(key)
                        .map_err(|e| Error::unavailable("keystore", e.to_string()))?;
                }
                Ok(format!("key `{key}` disabled"))
            }
            Operation::KeyDestroy { key, days } => {
                itarvault_keys::KeyProvider::describe(self.keystore.as_ref(), key).map_err(keys)?;
                if !(7..=30).contains(days) {
                    return Err(Error::invalid(
                        "bad-waiting-period",
                        format!("the waiting period is 7 to 30 days, not {days}"),
                    ));
                }
                if apply {
                    self.keystore
                        .schedule_destruction(key, *days)
                        .map_err(|e| Error::unavailable("keystore", e.to_string()))?;
                }
                Ok(format!(
                    "key `{key}` scheduled for destruction in {days} days"
                ))
            }
            Operation::ResidencySet { mode } => {
                if apply {
                    self.change_controlled(|c| c.residency = *mode)?;
                }
                Ok(format!("residency mode is now `{mode}`"))
            }
            Operation::BackendAdd { backend } => {
                super::settings::check_backend_country(backend)
                    .map_err(|e| Error::invalid("backend-refused", e.to_string()))?;
                if apply {
                    self.change_controlled(|c| {
                        if !c.backends.contains(backend) {
                            c.backends.push(backend.clone());
                        }
                    })?;
                }
                Ok(format!(
                    "backend `{}` approved; add it under [[backends]] and restart to use it",
                    backend.name
                ))
            }
            Operation::AuthorizationAdd {
                principal,
                authorization,
            } => {
                let rec = self.authorization_record(principal, authorization)?;
                if apply {
                    self.registry.add_authorization(&rec)?;
                }
                Ok(format!(
                    "authorization `{}` added to `{principal}`",
                    authorization.id
                ))
            }
            Operation::PoliciesSet { text } => {
                OrgPolicies::load(&[("proposal".into(), text.clone())])
                    .map_err(|e| Error::invalid("bad-policies", e.to_string()))?;
                if apply {
                    let digest = super::settings::policy_digest(text);
                    self.change_controlled(|c| c.policies_sha256 = digest)?;
                }
                Ok(
                    "policies approved; install them in the configured policy files and restart"
                        .into(),
                )
            }
            Operation::PrincipalAdd { principal } => {
                let rec = principal.to_record()?;
                if apply {
                    self.registry.add_principal(&rec)?;
                }
                Ok(format!(
                    "principal `{}` registered (roles {:?})",
                    rec.id, rec.roles
                ))
            }
            Operation::EnrollmentIssue { principal } => {
                self.existing(principal)?;
                Ok(format!(
                    "an enrollment token for `{principal}` can be issued"
                ))
            }
            Operation::PrincipalBind {
                principal,
                bindings,
            } => {
                self.existing(principal)?;
                super::registry::check_bindings(bindings)?;
                if apply {
                    self.credentials.set_bindings(principal, bindings)?;
                    self.note_change();
                }
                Ok(format!("`{principal}` is bound to {}", json(bindings)))
            }
            Operation::SettingsSet { guarded } => {
                let Some(q) = &guarded.quorum else {
                    return Err(Error::invalid(
                        "no-quorum",
                        "the new settings have no quorum: once a quorum governs, bootstrap mode cannot return",
                    ));
                };
                let distinct: std::collections::BTreeSet<_> = q.approvers.iter().collect();
                if distinct.len() != q.approvers.len()
                    || q.required == 0
                    || q.required as usize >= q.approvers.len()
                    || q.window_hours == 0
                {
                    return Err(Error::invalid(
                        "bad-quorum",
                        "the quorum needs distinct approvers, 1 <= required < approvers, and a window of at least an hour",
                    ));
                }
                // The bounds a config is held to: settings no config could produce are
                // not approved either.
                let hours = 1..=crate::config::MAX_HOURS;
                if !hours.contains(&q.window_hours)
                    || !hours.contains(&guarded.lockbox_max_grant_hours)
                    || !hours.contains(&guarded.lockbox_pending_hours)
                    || guarded.lockbox_approvals_required == 0
                {
                    return Err(Error::invalid(
                        "bad-settings",
                        format!(
                            "`quorum.window_hours`, `lockbox_max_grant_hours` and `lockbox_pending_hours` must be 1 to {}, and `lockbox_approvals_required` at least 1",
                            crate::config::MAX_HOURS
                        ),
                    ));
                }
                if apply {
                    let g = guarded.clone();
                    self.change_controlled(|c| c.guarded = Some(g))?;
                }
                Ok("settings approved; install the config that produced them and restart".into())
            }
            Operation::AuditRestore { seq } => self.run_audit_restore(*seq, apply),
        }
    }

    /// Changes the controlled settings in the store and in force.
    fn change_controlled(&self, change: impl FnOnce(&mut super::Controlled)) -> Result<(), Error> {
        let mut c = self.controlled();
        change(&mut c);
        c.save(self.settings.as_ref())?;
        *self
            .controlled
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = c;
        Ok(())
    }

    /// A new authorization for `principal`, checked against the registry.
    pub(super) fn authorization_record(
        &self,
        principal: &str,
        authorization: &Authorization,
    ) -> Result<AuthorizationRecord, Error> {
        self.existing(principal)?;
        if self
            .registry
            .authorizations(principal)?
            .iter()
            .any(|a| a.authorization.id == authorization.id)
        {
            return Err(Error::conflict(
                "exists",
                format!(
                    "`{principal}` already has authorization `{}`",
                    authorization.id
                ),
            )
            .hint("authorizations are never edited: revoke it and add one with a new id"));
        }
        Ok(AuthorizationRecord {
            principal: principal.to_owned(),
            authorization: authorization.clone(),
            revoked: false,
            added: OffsetDateTime::now_utc(),
        })
    }
}
