//! Metadata: the rows the server keeps besides blobs.

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::StoreError;

/// A person or service the vault knows, with the facts export decisions need. Values
/// are validated by the server before they are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalRecord {
    pub id: String,
    /// A `person_status` of `shared/spec/decision.md`.
    pub person_status: String,
    pub citizenships: Vec<String>,
    pub permanent_residence: Option<String>,
    /// `admin`, `auditor`, ... (the server defines them).
    pub roles: Vec<String>,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// A license, agreement or exemption held by a principal, in the spec's JSON form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthorizationRecord {
    pub principal: String,
    pub id: String,
    pub body: serde_json::Value,
    pub revoked: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub added: OffsetDateTime,
}

/// An API token. Only the SHA-256 of its secret is kept.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub principal: String,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketRecord {
    pub name: String,
    /// The key-encryption key every object of the bucket is wrapped under.
    pub key_id: String,
    /// The storage backend its blobs go to.
    pub backend: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Who approves access requests to the bucket's content.
    pub owners: Vec<String>,
}

/// A lockbox access request or quorum proposal. The body is the lockbox crate's JSON;
/// `version` makes every state change a compare-and-swap, so that two approvers acting
/// at once cannot both count, and nothing is lost between nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockboxRecord {
    pub id: String,
    /// `access` or `quorum`.
    pub kind: String,
    /// The requester or proposer.
    pub subject: String,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRecord {
    pub bucket: String,
    pub key: String,
    #[serde(skip)]
    pub blob: String,
    pub backend: String,
    /// Canonical text label; the envelope holds the authenticated copy.
    pub label: String,
    pub size: u64,
    pub envelope_size: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub created_by: String,
}

/// One page of a listing; `next` continues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectPage {
    pub objects: Vec<ObjectRecord>,
    pub next: Option<String>,
}

/// The metadata a server node needs. Every method is one transaction; a backend shared
/// by several nodes (PostgreSQL) must give the same answers as the embedded one, which
/// the [`crate::conformance`] suite checks.
pub trait Metadata: Send + Sync + fmt::Debug {
    fn add_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError>;
    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError>;
    fn principals(&self) -> Result<Vec<PrincipalRecord>, StoreError>;
    fn set_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError>;

    fn add_authorization(&self, a: &AuthorizationRecord) -> Result<(), StoreError>;
    fn revoke_authorization(&self, principal: &str, id: &str) -> Result<(), StoreError>;
    /// A principal's authorizations, revoked ones included (they say so).
    fn authorizations(&self, principal: &str) -> Result<Vec<AuthorizationRecord>, StoreError>;

    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError>;
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn revoke_token(&self, id: &str) -> Result<(), StoreError>;
    fn tokens(&self, principal: &str) -> Result<Vec<TokenRecord>, StoreError>;

    fn add_bucket(&self, b: &BucketRecord) -> Result<(), StoreError>;
    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError>;
    fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError>;

    /// Inserts or replaces an object; returns the record it replaced.
    fn put_object(&self, o: &ObjectRecord) -> Result<Option<ObjectRecord>, StoreError>;
    fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError>;
    fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError>;
    /// Objects whose key starts with `prefix`, after `after`, in key order.
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StoreError>;
    /// Blob ids referenced in `backend` (for the orphan sweep).
    fn blob_refs(&self, backend: &str) -> Result<Vec<String>, StoreError>;

    fn add_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError>;
    fn lockbox(&self, id: &str) -> Result<Option<LockboxRecord>, StoreError>;
    /// Records of `kind` (of `subject` if given), oldest first.
    fn lockbox_list(
        &self,
        kind: &str,
        subject: Option<&str>,
    ) -> Result<Vec<LockboxRecord>, StoreError>;
    /// Replaces the body if the stored version is still `r.version` (and bumps it);
    /// [`StoreError::Conflict`] if another change came first.
    fn update_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError>;

    /// Organisation settings that only a quorum changes (residency mode, approved
    /// backends and policies).
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError>;
}
