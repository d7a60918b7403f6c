//! Metadata: the rows the server keeps besides blobs, and the narrow traits a backend
//! implements, one per concern.
//!
//! Records hold the policy crate's types (a [`Country`], a [`PersonStatus`], an
//! [`Authorization`], a [`Label`]), parsed once when they enter and validated again
//! when they are read back: a row edited into something the engine cannot evaluate is
//! an error, never a guess.

use std::fmt;

use itarvault_format::Label;
use itarvault_policy::data::Country;
use itarvault_policy::{Authorization, PersonStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use itarvault_lockbox::Role;

use crate::{BlobId, StoreError};

/// A person's export-control facts, as the decision request states them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonFacts {
    pub person_status: PersonStatus,
    pub citizenships: Vec<Country>,
    /// Citizenships once held: attributed for ITAR (22 CFR 120.50(b)).
    #[serde(default)]
    pub former_citizenships: Vec<Country>,
    #[serde(default)]
    pub permanent_residence: Option<Country>,
}

/// The identity an outside credential must carry to authenticate as a principal. A
/// principal without one cannot use that kind of credential at all: one OIDC issuer's
/// subject, or one certificate, never names another principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bindings {
    /// The OIDC issuer (`iss`) and subject (`sub`) whose tokens are this principal's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcBinding>,
    /// The client certificate that is this principal's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcBinding {
    pub issuer: String,
    pub subject: String,
}

/// A certificate, by the SHA-256 of its DER encoding (one certificate), or by a subject
/// alternative name (rfc822Name) the organisation's CA vouches for (renewals keep it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CertificateBinding {
    Sha256(String),
    San(String),
}

impl Bindings {
    pub fn is_empty(&self) -> bool {
        self.oidc.is_none() && self.certificate.is_none()
    }
}

/// A person or service the vault knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalRecord {
    pub id: String,
    #[serde(flatten)]
    pub facts: PersonFacts,
    pub roles: Vec<Role>,
    #[serde(skip_serializing_if = "Bindings::is_empty")]
    pub bindings: Bindings,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

impl PrincipalRecord {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The principal as the decision engine sees it, with the authorizations given.
    pub fn to_policy(
        &self,
        authorizations: Vec<Authorization>,
    ) -> itarvault_policy::model::Principal {
        itarvault_policy::model::Principal {
            id: self.id.clone(),
            person_status: self.facts.person_status,
            citizenships: self.facts.citizenships.clone(),
            former_citizenships: self.facts.former_citizenships.clone(),
            permanent_residence: self.facts.permanent_residence,
            authorizations,
        }
    }
}

/// A license, agreement or exemption held by a principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationRecord {
    pub principal: String,
    #[serde(flatten)]
    pub authorization: Authorization,
    pub revoked: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub added: OffsetDateTime,
}

/// What a token may be used for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Every route the principal may use.
    #[default]
    Access,
    /// Once, to mint the principal's own first access token: what an enrollment
    /// approved by the quorum hands to the person (never the admin who proposed it).
    Enrollment,
}

/// An API token. Only the SHA-256 of its secret is kept.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub principal: String,
    pub purpose: TokenPurpose,
    #[serde(skip)]
    pub secret_hash: [u8; 32],
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    pub revoked: bool,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .field("expires", &self.expires)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl TokenRecord {
    /// Not revoked and not past its expiry at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        !self.revoked && self.expires.is_none_or(|e| e > now)
    }
}

/// Old versions of each object a bucket keeps unless its creator says otherwise.
pub const DEFAULT_VERSIONS_KEPT: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketRecord {
    pub name: String,
    /// The key-encryption key every object (every version) of the bucket is wrapped
    /// under: destroying it shreds them all.
    pub key_id: String,
    /// The storage backend its blobs go to.
    pub backend: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Who approves access requests to the bucket's content.
    pub owners: Vec<String>,
    /// How many old (non-current) versions of each object are kept; older ones are
    /// removed when a new version is written.
    pub versions_kept: u32,
}

