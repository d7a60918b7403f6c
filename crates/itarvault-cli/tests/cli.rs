//! The `itarvault` binary end to end: every bad input gets a clear error naming its
//! stage, exit status 2, and leaves no output (or temporary) file behind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PASS: &str = "a long enough passphrase";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let e = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        e.ok(&["keys", "init"]);
        e.ok(&["keys", "create", "k1"]);
        e
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_itarvault"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("ITARVAULT_KEYSTORE", self.p("keystore.json"))
            .env("ITARVAULT_PASSPHRASE", PASS)
            .env_remove("ITARVAULT_PASSPHRASE_FILE")
            .env_remove("ITARVAULT_ROOT_KEY_FILE")
            .stdin(Stdio::null());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }
    /// Runs a command that must fail with status 2 and a message containing `want`.
    fn fails(&self, args: &[&str], want: &str) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected `{want}` in: {err}");
        err
    }
    fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.p(name), data).unwrap();
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.p(name)).unwrap()
    }
    /// Files in the directory, ignoring the keystore: proves nothing was left behind.
    fn files(&self) -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("keystore.json"))
            .collect();
        v.sort();
        v
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn header_len(path: &Path) -> usize {
    itarvault_format::UnverifiedHeader::read_from(&mut std::fs::File::open(path).unwrap())
        .unwrap()
        .len()
}

#[test]
fn round_trip_files_and_pipes() {
    let e = Env::new();
    e.write("plain", &data(200_000));
    e.ok(&[
        "encrypt", "--label", "ITAR:XI", "--key", "k1", "plain", "env",
    ]);
    e.ok(&["decrypt", "env", "out"]);
    assert_eq!(e.read("out"), data(200_000));

    let mut c = e.cmd(&["encrypt", "-l", "EAR99", "-k", "k1", "-", "-"]);
    c.stdin(std::fs::File::open(e.p("plain")).unwrap());
    let enc = c.output().unwrap();
    assert!(enc.status.success());
    e.write("piped", &enc.stdout);
    let o = e.ok(&["decrypt", "piped", "-"]);
    assert_eq!(o.stdout, data(200_000));
    assert_eq!(e.files(), ["env", "out", "piped", "plain"]);
}

#[test]
fn inspect_shows_label_keys_and_sizes_without_a_key() {
    let e = Env::new();
    e.write("plain", &data(5000));
    e.ok(&[
        "encrypt",
        "-l",
        "itar:xv(e);cui//sp-expt",
        "-k",
        "k1",
        "--chunk-size",
        "1024",
        "plain",
        "env",
    ]);
    let mut c = e.cmd(&["inspect", "--json", "env"]);
    c.env_remove("ITARVAULT_PASSPHRASE");
    let o = c.output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["label"], "ITAR:XV(e);CUI//SP-EXPT");
    assert_eq!(v["plaintext_bytes"], 5000);
    assert_eq!(v["chunk_size"], 1024);
    assert_eq!(v["authenticated"], false);
    assert_eq!(v["key_wraps"][0]["key_id"], "k1");
}

