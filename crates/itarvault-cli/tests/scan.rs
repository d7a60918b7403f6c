#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! `itarvault scan`: exit codes, the JSON of shared/spec/scan.md, SARIF, the table,
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
