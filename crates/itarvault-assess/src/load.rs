//! Loading an inventory: YAML or JSON, checked against the generated schema and then
//! for meaning (unique ids, references that resolve, real dates, known countries,
//! labels that parse). Every problem is listed with its path, not just the first.

use crate::inventory::{schema, Inventory};
use itarvault_format::Label;
use itarvault_policy::data::Country;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;

/// One thing wrong with an inventory, at a path such as `people[2].person_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            "(top level)"
        } else {
            &self.path
        };
        write!(f, "{at}: {}", self.reason)
    }
}

/// An inventory that cannot be assessed, with every problem found.
#[derive(Debug, thiserror::Error)]
#[error("the inventory has {} problem(s):\n  {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
pub struct Invalid(pub Vec<Problem>);

/// Parses and validates an inventory (JSON when it starts with `{`, else YAML).
pub fn load(text: &str) -> Result<Inventory, Invalid> {
    let value = parse(text).map_err(|reason| {
        Invalid(vec![Problem {
            path: String::new(),
            reason,
        }])
    })?;
    let mut problems = Vec::new();
    let schema = schema();
    check(&value, &schema, &schema, "", &mut problems);
    meaning(&value, &mut problems);
    if !problems.is_empty() {
        return Err(Invalid(problems));
    }
    serde_json::from_value(value).map_err(|e| {
        Invalid(vec![Problem {
            path: String::new(),
            reason: format!("{e} (this is a bug: the schema accepted it; please report it)"),
        }])
    })
}

fn parse(text: &str) -> Result<Value, String> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"));
    }
    let docs =
        yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    match docs.as_slice() {
        [one] => yaml_to_json(one, ""),
        [] => Err("the file is empty".into()),
        _ => Err("the file holds several YAML documents; an inventory is one".into()),
    }
}

