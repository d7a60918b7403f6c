//! gzip (RFC 1952), decompressed as it streams: members one after another, each with
//! its header, deflate body and CRC-32/length trailer. Nothing is buffered but one
//! header; the decompressed bytes go straight to the node for what is inside (often a
//! tar archive).

use super::inflate::{Inflater, BLOCK};
use super::{join, sanitize, Extraction, Node, Unchecked};
use zeroize::{Zeroize, Zeroizing};

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xE0;
/// The most of a member's stored file name kept to name what is inside.
const NAME_MAX: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// ID1 ID2 CM FLG MTIME XFL OS.
    Fixed,
    ExtraLen,
    Extra,
    Name,
    Comment,
    HeaderCrc,
    Body,
    Trailer,
    /// After a member: another one, or trailing bytes that are ignored (as gzip does).
    Between,
    /// Decompression stopped (damage, limit): the rest is matched as raw bytes only.
    Ignore,
}

pub(crate) struct Gunzip<'s> {
    /// The path of the gzip file; what is inside is named after the member's stored
    /// file name, when it has one.
    path: String,
    depth: u32,
    part: Part,
    header: [u8; 10],
    have: usize,
    flags: u8,
    left: usize,
    name: Vec<u8>,
    /// Compressed bytes waiting to make up a whole block for the inflater.
    staged: Zeroizing<Vec<u8>>,
    inflater: Inflater,
    max_ratio: u64,
    crc: crc32fast::Hasher,
    size: u32,
    inside: Option<Box<Node<'s>>>,
}

impl std::fmt::Debug for Gunzip<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gunzip")
            .field("part", &self.part)
            .finish_non_exhaustive()
    }
}

impl Drop for Gunzip<'_> {
    fn drop(&mut self) {
        self.header.zeroize();
        self.name.zeroize();
    }
}

impl<'s> Gunzip<'s> {
    /// `depth` is the depth of what is inside.
    pub(crate) fn new(path: &str, depth: u32, max_ratio: u64) -> Self {
        Self {
            path: path.to_string(),
            depth,
            part: Part::Fixed,
            header: [0; 10],
            have: 0,
            flags: 0,
            left: 0,
            name: Vec::new(),
            staged: Zeroizing::new(Vec::with_capacity(BLOCK)),
            inflater: Inflater::raw(max_ratio),
            max_ratio,
            crc: crc32fast::Hasher::new(),
            size: 0,
            inside: None,
        }
    }

    pub(crate) fn push(&mut self, mut data: &[u8], ctx: &mut Extraction<'s>) {
        while !data.is_empty() {
            let used = match self.part {
                Part::Ignore => data.len(),
                Part::Fixed | Part::ExtraLen | Part::Trailer | Part::Between => {
                    self.fill(data, ctx)
                }
                Part::Extra | Part::HeaderCrc => {
                    let n = self.left.min(data.len());
                    self.left -= n;
                    if self.left == 0 {
                        self.next_header_part(ctx);
                    }
                    n
                }
                Part::Name | Part::Comment => {
                    let end = memchr::memchr(0, data);
                    let text = &data[..end.unwrap_or(data.len())];
                    if self.part == Part::Name {
                        let room = NAME_MAX.saturating_sub(self.name.len());
                        self.name.extend_from_slice(&text[..room.min(text.len())]);
                    }
                    match end {
                        Some(e) => {
                            self.next_header_part(ctx);
                            e + 1
                        }
                        None => data.len(),
                    }
                }
                Part::Body => {
                    let take = (BLOCK - self.staged.len()).min(data.len());
                    self.staged.extend_from_slice(&data[..take]);
                    if self.staged.len() == BLOCK {
                        self.run_block(true, ctx);
                    }
                    take
                }
            };
            data = &data[used..];
        }
    }

    pub(crate) fn finish(mut self, ctx: &mut Extraction<'s>) {
        // Each round ends a member (its rest may hold another) or stops.
        while self.part == Part::Body {
            self.run_block(false, ctx);
        }
        if !matches!(self.part, Part::Between | Part::Ignore) {
            ctx.note(Unchecked::Corrupt {
                entry: self.path.clone(),
                detail: "the gzip stream is truncated".into(),
            });
        }
        if let Some(inside) = self.inside.take() {
            inside.finish(ctx);
        }
    }

