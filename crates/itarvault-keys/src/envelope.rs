//! Envelope operations over a set of key providers: encrypt, open, rewrap.

use std::io::{self, Read, Write};
use std::sync::Arc;

use itarvault_format::stream::{self, Written};
use itarvault_format::{
    reseal, BodyError, DataKey, EncryptError, HeaderAuthError, HeaderError, HeaderParams, KeyWrap,
    Label, ReadHeaderError, UnverifiedHeader, VerifiedHeader,
};

use crate::provider::{KeyError, KeyProvider};

/// A key to wrap under: which provider, which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    pub provider: String,
    pub key_id: String,
}

impl KeyRef {
    /// A key in the local keystore.
    pub fn local(key_id: &str) -> Self {
        Self {
            provider: crate::keystore::PROVIDER_ID.into(),
            key_id: key_id.into(),
        }
    }
}

/// Why decryption failed, by stage. Deliberately coarse (see docs/format.md).
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error("format: the envelope header is invalid: {0}")]
    Format(HeaderError),
    #[error("key: {0}")]
    Key(KeyError),
    #[error("key: none of this envelope's keys ({0}) is held by a configured key provider\ndecrypt where the key lives, or ask its owner to rewrap the object for your key")]
    NoMatchingKey(String),
    #[error("header authentication: {0}")]
    HeaderAuth(HeaderAuthError),
    #[error("{0}")]
    Body(BodyError),
    #[error("i/o error: {0}")]
    Io(io::Error),
}

impl From<ReadHeaderError> for DecryptError {
    fn from(e: ReadHeaderError) -> Self {
        match e {
            ReadHeaderError::Header(h) => Self::Format(h),
            ReadHeaderError::Io(e) => Self::Io(e),
        }
    }
}

impl From<BodyError> for DecryptError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Io(e) => Self::Io(e),
            other => Self::Body(other),
        }
    }
}

/// Why encryption failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("key: {0}")]
    Key(#[from] KeyError),
    #[error("no key to wrap under\nname at least one key")]
    NoKeys,
    #[error("no configured key provider is called `{0}`")]
    NoProvider(String),
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
}

/// The key providers available to this process.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    providers: Vec<Arc<dyn KeyProvider>>,
}

impl Keyring {
    pub fn new(providers: Vec<Arc<dyn KeyProvider>>) -> Self {
        Self { providers }
    }

    fn provider(&self, id: &str) -> Option<&dyn KeyProvider> {
        self.providers
            .iter()
            .find(|p| p.provider_id() == id)
            .map(|p| p.as_ref())
    }

    /// Wraps `dek` under each key, bound to `params`.
    pub fn wrap_all(
        &self,
        keys: &[KeyRef],
        dek: &DataKey,
        params: &HeaderParams,
    ) -> Result<Vec<KeyWrap>, SealError> {
        if keys.is_empty() {
            return Err(SealError::NoKeys);
        }
        let ctx = params.wrap_context();
        keys.iter()
            .map(|k| {
                let p = self
                    .provider(&k.provider)
                    .ok_or_else(|| SealError::NoProvider(k.provider.clone()))?;
                Ok(p.wrap(&k.key_id, dek, &ctx)?)
            })
            .collect()
    }

    /// Reads and verifies a header: finds a wrap some provider can open, unwraps the
    /// data key and authenticates the header with it.
    pub fn open_header(
        &self,
        input: &mut impl Read,
    ) -> Result<(VerifiedHeader, DataKey), DecryptError> {
        let header = UnverifiedHeader::read_from(input)?;
        let ctx = header.params.wrap_context();
        let mut first_err = None;
        for w in &header.wraps {
            let Some(p) = self.provider(&w.provider) else {
                continue;
            };
            match p.unwrap(w, &ctx) {
                Ok(dek) => {
                    let verified = header
                        .clone()
                        .verify(&dek)
                        .map_err(DecryptError::HeaderAuth)?;
                    return Ok((verified, dek));
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(KeyError::UnknownKey(_)) | None => Err(DecryptError::NoMatchingKey(
                header
                    .wraps
                    .iter()
                    .map(|w| format!("{}:{} v{}", w.provider, w.key_id, w.key_version))
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
            Some(e) => Err(DecryptError::Key(e)),
        }
    }

    /// Encrypts `input` to `output` under a fresh data key wrapped for each of `keys`.
    pub fn encrypt(
        &self,
        keys: &[KeyRef],
        label: Label,
        chunk_size: Option<u32>,
        input: impl Read,
        output: impl Write + Send,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Written, SealError> {
        let mut params = HeaderParams::new(label).map_err(EncryptError::from)?;
        if let Some(cs) = chunk_size {
            params.chunk_size = cs;
        }
        let dek = DataKey::generate().map_err(EncryptError::from)?;
        let wraps = self.wrap_all(keys, &dek, &params)?;
        Ok(stream::encrypt(
            &params, &dek, &wraps, input, output, progress,
        )?)
    }

    /// Decrypts an envelope. Output written before an error is not authenticated as a
    /// whole: write to a private place and publish only on `Ok`.
    pub fn decrypt(
        &self,
        mut input: impl Read,
        output: impl Write + Send,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(VerifiedHeader, u64), DecryptError> {
        let (header, _dek) = self.open_header(&mut input)?;
        let n = stream::decrypt(&header, input, output, progress)?;
        Ok((header, n))
    }

    /// Rewraps: reads and verifies the header from `input`, and returns a new header
    /// whose wraps are for `keys` instead. The body that follows in `input` is
    /// unchanged and must be copied after the new header.
    pub fn rewrap_header(
        &self,
        input: &mut impl Read,
        keys: &[KeyRef],
    ) -> Result<(VerifiedHeader, Vec<u8>), RewrapError> {
        let (header, dek) = self.open_header(input)?;
        let wraps = self.wrap_all(keys, &dek, &header.params)?;
        let bytes = reseal(&header, &dek, &wraps).map_err(|e| SealError::Encrypt(e.into()))?;
        Ok((header, bytes))
    }
}

/// Why a rewrap failed.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    #[error(transparent)]
    Open(#[from] DecryptError),
    #[error(transparent)]
    Seal(#[from] SealError),
}
