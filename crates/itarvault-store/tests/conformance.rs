//! The embedded backends pass the conformance suite; crash leftovers are swept.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::io::Write;

use itarvault_store::{
    conformance, sweep_orphans, BlobStore, Buckets, Cached, Credentials, LocalBlobStore,
    LockboxRecords, Objects, Registry, Role, SqliteMetadata, Version,
};

#[test]
fn sqlite_metadata_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let m = SqliteMetadata::open(&dir.path().join("meta.db")).unwrap();
    conformance::all(&m).unwrap();
}

/// The registry cache gives the answers the database gives, through every write.
#[test]
fn cached_sqlite_metadata_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let m = Cached::new(SqliteMetadata::open(&dir.path().join("meta.db")).unwrap());
    conformance::all(&m).unwrap();
}

#[test]
fn local_blobs_conform() {
    let dir = tempfile::tempdir().unwrap();
    conformance::blobs(&LocalBlobStore::open(dir.path()).unwrap()).unwrap();
}

#[test]
fn reopening_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("meta.db");
    {
        let m = SqliteMetadata::open(&p).unwrap();
        conformance::all(&m).unwrap();
    }
    let m = SqliteMetadata::open(&p).unwrap();
    assert!(m.principal("alice").unwrap().is_some());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("meta.db");
    drop(SqliteMetadata::open(&p).unwrap());
    let c = rusqlite::Connection::open(&p).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let err = SqliteMetadata::open(&p).unwrap_err().to_string();
    assert!(err.contains("newer itarvault"), "{err}");
}

#[test]
fn unreferenced_blobs_and_temp_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let m = SqliteMetadata::open(&dir.path().join("meta.db")).unwrap();
    let blobs = LocalBlobStore::open(&dir.path().join("blobs")).unwrap();
    let mut w = blobs.create().unwrap();
    w.write_all(b"orphan").unwrap();
    w.commit().unwrap();
    // A temp file left by a crash mid-upload.
    std::fs::write(dir.path().join("blobs/tmp/0123"), b"partial").unwrap();
    assert_eq!(sweep_orphans(&m, &blobs).unwrap(), 1);
    assert!(blobs.list().unwrap().is_empty());
    let blobs = LocalBlobStore::open(&dir.path().join("blobs")).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("blobs/tmp"))
            .unwrap()
            .count(),
        0
    );
    drop(blobs);
}

/// A database written by the previous release opens, and every row reads back typed:
/// facts, authorizations, the object (now a version), lockbox bodies wrapped with
/// their format version.
#[test]
fn a_release_2_database_migrates_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("meta.db");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(include_str!("fixtures/schema-v2.sql"))
        .unwrap();
    drop(c);
    let m = SqliteMetadata::open(&p).unwrap();
    let gwen = m.principal("gwen").unwrap().unwrap();
    assert!(gwen.disabled);
    assert_eq!(gwen.roles, vec![Role::Operator]);
    assert_eq!(gwen.facts.permanent_residence.unwrap().as_str(), "DE");
    assert!(gwen.facts.former_citizenships.is_empty());
    let auths = m.authorizations("gwen").unwrap();
    assert_eq!(auths[0].authorization.id, "DSP5-1");
    assert_eq!(auths[0].authorization.countries.len(), 2);
    assert!(m.token("0123456789abcdef").unwrap().is_some());
    assert_eq!(m.bucket("designs").unwrap().unwrap().versions_kept, 10);
    let Some(Version::Object(o)) = m.version("designs", "engines/blade.step", None).unwrap() else {
        panic!("the object did not become a current version");
    };
    assert_eq!(o.label.to_string(), "ITAR:XI;CUI//SP-EXPT");
    assert_eq!((o.size, o.envelope_size), (42, 300));
    // Its envelope is format 1: the row is legacy until its object is rewritten.
    assert_eq!(o.legacy, Some(itarvault_store::Legacy::Unbound));
    assert_eq!(m.legacy_count().unwrap(), 1);
    m.bind_legacy(&o, 1, &[9; 32]).unwrap();
    let bound = m.legacy_versions(10).unwrap().remove(0);
    assert_eq!(
        bound.legacy,
        Some(itarvault_store::Legacy::Bound {
            key_version: 1,
            tag: [9; 32]
        })
    );
    m.bind_legacy(&bound, 2, &[7; 32]).unwrap();
    assert_eq!(
        m.legacy_versions(10).unwrap()[0].legacy,
        bound.legacy,
        "a binding is never replaced"
    );
    let new_blob = itarvault_store::BlobId::parse("ffffffffffffffffffffffffffffffff").unwrap();
    let mut stale = bound.clone();
    stale.blob = new_blob.clone();
    assert!(
        !m.upgrade_blob(&stale, &new_blob, 400).unwrap(),
        "compare-and-swap on the blob"
    );
    assert!(m.upgrade_blob(&bound, &new_blob, 400).unwrap());
    assert_eq!(m.legacy_count().unwrap(), 0);
    let Some(Version::Object(o)) = m.version("designs", "engines/blade.step", None).unwrap() else {
        panic!("the object is still there");
    };
    assert_eq!(
        (&o.blob, o.envelope_size, &o.legacy),
        (&new_blob, 400, &None)
    );
    let again = m
        .version("designs", "engines/blade.step", Some(&o.version))
        .unwrap();
    assert_eq!(again, Some(Version::Object(o.clone())));
    let lb = m.lockbox("req_1").unwrap().unwrap();
    assert_eq!(lb.version, 3);
    assert_eq!(
        lb.body,
        serde_json::json!({"v": 1, "record": {"state": "pending"}})
    );
    // Opening again changes nothing.
    drop(m);
    let m = SqliteMetadata::open(&p).unwrap();
    assert_eq!(
        m.list_objects("designs", "", None, 10)
            .unwrap()
            .objects
            .len(),
        1
    );
}

/// A row edited into something the engine cannot evaluate is an error, not a guess.
#[test]
fn an_edited_row_is_refused_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("meta.db");
    let m = SqliteMetadata::open(&p).unwrap();
    conformance::registry(&m).unwrap();
    drop(m);
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute(
        "UPDATE principals SET body = json_set(body, '$.person_status', 'martian') WHERE id = 'alice'",
        [],
    )
    .unwrap();
    c.execute(
        "UPDATE authorizations SET body = json_set(body, '$.authorization.countries', json('[\"XX\"]'))",
        [],
    )
    .unwrap();
    drop(c);
    let m = SqliteMetadata::open(&p).unwrap();
    for err in [
        m.principal("alice").unwrap_err().to_string(),
        m.authorizations("alice").unwrap_err().to_string(),
    ] {
        assert!(
            err.contains("damaged or was edited") && err.contains("alice"),
            "{err}"
        );
    }
}