    /// Collects the fixed-size parts (header, extra length, trailer, next magic).
    fn fill(&mut self, data: &[u8], ctx: &mut Extraction<'s>) -> usize {
        let want = match self.part {
            Part::Fixed => 10,
            Part::Trailer => 8,
            _ => 2,
        };
        let n = (want - self.have).min(data.len());
        self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
        self.have += n;
        if self.have < want {
            return n;
        }
        self.have = 0;
        match self.part {
            Part::Fixed => self.start_member(ctx),
            Part::ExtraLen => {
                self.left = usize::from(u16::from_le_bytes([self.header[0], self.header[1]]));
                self.part = Part::Extra;
                if self.left == 0 {
                    self.next_header_part(ctx);
                }
            }
            Part::Trailer => self.check_trailer(ctx),
            _ => {
                if self.header[..2] == [0x1F, 0x8B] {
                    // Another member: its first two bytes are in already.
                    self.have = 2;
                    self.part = Part::Fixed;
                } else {
                    self.part = Part::Ignore;
                }
            }
        }
        n
    }

    fn start_member(&mut self, ctx: &mut Extraction<'s>) {
        let [id1, id2, method, flags, ..] = self.header;
        if [id1, id2] != [0x1F, 0x8B] || flags & RESERVED != 0 {
            return self.fail("the gzip header is invalid", ctx);
        }
        if method != 8 {
            ctx.note(Unchecked::UnsupportedCompression {
                entry: self.path.clone(),
                method: format!("gzip method {method}"),
            });
            self.part = Part::Ignore;
            return;
        }
        self.flags = flags;
        self.part = Part::Fixed;
        self.next_header_part(ctx);
    }

    /// Moves to the next optional header field the flags ask for, or to the body.
    fn next_header_part(&mut self, ctx: &Extraction<'s>) {
        let sequence = [
            (Part::ExtraLen, FEXTRA),
            (Part::Name, FNAME),
            (Part::Comment, FCOMMENT),
            (Part::HeaderCrc, FHCRC),
        ];
        let from = match self.part {
            Part::Fixed => 0,
            Part::ExtraLen | Part::Extra => 1,
            Part::Name => 2,
            Part::Comment => 3,
            _ => 4,
        };
        let next = sequence
            .iter()
            .skip(from)
            .find(|(_, flag)| self.flags & flag != 0);
        if let Some((part, _)) = next {
            self.part = *part;
            self.left = 2;
            return;
        }
        self.part = Part::Body;
        if self.inside.is_none() {
            let name = sanitize(&String::from_utf8_lossy(&self.name));
            let path = if name.is_empty() {
                self.path.clone()
            } else {
                join(&self.path, &name)
            };
            self.inside = Some(Box::new(Node::new(path, self.depth, ctx)));
        }
    }

    /// Hands the staged block to the inflater; what follows the end of the member in
    /// it (the trailer, maybe another member) goes back through the parser.
    fn run_block(&mut self, more: bool, ctx: &mut Extraction<'s>) {
        let block = std::mem::replace(&mut self.staged, Zeroizing::new(Vec::with_capacity(BLOCK)));
        let Self {
            inflater,
            crc,
            size,
            inside,
            path,
            ..
        } = self;
        let mut out = |piece: &[u8]| {
            let allowed = ctx.admit(piece.len(), path);
            let admitted = &piece[..allowed];
            crc.update(admitted);
            *size = size.wrapping_add(admitted.len() as u32);
            if let Some(node) = inside.as_deref_mut() {
                node.push(admitted, ctx);
            }
            allowed == piece.len()
        };
        match inflater.feed(&block, more, &mut out) {
            Ok(fed) if fed.stopped => {
                if let Some(limit) = fed.expanded_past {
                    ctx.note(Unchecked::DecompressionLimit {
                        entry: self.path.clone(),
                        limit,
                    });
                }
                self.part = Part::Ignore;
            }
            Ok(fed) if fed.done => {
                self.part = Part::Trailer;
                let rest = block.get(fed.consumed..).unwrap_or_default();
                self.push(rest, ctx);
            }
            Ok(_) if more => {}
            Ok(_) => self.fail("the gzip stream is truncated", ctx),
            Err(_) => self.fail("the deflate data does not decode", ctx),
        }
    }

    fn check_trailer(&mut self, ctx: &mut Extraction<'s>) {
        let t = self.header;
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        let computed = std::mem::take(&mut self.crc).finalize();
        if crc != computed || size != self.size {
            return self.fail("CRC or length check failed", ctx);
        }
        self.size = 0;
        self.inflater = Inflater::raw(self.max_ratio);
        self.part = Part::Between;
    }

    fn fail(&mut self, detail: &str, ctx: &mut Extraction<'s>) {
        ctx.note(Unchecked::Corrupt {
            entry: self.path.clone(),
            detail: detail.to_string(),
        });
        self.part = Part::Ignore;
    }
}
