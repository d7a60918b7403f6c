//! The decision request (docs/rules.md) and its validation.
//!
//! Parsing walks a `serde_json::Value` by hand so that *every* problem is reported with
//! its JSON path, not just the first: a compliance integration fixing its requests wants
//! the whole list. Invalid input is never decided.

use std::fmt;

use itarvault_format::{Label, UsmlCategory};
use serde_json::{Map, Value};
use time::{Date, OffsetDateTime};

use crate::data::{parse_ymd, Country};

/// 22 CFR 120.62 (US persons) and 120.63 (foreign persons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonStatus {
    UsCitizen,
    UsNational,
    PermanentResident,
    ProtectedIndividual,
    ForeignPerson,
    Unknown,
}

impl PersonStatus {
    pub const ALL: [(&'static str, Self); 6] = [
        ("us_citizen", Self::UsCitizen),
        ("us_national", Self::UsNational),
        ("permanent_resident", Self::PermanentResident),
        ("protected_individual", Self::ProtectedIndividual),
        ("foreign_person", Self::ForeignPerson),
        ("unknown", Self::Unknown),
    ];
    /// The four statuses that make a US person under 22 CFR 120.62.
    pub fn is_us_person(self) -> bool {
        matches!(
            self,
            Self::UsCitizen
                | Self::UsNational
                | Self::PermanentResident
                | Self::ProtectedIndividual
        )
    }
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("unknown", |(n, _)| n)
    }
}

/// Authorization types of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    Dsp5,
    Dsp61,
    Dsp73,
    Dsp85,
    Taa,
    Mla,
    Wda,
    Exemption,
    EarLicense,
    EarException,
}

impl AuthType {
    pub const ALL: [(&'static str, Self); 10] = [
        ("DSP-5", Self::Dsp5),
        ("DSP-61", Self::Dsp61),
        ("DSP-73", Self::Dsp73),
        ("DSP-85", Self::Dsp85),
        ("TAA", Self::Taa),
        ("MLA", Self::Mla),
        ("WDA", Self::Wda),
        ("exemption", Self::Exemption),
        ("EAR-license", Self::EarLicense),
        ("EAR-exception", Self::EarException),
    ];
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| n)
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One license, agreement or exemption a person holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub id: String,
    pub kind: AuthType,
    /// With `exemption`: the section claimed, e.g. `125.4(b)(9)`.
    pub exemption: Option<String>,
    pub countries: Vec<Country>,
    pub usml_categories: Vec<UsmlCategory>,
    /// ECCNs as written (`3A001` or `3A001.a`): a label's ECCN is covered when it equals
    /// one or continues it with further `.sub` paragraphs.
    pub eccns: Vec<String>,
    pub valid_from: Option<Date>,
    pub expires: Date,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: String,
    pub person_status: PersonStatus,
    /// Every citizenship the person holds.
    pub citizenships: Vec<Country>,
    /// Citizenships the person has held and no longer holds. The ITAR attributes them
    /// like current ones (22 CFR 120.50(b): "has held or holds"); the EAR does not
    /// (15 CFR 734.13(b): the most recent citizenship or permanent residence).
    pub former_citizenships: Vec<Country>,
    pub permanent_residence: Option<Country>,
    pub authorizations: Vec<Authorization>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Plaintext released to the principal at the source country.
    Read,
    /// The principal sends data in.
    Write,
    /// Ciphertext placed at the storage country.
    Store,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Store => "store",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub source_country: Option<Country>,
    pub time: OffsetDateTime,
}

/// The resource's label, or why it could not be read (decided as a deny, not rejected:
/// an unparseable label is a fact about the data, and the floor denies it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelFact {
    Parsed(Label),
    Missing,
    Unparseable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub label: LabelFact,
    pub classified: bool,
    pub end_to_end_encrypted: bool,
    pub storage_country: Option<Country>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub principal: Principal,
    pub action: Action,
    pub context: Context,
    pub resource: Resource,
}

/// One problem with the input, at a JSON path such as `$.principal.citizenships[1]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputProblem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Invalid input: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid decision request: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidInput(pub Vec<InputProblem>);

/// The error code every interface reports for a request that is not decided because
/// it is malformed (`itarvault decide`, `POST /v1/decide`).
pub const INVALID_INPUT: &str = "invalid-input";

impl InvalidInput {
    /// The same problems for element `index` of a batch: `$.action` becomes
    /// `$[3].action`.
    #[must_use]
    pub fn at_index(self, index: usize) -> Self {
        let prefix = format!("$[{index}]");
        Self(
            self.0
                .into_iter()
                .map(|problem| InputProblem {
                    path: problem.path.replacen('$', &prefix, 1),
                    message: problem.message,
                })
                .collect(),
        )
    }

