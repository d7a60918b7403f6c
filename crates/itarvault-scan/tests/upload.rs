#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! The upload check: every container and encoding built here from bytes, pushed in
//! pieces as an upload arrives, and the decision the server takes on the outcome.

use itarvault_format::Label;
use itarvault_scan::{
    decide_upload, Budget, CheckOutcome, Conflict, OnMismatch, Refusal, Scanner, Unchecked,
    UploadDecision,
};
use proptest::prelude::*;
use std::io::Write;
use std::sync::OnceLock;

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| Scanner::builtin().unwrap())
}

fn check_in(bytes: &[u8], piece: usize, budget: Budget) -> CheckOutcome {
    let mut check = scanner().upload_check(budget);
    for chunk in bytes.chunks(piece.max(1)) {
        check.push(chunk);
    }
    check.finish()
}

fn check(bytes: &[u8]) -> CheckOutcome {
    check_in(bytes, 64 << 10, Budget::default())
}

fn label(text: &str) -> Label {
    text.parse().unwrap()
}

fn decide(text: &str, outcome: &CheckOutcome) -> UploadDecision {
    decide_upload(&label(text), outcome, OnMismatch::Refuse)
}

fn refused_code(text: &str, outcome: &CheckOutcome) -> Option<&'static str> {
    match decide(text, outcome) {
        UploadDecision::Refuse(c) => Some(c.code()),
        UploadDecision::Store { .. } => None,
    }
}

fn zip_with(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    for (name, data) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, zip::CompressionMethod::Deflated)
}

/// A minimal docx: the content types, the relationships, and a document whose text
/// Word split into runs.
fn docx(body: &str) -> Vec<u8> {
    let runs: String = body
        .split_inclusive(' ')
        .map(|w| format!("<w:r><w:t xml:space=\"preserve\">{w}</w:t></w:r>"))
        .collect();
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p>{runs}</w:p><w:p><w:r><w:t>Blade cooling passages, rev C.</w:t></w:r></w:p></w:body></w:document>"
    );
    zip_of(&[
        ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types/>"),
        ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships/>"),
        ("word/document.xml", document.as_bytes()),
    ])
}

