//! Records, the chain that links them, checkpoints and the signed head.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::sign::{SignError, Signer};

/// The record format version written by this build. Readers reject others.
pub const RECORD_VERSION: u32 = 1;

/// `prev` of the first record: there is nothing before it.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A rule that contributed to a decision: the id and citation, enough for an auditor to
/// look up the rule in `docs/rules.md` without the log repeating each message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub rule: String,
    pub cite: String,
}

/// What happened: who, from where, to what, with what result. Never plaintext or key
/// material: an object is named by bucket and key, a data key by its wrapping key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// `decision`, `object.put`, `object.get`, `key.unwrap`, `auth.failure`,
    /// `admin.principal.add`, `checkpoint`, ... (docs/audit.md lists them).
    pub kind: String,
    /// `allow` / `deny` for decisions; `ok` / `error` otherwise.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The client's network address as the server saw it (after trusted proxies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// The source country the location service assigned, or absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// The lockbox access request or quorum proposal this record acts on or under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// The key-encryption key used (`local:bucket/x v2`): every key use is audited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Free text for what the fields above cannot say (an error's first line, sizes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Event {
    pub fn new(kind: &str, outcome: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            outcome: outcome.to_owned(),
            ..Self::default()
        }
    }
    pub fn principal(mut self, p: impl Into<String>) -> Self {
        self.principal = Some(p.into());
        self
    }
    pub fn object(mut self, bucket: impl Into<String>, key: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self.object = Some(key.into());
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    pub fn grant(mut self, id: impl Into<String>) -> Self {
        self.grant = Some(id.into());
        self
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub v: u32,
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// SHA-256 (hex) of the previous record's line, or [`GENESIS`].
    pub prev: String,
    pub event: Event,
    /// Only on `restore` records: where the restored log ended and how far the witness
    /// had seen the log go (see [`Restore`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,
    /// For `checkpoint` records: the signing key's id and the signature over
    /// (seq, prev, time) — which covers every record before this one. For `restore`
    /// records: the signature over the whole record ([`record_message`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The message a checkpoint signature covers.
pub(crate) fn checkpoint_message(seq: u64, prev: &str, time: &str) -> Vec<u8> {
    signed_message(b"itarvault-audit-checkpoint-v1\0", seq, prev, time)
}

/// The message a `restore` record's signature covers: the record's canonical line
/// without `sig` (so every field, the named heads included, is signed).
pub(crate) fn record_message(record: &Record) -> Vec<u8> {
    let mut unsigned = record.clone();
    unsigned.sig = None;
    let mut m = b"itarvault-audit-record-v1\0".to_vec();
    // A struct of strings and integers always serializes.
    m.extend_from_slice(&serde_json::to_vec(&unsigned).unwrap_or_default());
    m
}

/// The message a head signature covers.
pub(crate) fn head_message(seq: u64, hash: &str, time: &str) -> Vec<u8> {
    signed_message(b"itarvault-audit-head-v1\0", seq, hash, time)
}

fn signed_message(domain: &[u8], seq: u64, hash: &str, time: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(domain.len() + 8 + hash.len() + time.len() + 1);
    m.extend_from_slice(domain);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash.as_bytes());
    m.push(0);
    m.extend_from_slice(time.as_bytes());
    m
}

/// The writer's position in the chain: the next sequence number and the hash of the
/// last line written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    next_seq: u64,
    prev: String,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            next_seq: 1,
            prev: GENESIS.to_owned(),
        }
    }

    /// Continues after a record with sequence number `last_seq` and line hash `last_hash`.
    pub fn resume(last_seq: u64, last_hash: String) -> Self {
        Self {
            next_seq: last_seq.saturating_add(1),
            prev: last_hash,
        }
    }

    /// The sequence number of the last record (0 for an empty log).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// The hash of the last record's line.
    pub fn last_hash(&self) -> &str {
        &self.prev
    }

    fn push(&mut self, record: &Record) -> Vec<u8> {
        // A struct of strings and integers always serializes.
        let mut line = serde_json::to_vec(record).unwrap_or_default();
        self.prev = crate::line_hash(&line);
        self.next_seq += 1;
        line.push(b'\n');
        line
    }

    /// Appends an event; returns the line to write, newline included.
    pub fn append(&mut self, event: Event, at: OffsetDateTime) -> Vec<u8> {
        let record = Record {
            v: RECORD_VERSION,
            seq: self.next_seq,
            time: rfc3339(at),
            prev: self.prev.clone(),
            event,
            restore: None,
            key_id: None,
            sig: None,
        };
        self.push(&record)
    }

    /// Appends a checkpoint signed by `signer`; returns its line.
    pub fn checkpoint(
        &mut self,
        signer: &Signer,
        at: OffsetDateTime,
    ) -> Result<Vec<u8>, SignError> {
        let time = rfc3339(at);
        let sig = signer.sign(&checkpoint_message(self.next_seq, &self.prev, &time))?;
        let record = Record {
            v: RECORD_VERSION,
            seq: self.next_seq,
            time,
            prev: self.prev.clone(),
            event: Event::new("checkpoint", "ok"),
            restore: None,
            key_id: Some(signer.key_id().to_owned()),
            sig: Some(hex::encode(sig)),
        };
        Ok(self.push(&record))
    }

    /// Begins a restore epoch: the log (restored from a backup) ends here, but the
    /// witness saw it reach `witnessed`. Appends a signed `restore` record with outcome
    /// `pending` whose `seq` continues *after* the witnessed head, so that no sequence
    /// number the witness holds is ever reused, and whose `prev` chains to the restored
    /// log. Records `last_seq + 1 ..= witnessed.seq` are named as lost, not hidden.
    pub fn begin_restore(
        &mut self,
        signer: &Signer,
        witnessed: Anchor,
        event: Event,
        at: OffsetDateTime,
    ) -> Result<Vec<u8>, RestoreError> {
        if witnessed.seq <= self.last_seq() {
            return Err(RestoreError::NotBehind {
                log: self.last_seq(),
                witnessed: witnessed.seq,
            });
        }
        let restore = Restore {
            restored: self.anchor(),
            witnessed,
        };
        self.next_seq = restore.witnessed.seq.saturating_add(1);
        Ok(self.signed_restore(signer, restore, event, "pending", at)?)
    }

    /// Records that a quorum approved the restore `restore` (as a pending `restore`
    /// record stated it): a signed `restore` record with outcome `ok`, in sequence.
    pub fn approve_restore(
        &mut self,
        signer: &Signer,
        restore: Restore,
        event: Event,
        at: OffsetDateTime,
    ) -> Result<Vec<u8>, SignError> {
        self.signed_restore(signer, restore, event, "ok", at)
    }

    fn signed_restore(
        &mut self,
        signer: &Signer,
        restore: Restore,
        mut event: Event,
        outcome: &str,
        at: OffsetDateTime,
    ) -> Result<Vec<u8>, SignError> {
        event.kind = "restore".into();
        event.outcome = outcome.into();
        let mut record = Record {
            v: RECORD_VERSION,
            seq: self.next_seq,
            time: rfc3339(at),
            prev: self.prev.clone(),
            event,
            restore: Some(restore),
            key_id: Some(signer.key_id().to_owned()),
            sig: None,
        };
        record.sig = Some(hex::encode(signer.sign(&record_message(&record))?));
        Ok(self.push(&record))
    }

    /// Where the chain ends now.
    pub fn anchor(&self) -> Anchor {
        Anchor {
            seq: self.last_seq(),
            hash: self.prev.clone(),
        }
    }

    /// A signed statement of where the log ends now.
    pub fn head(&self, signer: &Signer, at: OffsetDateTime) -> Result<Head, SignError> {
        let time = rfc3339(at);
        let sig = signer.sign(&head_message(self.last_seq(), &self.prev, &time))?;
        Ok(Head {
            v: RECORD_VERSION,
            seq: self.last_seq(),
            hash: self.prev.clone(),
            time,
            key_id: signer.key_id().to_owned(),
            sig: hex::encode(sig),
        })
    }
}

/// Why a restore epoch cannot begin.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("the log reaches seq {log} and the witness last saw seq {witnessed}: the log is not behind its witness, so there is nothing to restore\nstart the server without the restore option")]
    NotBehind { log: u64, witnessed: u64 },
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// A point in the chain: a record's sequence number and the SHA-256 of its line. The
/// empty log is seq 0 with [`GENESIS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
}

/// What a `restore` record states. The data directory was restored from a backup whose
/// log ended at `restored`; the witness had seen the log reach `witnessed` (later).
/// The records in between happened and were witnessed, but are not in this log: the
/// restore names them instead of hiding them, and a quorum approves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    pub restored: Anchor,
    pub witnessed: Anchor,
}

/// The signed end of the log, kept in a file beside it: a log shorter than its head
/// was truncated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub v: u32,
    pub seq: u64,
    pub hash: String,
    pub time: String,
    pub key_id: String,
    pub sig: String,
}

impl Head {
    /// The point of the chain this head names.
    pub fn anchor(&self) -> Anchor {
        Anchor {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}
