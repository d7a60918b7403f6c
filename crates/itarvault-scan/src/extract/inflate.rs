//! Deflate decompression whose plaintext lives only in memory we zero.
//!
//! Higher-level inflaters (flate2's, the zip crate's) keep the last 32 KiB of output in
//! a window they free without zeroing. Here the window is ours: miniz_oxide's core
//! decoder writes into a zeroizing ring buffer and its own state holds Huffman tables
//! (derived from the compressed bits), not output.

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use zeroize::Zeroizing;

/// The ring buffer: a power of two of at least deflate's 32 KiB window, so that each
/// call hands out up to this much output.
const WINDOW: usize = 1 << 16;
/// Compressed bytes handed to an inflater at a time. Callers feed whole blocks (only
/// the last may be short), so that the expansion bound below is checked at the same
/// points whatever pieces the input arrived in.
pub(crate) const BLOCK: usize = 16 << 10;
/// Any stream may expand to this much, whatever its ratio.
pub(crate) const FLOOR: u64 = 1 << 20;

/// Why a deflate stream could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The compressed data is not valid deflate (or zlib) data.
    Corrupt,
}

/// How far one call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Input bytes used; less than given when the stream ended inside the input (what
    /// follows is a trailer) or the output sink asked to stop.
    pub(crate) consumed: usize,
    /// The deflate stream reached its final block.
    pub(crate) done: bool,
    /// The output sink asked to stop, or the expansion bound was reached.
    pub(crate) stopped: bool,
    /// The expansion bound was reached at this many output bytes.
    pub(crate) expanded_past: Option<u64>,
}

pub(crate) struct Inflater {
    state: Box<DecompressorOxide>,
    window: Zeroizing<Vec<u8>>,
    pos: usize,
    flags: u32,
    done: bool,
    /// Output may reach `FLOOR`, and past it `max_ratio` times the input fed so far
    /// (zip bombs expand a thousandfold).
    max_ratio: u64,
    fed: u64,
    produced: u64,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// A raw deflate stream (zip entries, gzip members).
    pub(crate) fn raw(max_ratio: u64) -> Self {
        Self::with_flags(inflate_flags::TINFL_FLAG_IGNORE_ADLER32, max_ratio)
    }

    /// A zlib-wrapped stream (PDF `FlateDecode`). The Adler-32 check is skipped: PDF
    /// writers get it wrong often enough, and what was decoded has been seen anyway.
    pub(crate) fn zlib(max_ratio: u64) -> Self {
        Self::with_flags(
            inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER | inflate_flags::TINFL_FLAG_IGNORE_ADLER32,
            max_ratio,
        )
    }

    fn with_flags(flags: u32, max_ratio: u64) -> Self {
        Self {
            state: Box::default(),
            window: Zeroizing::new(vec![0; WINDOW]),
            pos: 0,
            flags,
            done: false,
            max_ratio,
            fed: 0,
            produced: 0,
        }
    }

