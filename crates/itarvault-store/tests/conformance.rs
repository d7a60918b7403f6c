//! The embedded backends pass the conformance suite; crash leftovers are swept.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::io::Write;

use itarvault_store::{
    conformance, sweep_orphans, BlobStore, Cached, LocalBlobStore, Metadata, SqliteMetadata,
};

#[test]
fn sqlite_metadata_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let m = SqliteMetadata::open(&dir.path().join("meta.db")).unwrap();
    conformance::metadata(&m).unwrap();
}

/// The registry cache gives the answers the database gives, through every write.
#[test]
fn cached_sqlite_metadata_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let m = Cached::new(SqliteMetadata::open(&dir.path().join("meta.db")).unwrap());
    conformance::metadata(&m).unwrap();
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
        conformance::metadata(&m).unwrap();
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
