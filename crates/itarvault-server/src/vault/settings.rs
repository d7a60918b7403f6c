//! The settings a quorum controls. The first start adopts them from the config and
//! records that in the trail; afterwards the config is held to what the quorum
//! approved, so editing the file is not a way around the two-person rule.
//!
//! A vault without a quorum runs in *bootstrap* mode: its one admin may do alone what
//! the quickstart does (register principals, issue their first tokens, create buckets),
//! and each start re-adopts the config, because there is nobody to ask. The first start
//! with a quorum in the config ends bootstrap mode for good: from then on every setting
//! here changes only through a quorum proposal.

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
const VERSION: u32 = 2;

/// Version 1 had no guarded settings: they are adopted at the next start.
fn v1_to_v2(
    mut m: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    m.insert("guarded".into(), serde_json::Value::Null);
    m
}

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
    /// Every other setting that could widen access; `None` until first adopted.
    pub guarded: Option<Guarded>,
}

/// The settings that decide who may authenticate, from where, and who approves: each
/// could widen access, so once a quorum exists only the quorum changes them. Files are
/// held by the SHA-256 of their contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guarded {
    /// `None`: bootstrap mode (no quorum yet).
    pub quorum: Option<QuorumSettings>,
    pub quorum_principals: bool,
    pub ranges_file_sha256: Option<String>,
    pub geoip_db_sha256: Option<String>,
    pub trusted_proxies: Vec<String>,
    pub oidc: Vec<OidcSettings>,
    pub client_ca_sha256: Option<String>,
    pub client_cert_principal: crate::config::CertField,
    pub lockbox_max_grant_hours: u32,
    pub lockbox_pending_hours: u32,
    pub lockbox_approvals_required: u32,
    pub scan_on_mismatch: crate::config::OnMismatch,
}

/// The quorum's approvers, how many must agree, and within how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumSettings {
    pub approvers: Vec<String>,
    pub required: u32,
    pub window_hours: u32,
}

/// An OIDC issuer as far as trust goes (its keys' source, not the keys, which rotate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    pub issuer: String,
    pub audience: String,
    pub principal_claim: String,
    pub trusted_for_person_facts: bool,
    /// `file:<sha256 of the JWKS file>` or `url:<URL>`.
    pub jwks: String,
}

fn file_sha256(path: Option<&std::path::Path>) -> Result<Option<String>, StartError> {
    path.map(|p| {
        std::fs::read(p)
            .map(|b| itarvault_audit::line_hash(&b))
            .map_err(|e| StartError::Config(format!("reading `{}`: {e}", p.display())))
    })
    .transpose()
}

impl Guarded {
    /// What the config (and the files it names) says.
    pub fn from_config(cfg: &Config) -> Result<Self, StartError> {
        let q = &cfg.quorum;
        Ok(Self {
            quorum: (!q.approvers.is_empty()).then(|| QuorumSettings {
                approvers: q.approvers.clone(),
                required: q.required,
                window_hours: q.window_hours,
            }),
            quorum_principals: q.principals,
            ranges_file_sha256: file_sha256(cfg.location.ranges_file.as_deref())?,
            geoip_db_sha256: file_sha256(cfg.location.geoip_db.as_deref())?,
            trusted_proxies: cfg.location.trusted_proxies.clone(),
            oidc: cfg
                .oidc
                .iter()
                .map(|o| {
                    let jwks = match (&o.jwks_file, &o.jwks_url) {
                        (Some(f), _) => {
                            format!("file:{}", file_sha256(Some(f))?.unwrap_or_default())
                        }
                        (None, Some(u)) => format!("url:{u}"),
                        (None, None) => String::new(),
                    };
                    Ok(OidcSettings {
                        issuer: o.issuer.clone(),
                        audience: o.audience.clone(),
                        principal_claim: o.principal_claim.clone(),
                        trusted_for_person_facts: o.trusted_for_person_facts,
                        jwks,
                    })
                })
                .collect::<Result<_, StartError>>()?,
            client_ca_sha256: file_sha256(cfg.tls.client_ca_file.as_deref())?,
            client_cert_principal: cfg.tls.client_cert_principal,
            lockbox_max_grant_hours: cfg.lockbox.max_grant_hours,
            lockbox_pending_hours: cfg.lockbox.pending_hours,
            lockbox_approvals_required: cfg.lockbox.approvals_required,
            scan_on_mismatch: cfg.scan.on_mismatch,
        })
    }