    /// `{"error": "invalid-input", "problems": [{"path": ..., "message": ...}]}`
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "error": INVALID_INPUT, "problems": self.0 })
    }
}

const MAX_ID: usize = 256;
const MAX_LIST: usize = 64;

struct P<'a> {
    problems: &'a mut Vec<InputProblem>,
}

impl P<'_> {
    fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.problems.push(InputProblem {
            path: path.to_owned(),
            message: msg.into(),
        });
    }

    fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(m) = v.as_object() else {
            self.err(path, format!("expected an object, found {}", kind(v)));
            return None;
        };
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(
                    &format!("{path}.{k}"),
                    format!(
                        "unknown field `{k}`; expected one of {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(m)
    }

    fn required<'v>(
        &mut self,
        m: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'v Value> {
        let v = m.get(key);
        if v.is_none() {
            self.err(&format!("{path}.{key}"), "missing required field");
        }
        v
    }

    fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v.as_str() {
            Some(s) if s.len() <= MAX_ID => Some(s),
            Some(_) => {
                self.err(path, format!("longer than {MAX_ID} characters"));
                None
            }
            None => {
                self.err(path, format!("expected a string, found {}", kind(v)));
                None
            }
        }
    }

    fn country(&mut self, v: &Value, path: &str) -> Option<Country> {
        let s = self.string(v, path)?;
        let c = Country::parse(s);
        if c.is_none() {
            self.err(
                path,
                format!("`{s}` is not an ISO 3166-1 alpha-2 country code (upper case, e.g. `GB`)"),
            );
        }
        c
    }

    fn array<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Vec<Value>> {
        match v.as_array() {
            Some(a) if a.len() <= MAX_LIST => Some(a),
            Some(a) => {
                self.err(
                    path,
                    format!("{} elements; at most {MAX_LIST} are accepted", a.len()),
                );
                None
            }
            None => {
                self.err(path, format!("expected an array, found {}", kind(v)));
                None
            }
        }
    }

    fn countries(&mut self, v: &Value, path: &str) -> Option<Vec<Country>> {
        let a = self.array(v, path)?;
        let out: Vec<_> = a
            .iter()
            .enumerate()
            .map(|(i, c)| self.country(c, &format!("{path}[{i}]")))
            .collect();
        out.into_iter().collect()
    }

    fn date(&mut self, v: &Value, path: &str) -> Option<Date> {
        let s = self.string(v, path)?;
        let d = parse_ymd(s);
        if d.is_none() {
            self.err(path, format!("`{s}` is not a date (YYYY-MM-DD)"));
        }
        d
    }

    fn bool(&mut self, v: &Value, path: &str) -> Option<bool> {
        let b = v.as_bool();
        if b.is_none() {
            self.err(path, format!("expected true or false, found {}", kind(v)));
        }
        b
    }

    fn enumerated<T: Copy>(&mut self, v: &Value, path: &str, table: &[(&str, T)]) -> Option<T> {
        let s = self.string(v, path)?;
        let found = table.iter().find(|(n, _)| *n == s).map(|(_, t)| *t);
        if found.is_none() {
            let names: Vec<_> = table.iter().map(|(n, _)| *n).collect();
            self.err(path, format!("`{s}` is not one of {}", names.join(", ")));
        }
        found
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn authorization(p: &mut P<'_>, v: &Value, path: &str) -> Option<Authorization> {
    let m = p.object(
        v,
        path,
        &[
            "id",
            "type",
            "exemption",
            "countries",
            "usml_categories",
            "eccns",
            "valid_from",
            "expires",
        ],
    )?;
    let id = p
        .required(m, path, "id")
        .and_then(|v| p.string(v, &format!("{path}.id")));
    let kind = p
        .required(m, path, "type")
        .and_then(|v| p.enumerated(v, &format!("{path}.type"), &AuthType::ALL));
    let exemption = match (m.get("exemption"), kind) {
        (Some(Value::Null) | None, Some(AuthType::Exemption)) => {
            p.err(
                &format!("{path}.exemption"),
                "required with type `exemption`: the section claimed, e.g. `125.4(b)(9)`",
            );
            None
        }
        (Some(Value::Null) | None, _) => Some(None),
        (Some(v), Some(AuthType::Exemption)) => p
            .string(v, &format!("{path}.exemption"))
            .map(|s| Some(s.to_owned())),
        (Some(_), Some(_)) => {
            p.err(
                &format!("{path}.exemption"),
                "only allowed with type `exemption`",
            );
            None
        }
        (Some(_), None) => None,
    };
    let countries = p
        .required(m, path, "countries")
        .and_then(|v| p.countries(v, &format!("{path}.countries")));
    let usml = match m.get("usml_categories") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(v) => p
            .array(v, &format!("{path}.usml_categories"))
            .and_then(|a| {
                let cats: Vec<_> = a
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let cp = format!("{path}.usml_categories[{i}]");
                        let s = p.string(c, &cp)?;
                        let cat = s.parse::<UsmlCategory>().ok();
                        if cat.is_none() {
                            p.err(
                                &cp,
                                format!("`{s}` is not a USML category (roman numeral I to XXI)"),
                            );
                        }
                        cat
                    })
                    .collect();
                cats.into_iter().collect()
            }),
    };
    let eccns = match m.get("eccns") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(v) => p.array(v, &format!("{path}.eccns")).and_then(|a| {
            let list: Vec<_> = a
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let ep = format!("{path}.eccns[{i}]");
                    let s = p.string(e, &ep)?;
                    match s.parse::<itarvault_format::Eccn>() {
                        Ok(e) => Some(e.as_str().to_owned()),
                        Err(_) => {
                            p.err(
                                &ep,
                                format!("`{s}` is not an ECCN (e.g. `9E003` or `3A001.a`)"),
                            );
                            None
                        }
                    }
                })
                .collect();
            list.into_iter().collect()
        }),
    };
    let valid_from = match m.get("valid_from") {
        None | Some(Value::Null) => Some(None),
        Some(v) => p.date(v, &format!("{path}.valid_from")).map(Some),
    };
    let expires = p
        .required(m, path, "expires")
        .and_then(|v| p.date(v, &format!("{path}.expires")));
    if let (Some(Some(from)), Some(exp)) = (valid_from, expires) {
        if exp < from {
            p.err(&format!("{path}.expires"), "is before `valid_from`");
            return None;
        }
    }
    Some(Authorization {
        id: id?.to_owned(),
        kind: kind?,
        exemption: exemption?,
        countries: countries?,
        usml_categories: usml?,
        eccns: eccns?,
        valid_from: valid_from?,
        expires: expires?,
    })
}

