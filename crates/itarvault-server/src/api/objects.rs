//! Objects: streamed in and out, encrypted at rest, an export decision on every read
//! and write, every step in the audit trail before the response completes.

use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use itarvault_audit::{Event, Reason as AuditReason};
use itarvault_format::Label;
use itarvault_keys::KeyRef;
use itarvault_store::{BlobId, BucketRecord, ObjectRecord};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use itarvault_lockbox::Action;
use itarvault_scan::Conflict;

use super::lockbox::Access;
use crate::config::OnMismatch;
use crate::error::ApiError;
use crate::pipeline::{self, PipelineError};
use crate::state::{audit_reasons, bump, AppState, Backend, Caller};

/// The header that carries an upload's label (or `?label=`).
pub const LABEL_HEADER: &str = "x-itarvault-label";

/// Checks an object key: 1 to `max` bytes, no NUL or control characters, no empty,
/// `.` or `..` segment, no leading `/`. Keys are names, never paths, but a key that
/// looks like a traversal is refused so that no consumer can misread it.
pub fn check_key(key: &str, max: usize) -> Result<(), ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request("bad-key", format!("object key is invalid: {why}"))
            .hint("use 1 or more `/`-separated segments of printable characters, none `.` or `..`")
    };
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    if key.len() > max {
        return Err(bad(&format!(
            "it is {} bytes, the limit is {max}",
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(bad("it contains a control character (NUL, newline, ...)"));
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(bad("it has an empty, `.` or `..` segment"));
    }
    Ok(())
}

fn bucket_and_backend<'a>(
    st: &'a AppState,
    name: &str,
) -> Result<(BucketRecord, &'a Backend), ApiError> {
    let b = st.meta.bucket(name)?.ok_or_else(|| {
        ApiError::not_found(format!("bucket `{name}` does not exist"))
            .hint("list buckets with `itarvault buckets list`")
    })?;
    let backend = st.backends.get(&b.backend).ok_or_else(|| {
        ApiError::internal(format!(
            "bucket `{name}` uses backend `{}`, which is not configured",
            b.backend
        ))
    })?;
    Ok((b, backend))
}

async fn audited<T>(st: &AppState, events: Vec<Event>, then: T) -> Result<T, ApiError> {
    st.audit
        .append(events)
        .await
        .map_err(|e| ApiError::audit_unavailable(&e))?;
    Ok(then)
}

/// Records a failed operation, then returns its error. If even the record fails, the
/// audit error wins: the client must know nothing was recorded.
async fn fail(st: &AppState, ev: Event, err: ApiError) -> ApiError {
    bump(&st.metrics.errors, 1);
    match st.audit.record(ev.detail(err.message.clone())).await {
        Ok(_) => err,
        Err(e) => ApiError::audit_unavailable(&e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutQuery {
    label: Option<String>,
}

fn label_of(headers: &HeaderMap, q: &PutQuery) -> Result<Label, ApiError> {
    let text = match (headers.get(LABEL_HEADER), &q.label) {
        (Some(h), _) => h
            .to_str()
            .map_err(|_| ApiError::bad_request("label-unparseable", "the label header is not ASCII"))?
            .to_owned(),
        (None, Some(l)) => l.clone(),
        (None, None) => {
            return Err(ApiError::bad_request("label-missing", "the upload has no export-control label")
                .hint("send `X-Itarvault-Label: ITAR:XI` (or EAR:9E003, EAR99, PUBLIC; see shared/spec/labels.md)"))
        }
    };
    text.parse::<Label>().map_err(|e| {
        ApiError::bad_request(
            "label-unparseable",
            format!("label `{text}` does not parse: {e}"),
        )
        .hint("see shared/spec/labels.md for the label syntax")
    })
}

/// Reads and discards what the client is still sending (a bounded amount) before an
/// early error answer, so that the client, busy sending its body, can read the answer
/// instead of seeing the connection reset under it.
async fn drain(body: Body, err: ApiError) -> ApiError {
    const MAX_DRAIN: usize = 16 << 20;
    let mut stream = body.into_data_stream();
    let mut n = 0usize;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(piece)) = stream.next().await {
            n += piece.len();
            if n > MAX_DRAIN {
                break;
            }
        }
    })
    .await;
    err
}

pub async fn put(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path((bucket, key)): Path<(String, String)>,
    Query(q): Query<PutQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ev = caller.event("object.put", "error").object(&bucket, &key);
    let prep = (|| {
        check_key(&key, st.config.limits.max_key_bytes)?;
        let (b, backend) = bucket_and_backend(&st, &bucket)?;
        let label = label_of(&headers, &q)?;
        Ok::<_, ApiError>((b, backend.clone(), label))
    })();
    let (b, backend, label) = match prep {
        Ok(x) => x,
        Err(e) => return Err(drain(body, fail(&st, ev, e).await).await),
    };
    let mut ev = ev;
    ev.label = Some(label.to_string());
    ev.action = Some("write".into());
    match st.content_access(&caller, &bucket, &key, Action::Write) {
        Ok(a) => ev.grant = a.grant(),
        Err(e) => {
            ev.outcome = "deny".into();
            return Err(drain(body, fail(&st, ev, e).await).await);
        }
    }
    // Two decisions: may this person send it in (write), and may it be placed in this
    // backend (store). Both are recorded, whatever they say, before data is accepted.
    let write = st.decide(&caller, "write", &label, None)?;
    let store = st.decide(&caller, "store", &label, Some(&backend))?;
    let mut decisions = Vec::new();
    for (action, d) in [("write", &write), ("store", &store)] {
        let mut e = caller
            .event("decision", if d.is_allow() { "allow" } else { "deny" })
            .object(&bucket, &key);
        e.action = Some(action.into());
        e.label = ev.label.clone();
        e.reasons = audit_reasons(d);
        e.authorization = d.authorization_used.clone();
        e.grant = ev.grant.clone();
        decisions.push(e);
    }
    if let Err(e) = st.audit.append(decisions).await {
        return Err(drain(body, ApiError::audit_unavailable(&e)).await);
    }
    if !write.is_allow() {
        return Err(drain(body, ApiError::denied("write", write)).await);
    }
    if !store.is_allow() {
        return Err(drain(
            body,
            ApiError::denied(&format!("storing in backend `{}`", b.backend), store),
        )
        .await);
    }

    let (tx, rx) = mpsc::channel::<Result<bytes::Bytes, io::Error>>(16);
    let worker = {
        let st = st.clone();
        let label = label.clone();
        let store = backend.store.clone();
        let key_ref = KeyRef::local(&b.key_id);
        let max = st.config.limits.max_object_bytes;
        tokio::task::spawn_blocking(move || {
            let check = pipeline::ContentCheck {
                scanner: &st.scanner,
                reject_mismatch: st.config.scan.on_mismatch == OnMismatch::Reject,
            };
            pipeline::seal_to_blob(&st.keyring, &key_ref, label, store.as_ref(), rx, max, check)
        })
    };
    let mut stream = body.into_data_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| io::Error::other(e.to_string()));
        let failed = piece.is_err();
        if let Ok(p) = &piece {
            bump(&st.metrics.bytes_in, p.len() as u64);
        }
        if tx.send(piece).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    let sealed = match worker.await {
        Ok(Ok(s)) => s,
        Ok(Err(PipelineError::Content(c))) => {
            ev.outcome = "deny".into();
            ev.reasons = scan_reasons(c.rules(), &st.scanner);
            ev.detail = Some(format!("content check: {c}"));
            let hint = match &c {
                Conflict::Classified { .. } => "do not retry: report the spill to your facility security officer (32 CFR 117.8)".to_string(),
                Conflict::Mislabelled { suggested, .. } => format!(
                    "if the marking is right, upload with the label `{suggested}` (a person picks the category where it says only ITAR); if the marking is stale, correct the document first"
                ),
            };
            let err =
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, c.code(), c.to_string()).hint(hint);
            return Err(fail(&st, ev, err).await);
        }
        Ok(Err(e)) => {
            let err = match &e {
                PipelineError::TooLarge(_) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", e.to_string()),
                PipelineError::Body(_) => ApiError::bad_request("incomplete-body", e.to_string())
                    .hint("the connection closed before the whole body arrived; nothing was stored, retry the upload"),
                _ => ApiError::internal(format!("storing the object failed: {e}")),
            };
            return Err(fail(&st, ev, err).await);
        }
        Err(e) => {
            return Err(fail(
                &st,
                ev,
                ApiError::internal(format!("upload task failed: {e}")),
            )
            .await)
        }
    };
    let rec = ObjectRecord {
        bucket: bucket.clone(),
        key: key.clone(),
        blob: sealed.blob.to_string(),
        backend: b.backend.clone(),
        label: label.to_string(),
        size: sealed.size,
        envelope_size: sealed.envelope_size,
        created: OffsetDateTime::now_utc(),
        created_by: caller.principal.id.clone(),
    };
    let old = match st.meta.put_object(&rec) {
        Ok(old) => old,
        Err(e) => {
            let _ = backend.store.delete(&sealed.blob);
            return Err(fail(&st, ev, e.into()).await);
        }
    };
    ev.outcome = "ok".into();
    ev.key = Some(format!("wrap {}", sealed.keys));
    let found = &sealed.content.findings;
    let rules: Vec<String> = found.iter().map(|f| f.rule.clone()).collect();
    ev.reasons = scan_reasons(&rules, &st.scanner);
    let content = match &sealed.content.conflict {
        Some(c) => format!("content check FLAGGED: {c}"),
        None if found.is_empty() => "content check: no markings".into(),
        None => format!(
            "content check: {} marking(s), consistent with the label",
            found.len()
        ),
    };
    ev.detail = Some(format!(
        "{} bytes, envelope {} bytes; {content}",
        sealed.size, sealed.envelope_size
    ));
    // The object is committed; the acknowledgement waits for its record. Without a
    // record it must not stay visible: put back what was there and drop the new blob.
    if let Err(e) = st.audit.record(ev).await {
        let undo = match &old {
            Some(prev) => st.meta.put_object(prev).map(|_| ()),
            None => st.meta.delete_object(&bucket, &key).map(|_| ()),
        };
        match undo {
            Ok(()) => {
                let _ = backend.store.delete(&sealed.blob);
            }
            Err(u) => {
                tracing::error!(error = %u, "could not undo an upload whose audit record failed")
            }
        }
        return Err(ApiError::audit_unavailable(&e));
    }
    if let Some(old) = old {
        if let (Ok(id), Some(be)) = (BlobId::parse(&old.blob), st.backends.get(&old.backend)) {
            if let Err(e) = be.store.delete(&id) {
                tracing::warn!(error = %e, "could not delete a replaced blob; the orphan sweep will");
            }
        }
    }
    Ok((StatusCode::CREATED, Json(rec)).into_response())
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

