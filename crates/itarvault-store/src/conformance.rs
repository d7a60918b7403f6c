//! The behaviour every backend must have, written once. A backend's tests call [`all`]
//! and [`blobs`] on a fresh instance; each returns the first broken expectation.

use std::io::{Read, Write};

use itarvault_policy::data::Country;
use itarvault_policy::{Authorization, PersonStatus};
use time::OffsetDateTime;

use crate::meta::*;
use crate::{BlobId, BlobStore, StoreError};

/// The first expectation a backend broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conformance: {0}")]
pub struct Broken(pub String);

fn check(ok: bool, what: &str) -> Result<(), Broken> {
    if ok {
        Ok(())
    } else {
        Err(Broken(what.to_owned()))
    }
}

fn e(err: StoreError) -> Broken {
    Broken(err.to_string())
}

fn other(err: impl std::fmt::Display) -> Broken {
    Broken(err.to_string())
}

fn country(code: &str) -> Result<Country, Broken> {
    Country::parse(code).ok_or_else(|| Broken(format!("{code} is not a country")))
}

fn principal(id: &str) -> Result<PrincipalRecord, Broken> {
    Ok(PrincipalRecord {
        id: id.into(),
        facts: PersonFacts {
            person_status: PersonStatus::ForeignPerson,
            citizenships: vec![country("GB")?],
            former_citizenships: vec![country("CN")?],
            permanent_residence: Some(country("DE")?),
        },
        roles: vec![Role::Operator],
        bindings: Bindings {
            oidc: Some(OidcBinding {
                issuer: "https://idp.example.test".into(),
                subject: format!("{id}-sub"),
            }),
            certificate: None,
        },
        disabled: false,
        created: OffsetDateTime::UNIX_EPOCH,
    })
}

/// Every trait of [`Metadata`], in one run.
pub fn all(m: &dyn Metadata) -> Result<(), Broken> {
    registry(m)?;
    credentials(m)?;
    buckets(m)?;
    objects(m)?;
    lockbox(m)?;
    settings(m)
}

