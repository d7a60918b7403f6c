//! The itarvault envelope: how one object of technical data is encrypted at rest.
//!
//! An envelope is a header (object id, chunk size, the export-control [`Label`], one or
//! more key wraps of a random data key, a key commitment, an HMAC) followed by the body
//! in AES-256-GCM chunks. `docs/format.md` is the normative description; this crate is
//! pure computation over `Read`/`Write`: no files, no network, no clocks.
//!
//! ```
//! use itarvault_format::{stream, DataKey, HeaderParams, KeyWrap, Label, UnverifiedHeader};
//!
//! let label: Label = "ITAR:XI;CUI".parse()?;
//! let params = HeaderParams::new(label)?;
//! let dek = DataKey::generate()?;
//! // A real caller asks a key provider to wrap `dek` with `params.wrap_context()`.
//! let wrap = KeyWrap { provider: "example".into(), key_id: "k".into(), key_version: 1, wrapped: vec![0; 80] };
//!
//! let mut envelope = Vec::new();
//! stream::encrypt(&params, &dek, &[wrap], &b"drawing"[..], &mut envelope, &mut |_| {})?;
//!
//! let mut input = envelope.as_slice();
//! let header = UnverifiedHeader::read_from(&mut input)?.verify(&dek)?;
//! assert_eq!(header.params.label.to_string(), "ITAR:XI;CUI");
//! let mut plain = Vec::new();
//! stream::decrypt(&header, input, &mut plain, &mut |_| {})?;
//! assert_eq!(plain, b"drawing");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod crypto;
pub mod header;
pub mod label;
pub mod stream;

pub use crypto::{CryptoFailure, DataKey};
pub use header::{
    reseal, upgrade, upgraded, valid_key_id, HeaderAuthError, HeaderError, HeaderParams, KeyWrap,
    ObjectIdentity, ReadHeaderError, UnverifiedHeader, VerifiedHeader, VERSION_1,
};
pub use label::{Control, Eccn, Label, LabelError, UsmlCategory};
pub use stream::{BodyError, EncryptError};
