//! The settings a quorum controls. The first start adopts them from the config and
//! records that in the trail; afterwards the config is held to what the quorum
//! approved, so editing the file is not a way around the two-person rule.

use itarvault_policy::ResidencyMode;
use itarvault_store::doc;
use serde::{Deserialize, Serialize};

use itarvault_policy::data::{data, Country};
use time::OffsetDateTime;

use crate::config::{BackendConfig, Config};
use crate::error::Error;
use crate::StartError;

/// The setting row that holds the document.
const NAME: &str = "controlled";
/// Its format version.
const VERSION: u32 = 1;

/// Rows of the first release, before the settings became one document.
const OLD_RESIDENCY: &str = "residency.mode";
const OLD_BACKENDS: &str = "backends.approved";
const OLD_POLICIES: &str = "policies.sha256";

/// What only a quorum changes once adopted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controlled {
    pub residency: ResidencyMode,
    /// Backends a quorum approved (or the first start adopted).
    pub backends: Vec<BackendConfig>,
    /// SHA-256 (hex) of the Cedar policies' text, concatenated in load order.
    pub policies_sha256: String,
}

impl Controlled {
    /// What the config says, as it would be adopted.
    pub fn from_config(cfg: &Config, policies_sha256: String) -> Self {
        Self {
            residency: cfg.residency.mode,
            backends: cfg.effective_backends(),
            policies_sha256,
        }
    }

    /// Reads the stored document (or the first release's rows), if any.
    pub fn load(store: &dyn itarvault_store::Settings) -> Result<Option<Self>, Error> {
        if let Some(text) = store.setting(NAME)? {
            return Ok(Some(doc::decode(&text, VERSION, &[], || {
                "the controlled settings".to_owned()
            })?));
        }
        let Some(mode) = store.setting(OLD_RESIDENCY)? else {
            return Ok(None);
        };
        let damaged = |what: &str, why: String| {
            Error::unavailable(
                "metadata-damaged",
                format!("the stored {what} does not parse ({why}); the metadata database was edited or is damaged"),
            )
        };
        let residency = mode
            .parse()
            .map_err(|e: itarvault_policy::wire::UnknownName| {
                damaged("residency mode", e.to_string())
            })?;
        let backends = match store.setting(OLD_BACKENDS)? {
            Some(s) => {
                serde_json::from_str(&s).map_err(|e| damaged("approved backends", e.to_string()))?
            }
            None => Vec::new(),
        };
        let policies_sha256 = store.setting(OLD_POLICIES)?.unwrap_or_default();
        Ok(Some(Self {
            residency,
            backends,
            policies_sha256,
        }))
    }

    pub fn save(&self, store: &dyn itarvault_store::Settings) -> Result<(), Error> {
        store.set_setting(NAME, &doc::encode(VERSION, self)?)?;
        Ok(())
    }

    /// Adopts the config's settings the first time; afterwards checks the config
    /// against what the quorum approved. Returns the settings in force and, on first
    /// adoption, what was adopted (for the audit trail).
    pub fn adopt_or_check(
        cfg: &Config,
        store: &dyn itarvault_store::Settings,
        policies_sha256: String,
    ) -> Result<(Self, Option<String>), StartError> {
        let wanted = Self::from_config(cfg, policies_sha256);
        let Some(stored) = Self::load(store).map_err(StartError::Service)? else {
            wanted.save(store).map_err(StartError::Service)?;
            let adopted = format!(
                "residency mode `{}`, {} backends, policies sha256 {}",
                wanted.residency,
                wanted.backends.len(),
                wanted.policies_sha256
            );
            return Ok((wanted, Some(adopted)));
        };
        if stored.residency != wanted.residency {
            tracing::warn!(
                stored = %stored.residency,
                "residency.mode in the config differs from the mode the quorum set; the quorum's applies"
            );
        }
        if let Some(b) = wanted
            .backends
            .iter()
            .find(|b| !stored.backends.contains(b))
        {
            return Err(StartError::Config(format!(
                "backend `{}` in the config is not one a quorum approved (a new backend, or a changed entry)\npropose it with `itarvault quorum propose backend --name {} --country {} ...`, or restore the approved entry",
                b.name, b.name, b.country
            )));
        }
        if stored.policies_sha256 != wanted.policies_sha256 {
            return Err(StartError::Config(format!(
                "the Cedar policies in the config (sha256 {}) are not the ones a quorum approved (sha256 {})\npropose them with `itarvault quorum propose policies FILE...`, or restore the approved files",
                wanted.policies_sha256, stored.policies_sha256
            )));
        }
        // A document read from the first release's rows is written in the new form.
        stored.save(store).map_err(StartError::Service)?;
        Ok((stored, None))
    }
}

/// SHA-256 (hex) of policy text: what a quorum approves and the server checks at start.
/// For several files, the text is their concatenation in load order.
pub fn policy_digest(text: &str) -> String {
    itarvault_audit::line_hash(text.as_bytes())
}

/// Refuses a backend in a country proscribed today (22 CFR 126.1).
pub fn check_backend_country(b: &BackendConfig) -> Result<Country, StartError> {
    let data = data()
        .ok_or_else(|| StartError::Bug("the embedded regulatory data failed to load".into()))?;
    if let Some(e) = data.proscribed_on(b.country, OffsetDateTime::now_utc().date()) {
        return Err(StartError::Config(format!(
            "backend `{}` is in {} ({}), a proscribed country under {}: technical data may not be stored there, even encrypted (22 CFR 120.54(a)(5)(iv))\nremove the backend or move it to another country",
            b.name,
            b.country.name(),
            b.country,
            e.cite()
        )));
    }
    Ok(b.country)
}
