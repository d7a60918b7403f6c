//! Versioned JSON documents: how rows that hold a document (a principal's facts, an
//! authorization, a lockbox record, a settings document) are written and read back.
//!
//! A document is a JSON object with its format version in `v`. Reading applies the
//! migrations from the stored version to the current one, in order, then parses the
//! typed value strictly (unknown fields are errors): a row written by a newer release,
//! or edited by hand into something else, is refused with the row it came from.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::StoreError;

/// Rewrites a document of version `i + 1` from version `i` (entry `i - 1` of a table).
pub type Migration = fn(Map<String, Value>) -> Map<String, Value>;

/// Writes `body` as a document of format version `version`.
pub fn encode<T: Serialize>(version: u32, body: &T) -> Result<String, StoreError> {
    serde_json::to_string(&encode_value(version, body)?)
        .map_err(|e| StoreError::Database(e.to_string()))
}

/// [`encode`], as a JSON value.
pub fn encode_value<T: Serialize>(version: u32, body: &T) -> Result<Value, StoreError> {
    let mut map = match serde_json::to_value(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(StoreError::Database(
                "a document must serialize to a JSON object (bug, please report)".into(),
            ))
        }
        Err(e) => return Err(StoreError::Database(e.to_string())),
    };
    map.insert("v".into(), Value::from(version));
    Ok(Value::Object(map))
}

/// Reads a document whose current format version is `current`; `migrations[i]` takes
/// version `i + 1` to `i + 2`. `what` names the row in errors.
pub fn decode<T: DeserializeOwned>(
    text: &str,
    current: u32,
    migrations: &[Migration],
    what: impl Fn() -> String,
) -> Result<T, StoreError> {
    let value =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{}: {e}", what())))?;
    decode_value(value, current, migrations, what)
}

/// [`decode`] for a document already parsed as JSON.
pub fn decode_value<T: DeserializeOwned>(
    value: Value,
    current: u32,
    migrations: &[Migration],
    what: impl Fn() -> String,
) -> Result<T, StoreError> {
    let corrupt = |why: String| StoreError::Corrupt(format!("{}: {why}", what()));
    let Value::Object(mut map) = value else {
        return Err(corrupt("not a JSON object".into()));
    };
    let version = map
        .remove("v")
        .and_then(|v| v.as_u64())
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| corrupt("no format version `v`".into()))?;
    if version == 0 || version > current {
        return Err(StoreError::Corrupt(format!(
            "{}: format version {version} is not one this release reads (1 to {current}); a newer itarvault wrote it",
            what()
        )));
    }
    for step in (version..current).map(|v| migrations.get(v as usize - 1)) {
        let step = step.ok_or_else(|| corrupt("no migration (bug, please report)".into()))?;
        map = step(map);
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a failure should panic")]

    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct V2 {
        name: String,
        kept: u32,
    }

    fn v1_to_v2(mut m: Map<String, Value>) -> Map<String, Value> {
        m.insert("kept".into(), Value::from(10));
        m
    }

    #[test]
    fn old_documents_are_migrated_and_new_or_edited_ones_refused() {
        let what = || "row `x`".to_owned();
        let now: V2 = decode(r#"{"v":1,"name":"a"}"#, 2, &[v1_to_v2], what).unwrap();
        assert_eq!(
            now,
            V2 {
                name: "a".into(),
                kept: 10
            }
        );
        let text = encode(2, &now).unwrap();
        assert_eq!(decode::<V2>(&text, 2, &[v1_to_v2], what).unwrap(), now);
        for bad in [
            r#"{"v":3,"name":"a","kept":1}"#,
            r#"{"name":"a","kept":1}"#,
            r#"{"v":2,"name":"a","kept":1,"extra":true}"#,
            r#"[1]"#,
            "not json",
        ] {
            let e = decode::<V2>(bad, 2, &[v1_to_v2], what).unwrap_err();
            assert!(
                matches!(e, StoreError::Corrupt(ref m) if m.contains("row `x`")),
                "{bad}: {e}"
            );
        }
    }
}
