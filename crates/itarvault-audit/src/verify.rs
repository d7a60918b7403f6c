//! Verification: recompute the chain, check every checkpoint, restore record and the
//! head, compare the log with what its witness saw, and say where the log was altered.

use std::io::{BufRead, Read};

use serde::Serialize;

use crate::record::{
    checkpoint_message, head_message, record_message, Anchor, Head, Record, Restore, GENESIS,
    RECORD_VERSION,
};
use crate::sign::PublicKey;

/// Longest line a reader accepts; the writer never comes near it.
pub const MAX_LINE: usize = 1 << 20;

/// Stop listing after this many problems: past that the log is plainly not intact.
const MAX_PROBLEMS: usize = 100;

/// What kind of alteration a problem shows. The server's start-up acts on the kind: a
/// rollback can become a restore epoch, a missing head can be recovered, anything else
/// stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A record was edited, deleted, inserted or reordered, or a signature is bad.
    Altered,
    /// The log has records but no signed head: its end cannot be checked.
    HeadMissing,
    /// The log is shorter than its own signed head.
    Truncated,
    /// The witness saw the log go further than it goes now (log and head rolled back
    /// together, or the head deleted and the log cut).
    RolledBack,
    /// The log differs from what the witness saw at some sequence number: rewritten.
    Diverged,
    /// A witnessed head is not signed by the log's key.
    WitnessInvalid,
    /// The log was restored from a backup and no quorum has approved it yet.
    RestorePending,
}

/// One place where the log is not what the writer wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// 1-based line number in the log, or 0 for the log as a whole.
    pub line: u64,
    /// The sequence number the record claims, when it could be read.
    pub seq: Option<u64>,
    pub message: String,
}

/// A restore epoch found in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// Sequence number of the `restore` record that began the epoch.
    pub seq: u64,
    pub restored: Anchor,
    pub witnessed: Anchor,
    /// The `restore` record that states the quorum's approval, once there is one.
    pub approved_seq: Option<u64>,
    /// The quorum proposal that approved it.
    pub grant: Option<String>,
    /// Witnessed heads that fall in the range the restore gave up (seen, not in the log).
    pub abandoned_witnessed: u64,
}

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    pub checkpoints: u64,
    pub last_seq: u64,
    pub last_hash: String,
    /// Sequence number of the last checkpoint with a valid signature (0 if none).
    pub last_signed_seq: u64,
    /// Whether a signed head was checked against the log's end.
    pub head_checked: bool,
    /// How many witnessed heads were compared with the log.
    pub witness_checked: u64,
    /// The newest witnessed head given, if any.
    pub witness_last_seq: Option<u64>,
    /// Restore epochs, in log order.
    pub restores: Vec<RestoreReport>,
    pub problems: Vec<Problem>,
    /// Facts worth knowing that are not tampering (an incomplete final line).
    pub notes: Vec<String>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether the only problems are of the kinds given.
    pub fn only(&self, kinds: &[ProblemKind]) -> bool {
        self.problems.iter().all(|p| kinds.contains(&p.kind))
    }

    pub fn has(&self, kind: ProblemKind) -> bool {
        self.problems.iter().any(|p| p.kind == kind)
    }

    /// The restore epoch still waiting for its quorum, if the log ends in one.
    pub fn pending_restore(&self) -> Option<&RestoreReport> {
        self.restores.last().filter(|r| r.approved_seq.is_none())
    }

    fn problem(&mut self, kind: ProblemKind, line: u64, seq: Option<u64>, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                kind,
                line,
                seq,
                message,
            });
        }
    }
}

/// Why a line is not a record this writer wrote.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("not a record: {0}")]
    NotRecord(serde_json::Error),
    #[error("record version {0} is not supported")]
    Version(u32),
    #[error("not in canonical form (the line was re-encoded or edited)")]
    NotCanonical,
}

