//! The chunked body: streaming encryption and decryption in constant memory.
//!
//! Chunks are independent once the payload key is derived, so a batch of chunks is
//! sealed or opened on all cores at once (rayon), while memory stays bounded by one
//! batch ([`MAX_BATCH_BYTES`], or one chunk when chunks are larger).
//!
//! Two interfaces over the same chunk functions:
//! * [`encrypt`] / [`decrypt`]: blocking `Read` → `Write`, batched and parallel;
//! * [`BodySealer`] / [`BodyOpener`]: push one chunk at a time, for async callers that
//!   own their I/O (the server streams request bodies through these).

use std::io::{self, Read, Write};
use std::sync::mpsc;

use rayon::prelude::*;

use crate::crypto::{open_chunk, seal_chunk, CryptoFailure, DataKey, ObjectKeys, TAG_LEN};
use crate::header::{self, HeaderError, HeaderParams, KeyWrap, SealError, VerifiedHeader};

/// Upper bound on the plaintext held per batch.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// Why encryption failed.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    #[error("cannot encrypt: {0}")]
    Header(#[from] HeaderError),
    #[error(transparent)]
    Crypto(#[from] CryptoFailure),
    #[error("i/o error while encrypting: {0}")]
    Io(#[from] io::Error),
}

impl From<SealError> for EncryptError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Header(h) => Self::Header(h),
            SealError::Crypto(c) => Self::Crypto(c),
        }
    }
}

/// Why the body failed to decrypt. Deliberately coarse: the stage and chunk number, no
/// detail that could serve as an oracle.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("chunk {0} failed authentication: the data was altered, reordered, or cut short\nthe envelope is damaged or was tampered with; restore it from a trusted copy")]
    Chunk(u64),
    #[error("the envelope is truncated: it ends before its final chunk\nthe file was cut short; restore it from a trusted copy")]
    Truncated,
    #[error("i/o error while decrypting: {0}")]
    Io(#[from] io::Error),
}

/// What a finished encryption wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub plaintext_bytes: u64,
    pub envelope_bytes: u64,
}

/// Envelope size for a plaintext of `n` bytes (docs/format.md, "Size").
pub fn envelope_len(header_len: u64, chunk_size: u32, n: u64) -> u64 {
    header_len + n + TAG_LEN as u64 * (n / u64::from(chunk_size) + 1)
}

fn batch_chunks(chunk_size: usize) -> usize {
    (MAX_BATCH_BYTES / chunk_size).clamp(1, 64)
}

/// Reads until `buf` is full or the reader is exhausted; returns how many bytes.
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Batch buffers in flight: one being filled, one being written, one spare.
const BUFFERS: usize = 3;

/// Runs `fill` on this thread and writes what it produces on a second thread, so that
/// writing one batch overlaps reading and sealing (or opening) the next. `fill` gets an
/// empty batch buffer and returns how many bytes of it to write and whether it was the
/// last batch. Memory: [`BUFFERS`] buffers of `buf_len` bytes.
fn overlapped<W, E>(
    output: W,
    buf_len: usize,
    mut fill: impl FnMut(&mut [u8]) -> Result<(usize, bool), E>,
) -> Result<(), E>
where
    W: Write + Send,
    E: From<io::Error>,
{
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
        let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        for _ in 0..BUFFERS {
            // Cannot fail: the channel has room for every buffer and its receiver is alive.
            let _ = free_tx.send(vec![0u8; buf_len]);
        }
        let writer = scope.spawn(move || -> io::Result<()> {
            let mut output = output;
            for (buf, len) in full_rx {
                output.write_all(&buf[..len])?;
                let _ = free_tx.send(buf);
            }
            output.flush()
        });
        let produced = (|| -> Result<(), E> {
            // `recv` fails only when the writer stopped: its error is reported below.
            while let Ok(mut buf) = free_rx.recv() {
                let (len, last) = fill(&mut buf)?;
                if full_tx.send((buf, len)).is_err() || last {
                    break;
                }
            }
            Ok(())
        })();
        drop(full_tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked")));
        produced?;
        written.map_err(E::from)
    })
}

