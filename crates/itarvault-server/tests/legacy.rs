//! Objects stored in envelope format 1 (which names no object): bound to their rows at
//! start, refused when a row is pointed at another blob, rewritten in format 2 by the
//! background job, and read the same before and after.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method};
use itarvault_format::{stream, DataKey, HeaderParams, UnverifiedHeader, VERSION_1};
use itarvault_keys::{KeyRef, Keyring, LocalKeystore, RootSecret};
use itarvault_server::api::table;
use itarvault_server::config::Config;
use itarvault_server::error::Error;
use itarvault_server::vault::{Granted, Intent, Presented, Release, Vault};
use itarvault_store::{BlobStore, LocalBlobStore};

fn config(dir: &Path) -> Config {
    std::fs::write(dir.join("ranges.csv"), "cidr,country\n127.0.0.1/32,US\n").unwrap();
    toml::from_str(&format!(
        "data_dir = {:?}\n[location]\nranges_file = {:?}\n",
        dir.join("data"),
        dir.join("ranges.csv")
    ))
    .unwrap()
}

async fn call(
    vault: &Vault,
    token: &str,
    method: Method,
    path: &str,
    params: &[(&str, &str)],
) -> Result<Granted, Error> {
    let route = table()
        .into_iter()
        .map(|(r, _)| r)
        .find(|r| r.method == method && r.path == path)
        .unwrap();
    let presented = Presented {
        authorization: Some(HeaderValue::from_str(&format!("Bearer {token}")).unwrap()),
        cert: None,
    };
    let located = vault.locate("127.0.0.1".parse::<IpAddr>().unwrap(), &HeaderMap::new());
    let caller = vault.authenticate(&presented, located, "t".into()).await?;
    let intent = Intent {
        params: params
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        ..Intent::default()
    };
    vault.authorize(caller, &route, &intent).await
}

async fn read(vault: &Vault, token: &str, key: &str) -> Result<Vec<u8>, Error> {
    let Granted::Read(auth) = call(
        vault,
        token,
        Method::GET,
        "/v1/buckets/{bucket}/objects/{*key}",
        &[("bucket", "designs"), ("key", key)],
    )
    .await?
    else {
        panic!("not a read");
    };
    match vault.get_object(auth).await? {
        Release::Whole(_, b) => Ok(b.to_vec()),
        Release::Stream(..) => panic!("small objects are released whole"),
    }
}

/// Writes a format 1 envelope of `plain` under the bucket key into the blob store and a
/// legacy row for it, as the first release left them.
fn store_format_1(dir: &Path, key: &str, plain: &[u8]) -> String {
    let keys = dir.join("data/keys");
    let secret = RootSecret::from_key_file(&keys.join("root.key")).unwrap();
    let ks = Arc::new(LocalKeystore::open(&keys.join("keystore.json"), &secret).unwrap());
    let ring = Keyring::new(vec![ks]);
    let mut params = HeaderParams::new("ITAR:XI".parse().unwrap()).unwrap();
    params.version = VERSION_1;
    let dek = DataKey::generate().unwrap();
    let wraps = ring
        .wrap_all(&[KeyRef::local("bucket/designs")], &dek, &params)
        .unwrap();
    let blobs = LocalBlobStore::open_named("local", &dir.join("data/blobs")).unwrap();
    let mut envelope = Vec::new();
    stream::encrypt(&params, &dek, &wraps, plain, &mut envelope, &mut |_| {}).unwrap();
    let mut w = blobs.create().unwrap();
    w.write_all(&envelope).unwrap();
    let blob = w.commit().unwrap();
    let db = rusqlite::Connection::open(dir.join("data/meta.db")).unwrap();
    db.execute(
        "INSERT INTO object_versions (bucket, key, version, latest, marker, blob, backend, label, size, envelope_size, created, created_by, legacy) \
         VALUES ('designs', ?1, lower(hex(randomblob(10))), 1, 0, ?2, 'local', 'ITAR:XI', ?3, ?4, 0, 'alice', 1)",
        rusqlite::params![key, blob.as_str(), plain.len() as i64, envelope.len() as i64],
    )
    .unwrap();
    blob.as_str().to_owned()
}

