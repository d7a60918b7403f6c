//! The wire types of the itarvault HTTP API that more than one crate reads: the server
//! writes them, the CLI client and `itarvault assess --vault` read them. One definition,
//! so that the two sides cannot drift (`docs/openapi.json` describes the same shapes).

pub mod text;

use itarvault_lockbox::Role;
use itarvault_policy::data::Country;
use itarvault_policy::{PersonStatus, ResidencyMode};
use serde::{Deserialize, Serialize};

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code (`export-denied`, `label-missing`, ...).
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For export denials: the decision, as `POST /v1/decide` returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<serde_json::Value>,
    /// For invalid input: each problem with its JSON path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// One problem with a request body, at a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// What `GET /v1/posture` answers: the facts about a running vault that its own
/// assessment judges. Facts only; the judgement is in `itarvault assess`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Posture {
    pub server_version: String,
    pub fips: Fips,
    pub tls: Tls,
    pub residency: Residency,
    pub backends: Vec<Backend>,
    pub key_providers: Vec<KeyProvider>,
    pub buckets: Vec<Bucket>,
    pub lockbox: Lockbox,
    pub quorum: Quorum,
    pub admins: Vec<Admin>,
    pub audit: AuditInfo,
    #[serde(default)]
    pub objects: ObjectsInfo,
}

/// Facts about the stored objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectsInfo {
    /// Versions still stored in envelope format 1 (which does not name its object);
    /// the server rewrites them in the background.
    pub format_1_remaining: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fips {
    /// Whether the FIPS 140-3 module runs in FIPS mode in this process.
    pub active: bool,
    /// The cryptographic module linked, with its version (`AWS-LC FIPS 3.6.0`).
    pub module: String,
    /// Whether this release knows a CMVP certificate covering that module version.
    /// It says nothing about the operational environment, which the operator confirms
    /// against the certificate's security policy.
    pub validated: bool,
    /// The certificate, or why there is none.
    pub validation: String,
    /// The CMVP certificate number the operator declared (`fips_certificate`).
    pub certificate: Option<String>,
}

/// Which certificate the vault presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerCertificate {
    /// One the operator configured (`tls.cert_file`).
    Configured,
    /// The self-signed certificate generated for development.
    SelfSignedDevelopment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub enabled: bool,
    pub versions: Vec<String>,
    pub cipher_suites: Vec<String>,
    pub key_exchange_groups: Vec<String>,
    pub certificate: ServerCertificate,
    pub client_certificates: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Residency {
    pub mode: ResidencyMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    pub name: String,
    pub kind: String,
    pub country: Country,
    pub operator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyProvider {
    pub name: String,
    pub kind: String,
    pub custody: String,
    pub third_party_access: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub name: String,
    pub backend: String,
    pub key_id: String,
    pub key_provider: String,
    pub owners: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockbox {
    pub enabled: bool,
    pub approvals_required: u32,
    pub max_grant_hours: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quorum {
    pub required: u32,
    pub approvers: usize,
    /// No quorum has been adopted yet: the one admin acts alone (issue tokens for
    /// others, bind credentials) until a quorum is configured, which ends this mode
    /// for good.
    #[serde(default)]
    pub bootstrap: bool,
}

/// A principal who runs the service (admin or operator), with their person facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    pub id: String,
    pub roles: Vec<Role>,
    pub person_status: PersonStatus,
    pub citizenships: Vec<Country>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditInfo {
    /// The audit signing key's public half (hex), to verify an exported trail.
    pub public_key: String,
}
