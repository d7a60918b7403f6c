//! The behaviour every backend must have, written once. A backend's tests call
//! [`metadata`] and [`blobs`] on a fresh instance; each returns the first broken
//! expectation.

use std::io::{Read, Write};

use time::OffsetDateTime;

use crate::meta::*;
use crate::{BlobId, BlobStore, StoreError};

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

fn e(err: StoreError) -> String {
    err.to_string()
}

fn principal(id: &str) -> PrincipalRecord {
    PrincipalRecord {
        id: id.into(),
        person_status: "us_citizen".into(),
        citizenships: vec!["US".into()],
        permanent_residence: None,
        roles: vec![],
        disabled: false,
        created: OffsetDateTime::UNIX_EPOCH,
    }
}

fn object(bucket: &str, key: &str, blob: &str) -> ObjectRecord {
    ObjectRecord {
        bucket: bucket.into(),
        key: key.into(),
        blob: blob.into(),
        backend: "local".into(),
        label: "ITAR:XI".into(),
        size: 10,
        envelope_size: 200,
        created: OffsetDateTime::UNIX_EPOCH,
        created_by: "alice".into(),
    }
}

/// Principals, authorizations, tokens, buckets and objects behave alike everywhere.
pub fn metadata(m: &dyn Metadata) -> Result<(), String> {
    lockbox(m)?;
    m.add_principal(&principal("alice")).map_err(e)?;
    check(
        matches!(
            m.add_principal(&principal("alice")),
            Err(StoreError::Exists(_))
        ),
        "adding a principal twice must be Exists",
    )?;
    check(
        m.principal("alice").map_err(e)? == Some(principal("alice")),
        "principal round trip",
    )?;
    check(
        m.principal("nobody").map_err(e)?.is_none(),
        "unknown principal is None",
    )?;
    m.set_disabled("alice", true).map_err(e)?;
    check(
        m.principal("alice").map_err(e)?.is_some_and(|p| p.disabled),
        "disable sticks",
    )?;
    check(
        matches!(m.set_disabled("nobody", true), Err(StoreError::NotFound(_))),
        "disabling an unknown principal is NotFound",
    )?;

    let auth = AuthorizationRecord {
        principal: "alice".into(),
        id: "DSP5-1".into(),
        body: serde_json::json!({"id": "DSP5-1"}),
        revoked: false,
        added: OffsetDateTime::UNIX_EPOCH,
    };
    m.add_authorization(&auth).map_err(e)?;
    check(
        matches!(m.add_authorization(&auth), Err(StoreError::Exists(_))),
        "authorization ids are unique per principal",
    )?;
    check(
        matches!(
            m.add_authorization(&AuthorizationRecord {
                principal: "nobody".into(),
                ..auth.clone()
            }),
            Err(StoreError::NotFound(_))
        ),
        "an authorization needs an existing principal",
    )?;
    m.revoke_authorization("alice", "DSP5-1").map_err(e)?;
    let auths = m.authorizations("alice").map_err(e)?;
    check(
        auths.len() == 1 && auths[0].revoked,
        "revocation is kept, not deleted",
    )?;

    let tok = TokenRecord {
        id: "t1".into(),
        principal: "alice".into(),
        secret_hash: [7; 32],
        created: OffsetDateTime::UNIX_EPOCH,
        expires: None,
        revoked: false,
    };
    m.add_token(&tok).map_err(e)?;
    check(
        m.token("t1").map_err(e)? == Some(tok.clone()),
        "token round trip",
    )?;
    m.revoke_token("t1").map_err(e)?;
    check(
        m.token("t1").map_err(e)?.is_some_and(|t| t.revoked),
        "token revocation",
    )?;
    check(
        m.tokens("alice").map_err(e)?.len() == 1,
        "tokens by principal",
    )?;

    let b = BucketRecord {
        name: "designs".into(),
        key_id: "bucket/designs".into(),
        backend: "local".into(),
        created: OffsetDateTime::UNIX_EPOCH,
        owners: vec!["olive".into(), "oscar".into()],
    };
    m.add_bucket(&b).map_err(e)?;
    check(
        matches!(m.add_bucket(&b), Err(StoreError::Exists(_))),
        "bucket names are unique",
    )?;
    check(m.buckets().map_err(e)? == vec![b], "bucket listing")?;

    check(
        m.put_object(&object("designs", "a/1", "b1"))
            .map_err(e)?
            .is_none(),
        "new object",
    )?;
    let old = m.put_object(&object("designs", "a/1", "b2")).map_err(e)?;
    check(
        old.is_some_and(|o| o.blob == "b1"),
        "replacing returns the old record",
    )?;
    for k in ["a/2", "a/3", "a%_/4", "b/1"] {
        m.put_object(&object("designs", k, k)).map_err(e)?;
    }
    let p1 = m.list_objects("designs", "a/", None, 2).map_err(e)?;
    check(
        p1.objects.len() == 2 && p1.next.as_deref() == Some("a/2"),
        "first page",
    )?;
    let p2 = m
        .list_objects("designs", "a/", p1.next.as_deref(), 2)
        .map_err(e)?;
    check(
        p2.objects
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>()
            == ["a/3"]
            && p2.next.is_none(),
        "second page ends the listing",
    )?;
    let lit = m.list_objects("designs", "a%_", None, 10).map_err(e)?;
    check(lit.objects.len() == 1, "prefixes are literal, not patterns")?;
    check(
        m.delete_object("designs", "a/1")
            .map_err(e)?
            .is_some_and(|o| o.blob == "b2"),
        "delete returns the record",
    )?;
    check(
        m.object("designs", "a/1").map_err(e)?.is_none(),
        "deleted object is gone",
    )?;
    check(
        m.delete_object("designs", "a/1").map_err(e)?.is_none(),
        "deleting twice is None",
    )?;
    let mut refs = m.blob_refs("local").map_err(e)?;
    refs.sort();
    check(refs == ["a%_/4", "a/2", "a/3", "b/1"], "blob references")?;
    Ok(())
}

