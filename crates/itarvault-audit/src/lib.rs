//! The itarvault audit trail: what a record is, how records chain, how checkpoints are
//! signed, and how a log is verified.
//!
//! A log is JSON Lines. Each record carries the SHA-256 of the previous record's line
//! (`prev`), so editing, deleting, inserting or reordering any record breaks the chain
//! at that point. Every so often the writer appends a *checkpoint* record whose ECDSA
//! P-256 signature covers the chain up to it, and after every commit it rewrites a
//! signed *head* (the last sequence number and hash) beside the log, so that cutting
//! records off the end is detected too. `docs/audit.md` is the normative description.
//! This crate is pure computation over `BufRead`: the server owns the files.
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

pub use record::{Chain, Event, Head, Reason, Record, GENESIS, RECORD_VERSION};
pub use sign::{PublicKey, SignError, Signer};
pub use verify::{parse_line, verify, LineError, Problem, VerifyReport, MAX_LINE};

/// SHA-256 of a record's line (without its newline), as lowercase hex.
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, line))
}
