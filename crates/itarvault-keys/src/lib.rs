//! Key custody for itarvault.
//!
//! [`KeyProvider`] is the one extension point: wrap a data key under a key-encryption
//! key (KEK) with associated data, unwrap it, describe a key. [`LocalKeystore`] is the
//! embedded provider (a passphrase- or root-key-sealed file); PKCS#11 HSMs and cloud
//! KMS implement the same trait. [`Keyring`] runs envelope operations over whichever
//! providers are configured.
//!
//! ```
//! use std::sync::Arc;
//! use itarvault_keys::{Keyring, KeyRef, LocalKeystore, RootSecret};
//!
//! let dir = tempfile::tempdir()?;
//! let secret = RootSecret::Passphrase("correct horse battery staple".to_owned().into());
//! let ks = LocalKeystore::init_with_iterations(&dir.path().join("keys"), &secret, 100_000)?;
//! ks.create_key("programs/f35")?;
//! let ring = Keyring::new(vec![Arc::new(ks)]);
//!
//! let mut envelope = Vec::new();
//! ring.encrypt(&[KeyRef::local("programs/f35")], "ITAR:XI".parse()?, None,
//!              &b"blade geometry"[..], &mut envelope, &mut |_| {})?;
//! let mut plain = Vec::new();
//! let (header, _) = ring.decrypt(envelope.as_slice(), &mut plain, &mut |_| {})?;
//! assert_eq!(plain, b"blade geometry");
//! assert_eq!(header.params.label.to_string(), "ITAR:XI");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod envelope;
pub mod keystore;
pub mod local_wrap;
pub mod provider;

pub use envelope::{DecryptError, KeyRef, Keyring, RewrapError, SealError};
pub use keystore::{check_private, Clock, KeystoreError, LocalKeystore, RootSecret};
pub use provider::{KeyError, KeyInfo, KeyProvider, KeyState};