fn principal(p: &mut P<'_>, v: &Value, path: &str) -> Option<Principal> {
    let m = p.object(
        v,
        path,
        &[
            "id",
            "person_status",
            "citizenships",
            "former_citizenships",
            "permanent_residence",
            "authorizations",
        ],
    )?;
    let id = p
        .required(m, path, "id")
        .and_then(|v| p.string(v, &format!("{path}.id")));
    let status = p
        .required(m, path, "person_status")
        .and_then(|v| p.enumerated(v, &format!("{path}.person_status"), &PersonStatus::ALL));
    let citizenships = p
        .required(m, path, "citizenships")
        .and_then(|v| p.countries(v, &format!("{path}.citizenships")));
    let former = match m.get("former_citizenships") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(v) => p.countries(v, &format!("{path}.former_citizenships")),
    };
    let residence = match m.get("permanent_residence") {
        None | Some(Value::Null) => Some(None),
        Some(v) => p
            .country(v, &format!("{path}.permanent_residence"))
            .map(Some),
    };
    let auths = match m.get("authorizations") {
        None => Some(Vec::new()),
        Some(v) => p.array(v, &format!("{path}.authorizations")).and_then(|a| {
            let list: Vec<_> = a
                .iter()
                .enumerate()
                .map(|(i, x)| authorization(p, x, &format!("{path}.authorizations[{i}]")))
                .collect();
            list.into_iter().collect()
        }),
    };
    Some(Principal {
        id: id?.to_owned(),
        person_status: status?,
        citizenships: citizenships?,
        former_citizenships: former?,
        permanent_residence: residence?,
        authorizations: auths?,
    })
}

fn context(p: &mut P<'_>, v: &Value, path: &str, now: OffsetDateTime) -> Option<Context> {
    let m = p.object(v, path, &["source_country", "time"])?;
    let source = match p.required(m, path, "source_country") {
        Some(Value::Null) => Some(None),
        Some(v) => p.country(v, &format!("{path}.source_country")).map(Some),
        None => None,
    };
    let time = match m.get("time") {
        None | Some(Value::Null) => Some(now),
        Some(v) => {
            let tp = format!("{path}.time");
            p.string(v, &tp).and_then(|s| {
                let t =
                    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
                if t.is_none() {
                    p.err(
                        &tp,
                        format!("`{s}` is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)"),
                    );
                }
                t
            })
        }
    };
    Some(Context {
        source_country: source?,
        time: time?,
    })
}