fn object_headers(o: &ObjectRecord) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(o.size));
    if let Ok(v) = HeaderValue::from_str(&o.label) {
        h.insert(LABEL_HEADER, v);
    }
    h
}

fn find(st: &AppState, bucket: &str, key: &str) -> Result<ObjectRecord, ApiError> {
    check_key(key, st.config.limits.max_key_bytes)?;
    bucket_and_backend(st, bucket)?;
    st.meta.object(bucket, key)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "object `{key}` does not exist in bucket `{bucket}`"
        ))
    })
}

pub async fn get(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path((bucket, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut ev = caller.event("object.get", "error").object(&bucket, &key);
    let o = match find(&st, &bucket, &key) {
        Ok(o) => o,
        Err(e) => return Err(fail(&st, ev, e).await),
    };
    ev.label = Some(o.label.clone());
    ev.action = Some("read".into());
    match st.content_access(&caller, &bucket, &key, Action::Read) {
        Ok(a) => ev.grant = a.grant(),
        Err(e) => {
            ev.outcome = "deny".into();
            return Err(fail(&st, ev, e).await);
        }
    }
    let label: Label = match o.label.parse() {
        Ok(l) => l,
        Err(e) => {
            return Err(fail(
                &st,
                ev,
                ApiError::internal(format!("stored label does not parse: {e}")),
            )
            .await)
        }
    };
    let d = st.decide(&caller, "read", &label, None)?;
    ev.reasons = audit_reasons(&d);
    ev.authorization = d.authorization_used.clone();
    if !d.is_allow() {
        ev.outcome = "deny".into();
        audited(&st, vec![ev], ()).await?;
        return Err(ApiError::denied("read", d));
    }
    let Some(backend) = st.backends.get(&o.backend).cloned() else {
        return Err(fail(
            &st,
            ev,
            ApiError::internal(format!("backend `{}` is not configured", o.backend)),
        )
        .await);
    };
    let blob = BlobId::parse(&o.blob)?;
    // Unwrapping the data key is the key use; it happens before the release record. A
    // small object is decrypted whole in the same step, so a damaged one is refused
    // before anything is released.
    let (size, whole) = (o.size, o.size <= pipeline::WHOLE_MAX);
    let opened = {
        let st2 = st.clone();
        let store = backend.store.clone();
        let recorded = o.label.clone();
        tokio::task::spawn_blocking(move || {
            let op = pipeline::open_blob(&st2.keyring, store.as_ref(), &blob, &recorded)?;
            let keys = op.keys.clone();
            let release = if whole {
                Release::Whole(pipeline::open_whole(op, size)?)
            } else {
                Release::Stream(Box::new(op))
            };
            Ok::<_, PipelineError>((keys, release))
        })
        .await
    };
    let (keys, release) = match opened {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return Err(fail(
                &st,
                ev,
                ApiError::internal(format!("opening the object failed: {e}")),
            )
            .await)
        }
        Err(e) => {
            return Err(fail(
                &st,
                ev,
                ApiError::internal(format!("open task failed: {e}")),
            )
            .await)
        }
    };
    ev.outcome = "allow".into();
    ev.key = Some(format!("unwrap {keys}"));
    ev.detail = Some(format!("{} bytes released", o.size));
    // The release is durable in the audit trail before the first byte leaves.
    audited(&st, vec![ev.clone()], ()).await?;
    let opened = match release {
        Release::Whole(plain) => {
            bump(&st.metrics.bytes_out, plain.len() as u64);
            return Ok((object_headers(&o), Body::from(plain)).into_response());
        }
        Release::Stream(op) => *op,
    };
    let (tx, rx) = mpsc::channel::<Result<bytes::Bytes, io::Error>>(8);
    let audit = st.audit.clone();
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = pipeline::open_to_channel(opened, size, tx) {
            // A body that fails verification, or a client that leaves, ends the release
            // early: that is recorded too.
            tracing::warn!(error = %e, "download ended early");
            let mut end = ev;
            end.kind = "object.get.end".into();
            end.outcome = "error".into();
            end.reasons.clear();
            end.key = None;
            end.detail = Some(e.to_string());
            if let Err(e) = rt.block_on(audit.record(end)) {
                tracing::error!(error = %e, "could not record the end of a download");
            }
        }
    });
    let metrics_st = st.clone();
    let body = futures_util::stream::unfold(rx, move |mut rx| {
        let st = metrics_st.clone();
        async move {
            let item = rx.recv().await?;
            if let Ok(b) = &item {
                bump(&st.metrics.bytes_out, b.len() as u64);
            }
            Some((item, rx))
        }
    });
    Ok((object_headers(&o), Body::from_stream(body)).into_response())
}

