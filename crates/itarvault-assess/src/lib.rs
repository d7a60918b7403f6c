//! Compliance posture assessment for an ITAR program.
//!
//! This first layer is the inventory (`shared/spec/inventory.md`): its model, the JSON
//! Schema generated from it (`docs/inventory.schema.json`), and a loader that refuses
//! an inventory with every problem listed by path. The rules and reports build on it.

pub mod inventory;
pub mod load;

pub use inventory::{schema, Inventory};
pub use load::{load, Invalid, Problem};
