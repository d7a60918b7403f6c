#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! Scanning real files: documents whose text must be extracted, and every kind of bad
//! input the issue names. Each bad file is reported and the scan goes on.

use itarvault_scan::walk::{FileReport, Status};
use itarvault_scan::{scan_paths, Options, Report, Scanner};
use lopdf::{dictionary, Document, Object, Stream};
use std::io::Write;
use std::path::Path;

fn scan(dir: &Path, opts: &Options) -> Report {
    scan_paths(&Scanner::builtin().unwrap(), &[dir.to_path_buf()], opts)
}

fn file<'a>(r: &'a Report, name: &str) -> &'a FileReport {
    r.files
        .iter()
        .find(|f| f.path.ends_with(name))
        .unwrap_or_else(|| panic!("{name} missing from {:#?}", r.files))
}

/// A one-page PDF whose page says `text` (no text at all when `None`).
fn pdf(text: Option<&str>) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let ops = match text {
        Some(t) => format!("BT /F1 12 Tf 72 720 Td ({t}) Tj ET"),
        None => "0 0 1 rg 10 10 100 100 re f".into(),
    };
    let content_id = doc.add_object(Stream::new(dictionary! {}, ops.into_bytes()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc
}

fn save(mut doc: Document, path: &Path) {
    doc.save(path).unwrap();
}

/// A zip archive with these (name, content) entries, deflated.
fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn text_inside_pdf_and_office_documents_is_found() {
    let d = tempfile::tempdir().unwrap();
    save(
        pdf(Some("USML Category XV(e) - ITAR CONTROLLED")),
        &d.path().join("drawing.pdf"),
    );
    // Word splits text into runs; the marking sits in the header part.
    zip_of(
        &d.path().join("memo.docx"),
        &[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document><w:body><w:p><w:r><w:t>Quarterly review</w:t></w:r></w:p></w:body></w:document>"),
            ("word/header1.xml", b"<w:hdr><w:p><w:r><w:t>CUI//SP-</w:t></w:r><w:r><w:t>EXPT</w:t></w:r></w:p></w:hdr>"),
        ],
    );
    zip_of(
        &d.path().join("parts.xlsx"),
        &[(
            "xl/sharedStrings.xml",
            b"<sst><si><t>Part</t></si><si><t>ECCN 9E003</t></si></sst>",
        )],
    );
    zip_of(
        &d.path().join("brief.pptx"),
        &[("ppt/slides/slide1.xml", b"<p:sld><a:p><a:r><a:t>DISTRIBUTION STATEMENT C. Distribution authorized to U.S. Government agencies and their contractors.</a:t></a:r></a:p></p:sld>")],
    );
    // A plain zip holding a text file and a nested zip.
    let inner = d.path().join("inner.zip");
    zip_of(&inner, &[("deep/notes.txt", b"line one\nEAR99\n")]);
    let inner_bytes = std::fs::read(&inner).unwrap();
    std::fs::remove_file(&inner).unwrap();
    zip_of(
        &d.path().join("bundle.zip"),
        &[("readme.txt", b"hello"), ("inner.zip", &inner_bytes)],
    );

    let r = scan(d.path(), &Options::default());
    let pdf = file(&r, "drawing.pdf");
    assert_eq!(
        pdf.suggested_label.as_deref(),
        Some("ITAR:XV(e)"),
        "{pdf:#?}"
    );
    assert_eq!(
        pdf.findings[0].line, None,
        "extracted text has no source lines"
    );
    let docx = file(&r, "memo.docx");
    assert_eq!(docx.findings[0].rule, "cui-export-controlled");
    assert_eq!(docx.findings[0].entry.as_deref(), Some("word/header1.xml"));
    assert_eq!(
        file(&r, "parts.xlsx").suggested_label.as_deref(),
        Some("EAR:9E003")
    );
    assert_eq!(
        file(&r, "brief.pptx").findings[0].distribution.as_deref(),
        Some("C")
    );
    let bundle = file(&r, "bundle.zip");
    assert_eq!(
        bundle.findings[0].entry.as_deref(),
        Some("inner.zip!deep/notes.txt")
    );
    assert_eq!(bundle.findings[0].line, Some(2));
    assert_eq!(r.summary.files_with_findings, 5);
    assert_eq!(r.summary.files_unscanned + r.summary.errors, 0);
}

#[test]
fn hidden_and_git_ignored_files_are_scanned() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join(".cache/build")).unwrap();
    std::fs::write(d.path().join(".gitignore"), ".cache/\n*.log\n").unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    std::fs::write(d.path().join(".cache/build/out.log"), "ITAR-controlled").unwrap();
    std::fs::write(d.path().join(".ignore"), "*\n").unwrap();
    std::fs::write(d.path().join("x.log"), "EAR99").unwrap();
    let r = scan(d.path(), &Options::default());
    assert_eq!(r.summary.files_with_findings, 2, "{:#?}", r.files);
}

