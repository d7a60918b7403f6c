//! Plaintext in, envelope out (and back), a batch of chunks at a time on a blocking
//! thread.
//!
//! Memory per transfer is two batches (one in the network, one being sealed or
//! opened), whatever the object's size, and no thread is held between batches: many
//! concurrent gigabyte transfers, and many slow clients, fit in a small server.

use std::io::{self, Read, Write};

use bytes::Bytes;
use itarvault_format::crypto::TAG_LEN;
use itarvault_format::stream::{read_full, BodyOpener, BodySealer};
use itarvault_format::{DataKey, HeaderParams, Label, ObjectIdentity, VerifiedHeader, VERSION_1};
use itarvault_keys::{DecryptError, KeyRef, Keyring, SealError};
use itarvault_store::{BlobId, BlobStore, BlobWriter, StoreError};
use zeroize::Zeroizing;

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the upload ended early: {0}")]
    Body(io::Error),
    #[error("the object is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Open(#[from] DecryptError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the blob: {0}")]
    Write(io::Error),
    #[error("the envelope's authenticated label `{envelope}` differs from the recorded label `{recorded}`: the metadata or the blob was altered")]
    LabelMismatch { envelope: String, recorded: String },
    #[error("the envelope belongs to {envelope}, not to {recorded}: the metadata or the blob was altered")]
    IdentityMismatch { envelope: String, recorded: String },
    #[error("the object is stored in envelope format 1 and its row is not bound to its blob by a valid keystore MAC: the metadata or the blob was altered")]
    LegacyUnbound,
    /// The content contradicts its label, is classified, or could not be checked under
    /// a label that claims it is not controlled; nothing was stored.
    #[error("{0}")]
    Content(itarvault_scan::Refusal),
    #[error("the content check stopped unexpectedly\nthis is a bug: please report it")]
    ScanFailed,
    #[error("a transfer task failed: {0}\nthis is a bug: please report it")]
    Task(String),
    #[error("the transfer was used after it ended\nthis is a bug: please report it")]
    Stopped,
}

/// The marking check an upload passes as it streams through: the same extraction
/// `itarvault scan` uses (Office files, archives, compressed and UTF-16 text), within a
/// memory budget, never touching disk.
#[derive(Debug, Clone, Copy)]
pub struct ContentCheck {
    pub scanner: &'static itarvault_scan::Scanner,
    pub budget: itarvault_scan::Budget,
    /// What a mislabelled upload gets. A classification banner is refused either way;
    /// a container that cannot be checked is refused under EAR99 and PUBLIC.
    pub on_mismatch: itarvault_scan::OnMismatch,
}

/// What the content check found in a stored upload.
#[derive(Debug, Default)]
pub struct ContentFindings {
    pub findings: Vec<itarvault_scan::Finding>,
    /// A conflict that was let through (`on_mismatch = "flag"`).
    pub conflict: Option<itarvault_scan::Conflict>,
    /// "not checked: reason" for content stored under an ITAR or EAR label that the
    /// check could not open.
    pub note: Option<String>,
}

/// What a finished upload produced.
#[derive(Debug)]
pub struct Sealed {
    pub blob: BlobId,
    pub size: u64,
    pub envelope_size: u64,
    /// `provider:key vN` of each wrap: the key use, for the audit record.
    pub keys: String,
    pub content: ContentFindings,
}

/// An upload being sealed. It is plain data between batches: each batch is sealed in
/// one blocking task and the state handed back, so a client that sends slowly holds no
/// thread while the server waits for it (see [`Upload`]).
pub struct Sealing {
    sealer: BodySealer,
    out: Box<dyn BlobWriter>,
    check: itarvault_scan::UploadCheck<'static>,
    on_mismatch: itarvault_scan::OnMismatch,
    declared: Label,
    /// The plaintext of the chunk being filled.
    chunk: Zeroizing<Vec<u8>>,
    chunk_size: usize,
    size: u64,
    envelope_size: u64,
    max: u64,
    keys: String,
}