/// A lockbox access request or quorum proposal. The body is the server's versioned
/// JSON; `version` makes every state change a compare-and-swap, so that two approvers
/// acting at once cannot both count, and nothing is lost between nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockboxRecord {
    pub id: String,
    pub kind: LockboxKind,
    /// The requester or proposer.
    pub subject: String,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub body: serde_json::Value,
}

/// The two kinds of lockbox record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockboxKind {
    /// A request for time-boxed access to content.
    Access,
    /// A proposal that waits for a quorum.
    Quorum,
}

impl LockboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Quorum => "quorum",
        }
    }
}

/// A version id: 20 lowercase hex digits, random. It names one version of one object
/// for ever (a later version never reuses it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct VersionId(String);

impl VersionId {
    pub fn random() -> Result<Self, StoreError> {
        let mut b = [0u8; 10];
        aws_lc_rs::rand::fill(&mut b)
            .map_err(|_| StoreError::Database("the random number generator failed".into()))?;
        Ok(Self(hex::encode(b)))
    }

    /// Checks a version id given by a caller or read back from the database.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 20 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One stored version of an object: an envelope in a backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRecord {
    pub bucket: String,
    pub key: String,
    pub version: VersionId,
    #[serde(skip)]
    pub blob: BlobId,
    pub backend: String,
    /// The envelope holds the authenticated copy.
    #[serde(serialize_with = "label_text")]
    pub label: Label,
    pub size: u64,
    pub envelope_size: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub created_by: String,
    /// For a version stored before envelopes named their object (format 1): how the row
    /// is tied to its blob until the object is rewritten. `None` for every version
    /// written now (the envelope names it).
    #[serde(skip)]
    pub legacy: Option<Legacy>,
}

/// A format 1 object's tie to its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Legacy {
    /// Not bound yet (the server binds every such row at start).
    Unbound,
    /// A MAC over the row's bucket, key, version, blob and label under a keystore key.
    Bound { key_version: u32, tag: [u8; 32] },
}

impl ObjectRecord {
    /// The bytes a legacy binding MAC covers: the row's identity and its blob.
    pub fn binding_data(&self) -> Vec<u8> {
        let mut out = b"itarvault/row-binding/v1\0".to_vec();
        for part in [
            self.bucket.as_str(),
            self.key.as_str(),
            self.version.as_str(),
            self.blob.as_str(),
            &self.label.to_string(),
        ] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

fn label_text<S: serde::Serializer>(l: &Label, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(l)
}

/// A version that records a deletion: the object reads as absent while it is current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteMarker {
    pub bucket: String,
    pub key: String,
    pub version: VersionId,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub created_by: String,
}

/// Any version of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Version {
    Object(ObjectRecord),
    DeleteMarker(DeleteMarker),
}

impl Version {
    pub fn key(&self) -> &str {
        match self {
            Self::Object(o) => &o.key,
            Self::DeleteMarker(m) => &m.key,
        }
    }
    pub fn version(&self) -> &VersionId {
        match self {
            Self::Object(o) => &o.version,
            Self::DeleteMarker(m) => &m.version,
        }
    }
    pub fn created_by(&self) -> &str {
        match self {
            Self::Object(o) => &o.created_by,
            Self::DeleteMarker(m) => &m.created_by,
        }
    }
    pub fn as_object(&self) -> Option<&ObjectRecord> {
        match self {
            Self::Object(o) => Some(o),
            Self::DeleteMarker(_) => None,
        }
    }
}

/// One page of a listing of current objects; `next` continues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectPage {
    pub objects: Vec<ObjectRecord>,
    pub next: Option<String>,
}

/// One page of a listing of every version, newest first within a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionPage {
    pub versions: Vec<Version>,
    /// An opaque cursor for the next page.
    pub next: Option<String>,
}

/// Principals and the authorizations they hold: the facts export decisions use.
pub trait Registry: Send + Sync + fmt::Debug {
    fn add_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError>;
    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError>;
    fn principals(&self) -> Result<Vec<PrincipalRecord>, StoreError>;
    fn set_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError>;
    fn add_authorization(&self, a: &AuthorizationRecord) -> Result<(), StoreError>;
    fn revoke_authorization(&self, principal: &str, id: &str) -> Result<(), StoreError>;
    /// A principal's authorizations, revoked ones included (they say so).
    fn authorizations(&self, principal: &str) -> Result<Vec<AuthorizationRecord>, StoreError>;
}

