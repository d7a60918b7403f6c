//! Verification: recompute the chain, check every checkpoint and the head, and say
//! where the log was altered.

use std::io::{BufRead, Read};

use serde::Serialize;

use crate::record::{checkpoint_message, head_message, Head, Record, GENESIS, RECORD_VERSION};
use crate::sign::PublicKey;

/// Longest line a reader accepts; the writer never comes near it.
pub const MAX_LINE: usize = 1 << 20;

/// Stop listing after this many problems: past that the log is plainly not intact.
const MAX_PROBLEMS: usize = 100;

/// One place where the log is not what the writer wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line number in the log, or 0 for the log as a whole.
    pub line: u64,
    /// The sequence number the record claims, when it could be read.
    pub seq: Option<u64>,
    pub message: String,
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
    pub problems: Vec<Problem>,
    /// Facts worth knowing that are not tampering (an incomplete final line).
    pub notes: Vec<String>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, line: u64, seq: Option<u64>, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { line, seq, message });
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

/// Verifies a whole log read from `log`. `keys` are the checkpoint keys to trust;
/// `head`, when given, must match the log's end (a log shorter than its head was
/// truncated). Never fails: unreadable input is a problem in the report.
pub fn verify(log: impl Read, keys: &[PublicKey], head: Option<&Head>) -> VerifyReport {
    let mut r = std::io::BufReader::with_capacity(1 << 16, log);
    let mut rep = VerifyReport {
        last_hash: GENESIS.to_owned(),
        ..VerifyReport::default()
    };
    let mut expected_seq = 1u64;
    let mut prev = GENESIS.to_owned();
    // The hash of the record the head names, once seen.
    let mut hash_at_head = None;
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
                rep.problem(line_no + 1, None, format!("the log could not be read: {e}"));
                break;
            }
        };
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() != Some(&b'\n') {
            if buf.len() > MAX_LINE {
                rep.problem(
                    line_no,
                    None,
                    format!("line is longer than {MAX_LINE} bytes: not a record"),
                );
                // Skip the rest of the overlong line.
                let mut sink = Vec::new();
                let _ = r.read_until(b'\n', &mut sink);
                continue;
            }
            rep.notes.push(format!(
                "line {line_no} is incomplete (a write was cut short by a crash); the server removes it at its next start"
            ));
            break;
        }
        buf.pop();
        let hash = crate::line_hash(&buf);
        let rec = match parse_line(&buf) {
            Ok(rec) => rec,
            Err(e) => {
                rep.problem(
                    line_no,
                    None,
                    format!(
                        "line {line_no} is not a valid record ({e}): it was edited or inserted"
                    ),
                );
                prev = hash;
                continue;
            }
        };
        rep.records += 1;
        if rec.seq != expected_seq {
            let msg = if rec.seq > expected_seq {
                format!(
                    "records {}..{} are missing before this one: deleted",
                    expected_seq,
                    rec.seq - 1
                )
            } else {
                format!(
                    "seq {} comes after seq {}: a record was inserted, duplicated or reordered",
                    rec.seq,
                    expected_seq - 1
                )
            };
            rep.problem(line_no, Some(rec.seq), msg);
        } else if rec.prev != prev {
            rep.problem(
                line_no,
                Some(rec.seq),
                format!(
                    "seq {} does not chain to the record before it: the record before it was edited, or one was removed or inserted there",
                    rec.seq
                ),
            );
        }
        if rec.event.kind == "checkpoint" {
            check_checkpoint(&mut rep, &rec, line_no, keys);
        } else if rec.sig.is_some() || rec.key_id.is_some() {
            rep.problem(
                line_no,
                Some(rec.seq),
                "a signature on a record that is not a checkpoint".into(),
            );
        }
        if head.is_some_and(|h| h.seq == rec.seq) {
            hash_at_head = Some(hash.clone());
        }
        expected_seq = rec.seq.saturating_add(1);
        rep.last_seq = rec.seq;
        prev = hash;
        rep.last_hash.clone_from(&prev);
    }
    if let Some(h) = head {
        check_head(&mut rep, h, hash_at_head.as_deref(), keys);
    }
    rep
}

fn check_checkpoint(rep: &mut VerifyReport, rec: &Record, line: u64, keys: &[PublicKey]) {
    let (Some(kid), Some(sig)) = (&rec.key_id, &rec.sig) else {
        rep.problem(line, Some(rec.seq), "checkpoint without a signature".into());
        return;
    };
    let Some(key) = keys.iter().find(|k| k.key_id() == kid) else {
        rep.problem(
            line,
            Some(rec.seq),
            format!("checkpoint signed by unknown key `{kid}`: forged, or verify with that key's public half"),
        );
        return;
    };
    if key.verify(&checkpoint_message(rec.seq, &rec.prev, &rec.time), sig) {
        rep.checkpoints += 1;
        rep.last_signed_seq = rec.seq;
    } else {
        rep.problem(
            line,
            Some(rec.seq),
            format!(
                "checkpoint seq {} has an invalid signature: forged or edited",
                rec.seq
            ),
        );
    }
}

fn check_head(rep: &mut VerifyReport, h: &Head, hash_at_head: Option<&str>, keys: &[PublicKey]) {
    rep.head_checked = true;
    let Some(key) = keys.iter().find(|k| k.key_id() == h.key_id) else {
        rep.problem(
            0,
            Some(h.seq),
            format!("the head is signed by unknown key `{}`", h.key_id),
        );
        return;
    };
    if !key.verify(&head_message(h.seq, &h.hash, &h.time), &h.sig) {
        rep.problem(
            0,
            Some(h.seq),
            "the head has an invalid signature: forged or edited".into(),
        );
        return;
    }
    if rep.last_seq < h.seq {
        rep.problem(
            0,
            Some(h.seq),
            format!(
                "the log is truncated: the signed head says it reached seq {} but it ends at seq {}",
                h.seq, rep.last_seq
            ),
        );
    } else if h.seq > 0 && hash_at_head != Some(h.hash.as_str()) {
        rep.problem(
            0,
            Some(h.seq),
            format!(
                "record seq {} differs from the one the signed head names: edited or replaced",
                h.seq
            ),
        );
    }
}
