#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! `itarvault scan`: exit codes, the JSON of docs/scan.md, SARIF, the table,
//! baselines.

use std::path::Path;
use std::process::{Command, Output};

fn scan(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_itarvault"))
        .arg("scan")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("docs")).unwrap();
    std::fs::write(
        d.path().join("docs/blade.txt"),
        "Turbine blade, rev C\nWARNING - This document contains technical data whose export is restricted by the\nArms Export Control Act. Violations are subject to severe criminal penalties.\nUSML Category XIX(f)\nCooling passage diameter 0.31 mm.\n",
    )
    .unwrap();
    std::fs::write(d.path().join("docs/clean.txt"), "nothing here\n").unwrap();
    d
}

#[test]
fn exit_status_says_whether_controlled_content_was_found() {
    let d = tree();
    assert_eq!(scan(&["docs/clean.txt"], d.path()).status.code(), Some(0));
    assert_eq!(scan(&["docs"], d.path()).status.code(), Some(1));
    let o = scan(&["no/such/dir"], d.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    std::fs::write(d.path().join("bad.toml"), "[meta]\nversion = 1\n").unwrap();
    let o = scan(&["--rules", "bad.toml", "docs"], d.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.toml"));
    // An unscannable file is reported; with --strict it fails the gate.
    std::fs::write(d.path().join("docs/pic.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    let o = scan(&["docs/clean.txt", "docs/pic.png"], d.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("UNSCANNED: image"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not be scanned"));
    assert_eq!(
        scan(&["--strict", "docs/clean.txt", "docs/pic.png"], d.path())
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn json_output_follows_the_spec_and_never_carries_the_technical_content() {
    let d = tree();
    let o = scan(&["--format", "json", "docs"], d.path());
    let v = json(&o);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "only files with findings: {v:#}");
    let f = &files[0];
    assert_eq!(f["path"], "docs/blade.txt");
    assert_eq!(f["suggested_label"], "ITAR:XIX(f)");
    assert!(f["error"].is_null());
    let first = &f["findings"][0];
    assert_eq!(first["rule"], "itar-warning-statement");
    assert_eq!(first["line"], 3);
    assert_eq!(first["matched"], "Arms Export Control Act");
    assert_eq!(first["implies"], "ITAR");
    assert_eq!(first["cite"], "22 CFR 120.33; 22 U.S.C. 2778; DoDD 5230.25");
    assert_eq!(f["findings"][1]["usml_category"], "XIX");
    for key in [
        "files_scanned",
        "files_with_findings",
        "bytes",
        "errors",
        "seconds",
    ] {
        assert!(v["summary"][key].is_number(), "summary.{key}: {v:#}");
    }
    assert_eq!(v["summary"]["files_scanned"], 2);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !text.contains("0.31 mm") && !text.contains("Turbine"),
        "technical content leaked"
    );
    // --all lists clean files too.
    let all = json(&scan(&["--format", "json", "--all", "docs"], d.path()));
    assert_eq!(all["files"].as_array().unwrap().len(), 2);
}

#[test]
fn sarif_and_table_outputs() {
    let d = tree();
    let s = json(&scan(&["--format", "sarif", "docs"], d.path()));
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "itarvault-scan");
    assert!(run["tool"]["driver"]["rules"].as_array().unwrap().len() >= 12);
    let r = &run["results"][0];
    assert_eq!(r["ruleId"], "itar-warning-statement");
    assert_eq!(r["level"], "error");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "docs/blade.txt"
    );
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert!(
        r["partialFingerprints"]["itarvaultScan/v1"]
            .as_str()
            .unwrap()
            .len()
            == 32
    );
    let table = String::from_utf8(scan(&["docs"], d.path()).stdout).unwrap();
    assert!(
        table.contains("docs/blade.txt  suggested label: ITAR:XIX(f)"),
        "{table}"
    );
    assert!(
        table.contains("2 files seen, 2 scanned, 1 with findings"),
        "{table}"
    );
    let rules = String::from_utf8(scan(&["--list-rules"], d.path()).stdout).unwrap();
    assert!(rules.contains("usml-category") && rules.contains("22 CFR 121.1"));
    let patterns = String::from_utf8(scan(&["--patterns"], d.path()).stdout).unwrap();
    assert_eq!(
        patterns.lines().count(),
        rules.lines().filter(|l| !l.starts_with('#')).count()
    );
}

