//! The audit trail's epochs as the service sees them: a restore from backup holds the
//! vault to quorum and audit routes until a quorum approves it, the approval is a
//! signed record, and a clean stop ends the trail with a signature.

use itarvault_audit::Event;
use itarvault_lockbox::{Proposal, State};
use itarvault_store::LockboxKind;

use super::gate::Route;
use super::quorum::Operation;
use super::Vault;
use crate::audit_log::PendingRestore;
use crate::error::Error;

/// Route kinds served while a restore epoch waits for its quorum: what the quorum
/// needs to decide, and what auditors need to see why.
const DURING_RESTORE: &[&str] = &[
    "whoami",
    "quorum.list",
    "quorum.propose",
    "quorum.show",
    "quorum.approve",
    "quorum.deny",
    "audit.read",
    "posture.read",
    "metrics.read",
];

fn held(p: &PendingRestore) -> Error {
    Error::unavailable(
        "restore-pending",
        format!(
            "the data directory was restored from a backup (audit restore record seq {}: the backup ends at seq {}, the witness saw seq {}); until a quorum approves the restore, only quorum and audit routes are served",
            p.seq, p.restore.restored.seq, p.restore.witnessed.seq
        ),
    )
    .hint(format!(
        "an admin proposes `itarvault quorum propose audit-restore {} --justification \"...\"` and the approvers approve it",
        p.seq
    ))
}

impl Vault {
    /// The restore epoch waiting for a quorum, if any.
    pub fn pending_restore(&self) -> Option<PendingRestore> {
        self.audit.pending_restore()
    }

    /// Refuses every route but quorum and audit ones while a restore waits.
    pub(super) fn check_epoch(&self, route: &Route) -> Result<(), Error> {
        match self.audit.pending_restore() {
            Some(p) if !DURING_RESTORE.contains(&route.kind) => Err(held(&p)),
            _ => Ok(()),
        }
    }

    /// While a restore waits, no other quorum operation runs: the state it would
    /// change is the backup's, not yet accepted.
    pub(super) fn check_epoch_operation(&self, op: &Operation) -> Result<(), Error> {
        match (self.audit.pending_restore(), op) {
            (Some(_), Operation::AuditRestore { .. }) | (None, _) => Ok(()),
            (Some(p), _) => Err(held(&p)),
        }
    }

    /// Validates or performs `audit_restore`: it must name the restore record that is
    /// waiting. Performing it writes the signed approval (naming the restored head, the
    /// witnessed head, the proposal and its approvers) and lifts the hold.
    pub(super) fn run_audit_restore(&self, seq: u64, apply: bool) -> Result<String, Error> {
        let p = self.audit.pending_restore().ok_or_else(|| {
            Error::conflict(
                "no-restore-pending",
                "no restore from backup is waiting for approval",
            )
        })?;
        if p.seq != seq {
            return Err(Error::invalid(
                "wrong-restore",
                format!(
                    "the restore waiting for approval began at audit record seq {}, not {seq}",
                    p.seq
                ),
            ));
        }
        let done = format!(
            "the restore begun at seq {seq} is approved: the trail continues from the backup's seq {}; records {}..{} the witness saw are not in the log and stay on the witness",
            p.restore.restored.seq,
            p.restore.restored.seq + 1,
            p.restore.witnessed.seq
        );
        if !apply {
            return Ok(done);
        }
        let proposal = self.approved_restore_proposal(seq)?;
        let mut event = Event::new("restore", "ok").detail(format!(
            "approved by {} (proposal {}): {}",
            proposal
                .ballot
                .approvals
                .iter()
                .map(|v| v.by.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            proposal.id,
            proposal.justification
        ));
        event.principal = Some(proposal.ballot.requester.clone());
        event.grant = Some(proposal.id.clone());
        self.audit
            .approve_restore(event)
            .map_err(|e| Error::audit(&e))?;
        Ok(done)
    }

    /// The approved proposal that is running `audit_restore` for `seq`.
    fn approved_restore_proposal(&self, seq: u64) -> Result<Proposal<Operation>, Error> {
        for rec in self.lockbox.lockbox_list(LockboxKind::Quorum, None)? {
            let p: Proposal<Operation> = super::lockbox::decode(&rec)?;
            if p.state == State::Approved && p.operation == (Operation::AuditRestore { seq }) {
                return Ok(p);
            }
        }
        Err(Error::bug(format!(
            "no approved proposal runs the restore at seq {seq}"
        )))
    }

    /// What keeps the trail from taking records (for `/healthz`), if anything.
    pub fn audit_health(&self) -> Option<String> {
        self.audit.health_problem()
    }

    /// Ends the trail cleanly ([`crate::audit_log::AuditLog::close`]).
    pub async fn close_audit(&self, reason: &str) -> Result<u64, crate::audit_log::AuditError> {
        self.audit.close(reason).await
    }
}
