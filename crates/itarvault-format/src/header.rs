//! The envelope header: encoding, bounded parsing, authentication (docs/format.md).

use std::fmt;
use std::io::Read;

use aws_lc_rs::{digest, hmac, rand};

use crate::crypto::{CryptoFailure, DataKey, ObjectKeys, KEY_LEN};
use crate::label::{Label, MAX_LABEL_LEN};

/// `\x89ITV\r\n\x1a\n`.
pub const MAGIC: [u8; 8] = [0x89, b'I', b'T', b'V', 0x0D, 0x0A, 0x1A, 0x0A];
/// The format version this build writes.
pub const VERSION: u8 = 2;
/// The first format version, still read (it has no object identity).
pub const VERSION_1: u8 = 1;
/// AES-256-GCM, HKDF-SHA-512, key commitment, HMAC-SHA-256 header.
pub const SUITE_AES256GCM_HKDF_SHA512_COMMIT: u16 = 0x0001;
/// Default plaintext bytes per chunk.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 16;
/// Smallest and largest chunk sizes (powers of two).
pub const MIN_CHUNK_SIZE: u32 = 1 << 10;
pub const MAX_CHUNK_SIZE: u32 = 1 << 24;
/// Bounds on the whole header.
pub const MIN_HEADER_LEN: u32 = 64;
pub const MAX_HEADER_LEN: u32 = 65536;
pub const MAX_WRAPS: usize = 16;
const PREFIX_LEN: usize = 15;
const MAX_PROVIDER_LEN: usize = 64;
const MAX_KEY_ID_LEN: usize = 128;
const MAX_WRAPPED_LEN: usize = 2048;
const MAC_LEN: usize = 32;
/// Bounds on an object identity's parts (a bucket name is at most 63 bytes in the
/// vault, a key at most the vault's configured limit, a version id 20).
const MAX_BUCKET_LEN: usize = 255;
const MAX_OBJECT_KEY_LEN: usize = 4096;
const MAX_VERSION_LEN: usize = 255;

/// Why a header did not parse. The header is not authenticated yet when these are
/// raised, so naming the field leaks nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("not an itarvault envelope (bad magic bytes)")]
    Magic,
    #[error("envelope format version {0} is not supported by this build\nupgrade itarvault")]
    Version(u8),
    #[error("algorithm suite 0x{0:04x} is not supported by this build\nupgrade itarvault")]
    Suite(u16),
    #[error("header field `{0}` is out of bounds or malformed")]
    Field(&'static str),
    #[error("header ends early (truncated file)")]
    Truncated,
    #[error("header label does not parse: {0}")]
    Label(crate::label::LabelError),
}

/// One encryption of the data key by a key provider.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyWrap {
    /// Which key provider made it: `local`, `pkcs11`, `aws-kms`.
    pub provider: String,
    pub key_id: String,
    pub key_version: u32,
    /// Provider-specific ciphertext of the data key. Not secret, but opaque.
    pub wrapped: Vec<u8>,
}

impl fmt::Debug for KeyWrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyWrap")
            .field("provider", &self.provider)
            .field("key_id", &self.key_id)
            .field("key_version", &self.key_version)
            .field("wrapped_len", &self.wrapped.len())
            .finish()
    }
}

fn valid_provider(s: &str) -> bool {
    (1..=MAX_PROVIDER_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'/' | b'-'))
}

/// Whether `s` is acceptable as a key id in an envelope.
pub fn valid_key_id(s: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_/@-".contains(&b))
}

impl KeyWrap {
    fn check(&self) -> Result<(), HeaderError> {
        if !valid_provider(&self.provider) {
            return Err(HeaderError::Field("provider"));
        }
        if !valid_key_id(&self.key_id) {
            return Err(HeaderError::Field("key_id"));
        }
        if self.key_version == 0 {
            return Err(HeaderError::Field("key_version"));
        }
        if self.wrapped.is_empty() || self.wrapped.len() > MAX_WRAPPED_LEN {
            return Err(HeaderError::Field("wrapped"));
        }
        Ok(())
    }
}

/// Where a stored object lives: its bucket, its key and its version. Bound into the
/// header (format 2), so that an envelope cannot be served under another name: a blob
/// moved to another row, or a row pointed at another blob, no longer matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectIdentity {
    pub bucket: String,
    pub key: String,
    pub version: String,
}

