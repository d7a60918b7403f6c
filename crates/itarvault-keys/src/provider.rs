//! The one extension point for key custody.

use std::fmt;

use itarvault_format::{CryptoFailure, DataKey, KeyWrap};
use serde::Serialize;
use time::OffsetDateTime;

/// A key custodian: the local keystore, a PKCS#11 HSM, a cloud KMS. Its whole job is
/// to wrap and unwrap data keys under key-encryption keys that never leave it, with the
/// envelope's wrap context as associated data.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// The provider id written into each wrap (`local`, `pkcs11`, `aws-kms`).
    fn provider_id(&self) -> &str;

    /// Wraps `dek` under the current version of `key_id`, bound to `context`.
    fn wrap(&self, key_id: &str, dek: &DataKey, context: &[u8; 32]) -> Result<KeyWrap, KeyError>;

    /// Unwraps a wrap this provider made. Fails unless `context` is the one it was
    /// wrapped with.
    fn unwrap(&self, wrap: &KeyWrap, context: &[u8; 32]) -> Result<DataKey, KeyError>;

    /// Describes a key without any key material.
    fn describe(&self, key_id: &str) -> Result<KeyInfo, KeyError>;
}

/// The lifecycle state of a key-encryption key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum KeyState {
    /// Wraps and unwraps.
    Enabled,
    /// Neither wraps nor unwraps until enabled again.
    Disabled,
    /// Refuses all use; its material is destroyed at `at` unless cancelled.
    PendingDestruction {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Material is gone: everything wrapped only under it is unrecoverable.
    Destroyed {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Enabled => f.write_str("enabled"),
            Self::Disabled => f.write_str("disabled"),
            Self::PendingDestruction { at } => write!(f, "pending destruction at {}", rfc3339(*at)),
            Self::Destroyed { at } => write!(f, "destroyed at {}", rfc3339(*at)),
        }
    }
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Public facts about one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub provider: String,
    pub key_id: String,
    #[serde(flatten)]
    pub state: KeyState,
    pub current_version: u32,
    /// Versions whose material still exists (they can unwrap).
    pub versions: Vec<u32>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// Why a key operation failed. Each variant names the key and what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key `{0}` does not exist\nlist keys with `itarvault keys list`, or create it with `itarvault keys create {0}`")]
    UnknownKey(String),
    #[error(
        "key `{0}` has no version {1}\nthe envelope was made with a key this keystore never had"
    )]
    UnknownVersion(String, u32),
    #[error(
        "key `{0}` is disabled\nenable it with `itarvault keys enable {0}` if that is intended"
    )]
    Disabled(String),
    #[error("key `{0}` is scheduled for destruction at {1} and refuses all use\ncancel with `itarvault keys cancel-destroy {0}` before then to keep it")]
    PendingDestruction(String, String),
    #[error("key `{0}` was destroyed at {1}: data wrapped only under it is unrecoverable")]
    Destroyed(String, String),
    #[error("key `{0}` already exists")]
    AlreadyExists(String),
    #[error("`{0}` is not a valid key id\nuse 1 to 128 letters, digits and `.:_/@-`")]
    InvalidKeyId(String),
    #[error("the key wrap for `{0}` version {1} did not authenticate: the envelope header was altered, or this `{0}` is a different key from the one that wrapped it (another keystore)")]
    UnwrapFailed(String, u32),
    #[error("provider `{0}` cannot unwrap a wrap made by provider `{1}` (caller bug)")]
    WrongProvider(String, String),
    #[error("key provider failure: {0}")]
    Provider(String),
    #[error(transparent)]
    Crypto(#[from] CryptoFailure),
}

impl From<aws_lc_rs::error::Unspecified> for KeyError {
    fn from(e: aws_lc_rs::error::Unspecified) -> Self {
        Self::Crypto(e.into())
    }
}