    /// Decodes `input`, handing each piece of output to `out` (which returns `false` to
    /// stop). `more` says whether more input will follow; at the end of the input a
    /// stream that has not reached its final block returns `done: false` (truncated).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        more: bool,
        out: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<Fed, InflateError> {
        let flags = self.flags
            | if more {
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
            } else {
                0
            };
        let mut consumed = 0;
        self.fed += input.len() as u64;
        let bound = self.max_ratio.saturating_mul(self.fed).max(FLOOR);
        while !self.done {
            let rest = input.get(consumed..).unwrap_or_default();
            let (status, used, wrote) =
                decompress(&mut self.state, rest, &mut self.window, self.pos, flags);
            consumed += used;
            let start = self.pos;
            self.pos = (self.pos + wrote) & (WINDOW - 1);
            if wrote > 0 {
                let piece = self
                    .window
                    .get(start..start + wrote)
                    .ok_or(InflateError::Corrupt)?;
                let room =
                    usize::try_from(bound.saturating_sub(self.produced)).unwrap_or(usize::MAX);
                let within = &piece[..room.min(wrote)];
                self.produced += within.len() as u64;
                let expanded_past = (within.len() < wrote).then_some(bound);
                if !out(within) || expanded_past.is_some() {
                    return Ok(Fed {
                        consumed,
                        done: false,
                        stopped: true,
                        expanded_past,
                    });
                }
            }
            match status {
                TINFLStatus::Done => self.done = true,
                TINFLStatus::HasMoreOutput if used > 0 || wrote > 0 => {}
                TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => break,
                _ => return Err(InflateError::Corrupt),
            }
        }
        Ok(Fed {
            consumed,
            done: self.done,
            stopped: false,
            expanded_past: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"abcdefghij klmnop\n"[(i * 7 + i / 13) % 18])
            .collect()
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_output() {
        let plain = text(300_000);
        let packed = deflate(&plain);
        for piece in [1usize, 7, 4096, packed.len()] {
            let mut inflater = Inflater::raw(u64::MAX);
            let mut got = Vec::new();
            let mut done = false;
            for chunk in packed.chunks(piece) {
                let fed = inflater
                    .feed(chunk, true, &mut |o| {
                        got.extend_from_slice(o);
                        true
                    })
                    .unwrap();
                assert_eq!(fed.consumed, chunk.len());
                done |= fed.done;
            }
            let last = inflater
                .feed(&[], false, &mut |o| {
                    got.extend_from_slice(o);
                    true
                })
                .unwrap();
            assert!(done || last.done, "piece {piece}");
            assert_eq!(got, plain, "piece {piece}");
        }
    }

    #[test]
    fn what_follows_the_stream_is_left_unconsumed() {
        let mut packed = deflate(b"hello");
        let end = packed.len();
        packed.extend_from_slice(b"TRAILER!");
        let fed = Inflater::raw(u64::MAX)
            .feed(&packed, true, &mut |_| true)
            .unwrap();
        assert!(fed.done);
        assert_eq!(fed.consumed, end);
    }

    #[test]
    fn truncation_and_garbage_are_told_apart() {
        let packed = deflate(&text(50_000));
        let fed = Inflater::raw(u64::MAX)
            .feed(&packed[..packed.len() / 2], false, &mut |_| true)
            .unwrap();
        assert!(!fed.done, "truncated");
        let garbage = [0xFFu8; 64];
        assert_eq!(
            Inflater::raw(u64::MAX).feed(&garbage, false, &mut |_| true),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn a_bomb_stops_at_the_expansion_bound_whatever_the_blocks() {
        let packed = deflate(&vec![0u8; 50 << 20]);
        let mut seen = 0u64;
        let mut inflater = Inflater::raw(100);
        let mut stopped = None;
        for block in packed.chunks(BLOCK) {
            let fed = inflater
                .feed(block, true, &mut |o| {
                    seen += o.len() as u64;
                    true
                })
                .unwrap();
            if fed.stopped {
                stopped = fed.expanded_past;
                break;
            }
        }
        assert_eq!(stopped, Some(100 * BLOCK as u64));
        assert_eq!(seen, 100 * BLOCK as u64);
    }

    #[test]
    fn the_sink_can_stop_a_bomb() {
        let packed = deflate(&vec![0u8; 50 << 20]);
        let mut seen = 0usize;
        let fed = Inflater::raw(u64::MAX)
            .feed(&packed, false, &mut |o| {
                seen += o.len();
                seen < 1 << 20
            })
            .unwrap();
        assert!(fed.stopped && !fed.done);
        assert!(seen <= (1 << 20) + WINDOW);
    }

    #[test]
    fn zlib_streams_are_read() {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(b"BT (ITAR CONTROLLED) Tj ET").unwrap();
        let packed = e.finish().unwrap();
        let mut got = Vec::new();
        let fed = Inflater::zlib(u64::MAX)
            .feed(&packed, false, &mut |o| {
                got.extend_from_slice(o);
                true
            })
            .unwrap();
        assert!(fed.done);
        assert_eq!(got, b"BT (ITAR CONTROLLED) Tj ET");
    }
}