/// Writes a new envelope (header and body) for the plaintext read from `input`.
/// `progress` is called with the plaintext bytes consumed so far.
pub fn encrypt(
    params: &HeaderParams,
    dek: &DataKey,
    wraps: &[KeyWrap],
    mut input: impl Read,
    mut output: impl Write + Send,
    progress: &mut dyn FnMut(u64),
) -> Result<Written, EncryptError> {
    let (hdr, keys) = header::seal(params, dek, wraps)?;
    output.write_all(&hdr)?;
    let cs = params.chunk_size as usize;
    let slot = cs + TAG_LEN;
    let mut index = 0u64;
    let mut total = 0u64;
    let mut written = hdr.len() as u64;
    overlapped(output, batch_chunks(cs) * slot, |buf: &mut [u8]| {
        // Read plaintext straight into each chunk's slot, leaving room for its tag.
        let mut filled = 0;
        let mut final_len = None;
        for s in buf.chunks_mut(slot) {
            let n = read_full(&mut input, &mut s[..cs])?;
            filled += 1;
            total += n as u64;
            if n < cs {
                final_len = Some(n);
                break;
            }
        }
        let seal_slot = |(i, s): (usize, &mut [u8])| {
            let last = final_len.is_some() && i + 1 == filled;
            let len = if last {
                final_len.unwrap_or(0) + TAG_LEN
            } else {
                slot
            };
            seal_chunk(&keys.payload, index + i as u64, last, &mut s[..len])
        };
        let region = &mut buf[..filled * slot];
        if filled > 1 {
            region
                .par_chunks_mut(slot)
                .enumerate()
                .try_for_each(seal_slot)?;
        } else {
            region
                .chunks_mut(slot)
                .enumerate()
                .try_for_each(seal_slot)?;
        }
        let out_len = match final_len {
            Some(n) => (filled - 1) * slot + n + TAG_LEN,
            None => filled * slot,
        };
        written += out_len as u64;
        index += filled as u64;
        progress(total);
        Ok::<_, EncryptError>((out_len, final_len.is_some()))
    })?;
    Ok(Written {
        plaintext_bytes: total,
        envelope_bytes: written,
    })
}

/// Decrypts the body that follows `header` in `input` into `output`, releasing each
/// batch only after every chunk in it verified. Returns the plaintext length.
///
/// Bytes already written before an error are unauthenticated as a whole: a caller that
/// writes to a file must keep it private until this returns `Ok`.
pub fn decrypt(
    header: &VerifiedHeader,
    mut input: impl Read,
    output: impl Write + Send,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, BodyError> {
    let keys = &header.keys;
    let cs = header.params.chunk_size as usize;
    let slot = cs + TAG_LEN;
    let mut index = 0u64;
    let mut total = 0u64;
    overlapped(output, batch_chunks(cs) * slot, |buf: &mut [u8]| {
        let n = read_full(&mut input, buf)?;
        let full = n / slot;
        let rest = n % slot;
        let open_slot = |(i, s): (usize, &mut [u8])| {
            open_chunk(&keys.payload, index + i as u64, false, s)
                .then_some(())
                .ok_or(BodyError::Chunk(index + i as u64))
        };
        let region = &mut buf[..full * slot];
        if full > 1 {
            region
                .par_chunks_mut(slot)
                .enumerate()
                .try_for_each(open_slot)?;
        } else {
            region
                .chunks_mut(slot)
                .enumerate()
                .try_for_each(open_slot)?;
        }
        // A short read means end of input: what follows the full chunks is the final
        // chunk, which is at least a tag.
        let last = n < buf.len();
        let mut final_plain = 0;
        if last {
            if rest < TAG_LEN {
                return Err(BodyError::Truncated);
            }
            let idx = index + full as u64;
            if !open_chunk(&keys.payload, idx, true, &mut buf[full * slot..n]) {
                return Err(BodyError::Chunk(idx));
            }
            final_plain = rest - TAG_LEN;
        }
        // Close the gaps the tags leave, so the batch goes out in one write.
        for i in 1..full {
            buf.copy_within(i * slot..i * slot + cs, i * cs);
        }
        if last && full > 0 {
            buf.copy_within(full * slot..full * slot + final_plain, full * cs);
        }
        let plain = full * cs + final_plain;
        total += plain as u64;
        index += full as u64;
        progress(total);
        Ok((plain, last))
    })?;
    Ok(total)
}

/// Seals one chunk at a time, for callers that drive their own (async) I/O.
///
/// Feed exactly `chunk_size` plaintext bytes per [`BodySealer::seal`] call and end with
/// [`BodySealer::finish`] holding the remaining `0..chunk_size` bytes.
pub struct BodySealer {
    keys: ObjectKeys,
    chunk_size: usize,
    index: u64,
}

impl std::fmt::Debug for BodySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodySealer")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl BodySealer {
    /// Starts an envelope: returns the header bytes to send first and the sealer.
    pub fn start(
        params: &HeaderParams,
        dek: &DataKey,
        wraps: &[KeyWrap],
    ) -> Result<(Vec<u8>, Self), EncryptError> {
        let (hdr, keys) = header::seal(params, dek, wraps)?;
        Ok((
            hdr,
            Self {
                keys,
                chunk_size: params.chunk_size as usize,
                index: 0,
            },
        ))
    }

    /// Seals a full non-final chunk: `plaintext` must be `chunk_size` bytes. Returns the
    /// ciphertext chunk (plaintext length + 16).
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
        if plaintext.len() != self.chunk_size {
            return Err(EncryptError::Header(HeaderError::Field(
                "chunk length (caller bug)",
            )));
        }
        self.seal_one(plaintext, false)
    }

    /// Seals the final chunk (`0..chunk_size` bytes) and ends the body.
    pub fn finish(mut self, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
        if plaintext.len() >= self.chunk_size {
            return Err(EncryptError::Header(HeaderError::Field(
                "final chunk length (caller bug)",
            )));
        }
        self.seal_one(plaintext, true)
    }

    fn seal_one(&mut self, plaintext: &[u8], last: bool) -> Result<Vec<u8>, EncryptError> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        out.resize(plaintext.len() + TAG_LEN, 0);
        seal_chunk(&self.keys.payload, self.index, last, &mut out)?;
        self.index += 1;
        Ok(out)
    }
}

