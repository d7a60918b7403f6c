//! The data key and the suite 0x0001 key schedule (docs/format.md, "Suite 0x0001").
//!
//! Every primitive comes from aws-lc-rs, which is the FIPS 140-3 validated AWS-LC module
//! when built with the `fips` feature.

use std::fmt;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::{constant_time, hkdf, hmac, rand};
use zeroize::{Zeroize, Zeroizing};

/// Length of a data key, key commitment and derived keys.
pub const KEY_LEN: usize = 32;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;

/// The cryptographic module failed: an error in AWS-LC itself (a failed self-test or
/// an unavailable entropy source). Never caused by input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cryptographic module failed an operation\nthis is a bug or a module fault: please report it with `itarvault version`")]
pub struct CryptoFailure;

impl From<aws_lc_rs::error::Unspecified> for CryptoFailure {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        CryptoFailure
    }
}

/// A 256-bit data-encryption key. Zeroed on drop; its `Debug` prints no key bytes.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// A fresh key from the module's approved DRBG.
    pub fn generate() -> Result<Self, CryptoFailure> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        rand::fill(k.as_mut())?;
        Ok(Self(k))
    }

    /// Takes ownership of key bytes (for example from an unwrap); the caller's copy
    /// should itself be zeroizing.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(*bytes))
    }

    /// The key bytes, for a key provider to wrap.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Fills `out` with `HKDF-Expand(prk, info)`; `out.len()` is the output length.
pub fn expand(prk: &hkdf::Prk, info: &[&[u8]], out: &mut [u8]) -> Result<(), CryptoFailure> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    prk.expand(info, Len(out.len()))?.fill(out)?;
    Ok(())
}

/// Keys derived from one data key for one object.
pub(crate) struct ObjectKeys {
    pub payload: LessSafeKey,
    pub commitment: Zeroizing<[u8; KEY_LEN]>,
    pub header: hmac::Key,
}

impl ObjectKeys {
    pub fn derive(dek: &DataKey, object_id: &[u8; 32], suite: u16) -> Result<Self, CryptoFailure> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA512, object_id).extract(dek.expose());
        let suite = suite.to_be_bytes();
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        let derive =
            |purpose: &[u8], out: &mut [u8]| expand(&prk, &[b"itarvault/v1", &suite, purpose], out);
        derive(b" payload", out.as_mut())?;
        let payload = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, out.as_ref())?);
        let mut commitment = Zeroizing::new([0u8; KEY_LEN]);
        derive(b" commit", commitment.as_mut())?;
        derive(b" header", out.as_mut())?;
        let header = hmac::Key::new(hmac::HMAC_SHA256, out.as_ref());
        out.zeroize();
        Ok(Self {
            payload,
            commitment,
            header,
        })
    }

    /// Constant-time check of a stored commitment against the derived one.
    pub fn commitment_matches(&self, stored: &[u8]) -> bool {
        constant_time::verify_slices_are_equal(self.commitment.as_ref(), stored).is_ok()
    }
}

/// The 12-byte nonce of chunk `index`: three zero bytes, the 64-bit counter, the flag.
pub(crate) fn chunk_nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; aead::NONCE_LEN];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Seals `buf[..len-16]` in place and writes the tag to its last 16 bytes.
pub(crate) fn seal_chunk(
    key: &LessSafeKey,
    index: u64,
    last: bool,
    buf: &mut [u8],
) -> Result<(), CryptoFailure> {
    let split = buf.len().checked_sub(TAG_LEN).ok_or(CryptoFailure)?;
    let (data, tag_out) = buf.split_at_mut(split);
    let tag = key.seal_in_place_separate_tag(chunk_nonce(index, last), Aad::empty(), data)?;
    tag_out.copy_from_slice(tag.as_ref());
    Ok(())
}

/// Opens a sealed chunk in place; on success the first `len-16` bytes are plaintext.
pub(crate) fn open_chunk(key: &LessSafeKey, index: u64, last: bool, buf: &mut [u8]) -> bool {
    key.open_in_place(chunk_nonce(index, last), Aad::empty(), buf)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_key_debug_is_redacted() {
        let k = DataKey::from_bytes(&[0x41; 32]);
        let s = format!("{k:?}");
        assert!(!s.contains("41") && !s.contains("65") && s.contains("redacted"));
    }

    #[test]
    fn derived_keys_differ_per_object_and_per_dek() {
        let a = ObjectKeys::derive(&DataKey::from_bytes(&[1; 32]), &[0; 32], 1).unwrap();
        let b = ObjectKeys::derive(&DataKey::from_bytes(&[1; 32]), &[9; 32], 1).unwrap();
        let c = ObjectKeys::derive(&DataKey::from_bytes(&[2; 32]), &[0; 32], 1).unwrap();
        assert_ne!(*a.commitment, *b.commitment);
        assert_ne!(*a.commitment, *c.commitment);
        assert!(a.commitment_matches(a.commitment.as_ref()));
        assert!(!a.commitment_matches(b.commitment.as_ref()));
    }

    #[test]
    fn chunk_flag_and_counter_are_bound() {
        let k = ObjectKeys::derive(&DataKey::from_bytes(&[3; 32]), &[0; 32], 1).unwrap();
        let mut buf = vec![7u8; 48];
        seal_chunk(&k.payload, 5, false, &mut buf).unwrap();
        for (i, last) in [(5, true), (4, false), (6, false)] {
            let mut b = buf.clone();
            assert!(!open_chunk(&k.payload, i, last, &mut b));
        }
        assert!(open_chunk(&k.payload, 5, false, &mut buf));
        assert_eq!(&buf[..32], &[7u8; 32]);
    }
}