impl ObjectIdentity {
    fn check(&self) -> Result<(), HeaderError> {
        let bounded = |s: &str, max| (1..=max).contains(&s.len());
        if !bounded(&self.bucket, MAX_BUCKET_LEN)
            || !bounded(&self.key, MAX_OBJECT_KEY_LEN)
            || !bounded(&self.version, MAX_VERSION_LEN)
        {
            return Err(HeaderError::Field("identity"));
        }
        Ok(())
    }

    /// `u8 bucket_len || bucket || u16 key_len || key || u8 version_len || version`.
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.bucket.len() as u8);
        out.extend_from_slice(self.bucket.as_bytes());
        out.extend_from_slice(&(self.key.len() as u16).to_be_bytes());
        out.extend_from_slice(self.key.as_bytes());
        out.push(self.version.len() as u8);
        out.extend_from_slice(self.version.as_bytes());
    }

    fn encoded_len(&self) -> usize {
        1 + self.bucket.len() + 2 + self.key.len() + 1 + self.version.len()
    }
}

/// What an object's header says before any key is involved: format, identity, chunking,
/// label. Everything here is bound into the key wraps through
/// [`HeaderParams::wrap_context`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderParams {
    /// The format version the header is encoded in: [`VERSION`] for everything written
    /// now, [`VERSION_1`] for headers read from the first format.
    pub version: u8,
    pub object_id: [u8; 32],
    pub chunk_size: u32,
    pub label: Label,
    /// Where the object is stored in a vault; `None` for an envelope made outside one
    /// (`itarvault encrypt`) and for every format 1 envelope.
    pub identity: Option<ObjectIdentity>,
}

impl HeaderParams {
    /// Parameters for a new object: the current format, a random object id, the
    /// default chunk size, no vault identity.
    pub fn new(label: Label) -> Result<Self, CryptoFailure> {
        let mut object_id = [0u8; 32];
        rand::fill(&mut object_id)?;
        Ok(Self {
            version: VERSION,
            object_id,
            chunk_size: DEFAULT_CHUNK_SIZE,
            label,
            identity: None,
        })
    }

    /// The same parameters bound to where the object is stored.
    #[must_use]
    pub fn with_identity(mut self, identity: ObjectIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    fn check(&self) -> Result<(), HeaderError> {
        let cs = self.chunk_size;
        if !cs.is_power_of_two() || !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&cs) {
            return Err(HeaderError::Field("chunk_size"));
        }
        match (self.version, &self.identity) {
            (VERSION, Some(id)) => id.check(),
            (VERSION, None) | (VERSION_1, None) => Ok(()),
            (VERSION_1, Some(_)) => Err(HeaderError::Field("identity (format 1 has none)")),
            (v, _) => Err(HeaderError::Version(v)),
        }
    }

    fn identity_len(&self) -> usize {
        match (self.version, &self.identity) {
            (VERSION_1, _) => 0,
            (_, None) => 2,
            (_, Some(id)) => 2 + id.encoded_len(),
        }
    }

    fn encode_core(&self, out: &mut Vec<u8>, header_len: Option<u32>) {
        let label = self.label.to_string();
        out.extend_from_slice(&MAGIC);
        out.push(self.version);
        out.extend_from_slice(&SUITE_AES256GCM_HKDF_SHA512_COMMIT.to_be_bytes());
        if let Some(len) = header_len {
            out.extend_from_slice(&len.to_be_bytes());
        }
        out.extend_from_slice(&self.object_id);
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        // The label parser bounds the canonical text to MAX_LABEL_LEN, so this fits a u16.
        out.extend_from_slice(&(label.len().min(MAX_LABEL_LEN) as u16).to_be_bytes());
        out.extend_from_slice(label.as_bytes());
        if self.version >= VERSION {
            // `check` bounds the identity, so its length fits a u16.
            let len = self
                .identity
                .as_ref()
                .map_or(0, ObjectIdentity::encoded_len);
            out.extend_from_slice(&(len as u16).to_be_bytes());
            if let Some(id) = &self.identity {
                id.encode(out);
            }
        }
    }