#[test]
fn a_baseline_separates_new_fixed_and_unchanged_findings() {
    let d = tree();
    let o = scan(&["--format", "json", "docs"], d.path());
    std::fs::write(d.path().join("base.json"), &o.stdout).unwrap();
    // Nothing changed: exit 0 against the baseline, everything unchanged.
    let same = scan(
        &["--format", "json", "--baseline", "base.json", "docs"],
        d.path(),
    );
    assert_eq!(same.status.code(), Some(0));
    let v = json(&same);
    assert_eq!(v["baseline"]["new"], 0);
    assert_eq!(v["baseline"]["unchanged"], 2);
    // A new marked file and a cleaned one.
    std::fs::write(d.path().join("docs/new.txt"), "ECCN 9E003\n").unwrap();
    std::fs::write(d.path().join("docs/blade.txt"), "cleaned\n").unwrap();
    let o = scan(
        &["--format", "json", "--baseline", "base.json", "docs"],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["baseline"]["new"], 1);
    assert_eq!(v["baseline"]["fixed"].as_array().unwrap().len(), 2);
    assert_eq!(v["files"][0]["findings"][0]["baseline"], "new");
    std::fs::write(d.path().join("junk.json"), "{}").unwrap();
    let o = scan(&["--baseline", "junk.json", "docs"], d.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("is not an `itarvault scan --format json` report"));
}

/// A zip archive of stored entries, written by hand (this crate has no zip writer);
/// `encrypted` sets the flag a password-protecting tool sets.
fn stored_zip(entries: &[(&str, &[u8])], encrypted: bool) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let flags: u16 = u16::from(encrypted);
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in entries {
        let offset = out.len() as u32;
        let (crc, size, name_len) = (crc32(data), data.len() as u32, name.len() as u16);
        out.extend_from_slice(b"PK\x03\x04\x14\x00");
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        for v in [crc, size, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00");
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        for v in [crc, size, size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size, count) =
        (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

#[test]
fn gzip_tar_and_archives_are_opened_and_what_cannot_be_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let run = |cmd: &str, args: &[&str]| {
        let ok = Command::new(cmd)
            .args(args)
            .current_dir(d.path())
            .status()
            .unwrap();
        assert!(ok.success(), "{cmd} {args:?}");
    };
    std::fs::create_dir(d.path().join("src")).unwrap();
    std::fs::write(d.path().join("src/notes.txt"), "intro\nSECRET//NOFORN\n").unwrap();
    std::fs::write(d.path().join("memo.txt"), "hello\nECCN 9E003\n").unwrap();
    run("tar", &["czf", "bundle.tar.gz", "src"]);
    run("gzip", &["memo.txt"]);
    std::fs::remove_dir_all(d.path().join("src")).unwrap();
    std::fs::write(
        d.path().join("locked.zip"),
        stored_zip(&[("plans.txt", b"whatever")], true),
    )
    .unwrap();
    std::fs::write(
        d.path().join("plain.zip"),
        stored_zip(&[("a/b.txt", b"EAR99\n")], false),
    )
    .unwrap();
    let o = scan(&["--format", "json", "."], d.path());
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    let file = |name: &str| {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {v:#}"))
            .clone()
    };
    let bundle = file("bundle.tar.gz");
    assert_eq!(bundle["suggested_label"], "CLASSIFIED");
    assert_eq!(bundle["findings"][0]["entry"], "src/notes.txt");
    assert_eq!(bundle["findings"][0]["line"], 2);
    let memo = file("memo.txt.gz");
    assert_eq!(memo["suggested_label"], "EAR:9E003");
    assert_eq!(memo["findings"][0]["entry"], "memo.txt");
    assert_eq!(file("plain.zip")["findings"][0]["entry"], "a/b.txt");
    assert_eq!(
        file("plain.zip")["findings"].as_array().unwrap().len(),
        1,
        "no raw duplicate"
    );
    let locked = file("locked.zip");
    assert_eq!(locked["status"], "unscanned");
    assert_eq!(locked["error"], "encrypted (`plans.txt` needs a password)");
    assert_eq!(v["summary"]["files_unscanned"], 1);
    assert_eq!(v["summary"]["unscanned"]["encrypted"], 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not be scanned"));
    let table = String::from_utf8(scan(&["locked.zip"], d.path()).stdout).unwrap();
    assert!(
        table.contains("locked.zip  UNSCANNED: encrypted (`plans.txt` needs a password)"),
        "{table}"
    );
    assert_eq!(
        scan(&["--strict", "locked.zip"], d.path()).status.code(),
        Some(2)
    );
}
