//! Objects: streamed in and out, encrypted at rest, every version kept up to the
//! bucket's bound. What reaches these functions already passed the gate; what they
//! release or change is recorded before the caller sees it.

use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use itarvault_audit::{Event, Reason as AuditReason};
use itarvault_keys::KeyRef;
use std::sync::atomic::{AtomicU64, Ordering};

use itarvault_format::ObjectIdentity;
use itarvault_lockbox::ContentAction;
use itarvault_store::{DeleteMarker, Legacy, ObjectRecord, Version, VersionId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::gate::{Authorized, BucketList, ObjectDelete, ObjectRead, ObjectWrite};
use super::{bump, Vault};
use crate::config::OnMismatch;
use crate::error::{Detail, Error};
use crate::limits::{BodyTooSlow, Busy};
use crate::pipeline::{self, PipelineError};

/// A body of plaintext on its way to the client.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send>>;

/// What an allowed read hands the client.
pub enum Release {
    /// A small object, already decrypted and authenticated whole.
    Whole(ObjectRecord, Bytes),
    /// A larger one, each chunk released once it authenticated.
    Stream(ObjectRecord, BodyStream),
}

impl std::fmt::Debug for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, o) = match self {
            Self::Whole(o, _) => ("whole", o),
            Self::Stream(o, _) => ("stream", o),
        };
        f.debug_struct("Release")
            .field("kind", &kind)
            .field("object", &o.key)
            .finish_non_exhaustive()
    }
}

/// `?prefix=&after=&limit=&versions=` of a listing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub prefix: String,
    pub after: Option<String>,
    pub limit: Option<usize>,
    #[serde(default)]
    pub versions: bool,
}

/// A page of a listing, with only what the caller may see.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Listing {
    Objects {
        objects: Vec<ObjectRecord>,
        next: Option<String>,
    },
    Versions {
        versions: Vec<Version>,
        next: Option<String>,
    },
}

/// The rules a content check relied on, as audit reasons (`scan:<rule>`, citation).
fn scan_reasons(rules: &[String], scanner: &itarvault_scan::Scanner) -> Vec<AuditReason> {
    let mut out: Vec<AuditReason> = Vec::new();
    for id in rules {
        if out
            .iter()
            .any(|r| r.rule.strip_prefix("scan:") == Some(id.as_str()))
        {
            continue;
        }
        let cite = scanner
            .rules()
            .find(|r| &r.id == id)
            .map(|r| r.cite.clone());
        out.push(AuditReason {
            rule: format!("scan:{id}"),
            cite: cite.unwrap_or_default(),
        });
    }
    out
}

fn pipeline_error(e: PipelineError) -> Error {
    match &e {
        PipelineError::TooLarge(_) => Error::TooLarge(Detail {
            error: "too-large",
            message: e.to_string(),
            ..Detail::default()
        }),
        PipelineError::Body(_) => Error::invalid("incomplete-body", e.to_string()).hint(
            "the connection closed before the whole body arrived; nothing was stored, retry the upload",
        ),
        PipelineError::Content(refusal) => Error::Unprocessable(Detail {
            error: refusal.code(),
            message: refusal.to_string(),
            hint: Some(refusal.hint()),
            ..Detail::default()
        }),
        PipelineError::Seal(_) | PipelineError::Open(_) => {
            Error::unavailable("crypto-failed", format!("the envelope operation failed: {e}"))
        }
        PipelineError::Store(_) | PipelineError::Write(_) => {
            Error::unavailable("storage-unavailable", format!("storing the object failed: {e}"))
        }
        PipelineError::LabelMismatch { .. }
        | PipelineError::IdentityMismatch { .. }
        | PipelineError::LegacyUnbound => Error::integrity(e.to_string()),
        PipelineError::ScanFailed | PipelineError::Task(_) | PipelineError::Stopped => {
            Error::bug(e.to_string())
        }
    }
}