/// API tokens, and the identities outside credentials must carry.
pub trait Credentials: Send + Sync + fmt::Debug {
    /// Replaces a principal's bindings.
    fn set_bindings(&self, principal: &str, bindings: &Bindings) -> Result<(), StoreError>;
    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError>;
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn revoke_token(&self, id: &str) -> Result<(), StoreError>;
    fn tokens(&self, principal: &str) -> Result<Vec<TokenRecord>, StoreError>;
}

/// Buckets.
pub trait Buckets: Send + Sync + fmt::Debug {
    fn add_bucket(&self, b: &BucketRecord) -> Result<(), StoreError>;
    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError>;
    fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError>;
}

/// Objects and their versions. Each call is one transaction.
pub trait Objects: Send + Sync + fmt::Debug {
    /// Makes `v` the current version of its key; returns the version it superseded.
    fn put_version(&self, v: &Version) -> Result<Option<Version>, StoreError>;
    /// Removes the oldest old versions of a key beyond `keep`; returns the objects
    /// removed (their blobs can be deleted).
    fn prune(&self, bucket: &str, key: &str, keep: u32) -> Result<Vec<ObjectRecord>, StoreError>;
    /// The current version of a key (`version` None), or the named version.
    fn version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&VersionId>,
    ) -> Result<Option<Version>, StoreError>;
    /// Removes one version for good; the next newest becomes current if it was.
    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &VersionId,
    ) -> Result<Option<Version>, StoreError>;
    /// Current objects (not delete markers) whose key starts with `prefix`, after
    /// `after`, in key order.
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StoreError>;
    /// Every version under `prefix`, by key, newest first; `after` is a page's `next`.
    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<VersionPage, StoreError>;
    /// Blob ids referenced in `backend` (for the orphan sweep).
    fn blob_refs(&self, backend: &str) -> Result<Vec<BlobId>, StoreError>;
    /// Versions still stored in format 1 (oldest first), at most `limit`.
    fn legacy_versions(&self, limit: usize) -> Result<Vec<ObjectRecord>, StoreError>;
    /// How many versions are still stored in format 1.
    fn legacy_count(&self) -> Result<u64, StoreError>;
    /// Records the binding of a format 1 version that has none yet.
    fn bind_legacy(
        &self,
        o: &ObjectRecord,
        key_version: u32,
        tag: &[u8; 32],
    ) -> Result<(), StoreError>;
    /// Points a format 1 version at its rewritten blob, if the row still points at
    /// `o.blob` (compare-and-swap); returns whether it did. The version is then no
    /// longer legacy.
    fn upgrade_blob(
        &self,
        o: &ObjectRecord,
        blob: &BlobId,
        envelope_size: u64,
    ) -> Result<bool, StoreError>;
}

/// Lockbox records, changed only by compare-and-swap.
pub trait LockboxRecords: Send + Sync + fmt::Debug {
    fn add_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError>;
    fn lockbox(&self, id: &str) -> Result<Option<LockboxRecord>, StoreError>;
    /// Records of `kind` (of `subject` if given), oldest first.
    fn lockbox_list(
        &self,
        kind: LockboxKind,
        subject: Option<&str>,
    ) -> Result<Vec<LockboxRecord>, StoreError>;
    /// Replaces the body if the stored version is still `r.version` (and bumps it);
    /// [`StoreError::Conflict`] if another change came first.
    fn update_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError>;
}

/// Settings that only a quorum changes once adopted (the server's typed document).
pub trait Settings: Send + Sync + fmt::Debug {
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError>;
}

/// Everything a server node keeps besides blobs. A backend shared by several nodes
/// (PostgreSQL) must give the same answers as the embedded one, which the
/// [`crate::conformance`] suite checks.
pub trait Metadata: Registry + Credentials + Buckets + Objects + LockboxRecords + Settings {}

impl<T: Registry + Credentials + Buckets + Objects + LockboxRecords + Settings> Metadata for T {}