/// Parses one line (without newline) into a record. The line must be exactly the
/// canonical encoding of the record it holds: anything else was not written by us.
pub fn parse_line(line: &[u8]) -> Result<Record, LineError> {
    let rec: Record = serde_json::from_slice(line).map_err(LineError::NotRecord)?;
    if rec.v != RECORD_VERSION {
        return Err(LineError::Version(rec.v));
    }
    let canonical = serde_json::to_vec(&rec).map_err(LineError::NotRecord)?;
    if canonical != line {
        return Err(LineError::NotCanonical);
    }
    Ok(rec)
}

/// Why a signed head is not to be believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadSignatureError {
    #[error("the head is signed by unknown key `{0}`")]
    UnknownKey(String),
    #[error("the head has an invalid signature: forged or edited")]
    Invalid,
}

/// Checks a head's signature against the trusted keys.
pub fn check_head_signature(h: &Head, keys: &[PublicKey]) -> Result<(), HeadSignatureError> {
    let key = keys
        .iter()
        .find(|k| k.key_id() == h.key_id)
        .ok_or_else(|| HeadSignatureError::UnknownKey(h.key_id.clone()))?;
    if key.verify(&head_message(h.seq, &h.hash, &h.time), &h.sig) {
        Ok(())
    } else {
        Err(HeadSignatureError::Invalid)
    }
}

/// Verifies a whole log read from `log`. `keys` are the signing keys to trust; `head`
/// must match the log's end (a log shorter than its head was truncated, and a log with
/// records but no head cannot be checked at its end, which is a problem). Never fails:
/// unreadable input is a problem in the report.
pub fn verify(log: impl Read, keys: &[PublicKey], head: Option<&Head>) -> VerifyReport {
    verify_witnessed(log, keys, head, &[])
}

/// [`verify`], and compare the log with heads its witness holds: every witnessed head
/// must name a record of the log with the same hash (or one a quorum-approved restore
/// gave up), and none may lie past the log's end (a rollback).
pub fn verify_witnessed(
    log: impl Read,
    keys: &[PublicKey],
    head: Option<&Head>,
    witnessed: &[Head],
) -> VerifyReport {
    let mut v = Verifier::new(keys, head, witnessed);
    v.read(log);
    v.finish()
}

/// The state of one verification pass.
struct Verifier<'a> {
    keys: &'a [PublicKey],
    head: Option<&'a Head>,
    /// Witnessed heads with valid signatures, by seq; `next_witness` is the first not
    /// yet compared.
    witnessed: Vec<&'a Head>,
    next_witness: usize,
    rep: VerifyReport,
    expected_seq: u64,
    prev: String,
    /// The hash of the record the head names, once seen.
    hash_at_head: Option<String>,
}

impl<'a> Verifier<'a> {
    fn new(keys: &'a [PublicKey], head: Option<&'a Head>, witnessed: &'a [Head]) -> Self {
        let mut rep = VerifyReport {
            last_hash: GENESIS.to_owned(),
            ..VerifyReport::default()
        };
        let mut valid: Vec<&Head> = Vec::with_capacity(witnessed.len());
        for w in witnessed {
            match check_head_signature(w, keys) {
                Ok(()) => valid.push(w),
                Err(e) => rep.problem(
                    ProblemKind::WitnessInvalid,
                    0,
                    Some(w.seq),
                    format!(
                        "the witness holds a head for seq {} that is not the log's: {e}",
                        w.seq
                    ),
                ),
            }
        }
        valid.sort_by_key(|h| h.seq);
        valid.dedup_by(|b, a| {
            if a.seq != b.seq {
                return false;
            }
            if a.hash != b.hash {
                rep.problem(
                    ProblemKind::Diverged,
                    0,
                    Some(a.seq),
                    format!(
                        "the witness holds two different heads for seq {}: the log showed it two histories",
                        a.seq
                    ),
                );
            }
            true
        });
        rep.witness_last_seq = valid.last().map(|h| h.seq);
        Self {
            keys,
            head,
            witnessed: valid,
            next_witness: 0,
            rep,
            expected_seq: 1,
            prev: GENESIS.to_owned(),
            hash_at_head: None,
        }
    }