/// Principals keep every fact; authorizations are typed, unique and never deleted.
pub fn registry(m: &dyn Registry) -> Result<(), Broken> {
    let alice = principal("alice")?;
    m.add_principal(&alice).map_err(e)?;
    check(
        matches!(m.add_principal(&alice), Err(StoreError::Exists(_))),
        "adding a principal twice must be Exists",
    )?;
    check(
        m.principal("alice").map_err(e)? == Some(alice.clone()),
        "principal round trip keeps every fact (former citizenships, residence, roles)",
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
    m.set_disabled("alice", false).map_err(e)?;

    let authorization = Authorization::from_json(&serde_json::json!({
        "id": "DSP5-1", "type": "DSP-5", "countries": ["GB"], "usml_categories": ["XI"],
        "expires": "2027-01-01"
    }))
    .map_err(other)?;
    let auth = AuthorizationRecord {
        principal: "alice".into(),
        authorization,
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
    check(
        m.authorizations("alice").map_err(e)? == vec![auth.clone()],
        "authorization round trip",
    )?;
    m.revoke_authorization("alice", "DSP5-1").map_err(e)?;
    let auths = m.authorizations("alice").map_err(e)?;
    check(
        auths.len() == 1 && auths[0].revoked,
        "revocation is kept, not deleted",
    )?;
    check(
        m.principals().map_err(e)?.len() == 1,
        "principals lists every principal",
    )
}

/// Tokens are found by id, revoked for good, listed by principal.
pub fn credentials(m: &dyn Metadata) -> Result<(), Broken> {
    if m.principal("alice").map_err(e)?.is_none() {
        m.add_principal(&principal("alice")?).map_err(e)?;
    }
    let tok = TokenRecord {
        id: "t1".into(),
        principal: "alice".into(),
        purpose: TokenPurpose::Enrollment,
        secret_hash: [7; 32],
        created: OffsetDateTime::UNIX_EPOCH,
        expires: None,
        revoked: false,
    };
    m.add_token(&tok).map_err(e)?;
    check(
        matches!(m.add_token(&tok), Err(StoreError::Exists(_))),
        "token ids are unique",
    )?;
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
        matches!(m.revoke_token("none"), Err(StoreError::NotFound(_))),
        "revoking an unknown token is NotFound",
    )?;
    check(
        m.tokens("alice").map_err(e)?.len() == 1,
        "tokens by principal",
    )?;
    let cert = Bindings {
        oidc: None,
        certificate: Some(CertificateBinding::Sha256("ab".repeat(32))),
    };
    m.set_bindings("alice", &cert).map_err(e)?;
    check(
        m.principal("alice")
            .map_err(e)?
            .is_some_and(|p| p.bindings == cert),
        "bindings are replaced",
    )?;
    check(
        matches!(
            m.set_bindings("nobody", &cert),
            Err(StoreError::NotFound(_))
        ),
        "binding an unknown principal is NotFound",
    )
}

fn designs() -> BucketRecord {
    BucketRecord {
        name: "designs".into(),
        key_id: "bucket/designs".into(),
        backend: "local".into(),
        created: OffsetDateTime::UNIX_EPOCH,
        owners: vec!["olive".into(), "oscar".into()],
        versions_kept: 2,
    }
}

/// Bucket names are unique; owners and the version bound are kept.
pub fn buckets(m: &dyn Buckets) -> Result<(), Broken> {
    let b = designs();
    m.add_bucket(&b).map_err(e)?;
    check(
        matches!(m.add_bucket(&b), Err(StoreError::Exists(_))),
        "bucket names are unique",
    )?;
    check(
        m.bucket("designs").map_err(e)? == Some(b.clone()),
        "bucket round trip",
    )?;
    check(m.buckets().map_err(e)? == vec![b], "bucket listing")
}

/// A blob id made of one repeated byte (32 hex digits).
fn blob(n: u8) -> Result<BlobId, Broken> {
    BlobId::parse(&format!("{n:02x}").repeat(16)).map_err(e)
}

fn object(key: &str, n: u8) -> Result<Version, Broken> {
    Ok(Version::Object(ObjectRecord {
        bucket: "designs".into(),
        key: key.into(),
        version: VersionId::random().map_err(e)?,
        blob: blob(n)?,
        backend: "local".into(),
        label: "ITAR:XI;CUI".parse().map_err(other)?,
        size: 10,
        envelope_size: 200,
        created: OffsetDateTime::UNIX_EPOCH,
        created_by: "alice".into(),
        legacy: None,
    }))
}

fn marker(key: &str) -> Result<Version, Broken> {
    Ok(Version::DeleteMarker(DeleteMarker {
        bucket: "designs".into(),
        key: key.into(),
        version: VersionId::random().map_err(e)?,
        created: OffsetDateTime::UNIX_EPOCH,
        created_by: "alice".into(),
    }))
}

/// Versions: a new one becomes current, old ones are kept up to the bound, a delete
/// marker hides the key, deleting a version brings the next one back, listings page.
pub fn objects(m: &dyn Metadata) -> Result<(), Broken> {
    if m.bucket("designs").map_err(e)?.is_none() {
        m.add_bucket(&designs()).map_err(e)?;
    }
    let first = object("a/1", 1)?;
    check(
        m.put_version(&first).map_err(e)?.is_none(),
        "a new key supersedes nothing",
    )?;
    check(
        m.version("designs", "a/1", None).map_err(e)? == Some(first.clone()),
        "the only version is current and reads back whole",
    )?;
    let second = object("a/1", 2)?;
    check(
        m.put_version(&second).map_err(e)? == Some(first.clone()),
        "writing again returns the version it superseded",
    )?;
    check(
        m.version("designs", "a/1", Some(first.version()))
            .map_err(e)?
            == Some(first.clone()),
        "an old version is still readable by id",
    )?;
    let (third, fourth) = (object("a/1", 3)?, object("a/1", 4)?);
    m.put_version(&third).map_err(e)?;
    m.put_version(&fourth).map_err(e)?;
    check(
        m.prune("designs", "a/1", 3).map_err(e)?.is_empty(),
        "within the bound nothing is pruned",
    )?;
    let pruned = m.prune("designs", "a/1", 2).map_err(e)?;
    check(
        pruned.len() == 1 && pruned[0].version == *first.version(),
        "past the bound the oldest version is pruned and returned for its blob",
    )?;
    check(
        m.version("designs", "a/1", Some(first.version()))
            .map_err(e)?
            .is_none(),
        "a pruned version is gone",
    )?;

    let gone = marker("a/1")?;
    m.put_version(&gone).map_err(e)?;
    check(
        matches!(
            m.version("designs", "a/1", None).map_err(e)?,
            Some(Version::DeleteMarker(_))
        ),
        "a delete marker becomes the current version",
    )?;
    check(
        m.list_objects("designs", "a/", None, 10)
            .map_err(e)?
            .objects
            .is_empty(),
        "a key whose current version is a marker is not listed",
    )?;
    check(
        m.delete_version("designs", "a/1", gone.version())
            .map_err(e)?
            == Some(gone.clone()),
        "deleting the marker returns it",
    )?;
    check(
        m.version("designs", "a/1", None).map_err(e)? == Some(fourth.clone()),
        "deleting the current version brings the next newest back",
    )?;
    check(
        m.delete_version("designs", "a/1", gone.version())
            .map_err(e)?
            .is_none(),
        "deleting a version twice is None",
    )?;

    for (k, n) in [("a/2", 5), ("a/3", 6), ("a%_/4", 7), ("b/1", 8)] {
        m.put_version(&object(k, n)?).map_err(e)?;
    }
    let p1 = m.list_objects("designs", "a/", None, 2).map_err(e)?;
    check(
        p1.objects
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>()
            == ["a/1", "a/2"]
            && p1.next.as_deref() == Some("a/2"),
        "first page of current objects",
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

    // a/1 has fourth (current), third, second; a/2 one version.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = m
            .list_versions("designs", "a/", after.as_deref(), 2)
            .map_err(e)?;
        seen.extend(page.versions.iter().map(|v| v.version().clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let want = [&fourth, &third, &second]
        .iter()
        .map(|v| v.version().clone())
        .collect::<Vec<_>>();
    check(
        seen.len() == 5 && seen[..3] == want[..],
        "versions list newest first per key, across pages, each once",
    )?;
    check(
        matches!(
            m.list_versions("designs", "", Some("garbage"), 2),
            Err(StoreError::BadCursor(_))
        ),
        "a cursor the store did not make is refused",
    )?;
    let mut refs = m.blob_refs("local").map_err(e)?;
    refs.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    check(
        refs.len() == 7 && refs.contains(&blob(2)?) && !refs.contains(&blob(1)?),
        "blob references cover every kept version and no pruned one",
    )?;
    check(
        m.legacy_count().map_err(e)? == 0 && m.legacy_versions(10).map_err(e)?.is_empty(),
        "versions written now are never legacy",
    )
}

/// Committed blobs read back; abandoned ones never appear.
pub fn blobs(s: &dyn BlobStore) -> Result<(), Broken> {
    let mut w = s.create().map_err(e)?;
    w.write_all(b"envelope bytes").map_err(other)?;
    let id = w.commit().map_err(e)?;
    let mut back = Vec::new();
    s.open(&id)
        .map_err(e)?
        .read_to_end(&mut back)
        .map_err(other)?;
    check(back == b"envelope bytes", "blob round trip")?;

    let mut abandoned = s.create().map_err(e)?;
    abandoned.write_all(b"half").map_err(other)?;
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
pub fn lockbox(m: &dyn LockboxRecords) -> Result<(), Broken> {
    let r = LockboxRecord {
        id: "req_1".into(),
        kind: LockboxKind::Access,
        subject: "sam".into(),
        version: 0,
        created: OffsetDateTime::UNIX_EPOCH,
        body: serde_json::json!({"v": 1, "record": {"state": "pending"}}),
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
    first.body = serde_json::json!({"v": 1, "record": {"state": "approved"}});
    m.update_lockbox(&first).map_err(e)?;
    let mut second = r.clone();
    second.body = serde_json::json!({"v": 1, "record": {"state": "denied"}});
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
        m.lockbox_list(LockboxKind::Access, Some("sam"))
            .map_err(e)?
            .len()
            == 1,
        "list by subject",
    )?;
    check(
        m.lockbox_list(LockboxKind::Access, Some("olive"))
            .map_err(e)?
            .is_empty(),
        "list filters by subject",
    )?;
    check(
        m.lockbox_list(LockboxKind::Quorum, None)
            .map_err(e)?
            .is_empty(),
        "list filters by kind",
    )
}

/// Settings overwrite.
pub fn settings(m: &dyn Settings) -> Result<(), Broken> {
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
