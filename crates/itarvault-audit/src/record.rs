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
    /// For `checkpoint` records: the signing key's id and the signature over
    /// (seq, prev, time) — which covers every record before this one.
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
            key_id: Some(signer.key_id().to_owned()),
            sig: Some(hex::encode(sig)),
        };
        Ok(self.push(&record))
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