fn resource(p: &mut P<'_>, v: &Value, path: &str, action: Option<Action>) -> Option<Resource> {
    let m = p.object(
        v,
        path,
        &[
            "label",
            "classified",
            "end_to_end_encrypted",
            "storage_country",
        ],
    )?;
    let label = match m.get("label") {
        None | Some(Value::Null) => LabelFact::Missing,
        Some(v) => match serde_json::from_value::<Label>(v.clone()) {
            Ok(l) => LabelFact::Parsed(l),
            Err(e) => LabelFact::Unparseable(e.to_string()),
        },
    };
    let classified = match m.get("classified") {
        None => Some(false),
        Some(v) => p.bool(v, &format!("{path}.classified")),
    };
    let e2e = match m.get("end_to_end_encrypted") {
        None => Some(false),
        Some(v) => p.bool(v, &format!("{path}.end_to_end_encrypted")),
    };
    let storage = match m.get("storage_country") {
        None | Some(Value::Null) => {
            if action == Some(Action::Store) {
                p.err(
                    &format!("{path}.storage_country"),
                    "required for action `store`",
                );
                None
            } else {
                Some(None)
            }
        }
        Some(v) => p.country(v, &format!("{path}.storage_country")).map(Some),
    };
    Some(Resource {
        label,
        classified: classified?,
        end_to_end_encrypted: e2e?,
        storage_country: storage?,
    })
}