fn gzip(data: &[u8], name: Option<&str>) -> Vec<u8> {
    let mut builder = flate2::GzBuilder::new();
    if let Some(n) = name {
        builder = builder.filename(n);
    }
    let mut e = builder.write(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A ustar header block for a regular file (or another `kind`).
fn tar_header(name: &str, size: usize, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0001750\0");
    h[116..124].copy_from_slice(b"0001750\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"14712345670\0");
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        if name.len() > 100 {
            let long = format!("{name}\0");
            out.extend_from_slice(&tar_header("././@LongLink", long.len(), b'L'));
            out.extend_from_slice(long.as_bytes());
            out.resize(out.len().div_ceil(512) * 512, 0);
            out.extend_from_slice(&tar_header(&name[..100], data.len(), b'0'));
        } else {
            out.extend_from_slice(&tar_header(name, data.len(), b'0'));
        }
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Sets the "encrypted" flag of every entry (local headers and central directory), as
/// a password-protecting zip tool does.
fn mark_encrypted(mut zip: Vec<u8>) -> Vec<u8> {
    for (signature, flags_at) in [(b"PK\x03\x04", 6usize), (b"PK\x01\x02", 8)] {
        let positions: Vec<usize> = zip
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == signature)
            .map(|(i, _)| i)
            .collect();
        for p in positions {
            zip[p + flags_at] |= 1;
        }
    }
    zip
}

fn rules(outcome: &CheckOutcome) -> Vec<(String, Option<String>)> {
    outcome
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.entry.clone()))
        .collect()
}

const MARKED: &str = "Turbine blade drawing\nUSML Category XIX(f)\nCooling passage 0.31 mm\n";

#[test]
fn a_marked_docx_is_itar_and_refused_under_ear99_and_public() {
    let outcome = check(&docx(
        "Export controlled: USML Category XIX(f) technical data",
    ));
    let f = outcome
        .findings
        .iter()
        .find(|f| f.rule == "usml-category")
        .unwrap_or_else(|| panic!("{outcome:#?}"));
    assert_eq!(f.entry.as_deref(), Some("word/document.xml"));
    assert_eq!(f.usml_category.as_deref(), Some("XIX"));
    assert_eq!(outcome.unchecked, None);
    for declared in ["EAR99", "PUBLIC"] {
        assert_eq!(
            refused_code(declared, &outcome),
            Some("content-mislabelled"),
            "{declared}"
        );
    }
    assert_eq!(refused_code("ITAR:XIX", &outcome), None);
    assert_eq!(
        refused_code("ITAR:IV", &outcome),
        Some("content-mislabelled")
    );
}

#[test]
fn wide_text_is_read_with_and_without_a_byte_order_mark() {
    let utf16 = |be: bool, bom: bool| -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(if be { b"\xFE\xFF" } else { b"\xFF\xFE" });
        }
        for unit in MARKED.encode_utf16() {
            out.extend_from_slice(&if be {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    };
    for (be, bom) in [(false, true), (false, false), (true, true), (true, false)] {
        let outcome = check(&utf16(be, bom));
        let f = &outcome.findings;
        assert_eq!(f.len(), 1, "be {be} bom {bom}: {outcome:#?}");
        assert_eq!(f[0].rule, "usml-category");
        assert_eq!(f[0].line, Some(2), "lines of the decoded text");
        assert_eq!(refused_code("EAR99", &outcome), Some("content-mislabelled"));
    }
    let mut utf32 = b"\xFF\xFE\x00\x00".to_vec();
    for c in MARKED.chars() {
        utf32.extend_from_slice(&u32::from(c).to_le_bytes());
    }
    assert_eq!(rules(&check(&utf32)), [("usml-category".into(), None)]);
}

#[test]
fn a_classification_banner_in_a_zip_is_refused_under_every_label() {
    let outcome = check(&zip_of(&[
        ("readme.txt", b"hello"),
        ("notes/brief.txt", b"intro\nSECRET//NOFORN\nbody\n"),
    ]));
    assert_eq!(
        rules(&outcome),
        [(
            "classification-banner".to_string(),
            Some("notes/brief.txt".to_string())
        )]
    );
    for declared in ["PUBLIC", "EAR99", "EAR:9E003", "ITAR:XIX"] {
        assert_eq!(
            refused_code(declared, &outcome),
            Some("content-classified"),
            "{declared}"
        );
    }
    // Flagging mislabelled uploads never lets a classified one through.
    let flagged = decide_upload(&label("ITAR:XIX"), &outcome, OnMismatch::Flag);
    assert!(matches!(
        flagged,
        UploadDecision::Refuse(Refusal::Content(Conflict::Classified { .. }))
    ));
}

#[test]
fn gzip_and_tar_gz_content_is_found() {
    let outcome = check(&gzip(MARKED.as_bytes(), Some("drawing.txt")));
    assert_eq!(
        rules(&outcome),
        [("usml-category".into(), Some("drawing.txt".into()))]
    );
    assert_eq!(outcome.findings[0].line, Some(2));
    // No stored name: the findings belong to the file itself.
    assert_eq!(
        rules(&check(&gzip(MARKED.as_bytes(), None))),
        [("usml-category".into(), None)]
    );
    let long = format!("{}/spec.txt", "deep".repeat(30));
    let tar = tar_of(&[
        ("src/readme.txt", b"nothing here\n"),
        ("src/empty.txt", b""),
        (long.as_str(), b"ECCN 9E003\n"),
        ("src/drawing.txt", MARKED.as_bytes()),
    ]);
    let outcome = check(&gzip(&tar, Some("bundle.tar")));
    assert_eq!(
        rules(&outcome),
        [
            ("eccn".into(), Some(format!("bundle.tar!{long}"))),
            (
                "usml-category".into(),
                Some("bundle.tar!src/drawing.txt".into())
            ),
        ],
        "raw tar findings are explained by the members: {outcome:#?}"
    );
    assert_eq!(outcome.unchecked, None);
    assert_eq!(
        refused_code("EAR:9E003", &outcome),
        Some("content-mislabelled")
    );
    // A plain tar is walked the same way.
    assert_eq!(check(&tar).findings.len(), 2);
}

#[test]
fn nested_archives_are_opened_to_the_depth_limit() {
    let inner = zip_of(&[("deep/notes.txt", b"line one\nEAR99\n")]);
    let outer = zip_of(&[("readme.txt", b"hello"), ("inner.zip", &inner)]);
    let outcome = check(&outer);
    assert_eq!(
        rules(&outcome),
        [("ear99".into(), Some("inner.zip!deep/notes.txt".into()))]
    );
    assert_eq!(outcome.findings[0].line, Some(2));
    // A docx inside a tar.gz inside a zip: three containers, within the default four.
    let tgz = gzip(
        &tar_of(&[("memo.docx", &docx("ITAR CONTROLLED memo"))]),
        None,
    );
    let outcome = check(&zip_of(&[("release.tgz", &tgz)]));
    assert!(
        outcome
            .findings
            .iter()
            .any(|f| f.rule == "itar-controlled-phrase"
                && f.entry.as_deref() == Some("release.tgz!memo.docx!word/document.xml")),
        "{outcome:#?}"
    );
    // Six zips deep: the fifth is not opened.
    let mut nested = zip_of(&[("core.txt", b"ITAR CONTROLLED")]);
    for i in 0..5 {
        nested = zip_of(&[(&format!("level{i}.zip"), &nested)]);
    }
    let outcome = check(&nested);
    assert!(
        matches!(
            &outcome.unchecked,
            Some(Unchecked::DepthLimit { depth: 4, .. })
        ),
        "{outcome:#?}"
    );
    assert_eq!(refused_code("EAR99", &outcome), Some("content-unchecked"));
}

#[test]
fn an_encrypted_entry_is_refused_under_ear99_and_public_and_noted_under_itar() {
    let outcome = check(&mark_encrypted(zip_of(&[("plans.txt", b"whatever")])));
    assert_eq!(
        outcome.unchecked,
        Some(Unchecked::Encrypted {
            entry: "plans.txt".into()
        })
    );
    for declared in ["EAR99", "PUBLIC"] {
        let UploadDecision::Refuse(c) = decide(declared, &outcome) else {
            panic!("{declared} stored");
        };
        assert_eq!(c.code(), "content-unchecked");
        assert!(c.rules().is_empty());
        let message = c.to_string();
        assert!(
            message.contains("`plans.txt` needs a password"),
            "{message}"
        );
        assert!(
            message.contains(&format!("`{declared}` says none of it")),
            "{message}"
        );
        let cite = if declared == "PUBLIC" {
            "22 CFR 120.34"
        } else {
            "15 CFR 774.1"
        };
        assert!(message.contains(cite), "{message}");
        assert!(c.hint().contains("ITAR or EAR label"), "{}", c.hint());
    }
    for declared in ["ITAR:XIX", "EAR:9E003"] {
        let decision = decide(declared, &outcome);
        assert!(
            matches!(
                &decision,
                UploadDecision::Store {
                    flagged: None,
                    not_checked: Some(_)
                }
            ),
            "{decision:?}"
        );
        assert_eq!(
            decision.note().as_deref(),
            Some("not checked: encrypted (`plans.txt` needs a password)")
        );
    }
}

#[test]
fn a_container_over_the_memory_budget_is_unchecked_but_its_bytes_are_matched() {
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let zip = zip_with(
        &[("noise.bin", &noise), ("banner.txt", b"TOP SECRET//SI\n")],
        zip::CompressionMethod::Stored,
    );
    let budget = Budget {
        memory: 64 << 10,
        ..Budget::default()
    };
    let outcome = check_in(&zip, 4096, budget);
    assert!(
        matches!(&outcome.unchecked, Some(Unchecked::OverBudget { entry, budget: 65_536 }) if entry.is_empty()),
        "{outcome:#?}"
    );
    // The stored banner is still seen in the raw bytes: refused even under ITAR.
    assert_eq!(
        refused_code("ITAR:XIX", &outcome),
        Some("content-classified")
    );
    let clean = zip_with(&[("noise.bin", &noise)], zip::CompressionMethod::Stored);
    let outcome = check_in(&clean, 4096, budget);
    assert_eq!(refused_code("PUBLIC", &outcome), Some("content-unchecked"));
    let UploadDecision::Refuse(c) = decide("PUBLIC", &outcome) else {
        unreachable!()
    };
    assert!(
        c.hint()
            .starts_with("split it into parts smaller than 1 MiB"),
        "{}",
        c.hint()
    );
    assert_eq!(refused_code("ITAR:XIX", &outcome), None);
}

#[test]
fn a_zip_bomb_stops_early_at_the_expansion_bound() {
    let zeros = vec![0u8; 200 << 20];
    let bomb = zip_of(&[("word/document.xml", &zeros)]);
    assert!(bomb.len() < 1 << 20);
    let outcome = check(&bomb);
    // 200 times the first 16 KiB block of compressed input, and not a byte more.
    let limit = Budget::default().max_ratio * (16 << 10);
    assert_eq!(
        outcome.unchecked,
        Some(Unchecked::DecompressionLimit {
            entry: "word/document.xml".into(),
            limit
        })
    );
    assert_eq!(outcome.decompressed, limit);
    assert_eq!(refused_code("EAR99", &outcome), Some("content-unchecked"));
    // The same bound holds for a gzip stream, decompressed as it arrives.
    let outcome = check(&gzip(&zeros, None));
    assert_eq!(
        outcome.unchecked,
        Some(Unchecked::DecompressionLimit {
            entry: String::new(),
            limit
        })
    );
    assert_eq!(outcome.decompressed, limit);
    // And the total bound across all streams, whatever their ratios.
    // Text that compresses like prose (about 2:1), not like a bomb.
    let text: String = (0..300_000u32)
        .map(|i| {
            char::from(b"etaoin shrdlu\n"[(i.wrapping_mul(2_654_435_761) >> 28) as usize % 14])
        })
        .collect();
    let many: Vec<(String, &[u8])> = (0..8)
        .map(|i| (format!("{i}.txt"), text.as_bytes()))
        .collect();
    let entries: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let small = Budget {
        max_decompressed: 3 * text.len() as u64 + 10,
        ..Budget::default()
    };
    let outcome = check_in(&zip_of(&entries), 64 << 10, small);
    assert!(
        matches!(&outcome.unchecked, Some(Unchecked::DecompressionLimit { entry, .. }) if entry == "3.txt"),
        "{:?}",
        outcome.unchecked
    );
    assert_eq!(outcome.decompressed, small.max_decompressed);
}

#[test]
fn unsupported_and_damaged_containers_are_unchecked() {
    let mut bzip = zip_with(&[("a.txt", b"hello")], zip::CompressionMethod::Stored);
    for (signature, method_at) in [(b"PK\x03\x04", 8usize), (b"PK\x01\x02", 10)] {
        let p = bzip.windows(4).position(|w| w == signature).unwrap();
        bzip[p + method_at] = 12;
    }
    assert!(
        matches!(&check(&bzip).unchecked, Some(Unchecked::UnsupportedCompression { method, .. }) if method == "bzip2 (zip method 12)"),
    );
    let seven = check(b"7z\xBC\xAF\x27\x1C\x00\x04 ITAR CONTROLLED");
    assert_eq!(
        seven.unchecked,
        Some(Unchecked::UnsupportedFormat {
            entry: String::new(),
            format: "7-Zip"
        })
    );
    assert_eq!(seven.findings.len(), 1, "the raw bytes are still matched");
    let zip = zip_of(&[("a.txt", MARKED.as_bytes())]);
    let truncated = check(&zip[..zip.len() - 30]);
    assert!(matches!(
        truncated.unchecked,
        Some(Unchecked::Corrupt { .. })
    ));
    let gz = gzip(MARKED.as_bytes(), None);
    let cut = check(&gz[..gz.len() - 4]);
    assert!(
        matches!(cut.unchecked, Some(Unchecked::Corrupt { .. })),
        "{cut:#?}"
    );
    assert_eq!(
        cut.findings.len(),
        1,
        "what was decompressed is still matched"
    );
    let mut flipped = gz.clone();
    let last = flipped.len() - 5;
    flipped[last] ^= 0xFF;
    assert!(matches!(
        check(&flipped).unchecked,
        Some(Unchecked::Corrupt { .. })
    ));
}

#[test]
fn a_marking_split_across_chunks_of_a_large_plain_file_is_found() {
    let mut text = Vec::new();
    while text.len() < 1 << 20 {
        text.extend_from_slice(b"filler line of ordinary engineering prose, nothing marked\n");
    }
    let at = (1 << 20) - 9;
    text.splice(at..at, b"\nSECRET//NOFORN\n".iter().copied());
    for piece in [1 << 20, 65_536, 4093] {
        let outcome = check_in(&text, piece, Budget::default());
        assert_eq!(outcome.findings.len(), 1, "piece {piece}");
        assert_eq!(
            refused_code("ITAR:XIX", &outcome),
            Some("content-classified")
        );
    }
}

#[test]
fn the_check_shows_sizes_never_plaintext() {
    let mut check = scanner().upload_check(Budget::default());
    let spec = b"turbine blade cooling passage 0.31 mm ".repeat(30);
    check.push(&zip_with(
        &[("spec.txt", &spec)],
        zip::CompressionMethod::Stored,
    ));
    let shown = format!("{check:?}");
    assert!(
        !shown.contains("turbine") && !shown.contains("116, 117"),
        "{shown}"
    );
    assert!(shown.contains("state: \"zip\""), "{shown}");
    let mut plain = scanner().upload_check(Budget::default());
    plain.push(b"turbine blade cooling passage 0.31 mm");
    let shown = format!("{plain:?}");
    assert!(!shown.contains("turbine"), "{shown}");
}

/// One of every kind of input, small enough to push a byte at a time.
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let utf16: Vec<u8> = MARKED.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let tar = tar_of(&[
        ("a/b.txt", MARKED.as_bytes()),
        ("c.xml", b"<p>EAR</p><p>99</p>"),
    ]);
    vec![
        ("plain", MARKED.as_bytes().to_vec()),
        ("utf16", utf16),
        ("docx", docx("ITAR CONTROLLED")),
        (
            "xml",
            b"<?xml version=\"1.0\"?><a><r>ITAR CON</r><r>TROLLED</r></a>".to_vec(),
        ),
        ("zip", zip_of(&[("x.txt", b"SECRET//NOFORN")])),
        (
            "stored",
            zip_with(&[("x.txt", b"ECCN 9E003")], zip::CompressionMethod::Stored),
        ),
        ("tar", tar.clone()),
        ("tgz", gzip(&tar, Some("t.tar"))),
        ("encrypted", mark_encrypted(zip_of(&[("x.txt", b"EAR99")]))),
        (
            "nested",
            zip_of(&[("in.zip", &zip_of(&[("y.txt", MARKED.as_bytes())]))]),
        ),
        ("truncated", gzip(MARKED.as_bytes(), None)[..30].to_vec()),
        ("pdf", subset_font_pdf("")),
    ]
}

#[test]
fn every_chunking_gives_the_same_outcome() {
    for (name, bytes) in samples() {
        let whole = check_in(&bytes, bytes.len(), Budget::default());
        assert!(
            !whole.findings.is_empty() || whole.unchecked.is_some(),
            "{name} finds nothing: {whole:#?}"
        );
        for piece in [1, 7, 64 << 10] {
            assert_eq!(
                check_in(&bytes, piece, Budget::default()),
                whole,
                "{name} in pieces of {piece}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_split_gives_the_same_outcome(
        which in 0usize..64,
        cuts in proptest::collection::vec(1usize..300, 1..20),
    ) {
        let samples = samples();
        let (_, bytes) = &samples[which % samples.len()];
        let whole = check_in(bytes, bytes.len(), Budget::default());
        let mut check = scanner().upload_check(Budget::default());
        let mut rest = &bytes[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at((*cut).min(rest.len()));
            check.push(head);
            rest = tail;
        }
        prop_assert_eq!(check.finish(), whole);
    }
}

#[test]
fn flag_mode_stores_a_mislabelled_upload_but_not_an_unchecked_one_under_ear99() {
    let outcome = check(MARKED.as_bytes());
    let decision = decide_upload(&label("EAR99"), &outcome, OnMismatch::Flag);
    assert!(
        matches!(
            &decision,
            UploadDecision::Store {
                flagged: Some(Conflict::Mislabelled { .. }),
                not_checked: None
            }
        ),
        "{decision:?}"
    );
    let encrypted = check(&mark_encrypted(zip_of(&[("x.txt", b"hello")])));
    assert!(matches!(
        decide_upload(&label("EAR99"), &encrypted, OnMismatch::Flag),
        UploadDecision::Refuse(Refusal::Unchecked { .. })
    ));
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A PDF from its objects (numbered from 1): `Ok(dict)` is a plain object, `Err((dict,
/// data))` a Flate stream.
fn pdf(objects: &[Result<String, (String, Vec<u8>)>], trailer: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    for (i, object) in objects.iter().enumerate() {
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        match object {
            Ok(dict) => out.extend_from_slice(dict.as_bytes()),
            Err((dict, data)) => {
                let packed = zlib(data);
                out.extend_from_slice(
                    format!(
                        "<< {dict} /Length {} /Filter /FlateDecode >>\nstream\n",
                        packed.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(&packed);
                out.extend_from_slice(b"\nendstream");
            }
        }
        out.extend_from_slice(b"\nendobj\n");
    }
    out.extend_from_slice(format!("trailer\n<< {trailer} >>\n%%EOF\n").as_bytes());
    out
}

/// A one-page PDF whose text is drawn in a subset font (two-byte glyph codes, as
/// LibreOffice and browsers write them) mapped back to Unicode by a ToUnicode CMap,
/// plus a simple-font line with TJ kerning.
fn subset_font_pdf(trailer_extra: &str) -> Vec<u8> {
    let line = "USML Category XIX(f)";
    let mut glyphs: Vec<char> = Vec::new();
    for c in line.chars() {
        if !glyphs.contains(&c) {
            glyphs.push(c);
        }
    }
    let code = |c: char| glyphs.iter().position(|g| *g == c).unwrap() + 3;
    let hex: String = line.chars().map(|c| format!("{:04X}", code(c))).collect();
    let content = format!(
        "BT /F1 11 Tf 1 0 0 1 72 720 Tm <{hex}> Tj ET\nBT /F2 9 Tf 72 700 Td [(ITAR)-400(CON)12(TROLLED)] TJ 0 -12 Td (second line) Tj ET\nq 10 0 0 10 0 0 cm BI /W 2 /H 1 /BPC 8 /CS /G ID \x00) EI Q"
    );
    // Codes 3.. map one by one, except the first two, which a bfrange covers.
    let bfchar: String = glyphs
        .iter()
        .skip(2)
        .map(|c| format!("<{:04X}> <{:04X}>\n", code(*c), u32::from(*c)))
        .collect();
    let cmap = format!(
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n1 beginbfrange <0003> <0004> [<{:04X}> <{:04X}>] endbfrange\n{} beginbfchar\n{bfchar}endbfchar\nendcmap CMapName currentdict /CMap defineresource pop end end",
        u32::from(glyphs[0]),
        u32::from(glyphs[1]),
        glyphs.len() - 2
    );
    pdf(
        &[
            Ok("<< /Type /Catalog /Pages 2 0 R >>".into()),
            Ok("<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into()),
            Ok("<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R /F2 7 0 R >> >> /Contents [4 0 R] >>".into()),
            Err((String::new(), content.into_bytes())),
            Ok("<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Arial /Encoding /Identity-H /ToUnicode 6 0 R >>".into()),
            Err((String::new(), cmap.into_bytes())),
            Ok("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into()),
        ],
        &format!("/Root 1 0 R {trailer_extra}"),
    )
}

#[test]
fn pdf_text_is_read_through_compressed_streams_and_tounicode_maps() {
    let outcome = check(&subset_font_pdf(""));
    let got: Vec<(&str, &str)> = outcome
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.matched.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("usml-category", "USML Category XIX(f)"),
            ("itar-controlled-phrase", "ITAR CONTROLLED")
        ],
        "{outcome:#?}"
    );
    assert!(outcome
        .findings
        .iter()
        .all(|f| f.line.is_none() && f.entry.is_none()));
    assert_eq!((outcome.unchecked, outcome.unreadable), (None, None));
    // Inside a zip, the findings name the PDF.
    let zipped = check(&zip_of(&[("drawings/blade.pdf", &subset_font_pdf(""))]));
    assert_eq!(
        zipped.findings[0].entry.as_deref(),
        Some("drawings/blade.pdf")
    );
    // Encrypted: not checked.
    let locked = check(&subset_font_pdf("/Encrypt 9 0 R"));
    assert_eq!(
        locked.unchecked,
        Some(Unchecked::Encrypted {
            entry: String::new()
        })
    );
    assert_eq!(refused_code("EAR99", &locked), Some("content-unchecked"));
}

#[test]
fn pdf_strings_in_object_streams_and_missing_text_layers() {
    // The document information dictionary, compressed in an object stream.
    let objects = "8 0 << /Title (Brief) /Subject (SECRET//NOFORN) >>";
    let stream = pdf(
        &[
            Ok("<< /Type /Catalog /Pages 2 0 R >>".into()),
            Ok("<< /Type /Pages /Kids [] /Count 0 >>".into()),
            Err((
                "/Type /ObjStm /N 1 /First 4".into(),
                objects.as_bytes().to_vec(),
            )),
        ],
        "/Root 1 0 R /Info 8 0 R",
    );
    let outcome = check(&stream);
    assert_eq!(
        refused_code("ITAR:XIX", &outcome),
        Some("content-classified"),
        "{outcome:#?}"
    );
    // A page that only paints: no text layer, said, and nothing refused on it.
    let picture = pdf(
        &[
            Ok("<< /Type /Catalog /Pages 2 0 R >>".into()),
            Ok("<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into()),
            Ok("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".into()),
            Err((String::new(), b"0 0 1 rg 10 10 100 100 re f".to_vec())),
        ],
        "/Root 1 0 R",
    );
    let outcome = check(&picture);
    assert_eq!(
        outcome.unreadable,
        Some(itarvault_scan::Unreadable::PdfWithoutText)
    );
    assert_eq!(refused_code("PUBLIC", &outcome), None);
    // Deeply nested arrays cost a counter, not stack.
    let mut deep = pdf(&[Ok("<< /Type /Catalog >>".into())], "/Root 1 0 R");
    let nest = format!(
        "2 0 obj\n{}{}\nendobj\n",
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    deep.extend_from_slice(nest.as_bytes());
    assert_eq!(check(&deep).unchecked, None);
    // Not a PDF at all past its header: damaged.
    let broken = check(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer garbage");
    assert!(
        matches!(broken.unchecked, Some(Unchecked::Corrupt { .. })),
        "{broken:#?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Damaged containers (flipped, cut, spliced bytes) never panic, stay within the
    /// bounds, and give one outcome however they are chunked.
    #[test]
    fn damaged_containers_are_handled_the_same_in_any_chunks(
        which in 0usize..64,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        piece in 1usize..200,
    ) {
        let samples = samples();
        let mut bytes = samples[which % samples.len()].1.clone();
        for (at, value) in &flips {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        bytes.truncate(cut.index(bytes.len() + 1).max(1));
        let budget = Budget { memory: 4 << 10, depth: 2, max_ratio: 20, max_decompressed: 1 << 20 };
        let whole = check_in(&bytes, bytes.len(), budget);
        prop_assert!(whole.decompressed <= budget.max_decompressed);
        prop_assert_eq!(check_in(&bytes, piece, budget), whole);
    }
}

#[test]
fn a_check_can_move_to_the_thread_that_matches() {
    fn send<T: Send>(_: &T) {}
    let check = scanner().upload_check(Budget::default());
    send(&check);
    let outcome = check.finish();
    send(&outcome);
    assert_eq!(outcome.bytes, 0);
}
