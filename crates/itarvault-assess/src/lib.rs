//! Compliance posture assessment for an ITAR program.
//!
//! The inventory (`docs/assess.md`, `docs/inventory.schema.json`) is loaded strictly, every problem listed
//! by path ([`load`]); the rules (`rules`, one module each, with ITAR / NIST SP 800-171
//! / CMMC citations) and the vault's own posture (`vault`) become findings; [`assess`]
//! sets them against the checklist (`data/checklist.toml`: automated items decided by
//! rules, manual ones by attestations with an expiry), applies exceptions, and scores
//! (%-met and SPRS-style). `render` and `oscal` turn the report into documents. No I/O:
//! the CLI reads files and talks to the vault.

pub mod checklist;
pub mod inventory;
pub mod load;
pub mod model;
pub mod oscal;
pub mod release;
pub mod render;
pub mod report;
pub mod rules;
pub mod vault;

pub use inventory::{schema, Inventory};
pub use load::{load, Invalid, Problem};
pub use model::{Finding, Severity, Status};
pub use report::{assess, Report};