/// Opens one ciphertext chunk at a time, for callers that drive their own I/O.
///
/// The caller reads `chunk_size + 16` bytes at a time; a full-length piece goes to
/// [`BodyOpener::open`], a shorter piece at end of input to [`BodyOpener::finish`].
/// End of input right after a full piece is truncation ([`BodyError::Truncated`]).
#[derive(Debug)]
pub struct BodyOpener<'h> {
    header: &'h VerifiedHeader,
    index: u64,
}

impl<'h> BodyOpener<'h> {
    pub fn new(header: &'h VerifiedHeader) -> Self {
        Self { header, index: 0 }
    }

    /// An opener that continues at chunk `index`, for callers that carry their place
    /// between threads (the header borrow cannot travel with them). Chunk numbers are
    /// authenticated: a chunk fed under another number fails to open, so resuming at
    /// the wrong place releases nothing.
    pub fn resume(header: &'h VerifiedHeader, index: u64) -> Self {
        Self { header, index }
    }

    /// Ciphertext bytes in one full chunk.
    pub fn slot_len(&self) -> usize {
        self.header.params.chunk_size as usize + TAG_LEN
    }

    /// Opens a full non-final chunk in place and returns its plaintext.
    pub fn open<'b>(&mut self, chunk: &'b mut [u8]) -> Result<&'b [u8], BodyError> {
        if chunk.len() != self.slot_len() {
            return Err(BodyError::Chunk(self.index));
        }
        self.open_one(chunk, false)
    }

    /// Opens the final chunk (shorter than a full one) and ends the body.
    pub fn finish(mut self, chunk: &mut [u8]) -> Result<&[u8], BodyError> {
        if chunk.len() < TAG_LEN {
            return Err(BodyError::Truncated);
        }
        if chunk.len() >= self.slot_len() {
            return Err(BodyError::Chunk(self.index));
        }
        self.open_one(chunk, true)
    }

    fn open_one<'b>(&mut self, chunk: &'b mut [u8], last: bool) -> Result<&'b [u8], BodyError> {
        let i = self.index;
        if !open_chunk(&self.header.keys.payload, i, last, chunk) {
            return Err(BodyError::Chunk(i));
        }
        self.index += 1;
        Ok(&chunk[..chunk.len() - TAG_LEN])
    }
}