    /// The associated data every key wrap of this object is bound to: a digest, so
    /// that the label itself never reaches an external key service's logs.
    pub fn wrap_context(&self) -> [u8; 32] {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(b"itarvault/v1 wrap context");
        self.encode_core(&mut buf, None);
        let d = digest::digest(&digest::SHA256, &buf);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

/// A parsed header whose MAC has not been checked yet. Nothing in it may be trusted
/// for a decision until [`UnverifiedHeader::verify`] succeeds, except to pick a wrap.
#[derive(Clone, Debug)]
pub struct UnverifiedHeader {
    pub params: HeaderParams,
    pub wraps: Vec<KeyWrap>,
    commitment: [u8; KEY_LEN],
    mac: [u8; MAC_LEN],
    /// The encoded header up to the MAC, as read.
    authenticated: Vec<u8>,
}

/// A header whose commitment and MAC verified under a data key, with the keys that
/// open the body.
pub struct VerifiedHeader {
    pub params: HeaderParams,
    pub wraps: Vec<KeyWrap>,
    pub(crate) keys: ObjectKeys,
    len: usize,
}

impl fmt::Debug for VerifiedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedHeader")
            .field("params", &self.params)
            .field("wraps", &self.wraps)
            .finish_non_exhaustive()
    }
}

impl VerifiedHeader {
    /// Encoded length of the header in bytes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Always false; a header is never empty.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Encodes and authenticates a header for `params` with these wraps of `dek`.
/// Returns the header bytes and the keys that seal the body.
pub(crate) fn seal(
    params: &HeaderParams,
    dek: &DataKey,
    wraps: &[KeyWrap],
) -> Result<(Vec<u8>, ObjectKeys), SealError> {
    params.check()?;
    if wraps.is_empty() || wraps.len() > MAX_WRAPS {
        return Err(HeaderError::Field("wrap_count").into());
    }
    for (i, w) in wraps.iter().enumerate() {
        w.check()?;
        if wraps[..i].iter().any(|o| {
            (&o.provider, &o.key_id, o.key_version) == (&w.provider, &w.key_id, w.key_version)
        }) {
            return Err(HeaderError::Field("wraps (duplicate key)").into());
        }
    }
    let wraps_len: usize = wraps
        .iter()
        .map(|w| 1 + w.provider.len() + 1 + w.key_id.len() + 4 + 2 + w.wrapped.len())
        .sum();
    let label_len = params.label.to_string().len();
    let total = PREFIX_LEN
        + 32
        + 4
        + 2
        + label_len
        + params.identity_len()
        + 1
        + wraps_len
        + KEY_LEN
        + MAC_LEN;
    let header_len = u32::try_from(total)
        .ok()
        .filter(|l| (MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(l))
        .ok_or(HeaderError::Field("header_len"))?;

    let keys = ObjectKeys::derive(dek, &params.object_id, SUITE_AES256GCM_HKDF_SHA512_COMMIT)?;
    let mut out = Vec::with_capacity(total);
    params.encode_core(&mut out, Some(header_len));
    out.push(wraps.len() as u8);
    for w in wraps {
        out.push(w.provider.len() as u8);
        out.extend_from_slice(w.provider.as_bytes());
        out.push(w.key_id.len() as u8);
        out.extend_from_slice(w.key_id.as_bytes());
        out.extend_from_slice(&w.key_version.to_be_bytes());
        out.extend_from_slice(&(w.wrapped.len() as u16).to_be_bytes());
        out.extend_from_slice(&w.wrapped);
    }
    out.extend_from_slice(keys.commitment.as_ref());
    let tag = hmac::sign(&keys.header, &out);
    out.extend_from_slice(tag.as_ref());
    debug_assert_eq!(out.len(), total);
    Ok((out, keys))
}

/// Why a header could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error(transparent)]
    Crypto(#[from] CryptoFailure),
}

/// A cursor over untrusted bytes that never reads past the end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], HeaderError> {
        if n > self.0.len() {
            return Err(HeaderError::Field(field));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self, f: &'static str) -> Result<u8, HeaderError> {
        Ok(self.take(1, f)?[0])
    }
    fn u16(&mut self, f: &'static str) -> Result<u16, HeaderError> {
        let b = self.take(2, f)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, f: &'static str) -> Result<u32, HeaderError> {
        let b = self.take(4, f)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn array<const N: usize>(&mut self, f: &'static str) -> Result<[u8; N], HeaderError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, f)?);
        Ok(a)
    }
    fn str(&mut self, n: usize, f: &'static str) -> Result<&'a str, HeaderError> {
        std::str::from_utf8(self.take(n, f)?).map_err(|_| HeaderError::Field(f))
    }
}

/// Why reading a header failed: the bytes, or the reader.
#[derive(Debug, thiserror::Error)]
pub enum ReadHeaderError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("reading the envelope failed: {0}")]
    Io(#[from] std::io::Error),
}

fn read_exact_or_truncated(r: &mut impl Read, buf: &mut [u8]) -> Result<(), ReadHeaderError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => HeaderError::Truncated.into(),
        _ => ReadHeaderError::Io(e),
    })
}

