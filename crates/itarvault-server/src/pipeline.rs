//! Plaintext in, envelope out (and back), one chunk at a time on a blocking thread.
//!
//! Memory per transfer is one chunk plus the channel between the HTTP body and this
//! thread, whatever the object's size: many concurrent gigabyte transfers fit in a
//! small server.

use std::io::{self, Read, Write};

use bytes::Bytes;
use itarvault_format::crypto::TAG_LEN;
use itarvault_format::stream::{read_full, BodyOpener, BodySealer};
use itarvault_format::{DataKey, HeaderParams, Label, ObjectIdentity, VerifiedHeader, VERSION_1};
use itarvault_keys::{DecryptError, KeyRef, Keyring, SealError};
use itarvault_store::{BlobId, BlobStore, StoreError};
use tokio::sync::mpsc;
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
    #[error("the client went away")]
    ClientGone,
    /// The content contradicts its label, is classified, or could not be checked under
    /// a label that claims it is not controlled; nothing was stored.
    #[error("{0}")]
    Content(itarvault_scan::Refusal),
    #[error("the content check stopped unexpectedly\nthis is a bug: please report it")]
    ScanFailed,
}

/// The marking check an upload passes as it streams through: the same extraction
/// `itarvault scan` uses (Office files, archives, compressed and UTF-16 text), within a
/// memory budget, never touching disk.
#[derive(Debug, Clone, Copy)]
pub struct ContentCheck<'a> {
    pub scanner: &'a itarvault_scan::Scanner,
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

