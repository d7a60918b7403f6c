//! A read cache in front of the registry lookups that every request makes.
//!
//! Authenticating a request and deciding on it read a token, a principal, that
//! principal's authorizations and a bucket: four database transactions of a small read's
//! handful, each paying for its own lock. They change only through an admin call, and
//! every supported writer is this process, so the answers can be kept in memory.
//!
//! Coherence: every write through the cache empties it, after the write. A lookup that
//! raced a write (read the old row, then the write emptied the cache) must not put the
//! old row back: a generation counter, bumped by every write, tells it not to. So a
//! revoked token or a disabled principal is refused from the next request on, exactly
//! as without the cache. Objects and lockbox records are not cached: they change on the
//! data path, and the lockbox counts uses.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

use crate::meta::{
    AuthorizationRecord, Bindings, BucketRecord, Buckets, Credentials, LockboxKind, LockboxRecord,
    LockboxRecords, Metadata, ObjectPage, ObjectRecord, Objects, PrincipalRecord, Registry,
    Settings, TokenRecord, Version, VersionId, VersionPage,
};
use crate::{BlobId, StoreError};

/// Entries per map before it is emptied (a bound, not a working-set size: ids that
/// look up to nothing are never kept, so only registered names fill it).
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
struct Maps {
    generation: u64,
    tokens: HashMap<String, TokenRecord>,
    principals: HashMap<String, PrincipalRecord>,
    authorizations: HashMap<String, Vec<AuthorizationRecord>>,
    buckets: HashMap<String, BucketRecord>,
}

/// [`Metadata`] with the registry's hot lookups kept in memory (see the module docs).
pub struct Cached<M> {
    inner: M,
    maps: Mutex<Maps>,
}

impl<M: fmt::Debug> fmt::Debug for Cached<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<M: Metadata> Cached<M> {
    pub fn new(inner: M) -> Self {
        Self {
            inner,
            maps: Mutex::new(Maps::default()),
        }
    }

    fn maps(&self) -> MutexGuard<'_, Maps> {
        self.maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs a write, then empties the cache (whether or not the write succeeded: a
    /// failed one may still have changed something).
    fn write<T>(&self, f: impl FnOnce(&M) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let res = f(&self.inner);
        self.invalidate();
        res
    }

    /// Empties the cache: for a write this process did not make (another node's,
    /// announced by the shared store).
    pub fn invalidate(&self) {
        let mut m = self.maps();
        let generation = m.generation.wrapping_add(1);
        *m = Maps {
            generation,
            ..Maps::default()
        };
    }

    /// A cached lookup: the map's entry, or the database's answer, kept if it exists and
    /// no write came in between.
    fn read<K, V>(
        &self,
        key: &K,
        map: impl Fn(&mut Maps) -> &mut HashMap<K, V>,
        load: impl FnOnce(&M) -> Result<Option<V>, StoreError>,
    ) -> Result<Option<V>, StoreError>
    where
        K: Hash + Eq + Clone,
        V: Clone,
    {
        let generation = {
            let mut m = self.maps();
            if let Some(v) = map(&mut m).get(key) {
                return Ok(Some(v.clone()));
            }
            m.generation
        };
        let found = load(&self.inner)?;
        if let Some(v) = &found {
            let mut m = self.maps();
            if m.generation == generation {
                let entries = map(&mut m);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(key.clone(), v.clone());
            }
        }
        Ok(found)
    }
}

impl<M: Metadata> Registry for Cached<M> {
    fn add_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError> {
        self.write(|m| m.add_principal(p))
    }
    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        self.read(&id.to_owned(), |m| &mut m.principals, |m| m.principal(id))
    }
    fn principals(&self) -> Result<Vec<PrincipalRecord>, StoreError> {
        self.inner.principals()
    }
    fn set_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError> {
        self.write(|m| m.set_disabled(id, disabled))
    }
    fn add_authorization(&self, a: &AuthorizationRecord) -> Result<(), StoreError> {
        self.write(|m| m.add_authorization(a))
    }
    fn revoke_authorization(&self, principal: &str, id: &str) -> Result<(), StoreError> {
        self.write(|m| m.revoke_authorization(principal, id))
    }
    fn authorizations(&self, principal: &str) -> Result<Vec<AuthorizationRecord>, StoreError> {
        let found = self.read(
            &principal.to_owned(),
            |m| &mut m.authorizations,
            |m| m.authorizations(principal).map(Some),
        )?;
        Ok(found.unwrap_or_default())
    }
}

impl<M: Metadata> Credentials for Cached<M> {
    fn set_bindings(&self, principal: &str, bindings: &Bindings) -> Result<(), StoreError> {
        self.write(|m| m.set_bindings(principal, bindings))
    }
    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.write(|m| m.add_token(t))
    }
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read(&id.to_owned(), |m| &mut m.tokens, |m| m.token(id))
    }
    fn revoke_token(&self, id: &str) -> Result<(), StoreError> {
        self.write(|m| m.revoke_token(id))
    }
    fn tokens(&self, principal: &str) -> Result<Vec<TokenRecord>, StoreError> {
        self.inner.tokens(principal)
    }
}

