//! The itarvault audit trail: what a record is, how records chain, how checkpoints are
//! signed, and how a log is verified.
//!
//! A log is JSON Lines. Each record carries the SHA-256 of the previous record's line
//! (`prev`), so editing, deleting, inserting or reordering any record breaks the chain
//! at that point. Every so often the writer appends a *checkpoint* record whose ECDSA
//! P-256 signature covers the chain up to it, and after every commit it rewrites a
//! signed *head* (the last sequence number and hash) beside the log, so that cutting
//! records off the end is detected too. A log with records and no head is not intact.
//!
//! The host that holds the log can still roll log and head back together. So each
//! checkpoint's head (and the head every few seconds) also goes to a [`Witness`]
//! outside the host, which only ever adds; [`verify_witnessed`] finds a log that is
//! shorter than, or differs from, what the witness saw. Restoring from a backup is not
//! such a rollback: it is a signed `restore` record that names the backup's end and the
//! witness's newest head, approved by a quorum ([`Chain::begin_restore`]).
//! `docs/audit.md` is the normative description. This crate is pure computation over
//! `Read`: the server owns the files and the witness's transport.
//!
//! ```
//! use itarvault_audit::{verify, Chain, Event, Signer};
//!
//! let signer = Signer::generate()?;
//! let mut chain = Chain::new();
//! let mut log = Vec::new();
//! let now = time::OffsetDateTime::now_utc();
//! log.extend(chain.append(Event::new("object.put", "ok").principal("alice"), now));
//! log.extend(chain.checkpoint(&signer, now)?);
//! let head = chain.head(&signer, now)?;
//!
//! let report = verify(log.as_slice(), &[signer.public_key()], Some(&head));
//! assert!(report.is_intact(), "{:?}", report.problems);
//! assert_eq!(report.records, 2);
//! # Ok::<(), itarvault_audit::SignError>(())
//! ```

mod record;
mod sign;
mod verify;
pub mod witness;

pub use record::{
    Anchor, Chain, Event, Head, Reason, Record, Restore, RestoreError, GENESIS, RECORD_VERSION,
};
pub use sign::{PublicKey, SignError, Signer};
pub use verify::{
    check_head_signature, parse_line, verify, verify_witnessed, HeadSignatureError, LineError,
    Problem, ProblemKind, RestoreReport, VerifyReport, MAX_LINE,
};
pub use witness::{Witness, WitnessError};

/// SHA-256 of a record's line (without its newline), as lowercase hex.
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, line))
}