/// Encrypts what arrives on `rx` into a new blob under `key`. Run on a blocking thread.
/// Nothing is visible unless this returns `Ok` (the blob is discarded otherwise).
#[allow(clippy::too_many_arguments)]
pub fn seal_to_blob(
    keyring: &Keyring,
    key: &KeyRef,
    label: Label,
    identity: ObjectIdentity,
    blobs: &dyn BlobStore,
    mut rx: mpsc::Receiver<Result<Bytes, io::Error>>,
    max: u64,
    check: ContentCheck<'_>,
) -> Result<Sealed, PipelineError> {
    let declared = label.clone();
    let params = HeaderParams::new(label)
        .map_err(|e| SealError::Encrypt(e.into()))?
        .with_identity(identity);
    let dek = DataKey::generate().map_err(|e| SealError::Encrypt(e.into()))?;
    let wraps = keyring.wrap_all(std::slice::from_ref(key), &dek, &params)?;
    let keys = describe_wraps(&wraps);
    let (header, mut sealer) = BodySealer::start(&params, &dek, &wraps).map_err(SealError::from)?;
    drop(dek);
    let mut out = blobs.create()?;
    out.write_all(&header).map_err(PipelineError::Write)?;
    let cs = params.chunk_size as usize;
    let mut chunk = Zeroizing::new(Vec::with_capacity(cs));
    let mut size = 0u64;
    let mut envelope_size = header.len() as u64;
    // The content check sees each plaintext chunk as it is sealed: no second pass, no
    // plaintext on disk. From the second chunk on it runs on its own thread, so that
    // checking and encryption use two cores; its buffers are zeroed when dropped.
    let outcome = std::thread::scope(|scope| {
        let mut worker = None;
        while let Some(piece) = rx.blocking_recv() {
            let mut piece = piece.map_err(PipelineError::Body)?;
            size += piece.len() as u64;
            if size > max {
                return Err(PipelineError::TooLarge(max));
            }
            while !piece.is_empty() {
                let take = (cs - chunk.len()).min(piece.len());
                chunk.extend_from_slice(&piece.split_to(take));
                if chunk.len() == cs {
                    let (to_check, _) = worker.get_or_insert_with(|| {
                        let (tx, chunks) = std::sync::mpsc::sync_channel::<Zeroizing<Vec<u8>>>(4);
                        let handle = scope.spawn(move || {
                            let mut check = check.scanner.upload_check(check.budget);
                            for c in chunks {
                                check.push(&c);
                            }
                            check.finish()
                        });
                        (tx, handle)
                    });
                    let sealed = sealer.seal(&chunk).map_err(SealError::from)?;
                    out.write_all(&sealed).map_err(PipelineError::Write)?;
                    envelope_size += sealed.len() as u64;
                    // The checker takes the sealed chunk's buffer itself (no copy) and
                    // reads it while the next chunk is sealed.
                    let full =
                        std::mem::replace(&mut chunk, Zeroizing::new(Vec::with_capacity(cs)));
                    to_check.send(full).map_err(|_| PipelineError::ScanFailed)?;
                }
            }
        }
        match worker {
            None => {
                let mut one = check.scanner.upload_check(check.budget);
                one.push(&chunk);
                Ok(one.finish())
            }
            Some((to_check, handle)) => {
                to_check
                    .send(Zeroizing::new(chunk.to_vec()))
                    .map_err(|_| PipelineError::ScanFailed)?;
                drop(to_check);
                handle.join().map_err(|_| PipelineError::ScanFailed)
            }
        }
    })?;
    let decision = itarvault_scan::decide_upload(&declared, &outcome, check.on_mismatch);
    let note = decision.note();
    let conflict = match decision {
        itarvault_scan::UploadDecision::Refuse(r) => return Err(PipelineError::Content(r)),
        itarvault_scan::UploadDecision::Store { flagged, .. } => flagged,
    };
    let findings = outcome.findings;
    let last = sealer.finish(&chunk).map_err(SealError::from)?;
    out.write_all(&last).map_err(PipelineError::Write)?;
    envelope_size += last.len() as u64;
    let blob = out.commit()?;
    Ok(Sealed {
        blob,
        size,
        envelope_size,
        keys,
        content: ContentFindings {
            findings,
            conflict,
            note,
        },
    })
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

/// Decrypts an opened envelope chunk by chunk in one zeroizing buffer, handing each
/// authenticated chunk's plaintext to `emit`.
///
/// `size` is the recorded plaintext size: the buffer is cut to it, so a 4 KiB object
/// does not clear and wipe a whole 64 KiB chunk. A wrong size cannot release anything:
/// a piece read short is opened as the final chunk, which fails authentication unless
/// it is one.
fn open_chunks(
    opened: &mut Opened,
    size: u64,
    mut emit: impl FnMut(&[u8]) -> Result<(), PipelineError>,
) -> Result<u64, PipelineError> {
    let mut opener = BodyOpener::new(&opened.header);
    let slot_len = opener.slot_len();
    let want = |total: u64| {
        let left = size.saturating_sub(total).saturating_add(TAG_LEN as u64);
        left.min(slot_len as u64) as usize
    };
    // `want` only shrinks as `total` grows, so the buffer never has to grow (which
    // would leave an unwiped copy behind).
    let mut slot = Zeroizing::new(vec![0u8; want(0)]);
    let mut total = 0u64;
    loop {
        let piece = want(total);
        let n = read_full(&mut opened.body, &mut slot[..piece])
            .map_err(|e| PipelineError::Open(DecryptError::Io(e)))?;
        // A short piece is the final chunk (a full-length final chunk does not exist in
        // the format, so end of input after a full one is truncation).
        if n < slot_len {
            let plain = opener
                .finish(&mut slot[..n])
                .map_err(|e| PipelineError::Open(e.into()))?;
            total += plain.len() as u64;
            emit(plain)?;
            return Ok(total);
        }
        let plain = opener
            .open(&mut slot[..])
            .map_err(|e| PipelineError::Open(e.into()))?;
        total += plain.len() as u64;
        emit(plain)?;
    }
}

/// Decrypts a small opened envelope (see [`WHOLE_MAX`]) into memory. Nothing comes
/// back unless every chunk authenticated.
pub fn open_whole(mut opened: Opened, size: u64) -> Result<Bytes, PipelineError> {
    // Authenticated plaintext is never longer than `size` (see `open_chunks`), so this
    // buffer never reallocates.
    let mut plain = Zeroizing::new(Vec::with_capacity(size.min(WHOLE_MAX) as usize));
    open_chunks(&mut opened, size, |p| {
        plain.extend_from_slice(p);
        Ok(())
    })?;
    Ok(Bytes::from_owner(Plain(plain)))
}

/// Decrypts an opened envelope into `tx`, chunk by chunk. Run on a blocking thread. A
/// chunk is sent only after it authenticated; a damaged or truncated body sends an
/// error instead, which aborts the HTTP response so the client sees it incomplete.
pub fn open_to_channel(
    mut opened: Opened,
    size: u64,
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
) -> Result<u64, PipelineError> {
    let res = open_chunks(&mut opened, size, |plain| {
        if plain.is_empty() {
            return Ok(());
        }
        tx.blocking_send(Ok(Bytes::copy_from_slice(plain)))
            .map_err(|_| PipelineError::ClientGone)
    });
    if let Err(e) = &res {
        if !matches!(e, PipelineError::ClientGone) {
            let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
        }
    }
    res
}