impl<M: Metadata> Buckets for Cached<M> {
    fn add_bucket(&self, b: &BucketRecord) -> Result<(), StoreError> {
        self.write(|m| m.add_bucket(b))
    }
    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        self.read(&name.to_owned(), |m| &mut m.buckets, |m| m.bucket(name))
    }
    fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        self.inner.buckets()
    }
}

/// Objects change on the data path and are never cached.
impl<M: Metadata> Objects for Cached<M> {
    fn put_version(&self, v: &Version) -> Result<Option<Version>, StoreError> {
        self.inner.put_version(v)
    }
    fn prune(&self, bucket: &str, key: &str, keep: u32) -> Result<Vec<ObjectRecord>, StoreError> {
        self.inner.prune(bucket, key, keep)
    }
    fn version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&VersionId>,
    ) -> Result<Option<Version>, StoreError> {
        self.inner.version(bucket, key, version)
    }
    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &VersionId,
    ) -> Result<Option<Version>, StoreError> {
        self.inner.delete_version(bucket, key, version)
    }
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StoreError> {
        self.inner.list_objects(bucket, prefix, after, limit)
    }
    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<VersionPage, StoreError> {
        self.inner.list_versions(bucket, prefix, after, limit)
    }
    fn blob_refs(&self, backend: &str) -> Result<Vec<BlobId>, StoreError> {
        self.inner.blob_refs(backend)
    }
    fn legacy_versions(&self, limit: usize) -> Result<Vec<ObjectRecord>, StoreError> {
        self.inner.legacy_versions(limit)
    }
    fn legacy_count(&self) -> Result<u64, StoreError> {
        self.inner.legacy_count()
    }
    fn bind_legacy(
        &self,
        o: &ObjectRecord,
        key_version: u32,
        tag: &[u8; 32],
    ) -> Result<(), StoreError> {
        self.inner.bind_legacy(o, key_version, tag)
    }
    fn upgrade_blob(
        &self,
        o: &ObjectRecord,
        blob: &BlobId,
        envelope_size: u64,
    ) -> Result<bool, StoreError> {
        self.inner.upgrade_blob(o, blob, envelope_size)
    }
}

/// Lockbox records count uses and change by compare-and-swap: never cached.
impl<M: Metadata> LockboxRecords for Cached<M> {
    fn add_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError> {
        self.inner.add_lockbox(r)
    }
    fn lockbox(&self, id: &str) -> Result<Option<LockboxRecord>, StoreError> {
        self.inner.lockbox(id)
    }
    fn lockbox_list(
        &self,
        kind: LockboxKind,
        subject: Option<&str>,
    ) -> Result<Vec<LockboxRecord>, StoreError> {
        self.inner.lockbox_list(kind, subject)
    }
    fn update_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError> {
        self.inner.update_lockbox(r)
    }
}

impl<M: Metadata> Settings for Cached<M> {
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.inner.setting(name)
    }
    fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.write(|m| m.set_setting(name, value))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a failure should panic")]

    use super::*;
    use crate::SqliteMetadata;
    use time::OffsetDateTime;

    fn token(id: &str) -> TokenRecord {
        TokenRecord {
            id: id.into(),
            principal: "alice".into(),
            purpose: crate::TokenPurpose::Access,
            secret_hash: [7; 32],
            created: OffsetDateTime::UNIX_EPOCH,
            expires: None,
            revoked: false,
        }
    }

    /// A lookup that read the row before a revocation, and finishes after it, must not
    /// put the old row back: the next lookup sees the revocation.
    #[test]
    fn a_lookup_that_raced_a_revocation_does_not_cache_the_old_row() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cached::new(SqliteMetadata::open(&dir.path().join("meta.db")).unwrap());
        crate::conformance::all(&c).unwrap();
        c.add_token(&token("t2")).unwrap();
        let stale = c
            .read(
                &"t2".to_owned(),
                |m| &mut m.tokens,
                |inner| {
                    let before = inner.token("t2");
                    c.revoke_token("t2").unwrap();
                    before
                },
            )
            .unwrap()
            .unwrap();
        assert!(!stale.revoked, "the racing lookup itself saw the old row");
        assert!(c.token("t2").unwrap().unwrap().revoked);
    }

    #[test]
    fn writes_empty_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cached::new(SqliteMetadata::open(&dir.path().join("meta.db")).unwrap());
        crate::conformance::all(&c).unwrap();
        for disabled in [false, true, false] {
            c.set_disabled("alice", disabled).unwrap();
            assert_eq!(c.principal("alice").unwrap().unwrap().disabled, disabled);
        }
        c.add_token(&token("t3")).unwrap();
        assert!(!c.token("t3").unwrap().unwrap().revoked);
        c.revoke_token("t3").unwrap();
        assert!(c.token("t3").unwrap().unwrap().revoked);
        assert!(c.token("nobody").unwrap().is_none());
        assert!(
            !c.maps().tokens.contains_key("nobody"),
            "absent ids are not kept"
        );
    }
}