fn header_version(dir: &Path, key: &str) -> u8 {
    let db = rusqlite::Connection::open(dir.join("data/meta.db")).unwrap();
    let blob: String = db
        .query_row(
            "SELECT blob FROM object_versions WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .unwrap();
    let path = dir.join("data/blobs/objects").join(&blob[..2]).join(&blob);
    let bytes = std::fs::read(path).unwrap();
    UnverifiedHeader::read_from(&mut bytes.as_slice())
        .unwrap()
        .params
        .version
}

#[tokio::test]
async fn format_1_objects_are_bound_then_rewritten_and_a_swapped_row_releases_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (admin, alice) = {
        let opened = itarvault_server::open_vault(config(dir.path()))
            .await
            .unwrap();
        let vault = opened.vault;
        let admin = opened.admin_token.unwrap().to_string();
        let Granted::Nothing(auth) = call(&vault, &admin, Method::POST, "/v1/buckets", &[])
            .await
            .unwrap()
        else {
            panic!()
        };
        vault
            .create_bucket(
                &auth,
                serde_json::from_value(serde_json::json!({"name": "designs"})).unwrap(),
            )
            .await
            .unwrap();
        let Granted::Nothing(auth) = call(&vault, &admin, Method::POST, "/v1/principals", &[])
            .await
            .unwrap()
        else {
            panic!()
        };
        vault
            .add_principal(
                &auth,
                serde_json::from_value(serde_json::json!({"id": "alice", "person_status": "us_citizen", "citizenships": ["US"]})).unwrap(),
                None,
            )
            .await
            .unwrap();
        let Granted::Nothing(auth) = call(
            &vault,
            &admin,
            Method::POST,
            "/v1/principals/{id}/tokens",
            &[("id", "alice")],
        )
        .await
        .unwrap() else {
            panic!()
        };
        let alice = vault
            .create_token(&auth, "alice", 30)
            .await
            .unwrap()
            .text
            .to_string();
        (admin, alice)
    };
    // What the first release left behind: two format 1 objects, rows without bindings.
    store_format_1(
        dir.path(),
        "old-a.txt",
        b"alpha, written by the first release",
    );
    let b_blob = store_format_1(
        dir.path(),
        "old-b.txt",
        b"bravo, written by the first release",
    );

    // The next start binds them; they read.
    let vault = itarvault_server::open_vault(config(dir.path()))
        .await
        .unwrap()
        .vault;
    assert_eq!(vault.legacy_remaining().unwrap(), 2);
    assert_eq!(
        read(&vault, &alice, "old-a.txt").await.unwrap(),
        b"alpha, written by the first release"
    );
    // A row pointed at another object's format 1 blob no longer matches its binding.
    let db = rusqlite::Connection::open(dir.path().join("data/meta.db")).unwrap();
    let a_blob: String = db
        .query_row(
            "SELECT blob FROM object_versions WHERE key = 'old-a.txt'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE object_versions SET blob = ?1 WHERE key = 'old-a.txt'",
        [&b_blob],
    )
    .unwrap();
    let err = read(&vault, &alice, "old-a.txt").await.unwrap_err();
    assert_eq!(err.code(), "integrity", "{err}");
    db.execute(
        "UPDATE object_versions SET blob = ?1 WHERE key = 'old-a.txt'",
        [&a_blob],
    )
    .unwrap();
    drop(db);

    // The job rewrites both in format 2, bound to their bucket, key and version.
    assert_eq!(vault.upgrade_legacy().await.unwrap(), 2);
    assert_eq!(vault.legacy_remaining().unwrap(), 0);
    for (key, text) in [("old-a.txt", "alpha"), ("old-b.txt", "bravo")] {
        assert_eq!(header_version(dir.path(), key), 2);
        let got = read(&vault, &alice, key).await.unwrap();
        assert!(got.starts_with(text.as_bytes()));
    }
    let Granted::Nothing(auth) = call(&vault, &admin, Method::GET, "/v1/posture", &[])
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(vault.posture(&auth).unwrap().objects.format_1_remaining, 0);
    // Running it again finds nothing left to do.
    assert_eq!(vault.upgrade_legacy().await.unwrap(), 0);
}