fn yaml_to_json(y: &yaml_rust2::Yaml, path: &str) -> Result<Value, String> {
    use yaml_rust2::Yaml;
    Ok(match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{path}: `{r}` is not a number"))?,
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| yaml_to_json(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => return Err(format!("{path}: a key that is not a string")),
                };
                let child = join(path, &key);
                m.insert(key, yaml_to_json(v, &child)?);
            }
            Value::Object(m)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(format!("{path}: YAML aliases and tags are not supported"))
        }
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `v` against the subset of JSON Schema the generated schema uses.
fn check(v: &Value, s: &Value, root: &Value, path: &str, out: &mut Vec<Problem>) {
    let mut bad = |reason: String| {
        out.push(Problem {
            path: path.to_string(),
            reason,
        })
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs").and_then(|d| d.get(name)));
        match target {
            Some(t) => check(v, t, root, path, out),
            None => bad(format!("schema reference `{r}` is missing (this is a bug)")),
        }
        return;
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = s.get(key).and_then(Value::as_array) {
            let mut best: Option<Vec<Problem>> = None;
            for b in branches {
                let mut p = Vec::new();
                check(v, b, root, path, &mut p);
                if p.is_empty() {
                    return;
                }
                if best.as_ref().is_none_or(|x| p.len() < x.len()) {
                    best = Some(p);
                }
            }
            out.extend(best.unwrap_or_default());
            return;
        }
    }
    if let Some(t) = s.get("type") {
        let actual = type_name(v);
        let allowed: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(xs) => xs.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let ok = allowed
            .iter()
            .any(|a| *a == actual || (*a == "number" && actual == "integer"));
        if !ok {
            bad(format!("expected {}, found {actual}", allowed.join(" or ")));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            let list: Vec<String> = options.iter().map(ToString::to_string).collect();
            bad(format!("{v} is not one of {}", list.join(", ")));
            return;
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            bad(format!("expected {c}, found {v}"));
            return;
        }
    }
    match v {
        Value::String(text) => {
            if s.get("format").and_then(Value::as_str) == Some("date")
                && itarvault_policy::data::parse_ymd(text).is_none()
            {
                bad(format!(
                    "`{text}` is not a date (YYYY-MM-DD, a real calendar day)"
                ));
            }
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                if regex::Regex::new(p).is_ok_and(|re| !re.is_match(text)) {
                    bad(format!("`{text}` does not match {p}"));
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if s.get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| x < m)
                || s.get("maximum")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| x > m)
            {
                bad(format!("{n} is out of range"));
            }
        }
        Value::Array(items) => {
            if let Some(item) = s.get("items") {
                for (i, x) in items.iter().enumerate() {
                    check(x, item, root, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Object(map) => {
            let props = s.get("properties").and_then(Value::as_object);
            for req in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(k) = req.as_str() {
                    if !map.contains_key(k) {
                        out.push(Problem {
                            path: join(path, k),
                            reason: "required key is missing".into(),
                        });
                    }
                }
            }
            for (k, x) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => check(x, ps, root, &join(path, k), out),
                    None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        let known: Vec<&String> =
                            props.map(|p| p.keys().collect()).unwrap_or_default();
                        out.push(Problem {
                            path: join(path, k),
                            reason: format!(
                                "unknown key (known: {})",
                                known
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        });
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
}

/// The checks a schema cannot express: unique ids, references, countries, labels,
/// USML categories, ECCNs and date order.
fn meaning(v: &Value, out: &mut Vec<Problem>) {
    let list = |name: &str| {
        v.get(name)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut ids: HashMap<&str, Vec<String>> = HashMap::new();
    for name in [
        "people",
        "authorizations",
        "systems",
        "vendors",
        "ai_tools",
        "incidents",
        "attestations",
        "exceptions",
    ] {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, item) in list(name).iter().enumerate() {
            let Some(id) = item.get("id").and_then(Value::as_str) else {
                continue;
            };
            if let Some(first) = seen.insert(id.to_string(), i) {
                out.push(Problem {
                    path: format!("{name}[{i}].id"),
                    reason: format!("duplicate id `{id}` (first at {name}[{first}])"),
                });
            }
        }
        ids.insert(name, seen.into_keys().collect());
    }
    let mut refs = |name: &str, field: &str, target: &str| {
        for (i, item) in list(name).iter().enumerate() {
            for (j, r) in item
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(r) = r.as_str() {
                    if !ids.get(target).is_some_and(|t| t.iter().any(|x| x == r)) {
                        out.push(Problem {
                            path: format!("{name}[{i}].{field}[{j}]"),
                            reason: format!("`{r}` is not the id of any entry in `{target}`"),
                        });
                    }
                }
            }
        }
    };
    refs("people", "access", "systems");
    refs("people", "authorizations", "authorizations");
    refs("vendors", "systems", "systems");
    let mut countries = |path: String, c: &Value| {
        if let Some(code) = c.as_str() {
            if code.len() == 2 && Country::parse(code).is_none() {
                out.push(Problem {
                    path,
                    reason: format!("`{code}` is not an assigned ISO 3166-1 alpha-2 country code"),
                });
            }
        }
    };
    let each = |name: &str, field: &str, f: &mut dyn FnMut(String, &Value)| {
        for (i, item) in list(name).iter().enumerate() {
            match item.get(field) {
                Some(Value::Array(xs)) => xs
                    .iter()
                    .enumerate()
                    .for_each(|(j, x)| f(format!("{name}[{i}].{field}[{j}]"), x)),
                Some(x) => f(format!("{name}[{i}].{field}"), x),
                None => {}
            }
        }
    };
    for (name, field) in [
        ("people", "citizenships"),
        ("people", "former_citizenships"),
        ("people", "permanent_residence"),
        ("people", "work_country"),
        ("authorizations", "countries"),
        ("systems", "location_country"),
        ("vendors", "ownership_country"),
        ("incidents", "countries"),
    ] {
        each(name, field, &mut countries);
    }
    for (i, s) in list("systems").iter().enumerate() {
        if let Some(Value::Array(allowed)) = s
            .get("remote_access")
            .and_then(|r| r.get("allowed_countries"))
        {
            for (j, c) in allowed.iter().enumerate() {
                countries(
                    format!("systems[{i}].remote_access.allowed_countries[{j}]"),
                    c,
                );
            }
        }
    }
    let mut parse_as = |path: String, x: &Value, make: &dyn Fn(&str) -> String, what: &str| {
        if let Some(t) = x.as_str() {
            if let Err(e) = make(t).parse::<Label>() {
                out.push(Problem {
                    path,
                    reason: format!("`{t}` is not {what}: {e}"),
                });
            }
        }
    };
    each("systems", "labels", &mut |p, x| {
        parse_as(p, x, &|t| t.to_string(), "a label (`ITAR:XI`, `EAR:9E003`, `EAR99` or `PUBLIC`, with optional `;CUI`, `;DIST:D`, `;program=` modifiers)")
    });
    each("authorizations", "usml_categories", &mut |p, x| {
        parse_as(p, x, &|t| format!("ITAR:{t}"), "a USML category (I-XXI)")
    });
    each("authorizations", "eccns", &mut |p, x| {
        parse_as(p, x, &|t| format!("EAR:{t}"), "an ECCN")
    });
    let date = |x: &Value, k: &str| {
        x.get(k)
            .and_then(Value::as_str)
            .and_then(itarvault_policy::data::parse_ymd)
    };
    for (i, a) in list("authorizations").iter().enumerate() {
        let exemption = a.get("exemption").and_then(Value::as_str);
        match (a.get("type").and_then(Value::as_str), exemption) {
            (Some("exemption"), Some(section))
                if itarvault_policy::scope::normalize_section(section).is_none() =>
            {
                out.push(Problem {
                    path: format!("authorizations[{i}].exemption"),
                    reason: format!("`{section}` is not a section of 22 CFR parts 120 to 129: write the section claimed, e.g. `125.4(b)(9)`, `126.18`, `126.5`"),
                });
            }
            (Some(kind), Some(_)) if kind != "exemption" => out.push(Problem {
                path: format!("authorizations[{i}].exemption"),
                reason: format!("only type `exemption` claims a section; a `{kind}` has none (remove the key or set it to null)"),
            }),
            _ => {}
        }
        if let (Some(from), Some(to)) = (date(a, "valid_from"), date(a, "expires")) {
            if from > to {
                out.push(Problem {
                    path: format!("authorizations[{i}].expires"),
                    reason: "expires before valid_from".into(),
                });
            }
        }
    }
    for (name, from, to) in [
        ("attestations", "date", "expires"),
        ("exceptions", "approved", "expires"),
    ] {
        for (i, x) in list(name).iter().enumerate() {
            if let (Some(a), Some(b)) = (date(x, from), date(x, to)) {
                if a > b {
                    out.push(Problem {
                        path: format!("{name}[{i}].{to}"),
                        reason: format!("{to} is before {from}"),
                    });
                }
            }
        }
    }
    for (i, a) in list("attestations").iter().enumerate() {
        if let Some(item) = a.get("item").and_then(Value::as_str) {
            match crate::checklist::checklist().map(|c| c.get(item).map(|i| i.kind)) {
                Ok(Some(crate::checklist::Kind::Manual)) => {}
                Ok(Some(_)) => out.push(Problem {
                    path: format!("attestations[{i}].item"),
                    reason: format!("`{item}` is decided by rules from inventory facts; only MANUAL items take an attestation"),
                }),
                Ok(None) => out.push(Problem {
                    path: format!("attestations[{i}].item"),
                    reason: format!("`{item}` is not a checklist item (itarvault assess --list-checklist)"),
                }),
                Err(e) => out.push(Problem { path: String::new(), reason: e.to_string() }),
            }
        }
    }
    for (i, e) in list("exceptions").iter().enumerate() {
        if let Some(rule) = e.get("rule").and_then(Value::as_str) {
            if !crate::rules::all().iter().any(|r| r.id == rule)
                && !crate::vault::RULES.contains(&rule)
            {
                out.push(Problem {
                    path: format!("exceptions[{i}].rule"),
                    reason: format!("`{rule}` is not a rule id (itarvault assess --list-rules)"),
                });
            }
        }
        if let Some(subject) = e.get("subject").and_then(Value::as_str) {
            let known = subject == "organization"
                || subject.starts_with("vault/")
                || subject
                    .split_once('/')
                    .is_some_and(|(l, id)| ids.get(l).is_some_and(|t| t.iter().any(|x| x == id)));
            if !known {
                out.push(Problem {
                    path: format!("exceptions[{i}].subject"),
                    reason: format!("`{subject}` names no entry: use `organization`, `vault/...` or `list/id` such as `vendors/msp1`"),
                });
            }
        }
    }
    for (i, inc) in list("incidents").iter().enumerate() {
        if let (Some(found), Some(disclosed)) =
            (date(inc, "discovered"), date(inc, "disclosure_date"))
        {
            if disclosed < found {
                out.push(Problem {
                    path: format!("incidents[{i}].disclosure_date"),
                    reason: "disclosed before it was discovered".into(),
                });
            }
        }
    }
}