/// Runs one of the hand-written parsers over `v` and returns its value, or every
/// problem it found.
fn parse_one<T>(
    v: &Value,
    f: impl FnOnce(&mut P<'_>, &Value) -> Option<T>,
) -> Result<T, InvalidInput> {
    let mut problems = Vec::new();
    let parsed = f(
        &mut P {
            problems: &mut problems,
        },
        v,
    );
    match parsed {
        Some(t) if problems.is_empty() => Ok(t),
        _ => {
            if problems.is_empty() {
                problems.push(InputProblem {
                    path: "$".into(),
                    message: "invalid value".into(),
                });
            }
            Err(InvalidInput(problems))
        }
    }
}

impl Authorization {
    /// Validates one authorization in the request's JSON form (paths start at `$`), as
    /// the registry stores it and the API receives it.
    pub fn from_json(v: &Value) -> Result<Self, InvalidInput> {
        parse_one(v, |p, v| authorization(p, v, "$"))
    }
}

impl Request {
    /// Validates a request. `now` is the default for a missing `context.time`.
    pub fn from_json(v: &Value, now: OffsetDateTime) -> Result<Self, InvalidInput> {
        let mut problems = Vec::new();
        let req = {
            let mut p = P {
                problems: &mut problems,
            };
            (|| {
                let m = p.object(v, "$", &["principal", "action", "context", "resource"])?;
                let action = p.required(m, "$", "action").and_then(|v| {
                    p.enumerated(
                        v,
                        "$.action",
                        &[
                            ("read", Action::Read),
                            ("write", Action::Write),
                            ("store", Action::Store),
                        ],
                    )
                });
                let principal = p
                    .required(m, "$", "principal")
                    .and_then(|v| principal(&mut p, v, "$.principal"));
                let context = p
                    .required(m, "$", "context")
                    .and_then(|v| context(&mut p, v, "$.context", now));
                let resource = p
                    .required(m, "$", "resource")
                    .and_then(|v| resource(&mut p, v, "$.resource", action));
                Some(Request {
                    principal: principal?,
                    action: action?,
                    context: context?,
                    resource: resource?,
                })
            })()
        };
        match req {
            Some(r) if problems.is_empty() => Ok(r),
            _ => {
                if problems.is_empty() {
                    problems.push(InputProblem {
                        path: "$".into(),
                        message: "invalid request".into(),
                    });
                }
                Err(InvalidInput(problems))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    fn spec_example() -> Value {
        json!({
          "principal": { "id": "alice", "person_status": "foreign_person", "citizenships": ["GB"],
            "authorizations": [ { "id": "DSP5-123456", "type": "DSP-5", "countries": ["GB"],
                "usml_categories": ["XI"], "eccns": [], "valid_from": "2025-01-01", "expires": "2027-01-01" } ] },
          "action": "read",
          "context": { "source_country": "US", "time": "2026-11-22T10:00:00Z" },
          "resource": { "label": { "jurisdiction": "ITAR", "usml_category": "XI" },
            "end_to_end_encrypted": true, "storage_country": "US" }
        })
    }

    #[test]
    fn spec_example_parses() {
        let r = Request::from_json(&spec_example(), now()).unwrap();
        assert_eq!(r.principal.authorizations[0].kind, AuthType::Dsp5);
        assert!(matches!(r.resource.label, LabelFact::Parsed(_)));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut v = spec_example();
        v["principal"]["citizenships"] = json!(["GB", "gb", "XX"]);
        v["principal"]["former_citizenships"] = json!(["CN", "China"]);
        v["principal"]["nickname"] = json!("al");
        v["principal"]["authorizations"][0]["expires"] = json!("2024-13-01");
        v["principal"]["authorizations"][0]["usml_categories"] = json!(["XXII"]);
        v["principal"]["authorizations"][0]["eccns"] = json!(["3D00"]);
        v["context"]["time"] = json!("yesterday");
        v["action"] = json!("delete");
        let err = Request::from_json(&v, now()).unwrap_err();
        let paths: Vec<_> = err.0.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "$.principal.citizenships[1]",
            "$.principal.citizenships[2]",
            "$.principal.former_citizenships[1]",
            "$.principal.nickname",
            "$.principal.authorizations[0].expires",
            "$.principal.authorizations[0].usml_categories[0]",
            "$.principal.authorizations[0].eccns[0]",
            "$.context.time",
            "$.action",
        ] {
            assert!(paths.contains(&want), "missing {want} in {paths:?}");
        }
    }

    #[test]
    fn former_citizenships_are_optional_and_validated() {
        let r = Request::from_json(&spec_example(), now()).unwrap();
        assert!(r.principal.former_citizenships.is_empty());
        let mut v = spec_example();
        v["principal"]["former_citizenships"] = json!(["CN", "RU"]);
        let r = Request::from_json(&v, now()).unwrap();
        let codes: Vec<_> = r
            .principal
            .former_citizenships
            .iter()
            .map(Country::as_str)
            .collect();
        assert_eq!(codes, ["CN", "RU"]);
        v["principal"]["former_citizenships"] = json!(null);
        assert!(Request::from_json(&v, now()).is_ok());
        for bad in [json!("CN"), json!([1]), json!(["cn"])] {
            v["principal"]["former_citizenships"] = bad.clone();
            let err = Request::from_json(&v, now()).unwrap_err();
            assert!(
                err.0[0].path.starts_with("$.principal.former_citizenships"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn batch_paths_are_prefixed_with_the_index() {
        let mut v = spec_example();
        v["action"] = json!("delete");
        let err = Request::from_json(&v, now()).unwrap_err().at_index(7);
        assert_eq!(err.0[0].path, "$[7].action");
        assert_eq!(err.to_json()["error"], "invalid-input");
        assert_eq!(err.to_json()["problems"][0]["path"], "$[7].action");
    }

    #[test]
    fn expires_before_valid_from_and_missing_fields() {
        let mut v = spec_example();
        v["principal"]["authorizations"][0]["valid_from"] = json!("2027-02-01");
        let err = Request::from_json(&v, now()).unwrap_err();
        assert_eq!(err.0[0].path, "$.principal.authorizations[0].expires");
        let mut v = spec_example();
        v["principal"]
            .as_object_mut()
            .unwrap()
            .remove("person_status");
        v["context"]
            .as_object_mut()
            .unwrap()
            .remove("source_country");
        let err = Request::from_json(&v, now()).unwrap_err();
        let paths: Vec<_> = err.0.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["$.principal.person_status", "$.context.source_country"]
        );
        assert!(Request::from_json(&json!([]), now()).is_err());
        assert!(Request::from_json(&json!(null), now()).is_err());
    }

    #[test]
    fn labels_that_do_not_parse_are_facts_not_input_errors() {
        let mut v = spec_example();
        v["resource"]["label"] = json!({ "jurisdiction": "ITAR", "usml_category": "XXX" });
        let r = Request::from_json(&v, now()).unwrap();
        assert!(matches!(r.resource.label, LabelFact::Unparseable(_)));
        v["resource"].as_object_mut().unwrap().remove("label");
        assert_eq!(
            Request::from_json(&v, now()).unwrap().resource.label,
            LabelFact::Missing
        );
    }

    #[test]
    fn store_needs_a_storage_country() {
        let mut v = spec_example();
        v["action"] = json!("store");
        v["resource"]
            .as_object_mut()
            .unwrap()
            .remove("storage_country");
        let err = Request::from_json(&v, now()).unwrap_err();
        assert_eq!(err.0[0].path, "$.resource.storage_country");
    }
}