impl UnverifiedHeader {
    /// Reads exactly one header from `r`, allocating at most [`MAX_HEADER_LEN`] bytes.
    pub fn read_from(r: &mut impl Read) -> Result<Self, ReadHeaderError> {
        let mut prefix = [0u8; PREFIX_LEN];
        read_exact_or_truncated(r, &mut prefix)?;
        let header_len = Self::check_prefix(&prefix)?;
        let mut buf = vec![0u8; header_len];
        buf[..PREFIX_LEN].copy_from_slice(&prefix);
        read_exact_or_truncated(r, &mut buf[PREFIX_LEN..])?;
        Ok(Self::parse(&buf)?)
    }

    fn check_prefix(p: &[u8]) -> Result<usize, HeaderError> {
        let mut c = Cursor(p);
        if c.take(8, "magic")? != MAGIC {
            return Err(HeaderError::Magic);
        }
        let version = c.u8("version")?;
        if version != VERSION && version != VERSION_1 {
            return Err(HeaderError::Version(version));
        }
        let suite = c.u16("suite")?;
        if suite != SUITE_AES256GCM_HKDF_SHA512_COMMIT {
            return Err(HeaderError::Suite(suite));
        }
        let len = c.u32("header_len")?;
        if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&len) {
            return Err(HeaderError::Field("header_len"));
        }
        Ok(len as usize)
    }

    /// Parses a complete header held in memory (exactly `header_len` bytes).
    pub fn parse(buf: &[u8]) -> Result<Self, HeaderError> {
        if buf.len() < PREFIX_LEN {
            return Err(HeaderError::Truncated);
        }
        let header_len = Self::check_prefix(&buf[..PREFIX_LEN])?;
        if buf.len() != header_len {
            return Err(HeaderError::Field("header_len"));
        }
        let mut c = Cursor(&buf[PREFIX_LEN..]);
        let object_id = c.array::<32>("object_id")?;
        let chunk_size = c.u32("chunk_size")?;
        let label_len = usize::from(c.u16("label_len")?);
        if label_len == 0 || label_len > MAX_LABEL_LEN {
            return Err(HeaderError::Field("label_len"));
        }
        let label_text = c.str(label_len, "label")?;
        let label: Label = label_text.parse().map_err(HeaderError::Label)?;
        if label.to_string() != label_text {
            // Only the canonical form is ever written; anything else was not made by us.
            return Err(HeaderError::Field("label (not canonical)"));
        }
        let version = buf[8];
        let identity = if version >= VERSION {
            let len = usize::from(c.u16("identity_len")?);
            if len == 0 {
                None
            } else {
                let mut id = Cursor(c.take(len, "identity")?);
                let n = usize::from(id.u8("bucket_len")?);
                let bucket = id.str(n, "bucket")?.to_owned();
                let n = usize::from(id.u16("key_len")?);
                let key = id.str(n, "object_key")?.to_owned();
                let n = usize::from(id.u8("version_len")?);
                let version = id.str(n, "object_version")?.to_owned();
                if !id.0.is_empty() {
                    return Err(HeaderError::Field("identity_len"));
                }
                Some(ObjectIdentity {
                    bucket,
                    key,
                    version,
                })
            }
        } else {
            None
        };
        let params = HeaderParams {
            version,
            object_id,
            chunk_size,
            label,
            identity,
        };
        params.check()?;
        let count = usize::from(c.u8("wrap_count")?);
        if count == 0 || count > MAX_WRAPS {
            return Err(HeaderError::Field("wrap_count"));
        }
        let mut wraps: Vec<KeyWrap> = Vec::with_capacity(count);
        for _ in 0..count {
            let n = usize::from(c.u8("provider_len")?);
            let provider = c.str(n, "provider")?.to_owned();
            let n = usize::from(c.u8("key_id_len")?);
            let key_id = c.str(n, "key_id")?.to_owned();
            let key_version = c.u32("key_version")?;
            let n = usize::from(c.u16("wrapped_len")?);
            let wrapped = c.take(n, "wrapped")?.to_vec();
            let w = KeyWrap {
                provider,
                key_id,
                key_version,
                wrapped,
            };
            w.check()?;
            if wraps.iter().any(|o| {
                (&o.provider, &o.key_id, o.key_version) == (&w.provider, &w.key_id, w.key_version)
            }) {
                return Err(HeaderError::Field("wraps (duplicate key)"));
            }
            wraps.push(w);
        }
        let commitment = c.array::<KEY_LEN>("commitment")?;
        let mac = c.array::<MAC_LEN>("header_mac")?;
        if !c.0.is_empty() {
            return Err(HeaderError::Field("header_len"));
        }
        Ok(Self {
            params,
            wraps,
            commitment,
            mac,
            authenticated: buf[..header_len - MAC_LEN].to_vec(),
        })
    }

    /// Encoded length of the header in bytes.
    pub fn len(&self) -> usize {
        self.authenticated.len() + MAC_LEN
    }
    /// Always false; a header is never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Checks the key commitment and the header MAC under `dek` (both in constant time).
    /// A wrong key and a tampered header are deliberately indistinguishable.
    pub fn verify(self, dek: &DataKey) -> Result<VerifiedHeader, HeaderAuthError> {
        let keys = ObjectKeys::derive(
            dek,
            &self.params.object_id,
            SUITE_AES256GCM_HKDF_SHA512_COMMIT,
        )
        .map_err(|_| HeaderAuthError)?;
        if !keys.commitment_matches(&self.commitment) {
            return Err(HeaderAuthError);
        }
        hmac::verify(&keys.header, &self.authenticated, &self.mac).map_err(|_| HeaderAuthError)?;
        Ok(VerifiedHeader {
            len: self.len(),
            params: self.params,
            wraps: self.wraps,
            keys,
        })
    }
}

