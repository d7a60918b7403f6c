//! The wire and storage form of the model's types: the JSON of the decision request.
//!
//! The registry stores principals' facts and authorizations in exactly the form the
//! decision request carries them, and parses them back with the same validation, so a
//! stored fact is always one the engine can evaluate. Deserializing never accepts
//! what [`crate::Request::from_json`] would reject.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::data::{ymd, Country};
use crate::model::{AuthType, Authorization, PersonStatus};

impl Serialize for Country {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Country::parse(&s).ok_or_else(|| {
            D::Error::custom(format!(
                "`{s}` is not an ISO 3166-1 alpha-2 country code (upper case, e.g. `GB`)"
            ))
        })
    }
}

/// A name that is not one of an enumeration's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {what}; expected one of {expected}")]
pub struct UnknownName {
    pub value: String,
    pub what: &'static str,
    pub expected: String,
}

/// Serde for the enums whose names come from an `ALL` table.
macro_rules! named_enum {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(D::Error::custom)
            }
        }

        impl std::str::FromStr for $t {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                Self::ALL
                    .iter()
                    .find(|(name, _)| *name == s)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| UnknownName {
                        value: s.to_owned(),
                        what: $what,
                        expected: Self::ALL
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }
    };
}

named_enum!(PersonStatus, "person status");
named_enum!(AuthType, "authorization type");

impl Serialize for Authorization {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("type", &self.kind)?;
        if let Some(e) = &self.exemption {
            m.serialize_entry("exemption", e)?;
        }
        m.serialize_entry("countries", &self.countries)?;
        let categories: Vec<&str> = self.usml_categories.iter().map(|c| c.roman()).collect();
        m.serialize_entry("usml_categories", &categories)?;
        m.serialize_entry("eccns", &self.eccns)?;
        if let Some(f) = self.valid_from {
            m.serialize_entry("valid_from", &ymd(f))?;
        }
        m.serialize_entry("expires", &ymd(self.expires))?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Authorization {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Authorization::from_json(&v).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_authorization_round_trips_through_its_request_form() {
        let v = json!({ "id": "DSP5-1", "type": "DSP-5", "countries": ["GB"],
            "usml_categories": ["XI"], "eccns": [], "valid_from": "2025-01-01", "expires": "2027-01-01" });
        let a: Authorization = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&a).unwrap(), v);
        let e = json!({ "id": "X", "type": "exemption", "exemption": "125.4(b)(9)",
            "countries": ["DE"], "usml_categories": [], "eccns": [], "expires": "2027-01-01" });
        let a: Authorization = serde_json::from_value(e.clone()).unwrap();
        assert_eq!(serde_json::to_value(&a).unwrap(), e);
    }

    #[test]
    fn what_the_request_parser_refuses_does_not_deserialize() {
        for bad in [
            json!({ "id": "A", "type": "DSP-9", "countries": ["GB"], "expires": "2027-01-01" }),
            json!({ "id": "A", "type": "DSP-5", "countries": ["gb"], "expires": "2027-01-01" }),
            json!({ "id": "A", "type": "DSP-5", "countries": ["GB"] }),
            json!({ "id": "A", "type": "DSP-5", "countries": ["GB"], "expires": "2027-01-01", "x": 1 }),
        ] {
            assert!(
                serde_json::from_value::<Authorization>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(serde_json::from_value::<Country>(json!("XX")).is_err());
        assert!(serde_json::from_value::<PersonStatus>(json!("martian")).is_err());
        assert_eq!(
            serde_json::from_value::<PersonStatus>(json!("us_citizen")).unwrap(),
            PersonStatus::UsCitizen
        );
    }
}
