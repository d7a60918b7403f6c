//! The content check an upload passes as it streams into the vault: every plaintext
//! chunk in order, then one outcome with everything found in the bytes and in what the
//! containers among them hold.
//!
//! ```
//! use itarvault_scan::{decide_upload, Budget, OnMismatch, Scanner, UploadDecision};
//! let scanner = Scanner::builtin()?;
//! let mut check = scanner.upload_check(Budget::default());
//! for chunk in [&b"Quarterly review\nSECRET//"[..], b"NOFORN\n"] {
//!     check.push(chunk);
//! }
//! let outcome = check.finish();
//! let label: itarvault_format::Label = "ITAR:XIX".parse()?;
//! let decision = decide_upload(&label, &outcome, OnMismatch::Refuse);
//! assert!(matches!(decision, UploadDecision::Refuse(c) if c.code() == "content-classified"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::extract::{Budget, Extraction, Node, Unchecked, Unreadable};
use crate::matcher::{Finding, Scanner};
use std::fmt;

impl Scanner {
    /// A check fed each plaintext chunk of one upload, in order. A plain file streams
    /// straight through the matcher (no copy beyond the matcher's own window); a
    /// container is opened within `budget`.
    pub fn upload_check(&self, budget: Budget) -> UploadCheck<'_> {
        let ctx = Extraction::new(self, budget);
        let root = Node::new(String::new(), 0, &ctx);
        UploadCheck {
            ctx,
            root,
            bytes: 0,
        }
    }
}

/// The check of one upload in progress. Plaintext it holds is zeroed when dropped;
/// `Debug` shows sizes and states only.
pub struct UploadCheck<'s> {
    ctx: Extraction<'s>,
    root: Node<'s>,
    bytes: u64,
}

impl fmt::Debug for UploadCheck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadCheck")
            .field("bytes", &self.bytes)
            .field("root", &self.root)
            .field("extraction", &self.ctx)
            .finish()
    }
}

impl UploadCheck<'_> {
    /// The next chunk of the upload (any size, including empty).
    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        self.root.push(chunk, &mut self.ctx);
    }

    /// Bytes pushed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Opens what was buffered and returns everything found.
    pub fn finish(mut self) -> CheckOutcome {
        self.root.finish(&mut self.ctx);
        CheckOutcome {
            decompressed: self.ctx.decompressed(),
            findings: std::mem::take(&mut self.ctx.findings),
            unchecked: self.ctx.unchecked.take(),
            unreadable: self.ctx.unreadable.take(),
            bytes: self.bytes,
        }
    }
}

/// What the check of one input found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Markings in the bytes and in everything extracted from them; `entry` names
    /// where an extracted one sits (`word/document.xml`, `inner.zip!a.txt`).
    pub findings: Vec<Finding>,
    /// The first part that could not be opened; everything else was checked and its
    /// findings are above.
    pub unchecked: Option<Unchecked>,
    /// The whole input is an image or a PDF without text: informational only.
    pub unreadable: Option<Unreadable>,
    pub bytes: u64,
    /// Bytes decompression produced (the zip-bomb bound counts these).
    pub decompressed: u64,
}
