//! What a user has is the repository and the binary. Every help text, doc page, error
//! hint and data file must stand on its own: none may send the reader to material that
//! is not shipped (design notes or specifications outside the repository), and the
//! decision example in `docs/rules.md` must be one the engine accepts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Pointers at material users do not have: the team's design notes and specifications
/// live beside the repository, not in it.
fn unshipped_reference(text: &str) -> Option<&'static str> {
    [
        "shared/spec",
        "shared/DESIGN",
        "shared/STYLE",
        "shared/reference",
        "../shared",
        "DESIGN.md",
        "STYLE.md",
        "spec/labels.md",
        "spec/decision.md",
        "spec/inventory.md",
        "spec/scan.md",
    ]
    .into_iter()
    .find(|needle| text.contains(needle))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | "node_modules") {
                walk(&path, out);
            }
        } else if [
            ".rs", ".md", ".toml", ".json", ".yaml", ".yml", ".sh", ".py", ".service", ".html",
        ]
        .iter()
        .any(|ext| name.ends_with(ext))
            || name == "run"
        {
            out.push(path);
        }
    }
}

#[test]
fn no_shipped_file_points_at_material_users_do_not_have() {
    let root = root();
    let mut files = vec![root.join("README.md")];
    for dir in [
        "docs",
        "crates",
        "examples",
        "scripts",
        "packaging",
        "testdata",
        ".ci",
        "bench",
    ] {
        walk(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 100,
        "the walk found too few files: {}",
        files.len()
    );
    let this = file!().rsplit('/').next().unwrap();
    let mut found = Vec::new();
    for f in &files {
        if f.ends_with(this) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if let Some(needle) = unshipped_reference(line) {
                found.push(format!("{}:{}: `{needle}`", f.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "references to unshipped material:\n{}",
        found.join("\n")
    );
}

/// The subcommand names listed under "Commands:" in one help text.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A name sits two spaces in; wrapped description lines are indented further.
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help" && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_help_text_points_at_material_users_do_not_have() {
    let mut queue = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let out = Command::new(env!("CARGO_BIN_EXE_itarvault"))
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "itarvault {} --help failed",
            path.join(" ")
        );
        let help = String::from_utf8(out.stdout).unwrap();
        if let Some(needle) = unshipped_reference(&help) {
            panic!("`itarvault {} --help` mentions `{needle}`", path.join(" "));
        }
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub);
            queue.push(p);
        }
        seen += 1;
    }
    assert!(seen > 30, "only {seen} help texts were found");
}

#[test]
fn the_decision_example_in_the_rules_page_is_decided_as_documented() {
    let page = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    let section = &page[page.find("## Request and response").unwrap()..];
    let request = section
        .split("```json")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("req.json");
    std::fs::write(&file, request).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_itarvault"))
        .args(["decide", "--request"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // A British national with former French citizenship and German residence, holding a
    // DSP-5 for all three and category XI, reading category XI data in the US.
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["authorization_used"], "DSP5-123456", "{v}");
    for r in v["reasons"].as_array().unwrap() {
        assert!(r["cite"].as_str().unwrap().contains("CFR"), "{r}");
    }
}
