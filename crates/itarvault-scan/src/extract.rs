//! What a file is, and the text inside the formats that hide it: PDF, OOXML (docx,
//! xlsx, pptx) and other zip archives, UTF-16 text. Everything is bounded: a file that
//! would need more than the budget is reported as unscanned, never half-read silently.

use crate::matcher::{Finding, Scanner};
use std::io::{Cursor, Read, Seek};

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Scanned byte for byte: text, source, STEP/IGES/DXF/G-code, CSV, XML, and any
    /// other file (binary files are scanned too: title blocks sit in CAD binaries).
    Raw,
    Utf16 {
        little_endian: bool,
    },
    Pdf,
    Zip,
    /// A format whose text cannot be read; the reason says which.
    Unscannable(&'static str),
}

pub fn sniff(head: &[u8]) -> Kind {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"%PDF-") {
        Kind::Pdf
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        Kind::Zip
    } else if starts(b"\xFF\xFE") {
        Kind::Utf16 {
            little_endian: true,
        }
    } else if starts(b"\xFE\xFF") {
        Kind::Utf16 {
            little_endian: false,
        }
    } else if starts(b"\x89PNG")
        || starts(b"\xFF\xD8\xFF")
        || starts(b"GIF8")
        || starts(b"II*\x00")
        || starts(b"MM\x00*")
        || (starts(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
    {
        Kind::Unscannable("image without a text layer (OCR is not supported)")
    } else if starts(b"\x1F\x8B")
        || starts(b"7z\xBC\xAF\x27\x1C")
        || starts(b"Rar!")
        || starts(b"\xFD7zXZ\x00")
        || starts(b"\x28\xB5\x2F\xFD")
    {
        Kind::Unscannable("compressed archive format not supported (only zip and OOXML are opened)")
    } else if starts(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        Kind::Unscannable(
            "legacy binary Office format (.doc/.xls/.ppt): convert to OOXML to scan it",
        )
    } else {
        Kind::Raw
    }
}

/// Limits on what extraction may cost.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Total bytes all entries of one archive may decompress to.
    pub total: u64,
    /// Nested archives opened inside one another.
    pub depth: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            total: 256 << 20,
            depth: 3,
        }
    }
}

/// Why a file's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unscanned {
    /// The format cannot be read: counted as skipped, with the reason.
    #[error("{0}")]
    Skipped(String),
    /// The file is damaged or hostile: counted as an error.
    #[error("{0}")]
    Failed(String),
}

/// Text extracted from a PDF, or why there is none.
pub fn pdf_text(bytes: &[u8]) -> Result<String, Unscanned> {
    // lopdf is not hardened against hostile input; a panic in it must cost this file
    // only, never the scan.
    let loaded = std::panic::catch_unwind(|| lopdf::Document::load_mem(bytes));
    let doc = match loaded {
        Ok(Ok(d)) => d,
        Ok(Err(lopdf::Error::Decryption(_))) => {
            return Err(Unscanned::Skipped(
                "encrypted PDF: a password is needed to read it".into(),
            ))
        }
        Ok(Err(e)) => return Err(Unscanned::Failed(format!("PDF does not parse: {e}"))),
        Err(_) => return Err(Unscanned::Failed("PDF parser failed on this file".into())),
    };
    if doc.trailer.get(b"Encrypt").is_ok() || doc.is_encrypted() {
        return Err(Unscanned::Skipped(
            "encrypted PDF: a password is needed to read it".into(),
        ));
    }
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let mut text = String::new();
    let mut failed = 0usize;
    for p in &pages {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.extract_text(&[*p]))) {
            Ok(Ok(t)) => {
                text.push_str(&t);
                text.push('\n');
            }
            _ => failed += 1,
        }
    }
    if !pages.is_empty() && failed == pages.len() {
        return Err(Unscanned::Failed("no page of the PDF could be read".into()));
    }
    if text.trim().is_empty() {
        return Err(Unscanned::Skipped(
            "PDF has no text layer (a scanned image?); OCR is not supported".into(),
        ));
    }
    Ok(text)
}