/// Committed blobs read back; abandoned ones never appear.
pub fn blobs(s: &dyn BlobStore) -> Result<(), String> {
    let mut w = s.create().map_err(e)?;
    w.write_all(b"envelope bytes").map_err(|x| x.to_string())?;
    let id = w.commit().map_err(e)?;
    let mut back = Vec::new();
    s.open(&id)
        .map_err(e)?
        .read_to_end(&mut back)
        .map_err(|x| x.to_string())?;
    check(back == b"envelope bytes", "blob round trip")?;

    let mut abandoned = s.create().map_err(e)?;
    abandoned.write_all(b"half").map_err(|x| x.to_string())?;
    drop(abandoned);
    check(
        s.list().map_err(e)? == vec![id.clone()],
        "an abandoned blob is never listed",
    )?;

    s.delete(&id).map_err(e)?;
    check(
        matches!(s.open(&id), Err(StoreError::NotFound(_))),
        "deleted blob is NotFound",
    )?;
    s.delete(&id).map_err(e)?;
    check(
        BlobId::parse("../etc/passwd").is_err(),
        "blob ids cannot name paths",
    )?;
    Ok(())
}

/// Lockbox records change only by compare-and-swap, so two approvers acting at once
/// cannot both succeed on the same version.
fn lockbox(m: &dyn Metadata) -> Result<(), String> {
    let r = LockboxRecord {
        id: "req_1".into(),
        kind: "access".into(),
        subject: "sam".into(),
        version: 0,
        created: OffsetDateTime::UNIX_EPOCH,
        body: serde_json::json!({"state": "pending"}),
    };
    m.add_lockbox(&r).map_err(e)?;
    check(
        matches!(m.add_lockbox(&r), Err(StoreError::Exists(_))),
        "lockbox ids are unique",
    )?;
    check(
        m.lockbox("req_1").map_err(e)? == Some(r.clone()),
        "lockbox round trip",
    )?;
    let mut first = r.clone();
    first.body = serde_json::json!({"state": "approved"});
    m.update_lockbox(&first).map_err(e)?;
    let mut second = r.clone();
    second.body = serde_json::json!({"state": "denied"});
    check(
        matches!(m.update_lockbox(&second), Err(StoreError::Conflict(_))),
        "a stale version is a Conflict",
    )?;
    let now = m.lockbox("req_1").map_err(e)?;
    check(
        now.as_ref()
            .is_some_and(|n| n.version == 1 && n.body == first.body),
        "the first change wins and bumps the version",
    )?;
    let mut ghost = r.clone();
    ghost.id = "req_none".into();
    check(
        matches!(m.update_lockbox(&ghost), Err(StoreError::NotFound(_))),
        "updating an unknown record is NotFound",
    )?;
    check(
        m.lockbox_list("access", Some("sam")).map_err(e)?.len() == 1,
        "list by subject",
    )?;
    check(
        m.lockbox_list("access", Some("olive"))
            .map_err(e)?
            .is_empty(),
        "list filters by subject",
    )?;
    check(
        m.lockbox_list("quorum", None).map_err(e)?.is_empty(),
        "list filters by kind",
    )?;

    check(
        m.setting("residency").map_err(e)?.is_none(),
        "unset setting is None",
    )?;
    m.set_setting("residency", "carve_out").map_err(e)?;
    m.set_setting("residency", "us_only").map_err(e)?;
    check(
        m.setting("residency").map_err(e)?.as_deref() == Some("us_only"),
        "settings overwrite",
    )
}