/// What an allowed read hands the client: a small object already decrypted, or a larger
/// one to stream.
enum Release {
    Whole(bytes::Bytes),
    Stream(Box<pipeline::Opened>),
}

pub async fn head(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path((bucket, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ev = caller.event("object.head", "error").object(&bucket, &key);
    match find(&st, &bucket, &key) {
        Ok(o) => {
            let mut ev = ev;
            ev.outcome = "ok".into();
            ev.label = Some(o.label.clone());
            audited(&st, vec![ev], ()).await?;
            Ok((object_headers(&o), ()).into_response())
        }
        Err(e) => Err(fail(&st, ev, e).await),
    }
}

pub async fn delete(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path((bucket, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut ev = caller.event("object.delete", "error").object(&bucket, &key);
    let o = match find(&st, &bucket, &key) {
        Ok(o) => o,
        Err(e) => return Err(fail(&st, ev, e).await),
    };
    ev.label = Some(o.label.clone());
    ev.action = Some("delete".into());
    // Destroying technical data is for who stored it, the bucket's owners, or someone
    // an owner granted `delete`; an admin's role alone is not enough.
    let allowed = match st.content_access(&caller, &bucket, &key, Action::Delete) {
        Ok(Access::Grant(id)) => {
            ev.grant = Some(id);
            Ok(())
        }
        Ok(Access::Standing) => {
            let owners = st
                .meta
                .bucket(&bucket)?
                .map(|b| b.owners)
                .unwrap_or_default();
            if o.created_by == caller.principal.id || owners.contains(&caller.principal.id) {
                Ok(())
            } else {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "not-owner",
                    format!(
                        "only `{}` (who stored it), an owner of `{bucket}` or the holder of an approved delete grant may delete `{key}`",
                        o.created_by
                    ),
                ))
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = allowed {
        ev.outcome = "deny".into();
        return Err(fail(&st, ev, e).await);
    }
    let removed = match st.meta.delete_object(&bucket, &key) {
        Ok(r) => r,
        Err(e) => return Err(fail(&st, ev, e.into()).await),
    };
    ev.outcome = "ok".into();
    audited(&st, vec![ev], ()).await?;
    if let Some(old) = removed {
        if let (Ok(id), Some(be)) = (BlobId::parse(&old.blob), st.backends.get(&old.backend)) {
            if let Err(e) = be.store.delete(&id) {
                tracing::warn!(error = %e, "could not delete a blob; the orphan sweep will");
            }
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    prefix: String,
    after: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(bucket): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let mut ev = caller.event("object.list", "error");
    ev.bucket = Some(bucket.clone());
    let page = (|| {
        bucket_and_backend(&st, &bucket)?;
        let limit = q
            .limit
            .unwrap_or(st.config.limits.max_list)
            .clamp(1, st.config.limits.max_list);
        Ok::<_, ApiError>(
            st.meta
                .list_objects(&bucket, &q.prefix, q.after.as_deref(), limit)?,
        )
    })();
    match page {
        Ok(p) => {
            ev.outcome = "ok".into();
            ev.detail = Some(format!(
                "prefix `{}`: {} objects",
                q.prefix,
                p.objects.len()
            ));
            audited(&st, vec![ev], ()).await?;
            Ok(Json(p).into_response())
        }
        Err(e) => Err(fail(&st, ev, e).await),
    }
}