#[test]
fn bad_inputs_fail_by_stage_and_leave_nothing_behind() {
    let e = Env::new();
    e.write("plain", &data(3 * 1024 + 100));
    e.ok(&[
        "encrypt",
        "-l",
        "ITAR:XI",
        "-k",
        "k1",
        "--chunk-size",
        "1024",
        "plain",
        "env",
    ]);
    let env = e.read("env");
    let h = header_len(&e.p("env"));
    let slot = 1024 + 16;

    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", env[..h + 2 * slot].to_vec(), "truncated"),
        ("cut-in-header", env[..h - 10].to_vec(), "format"),
        ("empty", Vec::new(), "format"),
        (
            "not-an-envelope",
            b"hello, world, this is plain text".to_vec(),
            "not an itarvault envelope",
        ),
    ];
    let mut swapped = env[..h].to_vec();
    swapped.extend_from_slice(&env[h + slot..h + 2 * slot]);
    swapped.extend_from_slice(&env[h..h + slot]);
    swapped.extend_from_slice(&env[h + 2 * slot..]);
    cases.push(("swapped", swapped, "chunk 0 failed authentication"));
    let mut flipped = env.clone();
    flipped[h + 2 * slot + 7] ^= 0x10;
    cases.push(("flipped-body", flipped, "chunk 2 failed authentication"));
    let mut flipped = env.clone();
    flipped[h - 3] ^= 0x10;
    cases.push(("flipped-mac", flipped, "header authentication"));
    let mut v = env.clone();
    v[8] = 9;
    cases.push(("version", v, "version 9 is not supported"));
    let mut v = env.clone();
    v[9..11].copy_from_slice(&[0x12, 0x34]);
    cases.push(("suite", v, "suite 0x1234 is not supported"));
    let mut v = env.clone();
    v[11..15].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    cases.push(("oversized", v, "header_len"));
    let pos = env.windows(7).position(|w| w == b"ITAR:XI").unwrap();
    let mut v = env.clone();
    v[pos + 5] = b'Z';
    cases.push(("unparseable-label", v, "label does not parse"));
    let mut v = env.clone();
    v[pos + 6] = b'V';
    cases.push((
        "edited-label",
        v,
        "key wrap for `k1` version 1 did not authenticate",
    ));

    for (name, bytes, want) in &cases {
        e.write(name, bytes);
        let err = e.fails(&["decrypt", name, "out"], want);
        assert!(err.starts_with("error: decrypting"), "{name}: {err}");
        assert!(!e.p("out").exists(), "{name}: output left behind");
    }
    let mut expected: Vec<String> = cases.iter().map(|c| c.0.to_owned()).collect();
    expected.extend(["env".to_owned(), "plain".to_owned()]);
    expected.sort();
    assert_eq!(e.files(), expected, "no temporary files left behind");
}

#[test]
fn key_problems_fail_clearly() {
    let e = Env::new();
    e.write("plain", b"technical data");
    e.ok(&["encrypt", "-l", "ITAR:XI", "-k", "k1", "plain", "env"]);

    // Wrong passphrase.
    let o = e
        .cmd(&["decrypt", "env", "out"])
        .env("ITARVAULT_PASSPHRASE", "the wrong passphrase")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not open keystore"));

    // Unknown key id on encrypt; a key the keystore does not hold on decrypt.
    e.fails(
        &["encrypt", "-l", "ITAR:XI", "-k", "nope", "plain", "x"],
        "key `nope` does not exist",
    );
    let other = Env::new();
    std::fs::copy(e.p("env"), other.p("env")).unwrap();
    other.fails(&["decrypt", "env", "out"], "this `k1` is a different key");
    other.ok(&["keys", "destroy", "k1", "--days", "7"]);
    let third = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    third.ok(&["keys", "init"]);
    std::fs::copy(e.p("env"), third.p("env")).unwrap();
    third.fails(
        &["decrypt", "env", "out"],
        "none of this envelope's keys (local:k1 v1)",
    );

    // Disabled, then scheduled for destruction.
    e.ok(&["keys", "disable", "k1"]);
    e.fails(&["decrypt", "env", "out"], "key `k1` is disabled");
    e.ok(&["keys", "enable", "k1"]);
    e.fails(&["keys", "destroy", "k1", "--days", "1"], "7 to 30 days");
    e.ok(&["keys", "destroy", "k1", "--days", "7"]);
    e.fails(&["decrypt", "env", "out"], "scheduled for destruction");
    e.ok(&["keys", "cancel-destroy", "k1"]);
    e.ok(&["keys", "enable", "k1"]);
    e.ok(&["decrypt", "env", "out"]);
    assert_eq!(e.read("out"), b"technical data");

    // Missing keystore and missing passphrase.
    let o = e
        .cmd(&["keys", "list"])
        .env("ITARVAULT_KEYSTORE", e.p("absent"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("itarvault keys init"));
    let o = e
        .cmd(&["keys", "list"])
        .env_remove("ITARVAULT_PASSPHRASE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no keystore passphrase given"));
}