impl Vault {
    /// The metadata of an allowed HEAD (the gate recorded the release).
    pub fn head_object(&self, auth: &Authorized<ObjectRead>) -> ObjectRecord {
        auth.target().object.clone()
    }

    /// Opens an allowed object and releases its plaintext. Unwrapping the data key is a
    /// key use; it and the release are recorded before the first byte leaves.
    pub async fn get_object(&self, auth: Authorized<ObjectRead>) -> Result<Release, Error> {
        let ObjectRead {
            backend, object, ..
        } = auth.target();
        let mut event = auth.event("ok");
        event.action = Some("read".into());
        event.bucket = Some(object.bucket.clone());
        event.object = Some(object.key.clone());
        event.label = Some(object.label.to_string());
        let (size, whole) = (object.size, object.size <= pipeline::WHOLE_MAX);
        let expected = pipeline::Expected {
            label: object.label.clone(),
            identity: identity_of(object),
            legacy_bound: self.legacy_bound(object),
        };
        let opened = {
            let keyring = self.keyring.clone();
            let store = backend.store.clone();
            let blob = object.blob.clone();
            tokio::task::spawn_blocking(move || {
                let op = pipeline::open_blob(&keyring, store.as_ref(), &blob, &expected)?;
                let keys = op.keys.clone();
                let release = if whole {
                    Opened::Whole(pipeline::open_whole(op, size)?)
                } else {
                    Opened::Stream(Box::new(op))
                };
                Ok::<_, PipelineError>((keys, release))
            })
            .await
        };
        let (keys, opened) = match opened {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let err = match e {
                    PipelineError::LabelMismatch { .. }
                    | PipelineError::IdentityMismatch { .. }
                    | PipelineError::LegacyUnbound => pipeline_error(e),
                    other => Error::unavailable(
                        "object-unreadable",
                        format!("opening the object failed: {other}"),
                    ),
                };
                return Err(self.fail(event, err).await);
            }
            Err(e) => {
                return Err(self
                    .fail(event, Error::bug(format!("open task failed: {e}")))
                    .await)
            }
        };
        event.key = Some(format!("unwrap {keys}"));
        event.detail = Some(format!("{size} bytes released"));
        // The release is durable in the audit trail before the first byte leaves.
        self.record(vec![event.clone()]).await?;
        let object = object.clone();
        match opened {
            Opened::Whole(plain) => {
                bump(&self.metrics.bytes_out, plain.len() as u64);
                Ok(Release::Whole(object, plain))
            }
            Opened::Stream(op) => {
                let guard = self.stream_guard(&auth);
                Ok(Release::Stream(
                    object,
                    self.stream(*op, size, event, guard),
                ))
            }
        }
    }

    /// Decrypts a batch at a time on blocking threads as the HTTP body asks for it,
    /// one batch ahead: a client that reads slowly holds no thread. Before each batch
    /// goes to the client the guard re-checks what allowed the read (the grant, the
    /// principal): after a revoke or a grant's end nothing further is released and the
    /// body ends in error. An early end (a damaged body, a revoked grant) is recorded.
    fn stream(
        &self,
        opened: pipeline::Opened,
        size: u64,
        release: Event,
        guard: StreamGuard,
    ) -> BodyStream {
        let mut end = release;
        end.kind = "object.get.end".into();
        end.outcome = "error".into();
        end.reasons.clear();
        end.key = None;
        let state = Streaming {
            next: Some(decrypt_batch(pipeline::Opening::new(opened, size))),
            guard,
            metrics: self.metrics.clone(),
            audit: self.audit.clone(),
            end,
        };
        Box::pin(futures_util::stream::unfold(state, |mut st| async move {
            let (opening, item) = match st.next.take()?.await {
                Ok(r) => r,
                Err(e) => {
                    let e = PipelineError::Task(e.to_string());
                    return Some((Err(st.ended(e.to_string()).await), st));
                }
            };
            let bytes = match item {
                Ok(Some(b)) => b,
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "download ended early");
                    return Some((Err(st.ended(e.to_string()).await), st));
                }
            };
            if let Err(why) = st.guard.check() {
                let detail = format!("released no further chunk: {why}");
                return Some((Err(st.ended(detail).await), st));
            }
            st.next = Some(decrypt_batch(opening));
            bump(&st.metrics.bytes_out, bytes.len() as u64);
            Some((Ok(bytes), st))
        }))
    }

    fn stream_guard(&self, auth: &Authorized<ObjectRead>) -> StreamGuard {
        StreamGuard {
            registry: self.registry.clone(),
            lockbox: self.lockbox.clone(),
            changes: self.changes.clone(),
            seen: self.changes.load(Ordering::SeqCst),
            principal: auth.caller().id().to_owned(),
            grant: auth.grant().map(|g| {
                let o = &auth.target().object;
                (g.to_owned(), o.bucket.clone(), o.key.clone())
            }),
            not_after: None,
            first: auth.grant().is_some(),
        }
    }

    /// Whether a format 1 version's row carries a valid keystore binding to its blob.
    pub(super) fn legacy_bound(&self, o: &ObjectRecord) -> bool {
        match &o.legacy {
            Some(Legacy::Bound { key_version, tag }) => self
                .keystore
                .verify_mac(
                    super::upgrade::BINDING_KEY,
                    *key_version,
                    &o.binding_data(),
                    tag,
                )
                .unwrap_or(false),
            _ => false,
        }
    }

    /// Stores an allowed upload as the key's new current version. Nothing is visible
    /// unless the envelope is durable, its row committed and its record written.
    pub async fn put_object<S, E>(
        &self,
        auth: Authorized<ObjectWrite>,
        body: S,
    ) -> Result<ObjectRecord, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let ObjectWrite {
            bucket,
            backend,
            key,
            label,
        } = auth.target();
        let mut event = auth.event("ok");
        event.action = Some("write".into());
        event.bucket = Some(bucket.name.clone());
        event.object = Some(key.clone());
        event.label = Some(label.to_string());
        let version = match VersionId::random() {
            Ok(v) => v,
            Err(e) => return Err(self.fail(event, e.into()).await),
        };
        // A slot first: a flood of uploads is refused before it costs a key use.
        let _slot = match self.uploads.acquire(auth.caller().id()) {
            Ok(slot) => slot,
            Err(busy) => {
                let err = match busy {
                    Busy::Server(_) => Error::unavailable("server-busy", busy.to_string()),
                    Busy::Principal(_) => Error::too_many("too-many-uploads", busy.to_string()),
                };
                let err = err
                    .retry_after(5)
                    .hint("retry when one of the running uploads has finished");
                return Err(self.fail(event, err).await);
            }
        };
        let mut upload = {
            let keyring = self.keyring.clone();
            let label = label.clone();
            let store = backend.store.clone();
            let key_ref = KeyRef::local(&bucket.key_id);
            let max = self.config.limits.max_object_bytes;
            let check = pipeline::ContentCheck {
                scanner: self.scanner,
                budget: self.config.scan.budget(),
                on_mismatch: match self.config.scan.on_mismatch {
                    OnMismatch::Reject => itarvault_scan::OnMismatch::Refuse,
                    OnMismatch::Flag => itarvault_scan::OnMismatch::Flag,
                },
            };
            let identity = ObjectIdentity {
                bucket: bucket.name.clone(),
                key: key.clone(),
                version: version.to_string(),
            };
            pipeline::Upload::start(move || {
                pipeline::Sealing::start(
                    &keyring,
                    &key_ref,
                    label,
                    identity,
                    store.as_ref(),
                    max,
                    check,
                )
            })
        };
        let mut body = body;
        let mut batch = Vec::new();
        let mut batched = 0;
        let sealed = loop {
            let piece = match body.next().await {
                None => break upload.finish(batch).await,
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                    let err = match BodyTooSlow::find(&*e) {
                        Some(slow) => Error::timed_out("body-too-slow", slow.to_string()).hint(
                            "nothing was stored; send the body without pauses, or ask the operator about `limits.body_idle_secs` and `limits.body_min_bytes_per_sec`",
                        ),
                        None => pipeline_error(PipelineError::Body(io::Error::other(e))),
                    };
                    return Err(self.fail(event, err).await);
                }
            };
            bump(&self.metrics.bytes_in, piece.len() as u64);
            batched += piece.len();
            batch.push(piece);
            if batched >= pipeline::UPLOAD_BATCH {
                batched = 0;
                if let Err(e) = upload.push(std::mem::take(&mut batch)).await {
                    break Err(e);
                }
            }
        };
        let sealed = match sealed {
            Ok(s) => s,
            Err(e) => {
                if let PipelineError::Content(c) = &e {
                    event.reasons = scan_reasons(c.rules(), self.scanner);
                }
                return Err(self.fail(event, pipeline_error(e)).await);
            }
        };
        let record = ObjectRecord {
            bucket: bucket.name.clone(),
            key: key.clone(),
            version,
            blob: sealed.blob.clone(),
            backend: backend.name.clone(),
            label: label.clone(),
            size: sealed.size,
            envelope_size: sealed.envelope_size,
            created: OffsetDateTime::now_utc(),
            created_by: auth.caller().id().to_owned(),
            legacy: None,
        };
        if let Err(e) = self.objects.put_version(&Version::Object(record.clone())) {
            let _ = backend.store.delete(&sealed.blob);
            return Err(self.fail(event, e.into()).await);
        }
        event.key = Some(format!("wrap {}", sealed.keys));
        let found = &sealed.content.findings;
        let rules: Vec<String> = found.iter().map(|f| f.rule.clone()).collect();
        event.reasons = scan_reasons(&rules, self.scanner);
        let mut content = match &sealed.content.conflict {
            Some(c) => format!("content check FLAGGED: {c}"),
            None if found.is_empty() => "content check: no markings".into(),
            None => format!(
                "content check: {} marking(s), consistent with the label",
                found.len()
            ),
        };
        if let Some(note) = &sealed.content.note {
            content.push_str(&format!("; {note}"));
        }
        event.detail = Some(format!(
            "version {}: {} bytes, envelope {} bytes; {content}",
            record.version, sealed.size, sealed.envelope_size
        ));
        // The version is committed; the acknowledgement waits for its record. Without
        // a record it must not stay visible: remove it (the previous one is current
        // again) and drop its blob.
        if let Err(e) = self.record(vec![event]).await {
            match self
                .objects
                .delete_version(&record.bucket, &record.key, &record.version)
            {
                Ok(_) => {
                    let _ = backend.store.delete(&sealed.blob);
                }
                Err(u) => {
                    tracing::error!(error = %u, "could not undo an upload whose audit record failed")
                }
            }
            return Err(e);
        }
        self.prune(&record.bucket, &record.key, bucket.versions_kept);
        Ok(record)
    }

    /// Keeps a key's old versions within the bucket's bound; their blobs go too. Best
    /// effort: what is left over is pruned at the next write, and a blob whose row is
    /// gone is swept at the next start.
    fn prune(&self, bucket: &str, key: &str, keep: u32) {
        match self.objects.prune(bucket, key, keep) {
            Ok(pruned) => {
                for o in pruned {
                    if let Ok(b) = self.backend(&o.backend) {
                        if let Err(e) = b.store.delete(&o.blob) {
                            tracing::warn!(error = %e, "could not delete a pruned version's blob; the orphan sweep will");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not prune old versions"),
        }
    }

    /// Deletes an allowed target: the current version (a delete marker takes its
    /// place, older versions stay) or one version for good.
    pub async fn delete_object(&self, auth: Authorized<ObjectDelete>) -> Result<Version, Error> {
        let ObjectDelete {
            bucket,
            key,
            version,
            target,
        } = auth.target();
        let mut event = auth.event("ok");
        event.action = Some("delete".into());
        event.bucket = Some(bucket.name.clone());
        event.object = Some(key.clone());
        if let Version::Object(o) = target {
            event.label = Some(o.label.to_string());
        }
        let res = match version {
            None => self.add_marker(auth.caller().id(), &bucket.name, key),
            Some(v) => self
                .objects
                .delete_version(&bucket.name, key, v)
                .map_err(Error::from)
                .and_then(|gone| {
                    let gone = gone.ok_or_else(|| {
                        Error::not_found(format!("object `{key}` has no version `{v}`"))
                    })?;
                    Ok((gone, format!("version {v} deleted for good")))
                }),
        };
        let done = self.finish(event, res).await?;
        if version.is_some() {
            if let Version::Object(o) = &done {
                if let Ok(b) = self.backend(&o.backend) {
                    if let Err(e) = b.store.delete(&o.blob) {
                        tracing::warn!(error = %e, "could not delete a blob; the orphan sweep will");
                    }
                }
            }
        } else {
            self.prune(&bucket.name, key, bucket.versions_kept);
        }
        Ok(done)
    }

    fn add_marker(&self, by: &str, bucket: &str, key: &str) -> Result<(Version, String), Error> {
        let marker = Version::DeleteMarker(DeleteMarker {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version: VersionId::random()?,
            created: OffsetDateTime::now_utc(),
            created_by: by.to_owned(),
        });
        self.objects.put_version(&marker)?;
        let detail = format!(
            "delete marker {} is now current; older versions are kept",
            marker.version()
        );
        Ok((marker, detail))
    }

    /// A page of a bucket's listing with only what the caller may read from where they
    /// are; the record says how many entries were withheld.
    pub async fn list_objects(
        &self,
        auth: Authorized<BucketList>,
        q: ListQuery,
    ) -> Result<Listing, Error> {
        let mut event = auth.event("ok");
        let bucket = auth.target().bucket.name.clone();
        event.bucket = Some(bucket.clone());
        event.action = Some("read".into());
        let res = self.listing(&auth, &bucket, &q);
        self.finish(event, res).await
    }

    fn listing(
        &self,
        auth: &Authorized<BucketList>,
        bucket: &str,
        q: &ListQuery,
    ) -> Result<(Listing, String), Error> {
        let max = self.config.limits.max_list;
        let limit = q.limit.unwrap_or(max).clamp(1, max);
        let (listing, shown, withheld) = if q.versions || auth.target().versions {
            let page = self
                .objects
                .list_versions(bucket, &q.prefix, q.after.as_deref(), limit)?;
            let (versions, withheld) = self.visible_versions(auth, page.versions)?;
            let shown = versions.len();
            (
                Listing::Versions {
                    versions,
                    next: page.next,
                },
                shown,
                withheld,
            )
        } else {
            let page = self
                .objects
                .list_objects(bucket, &q.prefix, q.after.as_deref(), limit)?;
            let total = page.objects.len();
            let mut objects = Vec::with_capacity(total);
            for o in page.objects {
                if self.listable(auth, &o)? {
                    objects.push(o);
                }
            }
            let shown = objects.len();
            (
                Listing::Objects {
                    objects,
                    next: page.next,
                },
                shown,
                total - shown,
            )
        };
        let detail = format!(
            "prefix `{}`: {shown} entries shown, {withheld} withheld",
            q.prefix
        );
        Ok((listing, detail))
    }

    /// The versions of a page the caller may see. A delete marker has no label: it is
    /// shown only beside an object version of the same key that the caller may read.
    fn visible_versions(
        &self,
        auth: &Authorized<BucketList>,
        versions: Vec<Version>,
    ) -> Result<(Vec<Version>, usize), Error> {
        let mut readable_keys = std::collections::HashSet::new();
        let mut keep = Vec::with_capacity(versions.len());
        for v in &versions {
            let ok = match v {
                Version::Object(o) => self.listable(auth, o)?,
                Version::DeleteMarker(_) => false,
            };
            if ok {
                readable_keys.insert(v.key().to_owned());
            }
            keep.push(ok);
        }
        let total = versions.len();
        let shown: Vec<Version> = versions
            .into_iter()
            .zip(keep)
            .filter(|(v, ok)| *ok || readable_keys.contains(v.key()))
            .map(|(v, _)| v)
            .collect();
        let withheld = total - shown.len();
        Ok((shown, withheld))
    }
}

fn identity_of(o: &ObjectRecord) -> ObjectIdentity {
    ObjectIdentity {
        bucket: o.bucket.clone(),
        key: o.key.clone(),
        version: o.version.to_string(),
    }
}

/// A download's next batch, decrypted on a blocking thread.
type Batch = tokio::task::JoinHandle<(pipeline::Opening, Result<Option<Bytes>, PipelineError>)>;

fn decrypt_batch(mut opening: pipeline::Opening) -> Batch {
    tokio::task::spawn_blocking(move || {
        let next = opening.next(pipeline::DOWNLOAD_BATCH);
        (opening, next)
    })
}

/// What a streaming download carries between batches.
struct Streaming {
    /// The batch being decrypted; `None` once the body ended.
    next: Option<Batch>,
    guard: StreamGuard,
    metrics: std::sync::Arc<super::Metrics>,
    audit: crate::audit_log::AuditLog,
    end: Event,
}

impl Streaming {
    /// Records why the download ended early; the error aborts the HTTP body so the
    /// client sees it incomplete.
    async fn ended(&mut self, detail: String) -> io::Error {
        self.next = None;
        self.end.detail = Some(detail.clone());
        if let Err(e) = self.audit.record(self.end.clone()).await {
            tracing::error!(error = %e, "could not record the end of a download");
        }
        io::Error::other(detail)
    }
}

/// Re-checks, while a download streams, what allowed it: the caller is still an enabled
/// principal, and the grant it reads under (if any) still permits the read now. The
/// stores are asked only when something changed (a lockbox or registry write, counted
/// in `changes`) or when the grant's window may have ended: a chunk costs an atomic
/// load.
struct StreamGuard {
    registry: std::sync::Arc<dyn itarvault_store::Registry>,
    lockbox: std::sync::Arc<dyn itarvault_store::LockboxRecords>,
    changes: std::sync::Arc<AtomicU64>,
    seen: u64,
    principal: String,
    /// The grant's id, and the object it is used on.
    grant: Option<(String, String, String)>,
    /// When the grant's window ends (known after the first check).
    not_after: Option<OffsetDateTime>,
    /// Whether the grant has not been read yet.
    first: bool,
}

impl StreamGuard {
    fn check(&mut self) -> Result<(), String> {
        let now = OffsetDateTime::now_utc();
        let changed = self.changes.load(Ordering::SeqCst);
        let window_over = self.not_after.is_some_and(|t| now >= t);
        if changed == self.seen && !window_over && !self.first {
            return Ok(());
        }
        self.first = false;
        match self.registry.principal(&self.principal) {
            Ok(Some(p)) if !p.disabled => {}
            Ok(_) => return Err(format!("principal `{}` was disabled", self.principal)),
            Err(e) => return Err(format!("the registry could not be read: {e}")),
        }
        if let Some((id, bucket, key)) = &self.grant {
            let record = self
                .lockbox
                .lockbox(id)
                .map_err(|e| format!("grant {id} could not be read: {e}"))?
                .ok_or_else(|| format!("grant {id} is gone"))?;
            let r: itarvault_lockbox::AccessRequest = super::lockbox::decode(&record)
                .map_err(|e| format!("grant {id}: {}", e.message()))?;
            if !r.permits(&self.principal, bucket, key, ContentAction::Read, now) {
                return Err(format!("grant {id} is {} (revoked or ended)", r.state));
            }
            self.not_after = r.not_after;
        }
        self.seen = changed;
        Ok(())
    }
}

/// What an open task produced.
enum Opened {
    Whole(Bytes),
    Stream(Box<pipeline::Opened>),
}
