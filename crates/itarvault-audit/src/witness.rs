//! Witnesses: somewhere outside the vault's host that keeps every signed head the log
//! announces, so that whoever holds the host cannot roll the log back, or cut it and
//! delete its head, unseen.
//!
//! The head after each checkpoint (and at least every few seconds while records
//! arrive) goes to the witness. A witness only ever adds: one entry per sequence
//! number, never replaced, and (a witness service) never older than its newest.
//! Verification then compares the log with what the witness holds
//! ([`crate::verify_witnessed`]): a witnessed head past the log's end is a rollback, a
//! witnessed head that names a different record is a rewrite.
//!
//! This crate defines the contract and the rule a witness applies ([`admit`]); the
//! server crate implements it over a directory and over HTTPS.

use std::fmt;

use crate::record::Head;
use crate::sign::PublicKey;
use crate::verify::{check_head_signature, HeadSignatureError};

/// Why a witness did not take or give a head.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The witness holds a different head for this sequence number, or a newer one:
    /// the log forked or was rolled back. Never retried.
    #[error("the witness refused head seq {seq}: {reason}")]
    Refused { seq: u64, reason: String },
    /// The head is not signed by a key the witness trusts.
    #[error("the witness refused head seq {seq}: {source}")]
    Unsigned {
        seq: u64,
        source: HeadSignatureError,
    },
    /// The witness could not be reached, read or written; worth retrying.
    #[error("the witness {at} is unavailable: {why}\ncheck that it is mounted or running and reachable from this host")]
    Unavailable { at: String, why: String },
    /// The witness holds something that is not a signed head.
    #[error("the witness {at} holds an unreadable entry `{entry}`: {why}")]
    Corrupt {
        at: String,
        entry: String,
        why: String,
    },
}

/// A place that keeps a log's signed heads. Implementations do their own I/O; the
/// contract is what they keep.
pub trait Witness: Send + Sync + fmt::Debug {
    /// Keeps `head`. Keeping the same head (sequence number and hash) again is a
    /// success that changes nothing; a different head for a sequence number already
    /// kept is [`WitnessError::Refused`].
    fn submit(&self, head: &Head) -> Result<(), WitnessError>;
    /// The newest head kept for the log signed by `key_id`.
    fn latest(&self, key_id: &str) -> Result<Option<Head>, WitnessError>;
    /// Every head kept for the log signed by `key_id`, in sequence order.
    fn heads(&self, key_id: &str) -> Result<Vec<Head>, WitnessError>;
    /// Where the witness is, for messages.
    fn describe(&self) -> String;
}

/// What [`admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Store it.
    New,
    /// The same head is already kept: nothing to do.
    AlreadyKept,
}

/// The rule a witness applies to a submitted head, given the head it keeps for that
/// sequence number (if any) and its newest. A head must be signed by a trusted key; a
/// second, different head for a kept sequence number is a fork; a head older than the
/// newest kept is a rollback. A restore epoch never needs either: its records continue
/// after the newest witnessed head.
pub fn admit(
    head: &Head,
    keys: &[PublicKey],
    kept_at_seq: Option<&Head>,
    newest: Option<&Head>,
) -> Result<Admission, WitnessError> {
    check_head_signature(head, keys).map_err(|source| WitnessError::Unsigned {
        seq: head.seq,
        source,
    })?;
    if let Some(k) = kept_at_seq {
        return if k.hash == head.hash {
            Ok(Admission::AlreadyKept)
        } else {
            Err(WitnessError::Refused {
                seq: head.seq,
                reason: format!(
                    "it already keeps a different head for seq {} (hash {}): the log was rewritten",
                    k.seq, k.hash
                ),
            })
        };
    }
    match newest {
        Some(n) if n.seq > head.seq => Err(WitnessError::Refused {
            seq: head.seq,
            reason: format!(
                "it already keeps seq {} (at {}): the log was rolled back",
                n.seq, n.time
            ),
        }),
        _ => Ok(Admission::New),
    }
}

/// The name of the file (or resource) that keeps the head for `seq`, under the log's
/// key id: `<shard>/<seq>.json`, fixed-width so names sort by sequence number, 100,000
/// per shard so that finding the newest lists two short directories.
pub fn entry_path(seq: u64) -> (String, String) {
    (format!("{:015}", seq / 100_000), format!("{seq:020}.json"))
}

/// The sequence number an entry's file name stands for, if it is one.
pub fn entry_seq(file_name: &str) -> Option<u64> {
    let digits = file_name.strip_suffix(".json")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use crate::{Chain, Event, Signer};

    fn heads() -> (Signer, Head, Head) {
        let s = Signer::generate().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let mut c = Chain::new();
        c.append(Event::new("a", "ok"), now);
        let h1 = c.head(&s, now).unwrap();
        c.append(Event::new("b", "ok"), now);
        let h2 = c.head(&s, now).unwrap();
        (s, h1, h2)
    }

    #[test]
    fn a_witness_adds_only_forward_and_never_replaces() {
        let (s, h1, h2) = heads();
        let keys = [s.public_key()];
        assert_eq!(admit(&h1, &keys, None, None), Ok(Admission::New));
        assert_eq!(admit(&h2, &keys, None, Some(&h1)), Ok(Admission::New));
        assert_eq!(
            admit(&h2, &keys, Some(&h2), Some(&h2)),
            Ok(Admission::AlreadyKept)
        );
        let rollback = admit(&h1, &keys, None, Some(&h2)).unwrap_err();
        assert!(rollback.to_string().contains("rolled back"), "{rollback}");
        let mut fork = h2.clone();
        fork.hash = h1.hash.clone();
        let forked = admit(&h2, &keys, Some(&fork), Some(&fork)).unwrap_err();
        assert!(forked.to_string().contains("rewritten"), "{forked}");
    }

    #[test]
    fn a_witness_keeps_only_heads_signed_by_the_logs_key() {
        let (s, h1, _) = heads();
        let other = Signer::generate().unwrap();
        assert!(matches!(
            admit(&h1, &[other.public_key()], None, None),
            Err(WitnessError::Unsigned { .. })
        ));
        let mut forged = h1.clone();
        forged.seq += 1;
        assert!(matches!(
            admit(&forged, &[s.public_key()], None, None),
            Err(WitnessError::Unsigned { .. })
        ));
    }

    #[test]
    fn entry_names_sort_by_sequence_number_and_parse_back() {
        let (shard, file) = entry_path(1_234_567);
        assert_eq!(shard, "000000000000012");
        assert_eq!(entry_seq(&file), Some(1_234_567));
        assert!(entry_path(99_999).1 < entry_path(100_000).1);
        assert_eq!(entry_seq("12.json"), None);
        assert_eq!(entry_seq("0000000000000000001a.json"), None);
    }
}
