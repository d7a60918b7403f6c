//! Checkpoint signatures: ECDSA P-256 with SHA-256 (FIPS 186-5), through aws-lc-rs.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

/// Why a signing key could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the audit signing key is not a valid ECDSA P-256 PKCS#8 key\nrestore the key file from backup; a new key cannot sign for the old log")]
    InvalidKey,
    #[error("the cryptographic module failed to sign\nthis is a bug or a module fault: please report it")]
    Crypto,
}

/// The audit signing key. Its private half never leaves this type.
pub struct Signer {
    pair: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    key_id: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A short, stable name for a public key: the first 8 bytes of its SHA-256, in hex.
fn key_id(public: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public);
    hex::encode(&d.as_ref()[..8])
}

impl Signer {
    /// A fresh random key.
    pub fn generate() -> Result<Self, SignError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| SignError::Crypto)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Loads a key from its PKCS#8 (DER) encoding.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, SignError> {
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|_| SignError::InvalidKey)?;
        let key_id = key_id(pair.public_key().as_ref());
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
            key_id,
        })
    }

    /// The PKCS#8 encoding, to store in a private file.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_bytes(self.pair.public_key().as_ref())
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = SystemRandom::new();
        self.pair
            .sign(&rng, msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| SignError::Crypto)
    }
}

/// A verifying key: the uncompressed P-256 point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    bytes: Vec<u8>,
    key_id: String,
}

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.to_vec(),
            key_id: key_id(bytes),
        }
    }

    /// Parses the hex form written to `audit/signing-key.pub`.
    pub fn from_hex(s: &str) -> Option<Self> {
        hex::decode(s.trim()).ok().map(|b| Self::from_bytes(&b))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub(crate) fn verify(&self, msg: &[u8], sig_hex: &str) -> bool {
        let Ok(sig) = hex::decode(sig_hex) else {
            return false;
        };
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.bytes)
            .verify(msg, &sig)
            .is_ok()
    }
}
