//! Export-control decisions for itarvault.
//!
//! The regulatory floor (22 CFR 120-130, 15 CFR 730-774) is Rust code that cites its
//! sections; the regulatory data (126.1 table with dates, Country Groups, USML titles,
//! ISO codes, what each authorization type and exemption can authorize, and where cloud
//! regions are) is embedded from `data/`, each file with its edition. Every outcome is a [`Decision`] with
//! reasons, never an error: a rule that cannot be evaluated denies. Pure computation, no
//! I/O. The request and response format, and every rule, are in `docs/rules.md`.
//!
//! ```
//! use itarvault_policy::{decide_batch, Effect, Engine};
//!
//! let request = serde_json::json!({
//!   "principal": { "id": "bob", "person_status": "foreign_person", "citizenships": ["GB"],
//!                  "former_citizenships": ["CN"] },
//!   "action": "read",
//!   "context": { "source_country": "US", "time": "2026-11-22T10:00:00Z" },
//!   "resource": { "label": { "jurisdiction": "ITAR", "usml_category": "XI" } }
//! });
//! let decisions = decide_batch(&request, time::OffsetDateTime::now_utc(), &Engine::default())?;
//! let decision = &decisions.iter().next().expect("one request, one decision").decision;
//! assert_eq!(decision.decision, Effect::Deny);
//! assert_eq!(decision.reasons.last().map(|r| r.rule), Some("deemed-export-foreign-person"));
//! # Ok::<(), itarvault_policy::InvalidInput>(())
//! ```

pub mod batch;
pub mod data;
pub mod decision;
pub mod floor;
pub mod model;
pub mod org;
pub mod regions;
pub mod residency;
pub mod scope;
pub mod wire;

pub use batch::{decide_batch, decide_element, Decided, Decisions};
pub use decision::{Decision, Effect, Reason};
pub use model::{
    AuthType, Authorization, InputProblem, InvalidInput, PersonStatus, Request, INVALID_INPUT,
};
pub use org::{OrgPolicies, OrgPolicyError};
pub use residency::ResidencyMode;

/// The decision engine: the regulatory floor, then organisation policies if any.
#[derive(Debug, Default)]
pub struct Engine {
    org: Option<OrgPolicies>,
}

impl Engine {
    pub fn new(org: Option<OrgPolicies>) -> Self {
        Self { org }
    }

    /// Decides one validated request. Never fails: what cannot be evaluated denies.
    pub fn decide(&self, req: &Request) -> Decision {
        let mut d = floor::evaluate(req);
        if let Some(org) = &self.org {
            org.apply(req, &mut d);
        }
        d
    }
}

/// Validates a JSON request and decides it with the regulatory floor.
pub fn decide_json(
    v: &serde_json::Value,
    now: time::OffsetDateTime,
) -> Result<Decision, InvalidInput> {
    Ok(floor::evaluate(&Request::from_json(v, now)?))
}