    /// The config keys whose values differ from `other`'s.
    pub fn differences(&self, other: &Self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut differ = |key, same: bool| {
            if !same {
                out.push(key);
            }
        };
        differ(
            "quorum (approvers, required, window_hours)",
            self.quorum == other.quorum,
        );
        differ(
            "quorum.principals",
            self.quorum_principals == other.quorum_principals,
        );
        differ(
            "location.ranges_file (its contents)",
            self.ranges_file_sha256 == other.ranges_file_sha256,
        );
        differ(
            "location.geoip_db (its contents)",
            self.geoip_db_sha256 == other.geoip_db_sha256,
        );
        differ(
            "location.trusted_proxies",
            self.trusted_proxies == other.trusted_proxies,
        );
        differ(
            "[[oidc]] (issuers, audiences, claims, trust, key sources)",
            self.oidc == other.oidc,
        );
        differ(
            "tls.client_ca_file (its contents)",
            self.client_ca_sha256 == other.client_ca_sha256,
        );
        differ(
            "tls.client_cert_principal",
            self.client_cert_principal == other.client_cert_principal,
        );
        differ(
            "lockbox (max_grant_hours, pending_hours, approvals_required)",
            (
                self.lockbox_max_grant_hours,
                self.lockbox_pending_hours,
                self.lockbox_approvals_required,
            ) == (
                other.lockbox_max_grant_hours,
                other.lockbox_pending_hours,
                other.lockbox_approvals_required,
            ),
        );
        differ(
            "scan.on_mismatch",
            self.scan_on_mismatch == other.scan_on_mismatch,
        );
        out
    }

    /// Whether the vault still runs without a quorum.
    pub fn bootstrap(&self) -> bool {
        self.quorum.is_none()
    }
}

impl Controlled {
    /// What the config says, as it would be adopted.
    pub fn from_config(cfg: &Config, policies_sha256: String) -> Result<Self, StartError> {
        Ok(Self {
            residency: cfg.residency.mode,
            backends: cfg.effective_backends(),
            policies_sha256,
            guarded: Some(Guarded::from_config(cfg)?),
        })
    }

    /// The guarded settings in force (adopted at every start, so always present once a
    /// vault has started).
    pub fn guarded(&self) -> Result<&Guarded, Error> {
        self.guarded
            .as_ref()
            .ok_or_else(|| Error::bug("the guarded settings were not adopted at start"))
    }

    /// Whether the vault runs in bootstrap mode (no quorum adopted yet).
    pub fn bootstrap(&self) -> bool {
        self.guarded.as_ref().is_none_or(Guarded::bootstrap)
    }

    /// Reads the stored document (or the first release's rows), if any.
    pub fn load(store: &dyn itarvault_store::Settings) -> Result<Option<Self>, Error> {
        if let Some(text) = store.setting(NAME)? {
            return Ok(Some(doc::decode(&text, VERSION, &[v1_to_v2], || {
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
            guarded: None,
        }))
    }

    pub fn save(&self, store: &dyn itarvault_store::Settings) -> Result<(), Error> {
        store.set_setting(NAME, &doc::encode(VERSION, self)?)?;
        Ok(())
    }

    /// Adopts the config's settings the first time; afterwards checks the config
    /// against what the quorum approved. In bootstrap mode (no quorum yet) the guarded
    /// settings are re-adopted at every start, with a record of what changed; the first
    /// start with a quorum ends bootstrap mode for good. Returns the settings in force
    /// and what was adopted (for the audit trail).
    pub fn adopt_or_check(
        cfg: &Config,
        store: &dyn itarvault_store::Settings,
        policies_sha256: String,
    ) -> Result<(Self, Vec<String>), StartError> {
        let wanted = Self::from_config(cfg, policies_sha256)?;
        let want_guarded = wanted
            .guarded
            .clone()
            .ok_or_else(|| StartError::Bug("no guarded settings".into()))?;
        let Some(mut stored) = Self::load(store).map_err(StartError::Service)? else {
            wanted.save(store).map_err(StartError::Service)?;
            let mut adopted = vec![format!(
                "residency mode `{}`, {} backends, policies sha256 {}, the guarded settings",
                wanted.residency,
                wanted.backends.len(),
                wanted.policies_sha256
            )];
            adopted.push(bootstrap_note(&want_guarded));
            return Ok((wanted, adopted));
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
        let mut adopted = Vec::new();
        match &stored.guarded {
            Some(g) if !g.bootstrap() => {
                let differ = want_guarded.differences(g);
                if !differ.is_empty() {
                    return Err(StartError::Config(format!(
                        "the config's {} differs from what the quorum approved\nthese settings change only through the quorum: propose the new config with `itarvault quorum propose settings --config FILE --justification \"...\"` (run where the files it names are), or restore the approved values",
                        differ.join(", ")
                    )));
                }
            }
            previous => {
                let what = match previous {
                    None => "the guarded settings (first start of this release)".to_owned(),
                    Some(old) => {
                        let differ = want_guarded.differences(old);
                        if differ.is_empty() {
                            String::new()
                        } else {
                            format!("in bootstrap mode, changed: {}", differ.join(", "))
                        }
                    }
                };
                if !what.is_empty() {
                    adopted.push(what);
                    if !want_guarded.bootstrap() {
                        adopted.push(bootstrap_note(&want_guarded));
                    }
                }
                stored.guarded = Some(want_guarded);
            }
        }
        // A document read from an older form is written in the current one.
        stored.save(store).map_err(StartError::Service)?;
        Ok((stored, adopted))
    }
}

fn bootstrap_note(g: &Guarded) -> String {
    match &g.quorum {
        None => "bootstrap mode: no quorum is configured; the admin acts alone until one is".into(),
        Some(q) => format!(
            "a quorum of {} of [{}] governs from now on; bootstrap mode has ended for good",
            q.required,
            q.approvers.join(", ")
        ),
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
