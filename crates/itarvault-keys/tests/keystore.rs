//! Key lifecycle, keystore sealing, and decryption failures by stage.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::sync::Arc;

use itarvault_keys::{
    DecryptError, KeyError, KeyProvider, KeyRef, KeyState, Keyring, KeystoreError, LocalKeystore,
    RootSecret,
};
use time::{Duration, OffsetDateTime};

const ITERS: u32 = 100_000;

fn pass(s: &str) -> RootSecret {
    RootSecret::Passphrase(s.to_owned().into())
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf, LocalKeystore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keystore");
    let ks = LocalKeystore::init_with_iterations(&path, &pass("a long passphrase"), ITERS).unwrap();
    (dir, path, ks)
}

fn ring(ks: LocalKeystore) -> Keyring {
    Keyring::new(vec![Arc::new(ks)])
}

fn seal(ring: &Keyring, key: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ring.encrypt(
        &[KeyRef::local(key)],
        "ITAR:XI".parse().unwrap(),
        None,
        data,
        &mut out,
        &mut |_| {},
    )
    .unwrap();
    out
}

fn open(ring: &Keyring, env: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let mut out = Vec::new();
    ring.decrypt(env, &mut out, &mut |_| {}).map(|_| out)
}

fn reopen(path: &std::path::Path) -> LocalKeystore {
    LocalKeystore::open(path, &pass("a long passphrase")).unwrap()
}

#[test]
fn rotation_keeps_old_versions_decrypting() {
    let (_d, path, ks) = setup();
    ks.create_key("k").unwrap();
    let r = ring(ks);
    let v1 = seal(&r, "k", b"one");
    let ks = reopen(&path);
    assert_eq!(ks.rotate("k").unwrap().current_version, 2);
    let r = ring(ks);
    let v2 = seal(&r, "k", b"two");
    let h = itarvault_format::UnverifiedHeader::read_from(&mut v2.as_slice()).unwrap();
    assert_eq!(h.wraps[0].key_version, 2);
    assert_eq!(open(&r, &v1).unwrap(), b"one");
    assert_eq!(open(&r, &v2).unwrap(), b"two");
}

#[test]
fn disable_enable_and_destruction_lifecycle() {
    let (_d, path, ks) = setup();
    ks.create_key("k").unwrap();
    let env = seal(&ring(reopen(&path)), "k", b"secret");

    ks.disable("k").unwrap();
    let r = ring(reopen(&path));
    assert!(matches!(
        open(&r, &env),
        Err(DecryptError::Key(KeyError::Disabled(_)))
    ));
    let mut sink = Vec::new();
    assert!(r
        .encrypt(
            &[KeyRef::local("k")],
            "EAR99".parse().unwrap(),
            None,
            &b""[..],
            &mut sink,
            &mut |_| {}
        )
        .is_err());

    ks.enable("k").unwrap();
    assert_eq!(open(&ring(reopen(&path)), &env).unwrap(), b"secret");

    assert!(matches!(
        ks.schedule_destruction("k", 3),
        Err(KeystoreError::WaitingPeriod(3))
    ));
    let info = ks.schedule_destruction("k", 7).unwrap();
    assert!(matches!(info.state, KeyState::PendingDestruction { .. }));
    let r = ring(reopen(&path));
    assert!(matches!(
        open(&r, &env),
        Err(DecryptError::Key(KeyError::PendingDestruction(..)))
    ));

    // Cancelling brings it back disabled: re-enabling is a deliberate second step.
    assert_eq!(
        ks.cancel_destruction("k").unwrap().state,
        KeyState::Disabled
    );
    ks.enable("k").unwrap();
    assert_eq!(open(&ring(reopen(&path)), &env).unwrap(), b"secret");

    // Schedule again, then open the keystore eight days later: the material is gone.
    ks.schedule_destruction("k", 7).unwrap();
    let later: itarvault_keys::Clock = Arc::new(|| OffsetDateTime::now_utc() + Duration::days(8));
    let ks_later =
        LocalKeystore::open_with_clock(&path, &pass("a long passphrase"), later).unwrap();
    let info = ks_later.describe("k").unwrap();
    assert!(matches!(info.state, KeyState::Destroyed { .. }));
    assert!(info.versions.is_empty());
    // Destruction is persisted: even with today's clock the key stays destroyed.
    let r = ring(reopen(&path));
    assert!(matches!(
        open(&r, &env),
        Err(DecryptError::Key(KeyError::Destroyed(..)))
    ));
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(raw.contains("itarvault-keystore"));
    assert!(reopen(&path).cancel_destruction("k").is_err());
    assert!(reopen(&path).enable("k").is_err());
}

#[test]
fn unknown_key_and_bad_ids_are_refused() {
    let (_d, _path, ks) = setup();
    assert!(matches!(
        ks.rotate("nope"),
        Err(KeystoreError::Key(KeyError::UnknownKey(_)))
    ));
    assert!(matches!(
        ks.create_key("bad id"),
        Err(KeystoreError::Key(KeyError::InvalidKeyId(_)))
    ));
    ks.create_key("k").unwrap();
    assert!(matches!(
        ks.create_key("k"),
        Err(KeystoreError::Key(KeyError::AlreadyExists(_)))
    ));
}

