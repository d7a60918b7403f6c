//! Where an organisation lets ciphertext be stored: its residency mode, one definition
//! for the server, the assessment and the decision it adds to every placement.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::data::Country;
use crate::decision::Reason;

/// An organisation's storage residency choice. It narrows the regulatory floor (which
/// allows storage abroad under the encryption carve-out) and never widens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidencyMode {
    /// Controlled data only in US backends (many contracts and DFARS 252.204-7012
    /// cloud terms ask for it).
    #[default]
    UsOnly,
    /// Backends abroad too, under the end-to-end encryption carve-out of 22 CFR
    /// 120.54(a)(5) / 15 CFR 734.18(a)(5), never in a proscribed country.
    CarveOut,
}

impl ResidencyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsOnly => "us_only",
            Self::CarveOut => "carve_out",
        }
    }

    /// The organisation rule a placement in `storage` breaks, if any.
    pub fn refuses(self, storage: Country) -> Option<Reason> {
        (self == Self::UsOnly && storage != Country::US).then(|| {
            Reason::new(
                "residency-us-only",
                "organisation residency policy (residency mode us_only)",
                format!(
                    "backend in `{storage}` is outside the US and this organisation stores controlled data only in the US"
                ),
            )
        })
    }
}

impl fmt::Display for ResidencyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ResidencyMode {
    type Err = crate::wire::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "us_only" => Ok(Self::UsOnly),
            "carve_out" => Ok(Self::CarveOut),
            _ => Err(crate::wire::UnknownName {
                value: s.to_owned(),
                what: "residency mode",
                expected: "us_only, carve_out".into(),
            }),
        }
    }
}