impl std::fmt::Debug for Sealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealing")
            .field("size", &self.size)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Sealing {
    /// Wraps a new data key under `key` (a key use) and starts the blob with the
    /// envelope's header.
    pub fn start(
        keyring: &Keyring,
        key: &KeyRef,
        label: Label,
        identity: ObjectIdentity,
        blobs: &dyn BlobStore,
        max: u64,
        check: ContentCheck,
    ) -> Result<Self, PipelineError> {
        let params = HeaderParams::new(label.clone())
            .map_err(|e| SealError::Encrypt(e.into()))?
            .with_identity(identity);
        let dek = DataKey::generate().map_err(|e| SealError::Encrypt(e.into()))?;
        let wraps = keyring.wrap_all(std::slice::from_ref(key), &dek, &params)?;
        let keys = describe_wraps(&wraps);
        let (header, sealer) = BodySealer::start(&params, &dek, &wraps).map_err(SealError::from)?;
        drop(dek);
        let mut out = blobs.create()?;
        out.write_all(&header).map_err(PipelineError::Write)?;
        let chunk_size = params.chunk_size as usize;
        Ok(Self {
            sealer,
            out,
            check: check.scanner.upload_check(check.budget),
            on_mismatch: check.on_mismatch,
            declared: label,
            chunk: Zeroizing::new(Vec::with_capacity(chunk_size)),
            chunk_size,
            size: 0,
            envelope_size: header.len() as u64,
            max,
            keys,
        })
    }

    /// Seals the whole chunks in `batch` (a remainder waits for the next batch or the
    /// end). The content check reads the same chunks on a second thread meanwhile, so
    /// checking and encryption use two cores; its buffers are zeroed when dropped.
    pub fn push(&mut self, batch: Vec<Bytes>) -> Result<(), PipelineError> {
        let cs = self.chunk_size;
        let mut full = Vec::new();
        for mut piece in batch {
            self.size += piece.len() as u64;
            if self.size > self.max {
                return Err(PipelineError::TooLarge(self.max));
            }
            while !piece.is_empty() {
                let take = (cs - self.chunk.len()).min(piece.len());
                self.chunk.extend_from_slice(&piece.split_to(take));
                if self.chunk.len() == cs {
                    let next = Zeroizing::new(Vec::with_capacity(cs));
                    full.push(std::mem::replace(&mut self.chunk, next));
                }
            }
        }
        let Self {
            sealer,
            out,
            check,
            envelope_size,
            ..
        } = self;
        let mut seal_all = || -> Result<(), PipelineError> {
            for c in &full {
                let sealed = sealer.seal(c).map_err(SealError::from)?;
                out.write_all(&sealed).map_err(PipelineError::Write)?;
                *envelope_size += sealed.len() as u64;
            }
            Ok(())
        };
        if full.len() < 2 {
            full.iter().for_each(|c| check.push(c));
            return seal_all();
        }
        std::thread::scope(|scope| {
            let checker = scope.spawn(|| full.iter().for_each(|c| check.push(c)));
            let sealed = seal_all();
            checker.join().map_err(|_| PipelineError::ScanFailed)?;
            sealed
        })
    }

    /// Seals the last chunk and commits the blob, unless the content check refuses
    /// what was sent. Nothing is visible unless this returns `Ok` (the blob is
    /// discarded otherwise).
    pub fn finish(mut self) -> Result<Sealed, PipelineError> {
        self.check.push(&self.chunk);
        let outcome = self.check.finish();
        let decision = itarvault_scan::decide_upload(&self.declared, &outcome, self.on_mismatch);
        let note = decision.note();
        let conflict = match decision {
            itarvault_scan::UploadDecision::Refuse(r) => return Err(PipelineError::Content(r)),
            itarvault_scan::UploadDecision::Store { flagged, .. } => flagged,
        };
        let last = self.sealer.finish(&self.chunk).map_err(SealError::from)?;
        self.out.write_all(&last).map_err(PipelineError::Write)?;
        let blob = self.out.commit()?;
        Ok(Sealed {
            blob,
            size: self.size,
            envelope_size: self.envelope_size + last.len() as u64,
            keys: self.keys,
            content: ContentFindings {
                findings: outcome.findings,
                conflict,
                note,
            },
        })
    }
}

/// Plaintext gathered before a batch goes to a blocking thread: large enough that a
/// hop per batch costs nothing measurable, small enough to bound memory per upload.
pub const UPLOAD_BATCH: usize = 1 << 20;

