//! zip archives and the formats built on them (docx, xlsx, pptx and the other OOXML
//! documents, jar, odt…). The zip crate reads the central directory at the end; each
//! entry's compressed bytes are then inflated by our own inflater, so that no
//! decompression buffer outside our zeroizing memory ever holds the plaintext.

use super::inflate::{Inflater, BLOCK};
use super::{join, sanitize, Extraction, Node, Unchecked};
use std::io::{Cursor, Read};
use zeroize::Zeroizing;
use zip::CompressionMethod;

/// Opens every entry of the archive in `bytes`; entries go to nodes at `depth`.
pub(crate) fn extract(bytes: &[u8], path: &str, depth: u32, ctx: &mut Extraction<'_>) {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            return ctx.note(Unchecked::Corrupt {
                entry: path.to_string(),
                detail: format!("the zip archive does not open ({e})"),
            })
        }
    };
    let mut buf = Zeroizing::new(vec![0u8; BLOCK]);
    for index in 0..archive.len() {
        let mut entry = match archive.by_index_raw(index) {
            Ok(e) => e,
            Err(e) => {
                ctx.note(Unchecked::Corrupt {
                    entry: path.to_string(),
                    detail: format!("zip entry {index} does not open ({e})"),
                });
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = join(path, &sanitize(entry.name()));
        if entry.encrypted() {
            ctx.note(Unchecked::Encrypted { entry: name });
            continue;
        }
        let method = entry.compression();
        let mut inflater = if method == CompressionMethod::DEFLATE {
            Some(Inflater::raw(ctx.budget.max_ratio))
        } else if method == CompressionMethod::STORE {
            None
        } else {
            ctx.note(Unchecked::UnsupportedCompression {
                entry: name,
                method: method_name(method),
            });
            continue;
        };
        if inflater.is_some() && ctx.exhausted() {
            continue;
        }
        let (expected_crc, expected_size) = (entry.crc32(), entry.size());
        let mut node = Node::new(name.clone(), depth, ctx);
        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u64;
        let mut damage = None;
        let mut bomb = None;
        let mut complete = inflater.is_none();
        loop {
            let n = match read_block(&mut entry, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    damage = Some(format!("it does not read ({e})"));
                    break;
                }
            };
            let more = n > 0;
            let chunk = &buf[..n];
            let Some(inflater) = inflater.as_mut() else {
                if !more {
                    break;
                }
                crc.update(chunk);
                size += n as u64;
                node.push(chunk, ctx);
                continue;
            };
            let mut out = |piece: &[u8]| {
                let allowed = ctx.admit(piece.len(), &name);
                crc.update(&piece[..allowed]);
                size += allowed as u64;
                node.push(&piece[..allowed], ctx);
                allowed == piece.len()
            };
            match inflater.feed(chunk, more, &mut out) {
                Ok(fed) if fed.stopped => {
                    if let Some(limit) = fed.expanded_past {
                        bomb = Some(limit);
                    }
                    break;
                }
                Ok(fed) if fed.done => {
                    complete = true;
                    break;
                }
                Ok(_) if more => {}
                Ok(_) => break,
                Err(_) => {
                    damage = Some("its deflate data does not decode".into());
                    break;
                }
            }
        }
        if let Some(limit) = bomb {
            ctx.note(Unchecked::DecompressionLimit {
                entry: name.clone(),
                limit,
            });
        }
        let stopped = !complete && damage.is_none() && (ctx.exhausted() || bomb.is_some());
        if damage.is_none() && !stopped {
            if !complete {
                damage = Some("its deflate data is truncated".into());
            } else if crc.finalize() != expected_crc || size != expected_size {
                damage = Some("its CRC or length check failed".into());
            }
        }
        if let Some(detail) = damage {
            ctx.note(Unchecked::Corrupt {
                entry: name,
                detail,
            });
        }
        node.finish(ctx);
    }
}

/// A zip compression method by the name people know it by.
fn method_name(method: CompressionMethod) -> String {
    #[expect(
        deprecated,
        reason = "the number is what the archive holds; the crate's named variants depend on its features"
    )]
    let number = method.to_u16();
    let name = match number {
        6 => "Implode",
        9 => "Deflate64",
        12 => "bzip2",
        14 => "LZMA",
        93 => "Zstandard",
        95 => "xz",
        98 => "PPMd",
        _ => return format!("zip compression method {number}"),
    };
    format!("{name} (zip method {number})")
}

/// Fills `buf` unless the entry ends first: whole blocks, whatever the reader's habits,
/// so that the inflater's bounds are checked at the same points every time.
fn read_block(entry: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match entry.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}
