//! Organisation policies in Cedar, on top of the regulatory floor.
//!
//! They run only when the floor allowed, and can only narrow: the set is evaluated with
//! one implicit `permit(principal, action, resource);`, so an organisation writes
//! `forbid` rules (need-to-know by program, time of day, ...). A `permit` of its own adds
//! nothing, because a floor deny is final before Cedar runs. A policy that fails to
//! evaluate denies (Cedar would skip it; we do not).
//!
//! The schema is generated from the Rust model ([`schema_text`]) and checked in at
//! `cedar/itarvault.cedarschema`; a test keeps the two equal.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Mutex;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, Policy, PolicyId, PolicySet, RestrictedExpression, Schema, ValidationMode,
    Validator,
};
use itarvault_format::Control;

use crate::data::ymd;
use crate::decision::{Decision, Reason};
use crate::model::{Action, LabelFact, PersonStatus, Request};

const NAMESPACE: &str = "Itarvault";

/// The Cedar schema for persons, data and actions, generated from the Rust model.
pub fn schema_text() -> String {
    let statuses: Vec<_> = PersonStatus::ALL.iter().map(|(n, _)| *n).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Generated from crates/itarvault-policy/src/org.rs (schema_text); do not edit."
    );
    let _ = writeln!(s, "// person_status is one of: {}", statuses.join(", "));
    let _ = writeln!(
        s,
        "// Data.jurisdiction is one of: ITAR, EAR, EAR99, PUBLIC"
    );
    let _ = writeln!(s, "namespace {NAMESPACE} {{");
    let _ = writeln!(s, "  entity Person = {{");
    let _ = writeln!(s, "    id: String,");
    let _ = writeln!(s, "    person_status: String,");
    let _ = writeln!(s, "    us_person: Bool,");
    let _ = writeln!(s, "    citizenships: Set<String>,");
    let _ = writeln!(s, "    former_citizenships: Set<String>,");
    let _ = writeln!(s, "    permanent_residence?: String,");
    let _ = writeln!(s, "    authorizations: Set<String>,");
    let _ = writeln!(s, "  }};");
    let _ = writeln!(s, "  entity Data = {{");
    let _ = writeln!(s, "    label: String,");
    let _ = writeln!(s, "    jurisdiction: String,");
    let _ = writeln!(s, "    usml_category?: String,");
    let _ = writeln!(s, "    eccn?: String,");
    let _ = writeln!(s, "    cui?: String,");
    let _ = writeln!(s, "    distribution?: String,");
    let _ = writeln!(s, "    program?: String,");
    let _ = writeln!(s, "    classified: Bool,");
    let _ = writeln!(s, "    end_to_end_encrypted: Bool,");
    let _ = writeln!(s, "    storage_country?: String,");
    let _ = writeln!(s, "  }};");
    let _ = writeln!(s, "  type RequestContext = {{");
    let _ = writeln!(s, "    source_country?: String,");
    let _ = writeln!(s, "    date: String,");
    let _ = writeln!(s, "    hour_utc: Long,");
    let _ = writeln!(s, "    weekday: String,");
    let _ = writeln!(s, "  }};");
    for a in [Action::Read, Action::Write, Action::Store] {
        let _ = writeln!(
            s,
            "  action \"{}\" appliesTo {{ principal: [Person], resource: [Data], context: RequestContext }};",
            a.as_str()
        );
    }
    let _ = writeln!(s, "}}");
    s
}

/// Why organisation policies could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum OrgPolicyError {
    #[error("the generated Cedar schema does not parse (bug, please report): {0}")]
    Schema(String),
    #[error("`{file}`: Cedar policies do not parse:\n{message}")]
    Parse { file: String, message: String },
    #[error("`{file}`: policy `{id}` does not validate against the itarvault schema:\n{message}\nthe schema is in crates/itarvault-policy/cedar/itarvault.cedarschema")]
    Validate {
        file: String,
        id: String,
        message: String,
    },
}

/// A validated set of organisation policies.
#[derive(Debug)]
pub struct OrgPolicies {
    set: PolicySet,
    /// Requests and entities are checked against it on every evaluation (a memo miss).
    schema: Schema,
    count: usize,
    /// Memo of outcomes. Evaluation is a pure function of the attributes in the key
    /// (the policy set never changes after load), so a hit is exact. The key is the
    /// full attribute string, never a hash alone: a collision must not turn into an
    /// allow.
    memo: Mutex<HashMap<String, Option<Vec<Reason>>>>,
}

