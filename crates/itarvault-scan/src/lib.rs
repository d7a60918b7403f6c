//! Export-control marking scanner.
//!
//! Controlled technical data carries markings: AECA/ITAR warning statements, USML
//! category references, ECCNs, DoD distribution statements, CUI//SP-EXPT banners. This
//! crate finds them in file trees (`itarvault scan`) and in uploads as they stream into
//! the vault, suggests the label the content implies, and says when a declared label
//! contradicts it.
//!
//! - [`rules`]: the rule file (`rules/markings.toml`, data not code) and its checks.
//! - [`matcher`]: every primary pattern in one automaton; context checks around hits;
//!   the same results from a whole buffer or a stream of chunks.
//! - [`label`]: findings to a suggested label, the label check, the upload decision.
//! - [`extract`]: what a file is, and the text inside containers and encodings
//!   (OOXML/zip, gzip/tar, PDF, XML, UTF-16/32), within a memory and decompression
//!   budget; shared by the walk and the upload check.
//! - [`upload`]: the streaming upload check ([`Scanner::upload_check`]).
//! - [`walk`]: the parallel file walk (hidden and ignored files included).
//! - [`report`]: table, SARIF, baseline comparison. JSON is the serde form of
//!   [`walk::Report`] (`docs/scan.md`).

pub mod extract;
pub mod label;
pub mod matcher;
pub mod report;
pub mod rules;
mod secret;
pub mod upload;
pub mod walk;

pub use extract::{Budget, Unchecked, Unreadable};
pub use label::{
    check, decide_upload, suggest, Conflict, OnMismatch, Rank, Refusal, UploadDecision,
    EXPORT_CONTROLLED,
};
pub use matcher::{Finding, Scanner, Stream};
pub use rules::{Confidence, Implies, RuleError};
pub use upload::{CheckOutcome, UploadCheck};
pub use walk::{scan_paths, Options, Report};
