//! tar (POSIX ustar, GNU and pax variants), walked as it streams: 512-byte headers,
//! each member's bytes handed to a node of its own as they arrive. Long names (GNU `L`,
//! pax `path`) name the members; everything else in the metadata is skipped.

use super::{join, sanitize, Extraction, Node, Unchecked};
use crate::secret::SecretBuf;
use zeroize::Zeroize;

const BLOCK: usize = 512;
/// The most of a long name or pax header kept (the member is named by what fits).
const META_MAX: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    Member,
    LongName,
    Pax,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    Data(Data),
    Padding,
    /// The end-of-archive block, or damage: the rest is matched as raw bytes only.
    End,
}

pub(crate) struct TarWalk<'s> {
    path: String,
    depth: u32,
    part: Part,
    header: [u8; BLOCK],
    have: usize,
    remaining: u64,
    padding: u64,
    meta: SecretBuf,
    long_name: Option<String>,
    member: Option<Box<Node<'s>>>,
}

impl std::fmt::Debug for TarWalk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarWalk")
            .field("part", &self.part)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl Drop for TarWalk<'_> {
    fn drop(&mut self) {
        self.header.zeroize();
        if let Some(name) = &mut self.long_name {
            name.zeroize();
        }
    }
}

/// Whether a 512-byte block is a tar header (ustar magic and a valid checksum).
pub(crate) fn is_header(block: &[u8]) -> bool {
    block.len() >= BLOCK && block[257..262] == *b"ustar" && checksum_ok(block)
}

fn checksum_ok(block: &[u8]) -> bool {
    let Some(stored) = octal(&block[148..156]) else {
        return false;
    };
    let sum: u64 = block[..BLOCK]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    sum == stored
}

/// An octal number field (NUL- or space-terminated), or a GNU base-256 one.
fn octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return field[1..]
            .iter()
            .try_fold(u64::from(field[0] & 0x7F), |n, b| {
                n.checked_mul(256)?.checked_add(u64::from(*b))
            });
    }
    let digits = field
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(*b));
    let mut n: u64 = 0;
    let mut any = false;
    for d in digits {
        n = n.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
        any = true;
    }
    any.then_some(n)
}

fn field_text(field: &[u8]) -> String {
    let end = memchr::memchr(0, field).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

impl<'s> TarWalk<'s> {
    /// `depth` is the depth of the members.
    pub(crate) fn new(path: &str, depth: u32, budget: usize) -> Self {
        Self {
            path: path.to_string(),
            depth,
            part: Part::Header,
            header: [0; BLOCK],
            have: 0,
            remaining: 0,
            padding: 0,
            meta: SecretBuf::new(META_MAX.min(budget)),
            long_name: None,
            member: None,
        }
    }

    pub(crate) fn push(&mut self, mut data: &[u8], ctx: &mut Extraction<'s>) {
        while !data.is_empty() {
            let used = match self.part {
                Part::End => data.len(),
                Part::Header => {
                    let n = (BLOCK - self.have).min(data.len());
                    self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
                    self.have += n;
                    if self.have == BLOCK {
                        self.have = 0;
                        self.start_entry(ctx);
                    }
                    n
                }
                Part::Data(kind) => {
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    let bytes = &data[..n];
                    match kind {
                        Data::Member => {
                            if let Some(member) = self.member.as_deref_mut() {
                                member.push(bytes, ctx);
                            }
                        }
                        Data::LongName | Data::Pax => {
                            let room = META_MAX.saturating_sub(self.meta.len());
                            self.meta.extend(&bytes[..room.min(n)]);
                        }
                        Data::Skip => {}
                    }
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.end_entry(kind, ctx);
                    }
                    n
                }
                Part::Padding => {
                    let n = usize::try_from(self.padding)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    self.padding -= n as u64;
                    if self.padding == 0 {
                        self.part = Part::Header;
                    }
                    n
                }
            };
            data = &data[used..];
        }
    }

    /// A member cut short by the end of the input has been matched as far as it goes:
    /// nothing of it is unchecked, so truncation is not reported.
    pub(crate) fn finish(mut self, ctx: &mut Extraction<'s>) {
        if let Some(member) = self.member.take() {
            member.finish(ctx);
        }
    }

    fn start_entry(&mut self, ctx: &mut Extraction<'s>) {
        let h = &self.header;
        if h.iter().all(|b| *b == 0) {
            self.part = Part::End;
            return;
        }
        let size = octal(&h[124..136]);
        let (true, Some(size)) = (checksum_ok(h), size) else {
            ctx.note(Unchecked::Corrupt {
                entry: self.path.clone(),
                detail: "a tar header is damaged".into(),
            });
            self.part = Part::End;
            return;
        };
        let kind = match h[156] {
            b'0' | 0 | b'7' | b'S' => Data::Member,
            b'L' => Data::LongName,
            b'x' => Data::Pax,
            _ => Data::Skip,
        };
        if kind == Data::Member {
            let name = match self.long_name.take() {
                Some(long) => long,
                None if h[257..262] == *b"ustar" && h[345] != 0 => {
                    format!("{}/{}", field_text(&h[345..500]), field_text(&h[..100]))
                }
                None => field_text(&h[..100]),
            };
            let path = join(&self.path, &sanitize(&name));
            self.member = Some(Box::new(Node::new(path, self.depth, ctx)));
        }
        self.remaining = size;
        self.padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        self.part = Part::Data(kind);
        if size == 0 {
            self.end_entry(kind, ctx);
        }
    }

    fn end_entry(&mut self, kind: Data, ctx: &mut Extraction<'s>) {
        match kind {
            Data::Member => {
                if let Some(member) = self.member.take() {
                    member.finish(ctx);
                }
            }
            Data::LongName => {
                let name = field_text(self.meta.as_slice());
                self.long_name = Some(name);
            }
            Data::Pax => {
                self.long_name = pax_path(self.meta.as_slice()).or(self.long_name.take());
            }
            Data::Skip => {}
        }
        drop(self.meta.take());
        self.part = if self.padding > 0 {
            Part::Padding
        } else {
            Part::Header
        };
    }
}

/// The `path` record of a pax extended header (`<length> path=<name>\n` records).
fn pax_path(records: &[u8]) -> Option<String> {
    records.split(|b| *b == b'\n').find_map(|record| {
        let text = std::str::from_utf8(record).ok()?;
        let (_, key_value) = text.split_once(' ')?;
        key_value.strip_prefix("path=").map(str::to_string)
    })
}
