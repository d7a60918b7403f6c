//! The local provider's wrap construction (docs/format.md, "Local key provider wraps").
//!
//! A fresh 32-byte salt per wrap derives a single-use AES-256-GCM key from the KEK, so
//! the fixed zero nonce never repeats under a key and no invocation counter is needed.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf;
use itarvault_format::crypto::{expand, KEY_LEN};
use itarvault_format::DataKey;
use zeroize::Zeroizing;

use crate::provider::KeyError;

const INFO: &[u8] = b"itarvault/local-wrap/v1";
/// salt || encrypted DEK || tag.
pub const WRAPPED_LEN: usize = 32 + KEY_LEN + 16;

fn wrap_key(kek: &[u8; KEY_LEN], salt: &[u8; 32]) -> Result<LessSafeKey, KeyError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(kek);
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    expand(&prk, &[INFO], k.as_mut())?;
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, k.as_ref())?))
}

fn aad(key_id: &str, version: u32, context: &[u8; 32]) -> Vec<u8> {
    let mut a = Vec::with_capacity(INFO.len() + 1 + key_id.len() + 4 + 32);
    a.extend_from_slice(INFO);
    // Key ids are at most 128 bytes (checked by the keystore and the header parser).
    a.push(key_id.len().min(255) as u8);
    a.extend_from_slice(key_id.as_bytes());
    a.extend_from_slice(&version.to_be_bytes());
    a.extend_from_slice(context);
    a
}

/// Wraps `dek` with an explicit salt. Callers outside tests use a random salt; a fixed
/// one exists so known-answer vectors can be reproduced.
pub fn wrap_with_salt(
    kek: &[u8; KEY_LEN],
    key_id: &str,
    version: u32,
    dek: &DataKey,
    context: &[u8; 32],
    salt: &[u8; 32],
) -> Result<Vec<u8>, KeyError> {
    let key = wrap_key(kek, salt)?;
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.extend_from_slice(salt);
    out.extend_from_slice(dek.expose());
    let tag = key.seal_in_place_separate_tag(
        Nonce::assume_unique_for_key([0u8; NONCE_LEN]),
        Aad::from(aad(key_id, version, context)),
        &mut out[32..],
    )?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Wraps `dek` with a fresh random salt.
pub fn wrap(
    kek: &[u8; KEY_LEN],
    key_id: &str,
    version: u32,
    dek: &DataKey,
    context: &[u8; 32],
) -> Result<Vec<u8>, KeyError> {
    let mut salt = [0u8; 32];
    aws_lc_rs::rand::fill(&mut salt)?;
    wrap_with_salt(kek, key_id, version, dek, context, &salt)
}

/// Unwraps a local wrap; any mismatch (KEK, key id, version, context, bytes) fails.
pub fn unwrap(
    kek: &[u8; KEY_LEN],
    key_id: &str,
    version: u32,
    wrapped: &[u8],
    context: &[u8; 32],
) -> Result<DataKey, KeyError> {
    let fail = || KeyError::UnwrapFailed(key_id.to_owned(), version);
    if wrapped.len() != WRAPPED_LEN {
        return Err(fail());
    }
    let mut salt = [0u8; 32];
    salt.copy_from_slice(&wrapped[..32]);
    let key = wrap_key(kek, &salt)?;
    let mut buf = Zeroizing::new(wrapped[32..].to_vec());
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key([0u8; NONCE_LEN]),
            Aad::from(aad(key_id, version, context)),
            buf.as_mut_slice(),
        )
        .map_err(|_| fail())?;
    let mut dek = Zeroizing::new([0u8; KEY_LEN]);
    dek.copy_from_slice(plain);
    Ok(DataKey::from_bytes(&dek))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_binds_every_input() {
        let kek = [1u8; 32];
        let ctx = [2u8; 32];
        let dek = DataKey::from_bytes(&[3; 32]);
        let w = wrap(&kek, "k", 1, &dek, &ctx).unwrap();
        assert_eq!(w.len(), WRAPPED_LEN);
        assert_eq!(
            unwrap(&kek, "k", 1, &w, &ctx).unwrap().expose(),
            dek.expose()
        );
        assert!(unwrap(&[9; 32], "k", 1, &w, &ctx).is_err());
        assert!(unwrap(&kek, "j", 1, &w, &ctx).is_err());
        assert!(unwrap(&kek, "k", 2, &w, &ctx).is_err());
        assert!(unwrap(&kek, "k", 1, &w, &[0; 32]).is_err());
        assert!(unwrap(&kek, "k", 1, &w[..79], &ctx).is_err());
        for i in 0..w.len() {
            let mut bad = w.clone();
            bad[i] ^= 1;
            assert!(unwrap(&kek, "k", 1, &bad, &ctx).is_err(), "flip {i}");
        }
    }

    #[test]
    fn fresh_salt_every_wrap() {
        let dek = DataKey::from_bytes(&[3; 32]);
        let a = wrap(&[1; 32], "k", 1, &dek, &[0; 32]).unwrap();
        let b = wrap(&[1; 32], "k", 1, &dek, &[0; 32]).unwrap();
        assert_ne!(a, b);
    }
}