/// The text of an XML part: tags dropped, entities decoded, a line break after each
/// paragraph, row or shared string so that words of adjacent paragraphs never join.
pub fn xml_text(xml: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(xml.len() / 2);
    let mut i = 0;
    while i < xml.len() {
        match xml[i] {
            b'<' => {
                let end = memchr::memchr(b'>', &xml[i..]).map_or(xml.len(), |e| i + e);
                let tag = &xml[i + 1..end];
                let closing = tag.first() == Some(&b'/');
                let name = tag
                    .iter()
                    .skip(usize::from(closing))
                    .take_while(|b| !b.is_ascii_whitespace() && **b != b'/')
                    .copied()
                    .collect::<Vec<u8>>();
                let local = name.rsplit(|b| *b == b':').next().unwrap_or(&[]);
                match (closing, local) {
                    (true, b"p" | b"si" | b"row" | b"tr") | (false, b"br" | b"cr") => {
                        out.push(b'\n')
                    }
                    (true, b"c" | b"tc") | (false, b"tab") => out.push(b' '),
                    _ => {}
                }
                i = end + 1;
            }
            b'&' => {
                let end = xml[i..].iter().take(12).position(|b| *b == b';');
                let decoded = end.and_then(|e| entity(&xml[i + 1..i + e]));
                match (end, decoded) {
                    (Some(e), Some(c)) => {
                        let mut utf8 = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                        i += e + 1;
                    }
                    _ => {
                        out.push(b'&');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn entity(name: &[u8]) -> Option<char> {
    match name {
        b"amp" => Some('&'),
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        [b'#', b'x' | b'X', hex @ ..] => {
            char::from_u32(u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?)
        }
        [b'#', dec @ ..] => char::from_u32(std::str::from_utf8(dec).ok()?.parse().ok()?),
        _ => None,
    }
}

/// UTF-16 text (with its byte-order mark) as UTF-8.
pub fn utf16_text(bytes: &[u8], little_endian: bool) -> String {
    let units = bytes.get(2..).unwrap_or(&[]).chunks_exact(2).map(|p| {
        if little_endian {
            u16::from_le_bytes([p[0], p[1]])
        } else {
            u16::from_be_bytes([p[0], p[1]])
        }
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Findings in every entry of a zip archive (OOXML documents are zip archives of XML
/// parts; headers and footers, where markings live, are parts too). Each finding names
/// its entry. Decompression is bounded by `budget`: a zip bomb stops at the budget.
pub fn scan_zip<R: Read + Seek>(
    scanner: &Scanner,
    reader: R,
    budget: &mut Budget,
    prefix: &str,
) -> Result<Vec<Finding>, Unscanned> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| Unscanned::Failed(format!("zip archive does not open: {e}")))?;
    let mut findings = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| Unscanned::Failed(format!("zip entry {i} does not open: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let name = format!("{prefix}{}", entry.name());
        if entry.encrypted() {
            return Err(Unscanned::Skipped(format!("entry `{name}` is encrypted")));
        }
        if entry.size() > budget.total {
            return Err(Unscanned::Failed(format!(
                "entry `{name}` declares {} bytes uncompressed, over the {} byte budget (zip bomb?)",
                entry.size(),
                budget.total
            )));
        }
        let mut data = Vec::new();
        let read = (&mut entry).take(budget.total + 1).read_to_end(&mut data);
        read.map_err(|e| Unscanned::Failed(format!("entry `{name}` does not decompress: {e}")))?;
        if data.len() as u64 > budget.total {
            return Err(Unscanned::Failed(format!(
                "archive decompresses to more than {} bytes (zip bomb?)",
                budget.total
            )));
        }
        budget.total -= data.len() as u64;
        let mut found = match sniff(&data) {
            Kind::Zip if budget.depth == 0 => {
                return Err(Unscanned::Skipped(format!(
                    "entry `{name}`: archives nested too deep"
                )))
            }
            Kind::Zip => {
                budget.depth -= 1;
                let inner = scan_zip(scanner, Cursor::new(&data), budget, &format!("{name}!"));
                budget.depth += 1;
                inner?
            }
            Kind::Pdf => scanner.scan_bytes(pdf_text(&data)?.as_bytes(), false),
            Kind::Utf16 { little_endian } => {
                scanner.scan_bytes(utf16_text(&data, little_endian).as_bytes(), true)
            }
            Kind::Unscannable(why) => {
                return Err(Unscanned::Skipped(format!("entry `{name}`: {why}")))
            }
            Kind::Raw if name.ends_with(".xml") => scanner.scan_bytes(&xml_text(&data), false),
            Kind::Raw => scanner.scan_bytes(&data, true),
        };
        for f in &mut found {
            f.entry.get_or_insert_with(|| name.clone());
        }
        findings.append(&mut found);
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_keeps_runs_together_and_paragraphs_apart() {
        let xml = br#"<w:p><w:r><w:t>ITAR CON</w:t></w:r><w:r><w:t>TROLLED</w:t></w:r></w:p><w:p><w:t>A&amp;B &#x41;&#66;</w:t></w:p>"#;
        assert_eq!(xml_text(xml), b"ITAR CONTROLLED\nA&B AB\n");
        assert_eq!(xml_text(b"<a>x &bogus; <"), b"x &bogus; ");
    }

    #[test]
    fn utf16_is_decoded_with_either_byte_order() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("EAR99".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(utf16_text(&le, true), "EAR99");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("EAR99".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(utf16_text(&be, false), "EAR99");
    }

    #[test]
    fn sniffing_names_what_cannot_be_read() {
        assert_eq!(sniff(b"%PDF-1.7"), Kind::Pdf);
        assert_eq!(sniff(b"PK\x03\x04rest"), Kind::Zip);
        assert!(matches!(sniff(b"\x89PNG\r\n"), Kind::Unscannable(w) if w.contains("OCR")));
        assert!(matches!(sniff(b"\x1F\x8B\x08"), Kind::Unscannable(_)));
        assert_eq!(sniff(b"ISO-10303-21;"), Kind::Raw);
        assert_eq!(sniff(b""), Kind::Raw);
    }
}