/// The header did not authenticate under the unwrapped key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("header authentication failed: the header was altered or the key does not belong to it")]
pub struct HeaderAuthError;

/// Re-encodes a verified header with a new set of wraps of the same data key. The
/// object id, chunk size and label stay as they were, so the body is unchanged.
pub fn reseal(
    header: &VerifiedHeader,
    dek: &DataKey,
    wraps: &[KeyWrap],
) -> Result<Vec<u8>, SealError> {
    seal(&header.params, dek, wraps).map(|(bytes, _)| bytes)
}

/// Re-encodes a verified header in the current format with `identity`, and wraps made
/// for the new parameters' [`HeaderParams::wrap_context`]. The object id, chunk size
/// and label (what the body's keys and chunks depend on) stay as they were, so the
/// body that follows is unchanged.
pub fn upgrade(
    header: &VerifiedHeader,
    identity: ObjectIdentity,
    dek: &DataKey,
    wraps: &[KeyWrap],
) -> Result<Vec<u8>, SealError> {
    seal(&upgraded(&header.params, identity), dek, wraps).map(|(bytes, _)| bytes)
}

/// The parameters of a header upgraded to the current format with `identity`.
pub fn upgraded(params: &HeaderParams, identity: ObjectIdentity) -> HeaderParams {
    HeaderParams {
        version: VERSION,
        identity: Some(identity),
        ..params.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> HeaderParams {
        HeaderParams {
            version: VERSION,
            object_id: [7; 32],
            chunk_size: DEFAULT_CHUNK_SIZE,
            label: "ITAR:XI;CUI".parse().unwrap(),
            identity: Some(ObjectIdentity {
                bucket: "designs".into(),
                key: "wing/spar.step".into(),
                version: "0123456789abcdef0123".into(),
            }),
        }
    }

    fn wrap(id: &str) -> KeyWrap {
        KeyWrap {
            provider: "local".into(),
            key_id: id.into(),
            key_version: 1,
            wrapped: vec![1; 80],
        }
    }

    #[test]
    fn round_trip_and_verify() {
        let dek = DataKey::from_bytes(&[5; 32]);
        let (bytes, _) = seal(&params(), &dek, &[wrap("a"), wrap("b")]).unwrap();
        let h = UnverifiedHeader::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(h.len(), bytes.len());
        assert_eq!(h.params, params());
        assert_eq!(h.wraps, vec![wrap("a"), wrap("b")]);
        assert!(h.clone().verify(&DataKey::from_bytes(&[6; 32])).is_err());
        h.verify(&dek).unwrap();
    }

    #[test]
    fn wrap_context_binds_label_object_and_chunking() {
        let base = params();
        let mut other = base.clone();
        other.label = "ITAR:XII;CUI".parse().unwrap();
        assert_ne!(base.wrap_context(), other.wrap_context());
        let mut other = base.clone();
        other.object_id[0] ^= 1;
        assert_ne!(base.wrap_context(), other.wrap_context());
        let mut other = base.clone();
        other.chunk_size *= 2;
        assert_ne!(base.wrap_context(), other.wrap_context());
        for edit in [
            |id: &mut ObjectIdentity| id.bucket.push('x'),
            |id: &mut ObjectIdentity| id.key = "wing/rib.step".into(),
            |id: &mut ObjectIdentity| id.version = "0123456789abcdef0124".into(),
        ] {
            let mut other = base.clone();
            if let Some(id) = other.identity.as_mut() {
                edit(id);
            }
            assert_ne!(base.wrap_context(), other.wrap_context());
        }
        let mut other = base.clone();
        other.identity = None;
        assert_ne!(base.wrap_context(), other.wrap_context());
    }

    #[test]
    fn format_1_headers_still_read_and_upgrade_in_place() {
        let dek = DataKey::from_bytes(&[5; 32]);
        let mut v1 = params();
        v1.version = VERSION_1;
        v1.identity = None;
        let (bytes, _) = seal(&v1, &dek, &[wrap("a")]).unwrap();
        assert_eq!(bytes[8], 1);
        let h = UnverifiedHeader::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(h.params, v1);
        let verified = h.verify(&dek).unwrap();
        let id = params().identity.unwrap();
        let up = upgrade(&verified, id.clone(), &dek, &[wrap("a")]).unwrap();
        let h2 = UnverifiedHeader::parse(&up).unwrap();
        assert_eq!(h2.params.version, VERSION);
        assert_eq!(h2.params.identity, Some(id));
        assert_eq!(h2.params.object_id, v1.object_id);
        h2.verify(&dek).unwrap();
        // Format 1 carries no identity.
        let mut bad = v1.clone();
        bad.identity = params().identity;
        assert!(seal(&bad, &dek, &[wrap("a")]).is_err());
    }

    #[test]
    fn rejects_bad_seal_inputs() {
        let dek = DataKey::from_bytes(&[5; 32]);
        assert!(seal(&params(), &dek, &[]).is_err());
        assert!(seal(&params(), &dek, &[wrap("a"), wrap("a")]).is_err());
        assert!(seal(&params(), &dek, &[wrap("bad id!")]).is_err());
        let mut p = params();
        p.chunk_size = 1000;
        assert!(seal(&p, &dek, &[wrap("a")]).is_err());
        let too_many: Vec<_> = (0..17).map(|i| wrap(&format!("k{i}"))).collect();
        assert!(seal(&params(), &dek, &too_many).is_err());
    }

    #[test]
    fn parse_rejects_malformed_headers_without_panicking() {
        let dek = DataKey::from_bytes(&[5; 32]);
        let (good, _) = seal(&params(), &dek, &[wrap("a")]).unwrap();
        // Every truncation.
        for n in 0..good.len() {
            assert!(
                UnverifiedHeader::read_from(&mut &good[..n]).is_err(),
                "prefix {n}"
            );
        }
        // Version, suite, and oversized length fields.
        let mut b = good.clone();
        b[8] = 3;
        assert!(matches!(
            UnverifiedHeader::parse(&b),
            Err(HeaderError::Version(3))
        ));
        let mut b = good.clone();
        b[10] = 9;
        assert!(matches!(
            UnverifiedHeader::parse(&b),
            Err(HeaderError::Suite(9))
        ));
        let mut b = good.clone();
        b[11..15].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            UnverifiedHeader::read_from(&mut b.as_slice()),
            Err(ReadHeaderError::Header(HeaderError::Field("header_len")))
        ));
        let mut b = good.clone();
        b[0] = 0;
        assert!(matches!(
            UnverifiedHeader::parse(&b),
            Err(HeaderError::Magic)
        ));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = UnverifiedHeader::parse(&bytes);
            let _ = UnverifiedHeader::read_from(&mut bytes.as_slice());
        }

        #[test]
        fn any_byte_flip_is_detected(pos in 0usize..200, bit in 0u8..8) {
            let dek = DataKey::from_bytes(&[5; 32]);
            let (mut b, _) = seal(&params(), &dek, &[wrap("a")]).unwrap();
            let pos = pos % b.len();
            b[pos] ^= 1 << bit;
            let ok = UnverifiedHeader::parse(&b).ok().map(|h| h.verify(&dek).is_ok());
            proptest::prop_assert_ne!(ok, Some(true));
        }
    }
}