/// Outcomes remembered before the memo is cleared.
const MEMO_CAPACITY: usize = 1 << 16;

fn uid(kind: &str, id: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str(&format!("{NAMESPACE}::{kind}")).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

fn string(s: impl Into<String>) -> RestrictedExpression {
    RestrictedExpression::new_string(s.into())
}

const BASE_PERMIT: &str = "itarvault-floor-allowed";

impl OrgPolicies {
    /// Parses and validates policy sources, given as `(file name, text)`.
    pub fn load(sources: &[(String, String)]) -> Result<Self, OrgPolicyError> {
        let (schema, _) = Schema::from_cedarschema_str(&schema_text())
            .map_err(|e| OrgPolicyError::Schema(e.to_string()))?;
        let mut set = PolicySet::new();
        let validator = Validator::new(schema.clone());
        let base = Policy::parse(
            Some(PolicyId::new(BASE_PERMIT)),
            "permit(principal, action, resource);",
        )
        .map_err(|e| OrgPolicyError::Schema(e.to_string()))?;
        set.add(base)
            .map_err(|e| OrgPolicyError::Schema(e.to_string()))?;
        let mut count = 0;
        for (file, text) in sources {
            let parsed = PolicySet::from_str(text).map_err(|e| OrgPolicyError::Parse {
                file: file.clone(),
                message: format!("{e:?}"),
            })?;
            let mut single = PolicySet::new();
            for (i, p) in parsed.policies().enumerate() {
                let name = p
                    .annotation("id")
                    .map_or_else(|| format!("{file}#{i}"), ToOwned::to_owned);
                let renamed = p.new_id(PolicyId::new(&name));
                single
                    .add(renamed.clone())
                    .map_err(|e| OrgPolicyError::Parse {
                        file: file.clone(),
                        message: e.to_string(),
                    })?;
                set.add(renamed).map_err(|e| OrgPolicyError::Parse {
                    file: file.clone(),
                    message: format!("{e} (policy ids must be unique across files)"),
                })?;
                count += 1;
            }
            let v = validator.validate(&single, ValidationMode::Strict);
            let first = v
                .validation_errors()
                .next()
                .map(|e| e.policy_id().to_string());
            if let Some(id) = first {
                let message = v
                    .validation_errors()
                    .map(|e| format!("  {e}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(OrgPolicyError::Validate {
                    file: file.clone(),
                    id,
                    message,
                });
            }
        }
        Ok(Self {
            set,
            schema,
            count,
            memo: Mutex::new(HashMap::new()),
        })
    }

    /// Number of organisation policies loaded.
    pub fn len(&self) -> usize {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Narrows a floor decision. Only an allow is examined; a deny stays a deny.
    pub fn apply(&self, req: &Request, dec: &mut Decision) {
        if !dec.is_allow() {
            return;
        }
        match self.evaluate(req) {
            Ok(None) => {}
            Ok(Some(reasons)) => {
                for r in reasons {
                    dec.deny(r);
                }
            }
            Err(e) => dec.deny(Reason::new(
                "org-policy-error",
                "organisation policy (narrows the 22 CFR / 15 CFR floor)",
                format!("an organisation policy could not be evaluated, so access is denied: {e}"),
            )),
        }
    }

    /// Everything Cedar sees, as one string (see [`OrgPolicies::evaluate_uncached`]).
    fn memo_key(req: &Request) -> String {
        let p = &req.principal;
        let t = req.context.time.to_offset(time::UtcOffset::UTC);
        let label = match &req.resource.label {
            LabelFact::Parsed(l) => l.to_string(),
            _ => String::new(),
        };
        let mut k = String::with_capacity(160);
        let _ = write!(
            k,
            "{:?}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}",
            p.id,
            p.person_status.as_str(),
            p.citizenships,
            p.former_citizenships,
            p.permanent_residence,
            p.authorizations
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
        );
        let _ = write!(
            k,
            "{label}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{}\u{1f}{:?}\u{1f}{}\u{1f}{}",
            req.resource.classified,
            req.resource.end_to_end_encrypted,
            req.resource.storage_country,
            req.action.as_str(),
            req.context.source_country,
            t.date(),
            t.hour()
        );
        k
    }

    /// `Ok(None)` when the policies permit, `Ok(Some(reasons))` when they forbid.
    /// Errors are not remembered.
    fn evaluate(&self, req: &Request) -> Result<Option<Vec<Reason>>, String> {
        let key = Self::memo_key(req);
        let lock = || {
            self.memo
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(hit) = lock().get(&key) {
            return Ok(hit.clone());
        }
        let out = self.evaluate_uncached(req)?;
        let mut memo = lock();
        if memo.len() >= MEMO_CAPACITY {
            memo.clear();
        }
        memo.insert(key, out.clone());
        Ok(out)
    }

    fn evaluate_uncached(&self, req: &Request) -> Result<Option<Vec<Reason>>, String> {
        let p = &req.principal;
        let person = uid("Person", &p.id)?;
        let mut pattrs = HashMap::from([
            ("id".to_owned(), string(&p.id)),
            ("person_status".to_owned(), string(p.person_status.as_str())),
            (
                "us_person".to_owned(),
                RestrictedExpression::new_bool(p.person_status.is_us_person()),
            ),
            (
                "citizenships".to_owned(),
                RestrictedExpression::new_set(p.citizenships.iter().map(|c| string(c.as_str()))),
            ),
            (
                "former_citizenships".to_owned(),
                RestrictedExpression::new_set(
                    p.former_citizenships.iter().map(|c| string(c.as_str())),
                ),
            ),
            (
                "authorizations".to_owned(),
                RestrictedExpression::new_set(p.authorizations.iter().map(|a| string(&a.id))),
            ),
        ]);
        if let Some(r) = p.permanent_residence {
            pattrs.insert("permanent_residence".into(), string(r.as_str()));
        }
        let LabelFact::Parsed(label) = &req.resource.label else {
            return Err("the label did not parse".into());
        };
        let data = uid("Data", "resource")?;
        let mut dattrs = HashMap::from([
            ("label".to_owned(), string(label.to_string())),
            (
                "jurisdiction".to_owned(),
                string(label.control().jurisdiction()),
            ),
            (
                "classified".to_owned(),
                RestrictedExpression::new_bool(req.resource.classified),
            ),
            (
                "end_to_end_encrypted".to_owned(),
                RestrictedExpression::new_bool(req.resource.end_to_end_encrypted),
            ),
        ]);
        match label.control() {
            Control::Itar { category, .. } => {
                dattrs.insert("usml_category".into(), string(category.roman()));
            }
            Control::Ear { eccn } => {
                dattrs.insert("eccn".into(), string(eccn.as_str()));
            }
            _ => {}
        }
        if let Some(c) = label.cui() {
            dattrs.insert("cui".into(), string(c));
        }
        if let Some(d) = label.distribution() {
            dattrs.insert("distribution".into(), string(d.letter().to_string()));
        }
        if let Some(prog) = label.program() {
            dattrs.insert("program".into(), string(prog));
        }
        if let Some(c) = req.resource.storage_country {
            dattrs.insert("storage_country".into(), string(c.as_str()));
        }
        let entities = Entities::from_entities(
            [
                Entity::new(person.clone(), pattrs, HashSet::new()).map_err(|e| e.to_string())?,
                Entity::new(data.clone(), dattrs, HashSet::new()).map_err(|e| e.to_string())?,
            ],
            Some(&self.schema),
        )
        .map_err(|e| e.to_string())?;
        let t = req.context.time.to_offset(time::UtcOffset::UTC);
        let mut ctx = vec![
            ("date".to_owned(), string(ymd(t.date()))),
            (
                "hour_utc".to_owned(),
                RestrictedExpression::new_long(i64::from(t.hour())),
            ),
            ("weekday".to_owned(), string(t.weekday().to_string())),
        ];
        if let Some(c) = req.context.source_country {
            ctx.push(("source_country".into(), string(c.as_str())));
        }
        let action = uid("Action", req.action.as_str())?;
        let context = Context::from_pairs(ctx).map_err(|e| e.to_string())?;
        let request = cedar_policy::Request::new(person, action, data, context, Some(&self.schema))
            .map_err(|e| e.to_string())?;
        let resp = Authorizer::new().is_authorized(&request, &self.set, &entities);
        let diag = resp.diagnostics();
        if let Some(e) = diag.errors().next() {
            return Err(e.to_string());
        }
        if resp.decision() == CedarDecision::Allow {
            return Ok(None);
        }
        let mut reasons: Vec<_> = diag
            .reason()
            .map(|id| {
                let why = self.set.annotation(id, "reason").map_or_else(
                    || format!("organisation policy `{id}` forbids this access"),
                    |r| format!("{r} (policy `{id}`)"),
                );
                Reason::new(
                    "org-policy",
                    format!("organisation policy `{id}` (narrows the 22 CFR / 15 CFR floor)"),
                    why,
                )
            })
            .collect();
        reasons.sort_by(|a, b| a.cite.cmp(&b.cite));
        if reasons.is_empty() {
            reasons.push(Reason::new(
                "org-policy",
                "organisation policy",
                "organisation policies do not permit this access",
            ));
        }
        Ok(Some(reasons))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_schema_matches_the_model() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/cedar/itarvault.cedarschema");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        if on_disk != schema_text() {
            panic!(
                "{path} is out of date; regenerate with `itarvault policy schema > {path}`\n{}",
                schema_text()
            );
        }
        assert!(Schema::from_cedarschema_str(&schema_text()).is_ok());
    }

    fn read(id: &str, program: &str) -> Request {
        let v = serde_json::json!({
            "principal": { "id": id, "person_status": "us_citizen", "citizenships": ["US"] },
            "action": "read",
            "context": { "source_country": "US", "time": "2026-11-22T10:00:00Z" },
            "resource": { "label": { "jurisdiction": "ITAR", "usml_category": "XI", "program": program } }
        });
        Request::from_json(&v, time::OffsetDateTime::UNIX_EPOCH).unwrap()
    }

    fn decide(org: &OrgPolicies, req: &Request) -> Decision {
        let mut d = crate::floor::evaluate(req);
        assert!(d.is_allow(), "the floor allows these requests");
        org.apply(req, &mut d);
        d
    }

    /// Cedar skips a policy whose evaluation errors; we must deny instead, or a broken
    /// `forbid` would silently open access.
    #[test]
    fn a_policy_that_fails_to_evaluate_denies() {
        let overflow = [(
            "o.cedar".to_owned(),
            "forbid(principal, action, resource) when { context.hour_utc + 9223372036854775807 > 0 };".to_owned(),
        )];
        let org = OrgPolicies::load(&overflow).unwrap();
        let d = decide(&org, &read("alice", "f35"));
        assert!(!d.is_allow());
        assert_eq!(d.reasons[0].rule, "org-policy-error");
    }

    /// The memo must never hand one principal's outcome to another: alternate an
    /// allowed and a forbidden principal on one engine, and the decisions alternate too.
    #[test]
    fn memo_keeps_principals_and_data_apart() {
        let pol = [(
            "p.cedar".to_owned(),
            "forbid(principal, action, resource) when { resource has program && resource.program == \"f35\" } unless { principal.id == \"alice\" };".to_owned(),
        )];
        let org = OrgPolicies::load(&pol).unwrap();
        for _ in 0..3 {
            assert!(decide(&org, &read("alice", "f35")).is_allow());
            assert!(!decide(&org, &read("bob", "f35")).is_allow());
            assert!(decide(&org, &read("bob", "f22")).is_allow());
        }
        assert_eq!(org.memo.lock().unwrap().len(), 3);
    }

    #[test]
    fn bad_policies_are_refused_at_load() {
        let bad_syntax = [(
            "a.cedar".to_owned(),
            "forbid(principal, action, resource) when {".to_owned(),
        )];
        assert!(matches!(
            OrgPolicies::load(&bad_syntax),
            Err(OrgPolicyError::Parse { .. })
        ));
        let bad_attr = [(
            "b.cedar".to_owned(),
            "forbid(principal, action, resource) when { resource.colour == \"red\" };".to_owned(),
        )];
        assert!(matches!(
            OrgPolicies::load(&bad_attr),
            Err(OrgPolicyError::Validate { .. })
        ));
        let ok = [(
            "c.cedar".to_owned(),
            "@id(\"no-f35-outside-program\")\nforbid(principal, action == Itarvault::Action::\"read\", resource) when { resource has program && resource.program == \"f35\" } unless { principal.id == \"alice\" };".to_owned(),
        )];
        assert_eq!(OrgPolicies::load(&ok).unwrap().len(), 1);
    }
}