    fn read(&mut self, log: impl Read) {
        let mut r = std::io::BufReader::with_capacity(1 << 16, log);
        let mut line_no = 0u64;
        let mut buf = Vec::with_capacity(1024);
        loop {
            buf.clear();
            let n = match (&mut r)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
            {
                Ok(n) => n,
                Err(e) => {
                    self.rep.problem(
                        ProblemKind::Altered,
                        line_no + 1,
                        None,
                        format!("the log could not be read: {e}"),
                    );
                    break;
                }
            };
            if n == 0 {
                break;
            }
            line_no += 1;
            if buf.last() != Some(&b'\n') {
                if buf.len() > MAX_LINE {
                    self.rep.problem(
                        ProblemKind::Altered,
                        line_no,
                        None,
                        format!("line is longer than {MAX_LINE} bytes: not a record"),
                    );
                    // Skip the rest of the overlong line.
                    let mut sink = Vec::new();
                    let _ = r.read_until(b'\n', &mut sink);
                    continue;
                }
                self.rep.notes.push(format!(
                    "line {line_no} is incomplete (a write was cut short by a crash); the server removes it at its next start"
                ));
                break;
            }
            buf.pop();
            self.line(&buf, line_no);
        }
    }

    fn line(&mut self, buf: &[u8], line_no: u64) {
        let hash = crate::line_hash(buf);
        let rec = match parse_line(buf) {
            Ok(rec) => rec,
            Err(e) => {
                self.rep.problem(
                    ProblemKind::Altered,
                    line_no,
                    None,
                    format!(
                        "line {line_no} is not a valid record ({e}): it was edited or inserted"
                    ),
                );
                self.prev = hash;
                return;
            }
        };
        self.rep.records += 1;
        let jumped = self.restore_jump(&rec);
        if rec.seq != self.expected_seq && !jumped {
            let msg = if rec.seq > self.expected_seq {
                format!(
                    "records {}..{} are missing before this one: deleted",
                    self.expected_seq,
                    rec.seq - 1
                )
            } else {
                format!(
                    "seq {} comes after seq {}: a record was inserted, duplicated or reordered",
                    rec.seq,
                    self.expected_seq - 1
                )
            };
            self.rep
                .problem(ProblemKind::Altered, line_no, Some(rec.seq), msg);
        } else if rec.prev != self.prev {
            self.rep.problem(
                ProblemKind::Altered,
                line_no,
                Some(rec.seq),
                format!(
                    "seq {} does not chain to the record before it: the record before it was edited, or one was removed or inserted there",
                    rec.seq
                ),
            );
        }
        match rec.event.kind.as_str() {
            "checkpoint" => self.checkpoint(&rec, line_no),
            "restore" => self.restore(&rec, line_no, jumped),
            _ if rec.sig.is_some() || rec.key_id.is_some() || rec.restore.is_some() => {
                self.rep.problem(
                    ProblemKind::Altered,
                    line_no,
                    Some(rec.seq),
                    "a signature or restore statement on a record that is neither a checkpoint nor a restore".into(),
                );
            }
            _ => {}
        }
        self.witness(rec.seq, &hash, line_no);
        if self.head.is_some_and(|h| h.seq == rec.seq) {
            self.hash_at_head = Some(hash.clone());
        }
        self.expected_seq = rec.seq.saturating_add(1);
        self.rep.last_seq = rec.seq;
        self.prev = hash;
        self.rep.last_hash.clone_from(&self.prev);
    }

    /// Whether `rec` is a pending restore that may skip sequence numbers: exactly past
    /// the witnessed head it names, right after the record it says the backup ended at.
    fn restore_jump(&self, rec: &Record) -> bool {
        let Some(r) = &rec.restore else {
            return false;
        };
        rec.event.kind == "restore"
            && rec.event.outcome == "pending"
            && r.restored.seq == self.expected_seq - 1
            && r.restored.hash == self.prev
            && r.witnessed.seq > r.restored.seq
            && rec.seq == r.witnessed.seq.saturating_add(1)
    }

