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
//! - [`label`]: findings to a suggested label, and the upload check.
//! - [`extract`]: PDF, OOXML/zip and UTF-16 text, with bounded decompression.
//! - [`walk`]: the parallel file walk (hidden and ignored files included).
//! - [`report`]: table, SARIF, baseline comparison. JSON is the serde form of
//!   [`walk::Report`] (`shared/spec/scan.md`).

pub mod extract;
pub mod label;
pub mod matcher;
pub mod report;
pub mod rules;
pub mod walk;

pub use label::{check, suggest, Conflict, Rank};
pub use matcher::{Finding, Scanner, Stream};
pub use rules::{Confidence, Implies, RuleError};
pub use walk::{scan_paths, Options, Report};