#[test]
fn envelope_for_a_key_we_do_not_hold_names_the_keys() {
    let (_d, _p, ks) = setup();
    ks.create_key("theirs").unwrap();
    let env = seal(&ring(ks), "theirs", b"x");
    let (_d2, _p2, other) = setup();
    match open(&ring(other), &env) {
        Err(DecryptError::NoMatchingKey(list)) => {
            assert!(list.contains("local:theirs v1"), "{list}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_passphrase_wrong_secret_kind_and_tampering_refuse_to_open() {
    let (dir, path, ks) = setup();
    ks.create_key("k").unwrap();
    assert!(matches!(
        LocalKeystore::open(&path, &pass("not the passphrase")),
        Err(KeystoreError::WrongSecret(_))
    ));
    let key_file = RootSecret::KeyFile([7u8; 32].into());
    assert!(matches!(
        LocalKeystore::open(&path, &key_file),
        Err(KeystoreError::WrongSecret(_))
    ));
    // Any change to the sealed payload or to the KDF parameters fails authentication.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sealed = v["sealed"].as_str().unwrap().to_owned();
    let flipped = format!(
        "{}{}",
        if sealed.starts_with('0') { '1' } else { '0' },
        &sealed[1..]
    );
    v["sealed"] = flipped.into();
    let bad = dir.path().join("tampered");
    std::fs::write(&bad, v.to_string()).unwrap();
    assert!(matches!(
        LocalKeystore::open(&bad, &pass("a long passphrase")),
        Err(KeystoreError::WrongSecret(_))
    ));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["root"]["iterations"] = 100_001.into();
    std::fs::write(&bad, v.to_string()).unwrap();
    assert!(LocalKeystore::open(&bad, &pass("a long passphrase")).is_err());
    v["root"]["iterations"] = 1.into();
    std::fs::write(&bad, v.to_string()).unwrap();
    assert!(matches!(
        LocalKeystore::open(&bad, &pass("a long passphrase")),
        Err(KeystoreError::Corrupt(..))
    ));
    std::fs::write(&bad, "not json").unwrap();
    assert!(matches!(
        LocalKeystore::open(&bad, &pass("a long passphrase")),
        Err(KeystoreError::Corrupt(..))
    ));
    assert!(matches!(
        LocalKeystore::open(&dir.path().join("missing"), &pass("a long passphrase")),
        Err(KeystoreError::NotFound(_))
    ));
}

#[test]
fn init_refuses_overwrite_and_weak_passphrases() {
    let (_d, path, _ks) = setup();
    assert!(matches!(
        LocalKeystore::init_with_iterations(&path, &pass("a long passphrase"), ITERS),
        Err(KeystoreError::Exists(_))
    ));
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        LocalKeystore::init(&dir.path().join("k"), &pass("short")),
        Err(KeystoreError::WeakPassphrase)
    ));
}

#[cfg(unix)]
#[test]
fn root_key_files_must_be_private_and_well_formed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let kf = dir.path().join("root.key");
    let secret = RootSecret::generate_key_file(&kf).unwrap();
    assert_eq!(
        std::fs::metadata(&kf).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let ks_path = dir.path().join("ks");
    LocalKeystore::init(&ks_path, &secret)
        .unwrap()
        .create_key("k")
        .unwrap();
    let again = RootSecret::from_key_file(&kf).unwrap();
    assert_eq!(
        LocalKeystore::open(&ks_path, &again).unwrap().list().len(),
        1
    );
    assert!(matches!(
        RootSecret::generate_key_file(&kf),
        Err(KeystoreError::Io(..))
    ));

    std::fs::set_permissions(&kf, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        RootSecret::from_key_file(&kf),
        Err(KeystoreError::Permissions(_))
    ));

    let short = dir.path().join("short.key");
    std::fs::write(&short, b"abc").unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        RootSecret::from_key_file(&short),
        Err(KeystoreError::RootKeyFile(_))
    ));
}

#[test]
fn concurrent_handles_do_not_lose_each_others_changes() {
    let (_d, path, ks) = setup();
    let other = reopen(&path);
    ks.create_key("a").unwrap();
    other.create_key("b").unwrap(); // `other` loaded before `a` existed
    let ids: Vec<_> = reopen(&path).list().into_iter().map(|k| k.key_id).collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn rewrap_moves_to_a_new_key_and_keeps_the_body() {
    let (_d, path, ks) = setup();
    ks.create_key("old").unwrap();
    ks.create_key("new").unwrap();
    let r = ring(reopen(&path));
    let env = seal(&r, "old", &vec![5u8; 200_000]);
    let mut input = env.as_slice();
    let (old_header, new_header) = r
        .rewrap_header(&mut input, &[KeyRef::local("new")])
        .unwrap();
    assert_eq!(input, &env[old_header.len()..], "reader stops at the body");
    let mut rewrapped = new_header.clone();
    rewrapped.extend_from_slice(input);
    ks.disable("old").unwrap();
    let r = ring(reopen(&path));
    assert_eq!(open(&r, &rewrapped).unwrap(), vec![5u8; 200_000]);
    assert!(open(&r, &env).is_err());
}

#[test]
fn label_edit_is_caught_at_the_key_stage() {
    let (_d, _p, ks) = setup();
    ks.create_key("k").unwrap();
    let r = ring(ks);
    let env = seal(&r, "k", b"x");
    // Same length label: XI -> XV. The wrap context changes, so the unwrap fails.
    let pos = env.windows(7).position(|w| w == b"ITAR:XI").unwrap();
    let mut bad = env.clone();
    bad[pos + 6] = b'V';
    assert!(matches!(
        open(&r, &bad),
        Err(DecryptError::Key(KeyError::UnwrapFailed(..)))
    ));
}

#[test]
fn key_material_never_appears_in_debug_output() {
    let (_d, _p, ks) = setup();
    ks.create_key("k").unwrap();
    let s = format!("{ks:?} {:?}", pass("a long passphrase"));
    assert!(!s.contains("a long passphrase"));
    assert!(!s.contains("material"));
}