    fn checkpoint(&mut self, rec: &Record, line: u64) {
        let (Some(kid), Some(sig)) = (&rec.key_id, &rec.sig) else {
            self.rep.problem(
                ProblemKind::Altered,
                line,
                Some(rec.seq),
                "checkpoint without a signature".into(),
            );
            return;
        };
        if rec.restore.is_some() {
            self.rep.problem(
                ProblemKind::Altered,
                line,
                Some(rec.seq),
                "a checkpoint carries a restore statement".into(),
            );
        }
        let Some(key) = self.keys.iter().find(|k| k.key_id() == kid) else {
            self.rep.problem(
                ProblemKind::Altered,
                line,
                Some(rec.seq),
                format!("checkpoint signed by unknown key `{kid}`: forged, or verify with that key's public half"),
            );
            return;
        };
        if key.verify(&checkpoint_message(rec.seq, &rec.prev, &rec.time), sig) {
            self.rep.checkpoints += 1;
            self.rep.last_signed_seq = rec.seq;
        } else {
            self.rep.problem(
                ProblemKind::Altered,
                line,
                Some(rec.seq),
                format!(
                    "checkpoint seq {} has an invalid signature: forged or edited",
                    rec.seq
                ),
            );
        }
    }

    /// A `restore` record: signed over its whole line; `pending` begins an epoch (and
    /// must be the jump [`Self::restore_jump`] accepts), `ok` approves the open one.
    fn restore(&mut self, rec: &Record, line: u64, jumped: bool) {
        let bad = |v: &mut Self, msg: String| {
            v.rep
                .problem(ProblemKind::Altered, line, Some(rec.seq), msg);
        };
        let Some(restore) = &rec.restore else {
            return bad(
                self,
                "a restore record without its restore statement".into(),
            );
        };
        let (Some(kid), Some(sig)) = (&rec.key_id, &rec.sig) else {
            return bad(self, "a restore record without a signature".into());
        };
        match self.keys.iter().find(|k| k.key_id() == kid) {
            None => {
                return bad(
                    self,
                    format!("restore record signed by unknown key `{kid}`: forged"),
                )
            }
            Some(key) if !key.verify(&record_message(rec), sig) => {
                return bad(
                    self,
                    format!(
                        "restore record seq {} has an invalid signature: forged or edited",
                        rec.seq
                    ),
                )
            }
            Some(_) => {}
        }
        match rec.event.outcome.as_str() {
            "pending" => {
                if !jumped {
                    return bad(
                        self,
                        format!(
                            "restore record seq {} does not follow the record it names as the backup's end, or does not continue right after the witnessed head it names",
                            rec.seq
                        ),
                    );
                }
                if let Some(open) = self.rep.pending_restore().map(|r| r.seq) {
                    self.rep.problem(
                        ProblemKind::RestorePending,
                        line,
                        Some(rec.seq),
                        format!("the restore begun at seq {open} was never approved by a quorum before another began"),
                    );
                }
                self.rep.restores.push(RestoreReport {
                    seq: rec.seq,
                    restored: restore.restored.clone(),
                    witnessed: restore.witnessed.clone(),
                    approved_seq: None,
                    grant: None,
                    abandoned_witnessed: 0,
                });
            }
            "ok" => {
                let open = self.rep.restores.last_mut().filter(|r| {
                    r.approved_seq.is_none()
                        && Restore {
                            restored: r.restored.clone(),
                            witnessed: r.witnessed.clone(),
                        } == *restore
                });
                match (open, &rec.event.grant) {
                    (Some(open), Some(grant)) => {
                        open.approved_seq = Some(rec.seq);
                        open.grant = Some(grant.clone());
                    }
                    (Some(_), None) => bad(
                        self,
                        "a restore approval that names no quorum proposal".into(),
                    ),
                    (None, _) => bad(
                        self,
                        format!(
                            "restore approval seq {} approves no restore that is open in the log",
                            rec.seq
                        ),
                    ),
                }
            }
            other => bad(
                self,
                format!("restore record with outcome `{other}` (pending or ok expected)"),
            ),
        }
    }