/// Drives a [`Sealing`] on blocking threads, one batch at a time: the next batch
/// arrives from the network while the previous one is sealed, and while the server
/// waits for the client no thread is held.
#[derive(Debug)]
pub struct Upload {
    job: Option<tokio::task::JoinHandle<Result<Sealing, PipelineError>>>,
}

impl Upload {
    pub fn start(start: impl FnOnce() -> Result<Sealing, PipelineError> + Send + 'static) -> Self {
        Self {
            job: Some(tokio::task::spawn_blocking(start)),
        }
    }

    /// The sealing state once the previous batch is done.
    async fn ready(&mut self) -> Result<Sealing, PipelineError> {
        let job = self.job.take().ok_or(PipelineError::Stopped)?;
        job.await.map_err(|e| PipelineError::Task(e.to_string()))?
    }

    pub async fn push(&mut self, batch: Vec<Bytes>) -> Result<(), PipelineError> {
        let mut sealing = self.ready().await?;
        self.job = Some(tokio::task::spawn_blocking(move || {
            sealing.push(batch)?;
            Ok(sealing)
        }));
        Ok(())
    }

    pub async fn finish(mut self, batch: Vec<Bytes>) -> Result<Sealed, PipelineError> {
        let mut sealing = self.ready().await?;
        tokio::task::spawn_blocking(move || {
            sealing.push(batch)?;
            sealing.finish()
        })
        .await
        .map_err(|e| PipelineError::Task(e.to_string()))?
    }
}