#[test]
fn unparseable_labels_are_refused_before_anything_is_written() {
    let e = Env::new();
    e.write("plain", b"x");
    for (label, want) in [
        ("ITAR:XXII", "not a USML category"),
        ("EAR:EAR99", "write `EAR99`"),
        ("SECRET", "not recognised"),
        ("", "label is empty"),
    ] {
        e.fails(&["encrypt", "-l", label, "-k", "k1", "plain", "out"], want);
        assert!(!e.p("out").exists());
    }
}

#[test]
fn failed_rewrap_leaves_the_original_intact() {
    let e = Env::new();
    e.write("plain", &data(100_000));
    e.ok(&["encrypt", "-l", "ITAR:XI", "-k", "k1", "plain", "env"]);
    let before = e.read("env");
    e.fails(
        &["rewrap", "env", "-k", "missing"],
        "key `missing` does not exist",
    );
    assert_eq!(e.read("env"), before);
    let mut damaged = before.clone();
    let n = damaged.len();
    damaged[n - 100] ^= 1; // body damage is not rewrap's business, but header damage is:
    damaged[20] ^= 1;
    e.write("damaged", &damaged);
    e.fails(&["rewrap", "damaged", "-k", "k1"], "rewrapping `damaged`");
    assert_eq!(e.read("damaged"), damaged);
    assert_eq!(e.files(), ["damaged", "env", "plain"]);

    // A successful rewrap to a rotated version changes only the header.
    e.ok(&["keys", "rotate", "k1"]);
    e.ok(&["rewrap", "env", "-k", "k1"]);
    let after = e.read("env");
    let (h0, h1) = (header_len(&e.p("damaged")), header_len(&e.p("env")));
    assert_eq!(&after[h1..], &before[h0..], "body untouched");
    e.ok(&["decrypt", "env", "out"]);
    assert_eq!(e.read("out"), data(100_000));
}

#[test]
fn outputs_are_not_clobbered_without_force() {
    let e = Env::new();
    e.write("plain", b"x");
    e.write("taken", b"keep me");
    e.fails(
        &["encrypt", "-l", "EAR99", "-k", "k1", "plain", "taken"],
        "already exists",
    );
    assert_eq!(e.read("taken"), b"keep me");
    e.ok(&[
        "encrypt", "-l", "EAR99", "-k", "k1", "--force", "plain", "taken",
    ]);
}

#[test]
fn version_reports_the_module_and_fips_state() {
    let e = Env::new();
    let o = e.ok(&["version", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["fips_mode"], cfg!(feature = "fips"));
    assert!(v["crypto_module"].as_str().unwrap().starts_with("AWS-LC"));
    // The fips build names its certificate; the development build says what it is.
    assert_eq!(v["validated"], cfg!(feature = "fips"), "{v}");
    let validation = v["validation"].as_str().unwrap();
    if cfg!(feature = "fips") {
        assert!(validation.contains("CMVP certificate #"), "{validation}");
    } else {
        assert!(validation.contains("development build"), "{validation}");
    }
    let help = e.ok(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("encrypt"));
}

#[test]
fn keys_list_json_has_no_key_material() {
    let e = Env::new();
    e.ok(&["keys", "rotate", "k1"]);
    let o = e.ok(&["keys", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["key_id"], "k1");
    assert_eq!(v[0]["current_version"], 2);
    assert_eq!(v[0]["state"], "enabled");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("material"));
    // The keystore file on disk holds no key material in clear either.
    let ks = std::fs::read_to_string(e.p("keystore.json")).unwrap();
    assert!(
        !ks.contains("material") && !ks.contains("k1"),
        "keystore contents must be sealed"
    );
}