    /// Compares witnessed heads up to `seq` with the log: each must name this record,
    /// or lie in a range a restore gave up.
    fn witness(&mut self, seq: u64, hash: &str, line: u64) {
        while let Some(w) = self.witnessed.get(self.next_witness).copied() {
            if w.seq > seq {
                break;
            }
            self.next_witness += 1;
            self.rep.witness_checked += 1;
            if w.seq == seq {
                if w.hash != hash {
                    self.rep.problem(
                        ProblemKind::Diverged,
                        line,
                        Some(seq),
                        format!(
                            "record seq {seq} differs from the one the witness saw (at {}): the log was rewritten",
                            w.time
                        ),
                    );
                }
                continue;
            }
            // A head the log skipped: only a restore may skip, and only what it names.
            let given_up = self
                .rep
                .restores
                .iter_mut()
                .find(|r| r.restored.seq < w.seq && w.seq <= r.witnessed.seq && r.seq > w.seq);
            match given_up {
                Some(r) if w.seq == r.witnessed.seq && w.hash != r.witnessed.hash => {
                    let at = r.seq;
                    self.rep.problem(
                        ProblemKind::Diverged,
                        0,
                        Some(w.seq),
                        format!(
                            "the restore at seq {at} names a witnessed head for seq {} that the witness does not hold",
                            w.seq
                        ),
                    );
                }
                Some(r) => r.abandoned_witnessed += 1,
                None => self.rep.problem(
                    ProblemKind::Diverged,
                    0,
                    Some(w.seq),
                    format!(
                        "the witness saw a record seq {} that the log does not have: deleted",
                        w.seq
                    ),
                ),
            }
        }
    }

    fn finish(mut self) -> VerifyReport {
        let beyond = &self.witnessed[self.next_witness.min(self.witnessed.len())..];
        if let Some(newest) = beyond.last() {
            self.rep.witness_checked += beyond.len() as u64;
            self.rep.problem(
                ProblemKind::RolledBack,
                0,
                Some(newest.seq),
                format!(
                    "the log was rolled back or cut: the witness saw it reach seq {} (at {}), but it ends at seq {}{}",
                    newest.seq,
                    newest.time,
                    self.rep.last_seq,
                    if beyond.len() > 1 {
                        format!(" ({} witnessed heads lie past its end)", beyond.len())
                    } else {
                        String::new()
                    }
                ),
            );
        }
        if let Some(r) = self.rep.pending_restore() {
            let msg = format!(
                "the log was restored from a backup ending at seq {} (restore record seq {}) and no quorum has approved the restore yet",
                r.restored.seq, r.seq
            );
            let seq = r.seq;
            self.rep
                .problem(ProblemKind::RestorePending, 0, Some(seq), msg);
        }
        match self.head {
            Some(h) => self.check_head(h),
            None if self.rep.records > 0 => self.rep.problem(
                ProblemKind::HeadMissing,
                0,
                None,
                "the signed head is missing or unreadable: records cut off the end of the log could not be detected".into(),
            ),
            None => {}
        }
        self.rep
    }

    fn check_head(&mut self, h: &Head) {
        self.rep.head_checked = true;
        if let Err(e) = check_head_signature(h, self.keys) {
            let kind = ProblemKind::Altered;
            self.rep.problem(kind, 0, Some(h.seq), e.to_string());
            return;
        }
        if self.rep.last_seq < h.seq {
            self.rep.problem(
                ProblemKind::Truncated,
                0,
                Some(h.seq),
                format!(
                    "the log is truncated: the signed head says it reached seq {} but it ends at seq {}",
                    h.seq, self.rep.last_seq
                ),
            );
        } else if h.seq > 0 && self.hash_at_head.as_deref() != Some(h.hash.as_str()) {
            self.rep.problem(
                ProblemKind::Altered,
                0,
                Some(h.seq),
                format!(
                    "record seq {} differs from the one the signed head names: edited or replaced",
                    h.seq
                ),
            );
        }
    }
}
