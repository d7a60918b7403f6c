//! Where itarvault keeps things: object metadata, principals, tokens, buckets
//! ([`Metadata`]) and envelope blobs ([`BlobStore`]).
//!
//! Both are small traits so that PostgreSQL and S3-compatible backends can stand beside
//! the embedded defaults ([`SqliteMetadata`], [`LocalBlobStore`]). Every backend runs
//! the same [`conformance`] suite. Blobs only ever hold envelopes (ciphertext): the
//! server encrypts before anything reaches a [`BlobWriter`].
//!
//! Crash safety: a blob becomes visible only through a committed metadata row, and a
//! row is written only after its blob was durably renamed into place. A crash leaves at
//! worst an unreferenced blob, which [`sweep_orphans`] removes.
//!
//! ```
//! use std::io::Write;
//! use itarvault_store::{BlobStore, LocalBlobStore};
//!
//! let dir = tempfile::tempdir()?;
//! let blobs = LocalBlobStore::open(dir.path())?;
//! let mut w = blobs.create()?;
//! w.write_all(b"ciphertext")?;
//! let id = w.commit()?;
//! let mut back = Vec::new();
//! std::io::Read::read_to_end(&mut blobs.open(&id)?, &mut back)?;
//! assert_eq!(back, b"ciphertext");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod blob;
pub mod cache;
pub mod conformance;
pub mod doc;
pub mod meta;
pub mod sqlite;

pub use blob::{BlobId, BlobStore, BlobWriter, LocalBlobStore};
pub use cache::Cached;
pub use meta::{
    AuthorizationRecord, Bindings, BucketRecord, Buckets, CertificateBinding, Credentials,
    DeleteMarker, Legacy, LockboxKind, LockboxRecord, LockboxRecords, Metadata, ObjectPage,
    ObjectRecord, Objects, OidcBinding, PersonFacts, PrincipalRecord, Registry, Role, Settings,
    TokenPurpose, TokenRecord, Version, VersionId, VersionPage, DEFAULT_VERSIONS_KEPT,
};
pub use sqlite::SqliteMetadata;

use std::io;
use std::path::PathBuf;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} was changed by someone else at the same time; read it again and retry")]
    Conflict(String),
    #[error("`{0}` is not a valid blob id (caller bug or tampered metadata)")]
    BadBlobId(String),
    #[error("metadata database error: {0}\ncheck the data directory's disk and permissions")]
    Database(String),
    /// A row holds something this release cannot read as what it should be: edited by
    /// hand, damaged, or written by a newer release. Never guessed at.
    #[error("the metadata database is damaged or was edited: {0}\nrestore it from a backup; `itarvault audit verify` shows what was recorded")]
    Corrupt(String),
    #[error("`{0}` is not a listing cursor this server returned")]
    BadCursor(String),
    #[error(
        "metadata database `{0}` was written by a newer itarvault (schema {1}); upgrade itarvault"
    )]
    SchemaTooNew(PathBuf, i64),
    #[error("{1}: `{0}`")]
    Io(PathBuf, #[source] io::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// Deletes blobs that no metadata row refers to: the leftovers of uploads that a crash
/// interrupted between the blob's rename and the row's commit. Returns how many.
pub fn sweep_orphans(meta: &dyn Objects, blobs: &dyn BlobStore) -> Result<usize, StoreError> {
    let referenced: std::collections::HashSet<BlobId> =
        meta.blob_refs(blobs.name())?.into_iter().collect();
    let mut removed = 0;
    for id in blobs.list()? {
        if !referenced.contains(&id) {
            blobs.delete(&id)?;
            removed += 1;
        }
    }
    Ok(removed)
}
