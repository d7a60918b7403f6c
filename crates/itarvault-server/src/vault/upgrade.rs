//! Objects stored before envelopes named their object (format 1): bound to their rows
//! at start, then rewritten in format 2 by a background job.
//!
//! Until an object is rewritten, a read checks a MAC over its row (bucket, key,
//! version, blob, label) under a keystore key: someone who edits the database but does
//! not hold the keystore cannot point a row at another object's blob. The rewrite
//! replaces only the header (the body's keys and chunks depend on the data key and the
//! object id, which stay), copies the body, and swaps the row's blob by
//! compare-and-swap; each object is one step, so an interrupted job resumes where it
//! stopped.

use std::io::{self, Write};

use itarvault_format::{upgraded, ObjectIdentity, VERSION_1};
use itarvault_keys::KeyRef;
use itarvault_store::{Legacy, ObjectRecord};

use super::Vault;
use crate::error::Error;

/// The key-encryption key whose MAC binds format 1 rows to their blobs.
pub(super) const BINDING_KEY: &str = "system/row-binding";

/// Rows read per step of the binding pass and the job.
const BATCH: usize = 256;

impl Vault {
    /// Binds every format 1 row that has no binding yet; run at start, before serving.
    /// Returns how many it bound.
    pub fn bind_legacy_rows(&self) -> Result<usize, Error> {
        if self.objects.legacy_count()? == 0 {
            return Ok(0);
        }
        if itarvault_keys::KeyProvider::describe(self.keystore.as_ref(), BINDING_KEY).is_err() {
            self.keystore.create_key(BINDING_KEY).map_err(|e| {
                Error::unavailable("keystore", format!("creating the binding key failed: {e}"))
            })?;
        }
        let mut bound = 0;
        for o in self.objects.legacy_versions(usize::MAX)? {
            if o.legacy != Some(Legacy::Unbound) {
                continue;
            }
            let (key_version, tag) = self
                .keystore
                .mac(BINDING_KEY, &o.binding_data())
                .map_err(|e| Error::unavailable("keystore", e.to_string()))?;
            self.objects.bind_legacy(&o, key_version, &tag)?;
            bound += 1;
        }
        Ok(bound)
    }

    /// How many versions are still in format 1 (the posture reports it).
    pub fn legacy_remaining(&self) -> Result<u64, Error> {
        Ok(self.objects.legacy_count()?)
    }

    /// Rewrites every format 1 object in format 2, one at a time, recording each in the
    /// audit trail. Returns how many it rewrote; an object it cannot rewrite (damaged,
    /// key unusable) is recorded and left in format 1 (reads of it still check its
    /// binding).
    pub async fn upgrade_legacy(self: &std::sync::Arc<Self>) -> Result<usize, Error> {
        let mut done = 0;
        let mut failed = std::collections::HashSet::new();
        loop {
            let batch: Vec<ObjectRecord> = self
                .objects
                .legacy_versions(BATCH + failed.len())?
                .into_iter()
                .filter(|o| !failed.contains(&o.version))
                .collect();
            if batch.is_empty() {
                return Ok(done);
            }
            for o in batch {
                let vault = self.clone();
                let object = o.clone();
                let res = tokio::task::spawn_blocking(move || vault.upgrade_one(&object))
                    .await
                    .map_err(|e| Error::bug(format!("upgrade task failed: {e}")))?;
                let mut event =
                    itarvault_audit::Event::new("object.upgrade", "ok").object(&o.bucket, &o.key);
                event.label = Some(o.label.to_string());
                match res {
                    Ok(keys) => {
                        event.key = Some(keys);
                        event.detail = Some(format!(
                            "version {} rewritten in envelope format 2 (bound to its bucket, key and version)",
                            o.version
                        ));
                        done += 1;
                    }
                    Err(e) => {
                        event.outcome = "error".into();
                        event.detail = Some(format!(
                            "version {} left in format 1: {}",
                            o.version,
                            e.message()
                        ));
                        failed.insert(o.version.clone());
                    }
                }
                self.record(vec![event]).await?;
            }
        }
    }

    /// One step of the job: new header, same body, row swapped by compare-and-swap.
    fn upgrade_one(&self, o: &ObjectRecord) -> Result<String, Error> {
        if !self.legacy_bound(o) {
            return Err(Error::integrity(
                "the row's binding to its blob does not verify: the metadata or the blob was altered",
            ));
        }
        let backend = self.backend(&o.backend)?;
        let mut body = backend.store.open(&o.blob)?;
        let (header, dek) = self
            .keyring
            .open_header(&mut body)
            .map_err(|e| Error::unavailable("object-unreadable", e.to_string()))?;
        if header.params.version != VERSION_1 || header.params.label != o.label {
            return Err(Error::integrity(
                "the blob is not the format 1 envelope its row records",
            ));
        }
        let identity = ObjectIdentity {
            bucket: o.bucket.clone(),
            key: o.key.clone(),
            version: o.version.to_string(),
        };
        let params = upgraded(&header.params, identity.clone());
        let keys: Vec<KeyRef> = header
            .wraps
            .iter()
            .map(|w| KeyRef {
                provider: w.provider.clone(),
                key_id: w.key_id.clone(),
            })
            .collect();
        let wraps = self
            .keyring
            .wrap_all(&keys, &dek, &params)
            .map_err(|e| Error::unavailable("key", e.to_string()))?;
        let new_header = itarvault_format::upgrade(&header, identity, &dek, &wraps)
            .map_err(|e| Error::bug(format!("re-encoding the header: {e}")))?;
        drop(dek);
        let io = |e: io::Error| Error::unavailable("storage-unavailable", e.to_string());
        let mut out = backend.store.create()?;
        out.write_all(&new_header).map_err(io)?;
        let body_len = io::copy(&mut body, &mut out).map_err(io)?;
        let blob = out.commit()?;
        let envelope_size = new_header.len() as u64 + body_len;
        if self.objects.upgrade_blob(o, &blob, envelope_size)? {
            if let Err(e) = backend.store.delete(&o.blob) {
                tracing::warn!(error = %e, "could not delete a rewritten object's old blob; the orphan sweep will");
            }
        } else {
            // The row changed meanwhile (deleted, or already rewritten): keep it as is.
            let _ = backend.store.delete(&blob);
        }
        Ok(wraps
            .iter()
            .map(|w| {
                format!(
                    "unwrap and wrap {}:{} v{}",
                    w.provider, w.key_id, w.key_version
                )
            })
            .collect::<Vec<_>>()
            .join(", "))
    }
}
