//! The upload content check sees what `itarvault scan` sees: a marked docx, UTF-16
//! text, a zip holding a classification banner and gzip'd marked text are refused under
//! labels they contradict; an archive that cannot be checked is refused under EAR99 or
//! PUBLIC and stored, noted, under an ITAR label.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

mod common;

use std::io::Write;

use common::*;

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A docx whose text Word split into runs, as Word does.
fn docx(text: &str) -> Vec<u8> {
    let runs: String = text
        .split_inclusive(' ')
        .map(|w| format!("<w:r><w:t xml:space=\"preserve\">{w}</w:t></w:r>"))
        .collect();
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p>{runs}</w:p></w:body></w:document>"
    );
    zip_of(&[
        ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types/>"),
        ("word/document.xml", document.as_bytes()),
    ])
}

fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Sets the "encrypted" flag of every entry, as a password-protecting zip tool does.
fn encrypted(mut zip: Vec<u8>) -> Vec<u8> {
    for (signature, flags_at) in [(b"PK\x03\x04", 6usize), (b"PK\x01\x02", 8)] {
        let at: Vec<usize> = zip
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == signature)
            .map(|(i, _)| i)
            .collect();
        for p in at {
            zip[p + flags_at] |= 1;
        }
    }
    zip
}

const USML: &str = "EXPORT CONTROLLED. This document contains technical data whose export is restricted by the Arms Export Control Act. USML Category XIX(f). Seal geometry, rev A.";

#[test]
fn what_scan_flags_the_vault_refuses() {
    let v = cast();
    let files: Vec<(&str, Vec<u8>, &[&str], &str)> = vec![
        (
            "seal.docx",
            docx(USML),
            &["EAR99", "PUBLIC"],
            "content-mislabelled",
        ),
        ("seal.txt", utf16le(USML), &["EAR99"], "content-mislabelled"),
        (
            "banner.zip",
            zip_of(&[("memo.txt", b"SECRET//NOFORN\nwing loads table")]),
            &["EAR99", "ITAR:XIX"],
            "content-classified",
        ),
        (
            "seal.txt.gz",
            gzip(USML.as_bytes()),
            &["EAR99"],
            "content-mislabelled",
        ),
    ];
    for (name, bytes, labels, code) in &files {
        std::fs::write(v.p(name), bytes).unwrap();
        // `itarvault scan` flags it...
        let o = bin()
            .args(["scan", "--format", "json"])
            .arg(v.p(name))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "scan did not flag {name}");
        // ...and the vault refuses it under each label it contradicts.
        for label in *labels {
            let err = v.fails(
                "alice.tok",
                US,
                &["put", &format!("designs/{name}"), name, "-l", label],
                1,
            );
            assert!(err.contains(code), "{name} as {label}: {err}");
        }
    }
    assert_eq!(
        v.ok("alice.tok", US, &["ls", "designs", "--json"]).trim(),
        "[]"
    );
    // Correctly labelled, the docx is stored; the audit record names what was matched
    // inside it.
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/seal.docx", "seal.docx", "-l", "ITAR:XIX"],
    );
    let ok = v.audit_json(&["--kind", "object.put", "--outcome", "ok"]);
    assert!(ok[0]["event"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["rule"].as_str().unwrap().starts_with("scan:")));
}

#[test]
fn an_archive_that_cannot_be_checked_is_refused_as_ear99_and_noted_as_itar() {
    let v = cast();
    let locked = encrypted(zip_of(&[("a.txt", b"anything at all")]));
    std::fs::write(v.p("locked.zip"), &locked).unwrap();
    for label in ["EAR99", "PUBLIC"] {
        let err = v.fails(
            "alice.tok",
            US,
            &["put", "designs/locked.zip", "locked.zip", "-l", label],
            2,
        );
        assert!(
            err.contains("content-unchecked") && err.contains("encrypted"),
            "{label}: {err}"
        );
    }
    v.ok(
        "alice.tok",
        US,
        &["put", "designs/locked.zip", "locked.zip", "-l", "ITAR:XI"],
    );
    let ok = v.audit_json(&["--kind", "object.put", "--outcome", "ok"]);
    let detail = ok[0]["event"]["detail"].as_str().unwrap();
    assert!(detail.contains("not checked:"), "{detail}");
}