#[test]
fn bad_input_is_reported_per_file_and_the_scan_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n);
    // Binary garbage with a marking inside it (title blocks live in CAD binaries).
    let mut garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    garbage.splice(100_000..100_000, b"\0USML Category IV\0".iter().copied());
    std::fs::write(p("blob.bin"), &garbage).unwrap();
    // Invalid UTF-8 around a marking.
    std::fs::write(
        p("latin1.txt"),
        b"caf\xe9 \xff\xfe\xfd\nECCN 9E003\n\xc3\x28",
    )
    .unwrap();
    // One enormous line (3 MiB, no newline) with a marking at its end.
    let mut long = vec![b'a'; 3 << 20];
    long.extend_from_slice(b" EAR99");
    std::fs::write(p("long.txt"), &long).unwrap();
    // A zip bomb: 600 MiB of zeros compresses to well under 1 MiB.
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(p("bomb.docx")).unwrap());
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        z.start_file("word/document.xml", o).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..600 {
            z.write_all(&zeros).unwrap();
        }
        z.finish().unwrap();
    }
    // An encrypted PDF (a user password is needed), and a PDF that is only a picture.
    let mut secret = pdf(Some("ITAR CONTROLLED"));
    let id = Object::string_literal("0123456789abcdef");
    secret.trailer.set("ID", vec![id.clone(), id]);
    let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
        document: &secret,
        owner_password: "owner",
        user_password: "user-pass",
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    })
    .unwrap();
    secret.encrypt(&state).unwrap();
    save(secret, &p("locked.pdf"));
    save(pdf(None), &p("scanned.pdf"));
    std::fs::write(
        p("broken.pdf"),
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer garbage",
    )
    .unwrap();
    std::fs::write(p("photo.jpg"), b"\xFF\xD8\xFF\xE0 JFIF image bytes").unwrap();
    // Unreadable, and a symlink loop (followed on request).
    std::fs::write(p("locked.txt"), "ITAR CONTROLLED").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p("locked.txt"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::os::unix::fs::symlink(d.path(), p("loop")).unwrap();
    std::os::unix::fs::symlink(p("gone"), p("dangling")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(p("pipe"))
        .status()
        .unwrap();
    assert!(fifo.success());
    std::fs::write(p("big.txt"), vec![b'x'; 2 << 20]).unwrap();

    let opts = Options {
        follow: true,
        max_size: 1 << 30,
        ..Options::default()
    };
    let r = scan(d.path(), &opts);
    assert_eq!(
        file(&r, "blob.bin").suggested_label.as_deref(),
        Some("ITAR:IV")
    );
    assert_eq!(file(&r, "latin1.txt").findings[0].line, Some(2));
    assert_eq!(file(&r, "long.txt").findings[0].rule, "ear99");
    // A zip bomb could not be checked: unscanned, and the reason says why.
    let bomb = file(&r, "bomb.docx");
    assert_eq!(bomb.status, Status::Unscanned, "{bomb:#?}");
    assert!(
        bomb.error.as_deref().unwrap().contains("zip bomb"),
        "{bomb:#?}"
    );
    let locked = file(&r, "locked.pdf");
    assert_eq!(locked.status, Status::Unscanned, "{locked:#?}");
    assert!(
        locked.error.as_deref().unwrap().starts_with("encrypted"),
        "{locked:#?}"
    );
    assert!(file(&r, "scanned.pdf")
        .error
        .as_deref()
        .unwrap()
        .contains("no text layer"));
    assert_eq!(file(&r, "broken.pdf").status, Status::Error);
    assert!(file(&r, "photo.jpg")
        .error
        .as_deref()
        .unwrap()
        .contains("OCR"));
    // Unreadable: a dangling link (root reads even a mode-000 file, so that one is
    // checked only for other users).
    let dangling = file(&r, "dangling");
    assert_eq!(dangling.status, Status::Error, "{dangling:#?}");
    if std::fs::read(p("locked.txt")).is_err() {
        assert_eq!(file(&r, "locked.txt").status, Status::Error);
    }
    // A FIFO is reported, never opened (opening it would hang the walk).
    assert!(file(&r, "pipe")
        .error
        .as_deref()
        .unwrap()
        .contains("not a regular file"));
    assert!(r.files.iter().any(|f| f.status == Status::Error && f.error.as_deref().unwrap_or("").contains("loop")), "{:#?}", r.files);
    // The size limit.
    let small = Options {
        max_size: 1 << 20,
        ..Options::default()
    };
    let r2 = scan(d.path(), &small);
    assert!(file(&r2, "big.txt")
        .error
        .as_deref()
        .unwrap()
        .contains("size limit"));
    assert!(r2
        .summary
        .unscanned
        .keys()
        .any(|k| k.starts_with("over the size limit")));
    // Not following links: the link is reported, not silently dropped.
    assert!(file(&r2, "loop")
        .error
        .as_deref()
        .unwrap()
        .contains("not followed"));
    std::fs::set_permissions(p("locked.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn fingerprints_follow_content_not_position() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.txt");
    std::fs::write(&a, "intro\nECCN 9E003\n").unwrap();
    let first = scan(d.path(), &Options::default());
    let fp = |r: &Report| r.files[0].findings[0].fingerprint.clone().unwrap();
    // Same bytes under another name: same fingerprint (a move is not a new finding).
    std::fs::rename(&a, d.path().join("b.txt")).unwrap();
    let moved = scan(d.path(), &Options::default());
    assert_eq!(fp(&first), fp(&moved));
    // Any edit to the file: a new finding to review, even with the marking on the same line.
    std::fs::write(d.path().join("b.txt"), "intrO\nECCN 9E003\n").unwrap();
    let edited = scan(d.path(), &Options::default());
    assert_ne!(fp(&first), fp(&edited));
    // Two identical markings in one file are two findings.
    std::fs::write(d.path().join("b.txt"), "ECCN 9E003\nECCN 9E003\n").unwrap();
    let twice = scan(d.path(), &Options::default());
    let f = &twice.files[0].findings;
    assert_ne!(f[0].fingerprint, f[1].fingerprint);
}
