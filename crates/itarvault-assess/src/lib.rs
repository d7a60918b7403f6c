//! Compliance posture assessment for an ITAR program.
//!
//! This first layer is the inventory (`shared/spec/inventory.md`): its model, the JSON
//! Schema generated from it (`docs/inventory.schema.json`), and a loader that refuses
//! an inventory with every problem listed by path. The rules (`rules`, one module
//! each, with ITAR / NIST SP 800-171 / CMMC citations) turn it into findings; scores
//! and reports build on them.

pub mod checklist;
pub mod inventory;
pub mod load;
pub mod model;
pub mod oscal;
pub mod render;
pub mod report;
pub mod rules;
pub mod vault;

pub use inventory::{schema, Inventory};
pub use load::{load, Invalid, Problem};
pub use model::{Finding, Severity, Status};
pub use report::{assess, Report};