fn describe_wraps(wraps: &[itarvault_format::KeyWrap]) -> String {
    wraps
        .iter()
        .map(|w| format!("{}:{} v{}", w.provider, w.key_id, w.key_version))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An opened envelope: verified header (its data key unwrapped) and the body reader.
pub struct Opened {
    pub header: VerifiedHeader,
    pub body: Box<dyn Read + Send>,
    pub keys: String,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// What the metadata row says an envelope must be.
#[derive(Debug, Clone)]
pub struct Expected {
    pub label: Label,
    pub identity: ObjectIdentity,
    /// For a format 1 envelope (which names no object): whether the row's binding MAC
    /// verified under the keystore.
    pub legacy_bound: bool,
}

fn describe(id: &ObjectIdentity) -> String {
    format!(
        "object `{}` version {} in bucket `{}`",
        id.key, id.version, id.bucket
    )
}

/// Opens a blob: unwraps its data key (a key use) and checks, before any byte is
/// released, that the authenticated header is the one the metadata row names: the same
/// label, and the same bucket, key and version (format 2) or a row bound to the blob
/// by the keystore (format 1). A swapped blob or an edited row releases nothing.
pub fn open_blob(
    keyring: &Keyring,
    blobs: &dyn BlobStore,
    blob: &BlobId,
    expected: &Expected,
) -> Result<Opened, PipelineError> {
    let mut body = blobs.open(blob)?;
    let (header, _dek) = keyring.open_header(&mut body)?;
    check_header(&header, expected)?;
    let keys = describe_wraps(&header.wraps);
    Ok(Opened { header, body, keys })
}

/// The checks of [`open_blob`] on a verified header.
pub fn check_header(header: &VerifiedHeader, expected: &Expected) -> Result<(), PipelineError> {
    if header.params.label != expected.label {
        return Err(PipelineError::LabelMismatch {
            envelope: header.params.label.to_string(),
            recorded: expected.label.to_string(),
        });
    }
    match (&header.params.identity, header.params.version) {
        (Some(id), _) if *id == expected.identity => Ok(()),
        (Some(id), _) => Err(PipelineError::IdentityMismatch {
            envelope: describe(id),
            recorded: describe(&expected.identity),
        }),
        (None, VERSION_1) if expected.legacy_bound => Ok(()),
        (None, VERSION_1) => Err(PipelineError::LegacyUnbound),
        (None, _) => Err(PipelineError::IdentityMismatch {
            envelope: "no object (an envelope made outside a vault)".into(),
            recorded: describe(&expected.identity),
        }),
    }
}

/// Objects up to this size (one default chunk) are decrypted whole on the thread that
/// opens them, before anything is released: one hop to a blocking thread per read
/// instead of two plus a channel, which is most of what a small read costs.
pub const WHOLE_MAX: u64 = itarvault_format::header::DEFAULT_CHUNK_SIZE as u64;

/// A small object's plaintext, zeroed when the HTTP layer has sent it and drops it.
struct Plain(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for Plain {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A download being decrypted, chunk by chunk in one zeroizing buffer. Like
/// [`Sealing`] it is plain data between batches, so a client that reads slowly holds
/// no thread.
///
/// `size` is the recorded plaintext size: the buffer is cut to it, so a 4 KiB object
/// does not clear and wipe a whole 64 KiB chunk. A wrong size cannot release anything:
/// a piece read short is opened as the final chunk, which fails authentication unless
/// it is one.
pub struct Opening {
    opened: Opened,
    slot: Zeroizing<Vec<u8>>,
    size: u64,
    total: u64,
    /// The next chunk's number (authenticated: another chunk fails to open).
    index: u64,
    done: bool,
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opening")
            .field("size", &self.size)
            .field("released", &self.total)
            .finish_non_exhaustive()
    }
}

impl Opening {
    pub fn new(opened: Opened, size: u64) -> Self {
        let slot_len = BodyOpener::new(&opened.header).slot_len();
        // The slot only shrinks as `total` grows, so it never has to grow (which
        // would leave an unwiped copy behind).
        let first = Self::want(size, 0, slot_len);
        Self {
            opened,
            slot: Zeroizing::new(vec![0u8; first]),
            size,
            total: 0,
            index: 0,
            done: false,
        }
    }

    fn want(size: u64, total: u64, slot_len: usize) -> usize {
        let left = size.saturating_sub(total).saturating_add(TAG_LEN as u64);
        left.min(slot_len as u64) as usize
    }

    /// Opens the next chunk and hands its authenticated plaintext to `emit`; false
    /// once the final chunk was opened.
    fn step(&mut self, emit: &mut impl FnMut(&[u8])) -> Result<bool, PipelineError> {
        if self.done {
            return Ok(false);
        }
        let mut opener = BodyOpener::resume(&self.opened.header, self.index);
        let slot_len = opener.slot_len();
        let piece = Self::want(self.size, self.total, slot_len);
        let n = read_full(&mut self.opened.body, &mut self.slot[..piece])
            .map_err(|e| PipelineError::Open(DecryptError::Io(e)))?;
        // A short piece is the final chunk (a full-length final chunk does not exist in
        // the format, so end of input after a full one is truncation).
        let plain = if n < slot_len {
            self.done = true;
            opener.finish(&mut self.slot[..n])
        } else {
            opener.open(&mut self.slot[..n])
        }
        .map_err(|e| PipelineError::Open(e.into()))?;
        self.index += 1;
        self.total += plain.len() as u64;
        emit(plain);
        Ok(!self.done)
    }

    /// The plaintext of the next chunks, about `max` bytes; `None` after the last.
    /// Nothing of a chunk is returned unless it authenticated.
    pub fn next(&mut self, max: usize) -> Result<Option<Bytes>, PipelineError> {
        if self.done {
            return Ok(None);
        }
        let left = self.size.saturating_sub(self.total).min(max as u64) as usize;
        let mut out = Zeroizing::new(Vec::with_capacity(left));
        while out.len() < max && self.step(&mut |p| out.extend_from_slice(p))? {}
        Ok(Some(Bytes::from_owner(Plain(out))))
    }
}

/// Plaintext decrypted per blocking task of a download: two of these (one sent, one
/// prepared) are what a download holds.
pub const DOWNLOAD_BATCH: usize = 256 << 10;

/// Decrypts a small opened envelope (see [`WHOLE_MAX`]) into memory. Nothing comes
/// back unless every chunk authenticated.
pub fn open_whole(opened: Opened, size: u64) -> Result<Bytes, PipelineError> {
    // Authenticated plaintext is never longer than `size` (see `Opening`), so this
    // buffer never reallocates.
    let mut plain = Zeroizing::new(Vec::with_capacity(size.min(WHOLE_MAX) as usize));
    let mut opening = Opening::new(opened, size);
    while opening.step(&mut |p| plain.extend_from_slice(p))? {}
    Ok(Bytes::from_owner(Plain(plain)))
}
