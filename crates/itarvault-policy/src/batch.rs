//! Deciding what `itarvault decide` and `POST /v1/decide` receive: one request, or an
//! array of requests.
//!
//! Two entry points share one rule for paths and one error code ([`INVALID_INPUT`]):
//! [`decide_batch`] for a body already in memory (all problems, or all decisions, never
//! a mix), and [`decide_element`] for callers that stream a huge array one element at a
//! time and must answer each as it comes.

use serde::{Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;

use crate::model::{InvalidInput, Request};
use crate::{Decision, Engine};

#[cfg(doc)]
use crate::model::INVALID_INPUT;

/// A validated request and its decision (a caller audits both).
#[derive(Debug, Clone)]
pub struct Decided {
    pub request: Request,
    pub decision: Decision,
}

/// The decisions for a body, in the order of its requests.
#[derive(Debug, Clone)]
pub struct Decisions {
    /// Whether the body was an array (the response is then an array too).
    pub array: bool,
    pub decided: Vec<Decided>,
}

impl Decisions {
    pub fn iter(&self) -> std::slice::Iter<'_, Decided> {
        self.decided.iter()
    }
}

/// The response body: a decision object, or an array of them for an array of requests.
impl Serialize for Decisions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.array, self.decided.as_slice()) {
            (false, [one]) => one.decision.serialize(serializer),
            _ => serializer.collect_seq(self.decided.iter().map(|d| &d.decision)),
        }
    }
}

/// Validates and decides one request. `index` is its position in an array, if it came
/// in one: the problems' paths then start `$[index]`.
pub fn decide_element(
    element: &Value,
    index: Option<usize>,
    now: OffsetDateTime,
    engine: &Engine,
) -> Result<Decided, InvalidInput> {
    match Request::from_json(element, now) {
        Ok(request) => {
            let decision = engine.decide(&request);
            Ok(Decided { request, decision })
        }
        Err(invalid) => Err(match index {
            Some(i) => invalid.at_index(i),
            None => invalid,
        }),
    }
}

/// Validates every request of `body` (one request, or an array of them) and, only if
/// all are valid, decides them. Otherwise returns every problem of every element, with
/// paths prefixed `$[i]` for an array. `now` is the time of requests without
/// `context.time`.
pub fn decide_batch(
    body: &Value,
    now: OffsetDateTime,
    engine: &Engine,
) -> Result<Decisions, InvalidInput> {
    let Value::Array(elements) = body else {
        let decided = decide_element(body, None, now, engine)?;
        return Ok(Decisions {
            array: false,
            decided: vec![decided],
        });
    };
    let mut requests = Vec::with_capacity(elements.len());
    let mut problems = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        match Request::from_json(element, now) {
            Ok(request) => requests.push(request),
            Err(invalid) => problems.extend(invalid.at_index(index).0),
        }
    }
    if !problems.is_empty() {
        return Err(InvalidInput(problems));
    }
    let decided = requests
        .into_iter()
        .map(|request| {
            let decision = engine.decide(&request);
            Decided { request, decision }
        })
        .collect();
    Ok(Decisions {
        array: true,
        decided,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(status: &str) -> Value {
        json!({
          "principal": { "id": "p", "person_status": status, "citizenships": ["GB"] },
          "action": "read",
          "context": { "source_country": "US" },
          "resource": { "label": { "jurisdiction": "ITAR", "usml_category": "XI" } }
        })
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-02 00:00 UTC)
    }

    #[test]
    fn one_request_or_an_array() {
        let engine = Engine::default();
        let one = decide_batch(&request("us_citizen"), now(), &engine).unwrap();
        assert!(!one.array && one.decided.len() == 1);
        assert_eq!(serde_json::to_value(&one).unwrap()["decision"], "allow");
        assert_eq!(one.iter().next().unwrap().request.context.time, now());

        let many = json!([request("us_citizen"), request("foreign_person")]);
        let many = decide_batch(&many, now(), &engine).unwrap();
        let outcomes: Vec<_> = serde_json::to_value(&many)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["decision"].clone())
            .collect();
        assert_eq!(outcomes, ["allow", "deny"]);
        assert_eq!(many.iter().count(), 2);
        let none = decide_batch(&json!([]), now(), &engine).unwrap();
        assert!(none.array && none.decided.is_empty());
        assert_eq!(serde_json::to_value(&none).unwrap(), json!([]));
    }

    /// Every problem of every element, each at its index; nothing is decided.
    #[test]
    fn problems_of_every_element_are_reported_together() {
        let engine = Engine::default();
        let mut bad = request("nobody");
        bad["context"]["source_country"] = json!("XX");
        let body = json!([request("us_citizen"), bad, 5]);
        let err = decide_batch(&body, now(), &engine).unwrap_err();
        let paths: Vec<_> = err.0.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "$[1].principal.person_status",
                "$[1].context.source_country",
                "$[2]"
            ]
        );
        let single = decide_batch(&request("nobody"), now(), &engine).unwrap_err();
        assert_eq!(single.0[0].path, "$.principal.person_status");
    }

    #[test]
    fn elements_decide_one_at_a_time() {
        let engine = Engine::default();
        let decided = decide_element(&request("foreign_person"), Some(4), now(), &engine).unwrap();
        assert!(!decided.decision.is_allow());
        let err = decide_element(&json!({}), Some(4), now(), &engine).unwrap_err();
        assert!(err.0.iter().all(|p| p.path.starts_with("$[4].")), "{err}");
        assert_eq!(err.to_json()["error"], "invalid-input");
    }
}
