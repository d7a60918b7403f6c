//! The local keystore: versioned key-encryption keys in one file sealed under a root
//! key, which comes from a passphrase (PBKDF2-HMAC-SHA-256) or a root key file.
//!
//! File layout (JSON, so an operator can see what it is without opening it):
//! `{"format":"itarvault-keystore","version":1,"root":{...},"nonce":hex,"sealed":hex}`.
//! `sealed` is AES-256-GCM under `HKDF-SHA-256(root, "itarvault keystore seal v1")` with
//! the `root` description as associated data, so KDF parameters cannot be swapped.
//!
//! Every change is read-modify-write under an exclusive lock on `<file>.lock`, written
//! to a temporary file in the same directory, fsynced and renamed: a crash leaves either
//! the old or the new keystore, never a torn one.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::{hkdf, pbkdf2, rand};
use itarvault_format::crypto::{expand, KEY_LEN};
use itarvault_format::{valid_key_id, DataKey, KeyWrap};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::local_wrap;
use crate::provider::{rfc3339, KeyError, KeyInfo, KeyProvider, KeyState};

/// Where "now" comes from; injectable so tests can move past a destruction date.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The provider id of wraps made by this keystore.
pub const PROVIDER_ID: &str = "local";
/// PBKDF2 iterations for new keystores (OWASP 2023 guidance for PBKDF2-HMAC-SHA-256).
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// Iteration bounds accepted from a file: enough to resist guessing, not a DoS lever.
const MIN_ITERATIONS: u32 = 100_000;
const MAX_ITERATIONS: u32 = 10_000_000;
/// Shortest passphrase accepted for a new keystore.
pub const MIN_PASSPHRASE_LEN: usize = 12;
/// Shortest and longest waiting period before destruction, as AWS KMS.
pub const MIN_DESTRUCTION_DAYS: i64 = 7;
pub const MAX_DESTRUCTION_DAYS: i64 = 30;
const MAX_FILE_LEN: u64 = 64 << 20;

/// The secret that opens a keystore.
pub enum RootSecret {
    Passphrase(Zeroizing<String>),
    /// 32 random bytes from a root key file.
    KeyFile(Zeroizing<[u8; KEY_LEN]>),
}

impl fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Passphrase(_) => "RootSecret::Passphrase(<redacted>)",
            Self::KeyFile(_) => "RootSecret::KeyFile(<redacted>)",
        })
    }
}

impl RootSecret {
    /// Reads a root key file: 32 raw bytes, or 64 hex digits and an optional newline.
    /// Refuses a file that group or others can read.
    pub fn from_key_file(path: &Path) -> Result<Self, KeystoreError> {
        check_private(path)?;
        let raw = Zeroizing::new(fs::read(path).map_err(|e| KeystoreError::io(path, e))?);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        let text = raw.strip_suffix(b"\n").unwrap_or(&raw);
        if raw.len() == KEY_LEN {
            key.copy_from_slice(&raw);
        } else if text.len() == 2 * KEY_LEN && hex::decode_to_slice(text, key.as_mut()).is_ok() {
        } else {
            return Err(KeystoreError::RootKeyFile(path.to_owned()));
        }
        Ok(Self::KeyFile(key))
    }

    /// Writes a new random root key file (hex, mode 0600). Refuses to overwrite.
    pub fn generate_key_file(path: &Path) -> Result<Self, KeystoreError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::fill(key.as_mut()).map_err(|_| KeystoreError::Crypto)?;
        let mut text = Zeroizing::new(hex::encode(key.as_ref()));
        text.push('\n');
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path).map_err(|e| KeystoreError::io(path, e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| KeystoreError::io(path, e))?;
        Ok(Self::KeyFile(key))
    }
}

/// Refuses secret files readable by group or others (after Garage's secrets handling).
pub fn check_private(path: &Path) -> Result<(), KeystoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).map_err(|e| KeystoreError::io(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(KeystoreError::Permissions(path.to_owned()));
        }
    }
    Ok(())
}

/// Why the keystore could not be opened or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error(
        "no keystore at `{0}`\ncreate one with `itarvault keys init`, or point --keystore at yours"
    )]
    NotFound(PathBuf),
    #[error("a keystore already exists at `{0}`\nrefusing to overwrite keys; choose another path or remove it deliberately")]
    Exists(PathBuf),
    #[error("the passphrase or root key does not open keystore `{0}`, or the file was altered\ncheck the passphrase (ITARVAULT_PASSPHRASE / --passphrase-file) or --root-key-file")]
    WrongSecret(PathBuf),
    #[error("keystore `{0}` is not a valid itarvault keystore: {1}")]
    Corrupt(PathBuf, String),
    #[error("`{0}` is readable by group or others\nsecret files must be private: chmod 600 `{0}`")]
    Permissions(PathBuf),
    #[error("root key file `{0}` must hold 32 raw bytes or 64 hex digits")]
    RootKeyFile(PathBuf),
    #[error("the passphrase is shorter than {MIN_PASSPHRASE_LEN} characters\nchoose a longer passphrase")]
    WeakPassphrase,
    #[error("the destruction waiting period must be {MIN_DESTRUCTION_DAYS} to {MAX_DESTRUCTION_DAYS} days, not {0}")]
    WaitingPeriod(i64),
    #[error("key `{0}` is not pending destruction")]
    NotPendingDestruction(String),
    #[error("{1}: `{0}`")]
    Io(PathBuf, #[source] io::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the cryptographic module failed\nthis is a bug or a module fault: please report it")]
    Crypto,
}

impl KeystoreError {
    fn io(path: &Path, e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::NotFound {
            return Self::NotFound(path.to_owned());
        }
        Self::Io(path.to_owned(), e)
    }
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum RootDescription {
    Passphrase {
        kdf: String,
        iterations: u32,
        #[serde(with = "hex::serde")]
        salt: [u8; 32],
    },
    KeyFile,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOuter {
    format: String,
    version: u32,
    root: RootDescription,
    #[serde(with = "hex::serde")]
    nonce: [u8; NONCE_LEN],
    #[serde(with = "hex::serde")]
    sealed: Vec<u8>,
}

const FORMAT: &str = "itarvault-keystore";

#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct VersionRecord {
    version: u32,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    /// `None` once destroyed.
    material: Option<Zeroizing<[u8; KEY_LEN]>>,
}

// No `deny_unknown_fields` here: it does not combine with `flatten`. The payload is
// authenticated, so only this program writes it.
#[derive(Serialize, Deserialize, Clone)]
struct KeyRecord {
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    #[serde(flatten)]
    state: KeyState,
    current: u32,
    versions: Vec<VersionRecord>,
}

#[derive(Serialize, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct State {
    keys: BTreeMap<String, KeyRecord>,
}

impl State {
    fn record(&self, id: &str) -> Result<&KeyRecord, KeyError> {
        self.keys
            .get(id)
            .ok_or_else(|| KeyError::UnknownKey(id.to_owned()))
    }
    fn record_mut(&mut self, id: &str) -> Result<&mut KeyRecord, KeyError> {
        self.keys
            .get_mut(id)
            .ok_or_else(|| KeyError::UnknownKey(id.to_owned()))
    }
    /// Destroys the material of keys whose waiting period ended. Returns their ids.
    fn purge_due(&mut self, now: OffsetDateTime) -> Vec<String> {
        let mut purged = Vec::new();
        for (id, rec) in &mut self.keys {
            if let KeyState::PendingDestruction { at } = rec.state {
                if at <= now {
                    for v in &mut rec.versions {
                        v.material = None; // Zeroizing wipes the bytes on drop.
                    }
                    rec.state = KeyState::Destroyed { at };
                    purged.push(id.clone());
                }
            }
        }
        purged
    }
}

fn usable<'a>(
    id: &str,
    rec: &'a KeyRecord,
    now: OffsetDateTime,
) -> Result<&'a KeyRecord, KeyError> {
    match rec.state {
        KeyState::Enabled => Ok(rec),
        KeyState::Disabled => Err(KeyError::Disabled(id.to_owned())),
        KeyState::PendingDestruction { at } if at > now => {
            Err(KeyError::PendingDestruction(id.to_owned(), rfc3339(at)))
        }
        KeyState::PendingDestruction { at } | KeyState::Destroyed { at } => {
            Err(KeyError::Destroyed(id.to_owned(), rfc3339(at)))
        }
    }
}

/// The embedded key provider.
pub struct LocalKeystore {
    path: PathBuf,
    root: RootDescription,
    seal_key: Zeroizing<[u8; KEY_LEN]>,
    state: RwLock<State>,
    clock: Clock,
}

impl fmt::Debug for LocalKeystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeystore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn derive_seal_key(root: &[u8; KEY_LEN]) -> Result<Zeroizing<[u8; KEY_LEN]>, KeystoreError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"itarvault keystore").extract(root);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    expand(&prk, &[b"itarvault keystore seal v1"], out.as_mut())
        .map_err(|_| KeystoreError::Crypto)?;
    Ok(out)
}

fn root_key(
    secret: &RootSecret,
    desc: &RootDescription,
    path: &Path,
) -> Result<Zeroizing<[u8; KEY_LEN]>, KeystoreError> {
    match (secret, desc) {
        (
            RootSecret::Passphrase(p),
            RootDescription::Passphrase {
                iterations, salt, ..
            },
        ) => {
            let iters = NonZeroU32::new(*iterations)
                .filter(|n| (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&n.get()))
                .ok_or_else(|| {
                    KeystoreError::Corrupt(
                        path.to_owned(),
                        format!("PBKDF2 iteration count {iterations} is out of bounds"),
                    )
                })?;
            let mut out = Zeroizing::new([0u8; KEY_LEN]);
            pbkdf2::derive(
                pbkdf2::PBKDF2_HMAC_SHA256,
                iters,
                salt,
                p.as_bytes(),
                out.as_mut(),
            );
            Ok(out)
        }
        (RootSecret::KeyFile(k), RootDescription::KeyFile) => Ok(k.clone()),
        // The wrong kind of secret for this keystore opens nothing.
        _ => Err(KeystoreError::WrongSecret(path.to_owned())),
    }
}

fn aad_of(root: &RootDescription) -> Result<Vec<u8>, KeystoreError> {
    let mut aad = format!("{FORMAT}/1 ").into_bytes();
    serde_json::to_writer(&mut aad, root).map_err(|_| KeystoreError::Crypto)?;
    Ok(aad)
}

/// Serializes into a buffer of exactly the right size, so no reallocation leaves an
/// unzeroized copy of key material behind.
fn to_zeroizing_json(state: &State) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    serde_json::to_writer(&mut c, state).map_err(|_| KeystoreError::Crypto)?;
    let mut out = Zeroizing::new(Vec::with_capacity(c.0 + 16));
    serde_json::to_writer(&mut *out, state).map_err(|_| KeystoreError::Crypto)?;
    Ok(out)
}

struct LockGuard(File);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn lock(path: &Path) -> Result<LockGuard, KeystoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| KeystoreError::io(&lock_path, e))?;
    f.lock().map_err(|e| KeystoreError::io(&lock_path, e))?;
    Ok(LockGuard(f))
}

impl LocalKeystore {
    /// Creates a new, empty keystore at `path`. Refuses to overwrite one.
    pub fn init(path: &Path, secret: &RootSecret) -> Result<Self, KeystoreError> {
        Self::init_with_iterations(path, secret, DEFAULT_ITERATIONS)
    }

    /// As [`LocalKeystore::init`] with a chosen PBKDF2 iteration count (tests use the minimum).
    pub fn init_with_iterations(
        path: &Path,
        secret: &RootSecret,
        iterations: u32,
    ) -> Result<Self, KeystoreError> {
        let root = match secret {
            RootSecret::Passphrase(p) => {
                if p.chars().count() < MIN_PASSPHRASE_LEN {
                    return Err(KeystoreError::WeakPassphrase);
                }
                let mut salt = [0u8; 32];
                rand::fill(&mut salt).map_err(|_| KeystoreError::Crypto)?;
                RootDescription::Passphrase {
                    kdf: "pbkdf2-hmac-sha256".into(),
                    iterations: iterations.clamp(MIN_ITERATIONS, MAX_ITERATIONS),
                    salt,
                }
            }
            RootSecret::KeyFile(_) => RootDescription::KeyFile,
        };
        let _guard = lock(path)?;
        if path.exists() {
            return Err(KeystoreError::Exists(path.to_owned()));
        }
        let seal_key = derive_seal_key(&*root_key(secret, &root, path)?)?;
        let ks = Self {
            path: path.to_owned(),
            root,
            seal_key,
            state: RwLock::new(State::default()),
            clock: Arc::new(OffsetDateTime::now_utc),
        };
        ks.save(&State::default())?;
        Ok(ks)
    }

    /// Opens an existing keystore, destroying the material of any key whose
    /// destruction date has passed.
    pub fn open(path: &Path, secret: &RootSecret) -> Result<Self, KeystoreError> {
        Self::open_with_clock(path, secret, Arc::new(OffsetDateTime::now_utc))
    }

    /// As [`LocalKeystore::open`] with an injected clock (for tests of destruction).
    pub fn open_with_clock(
        path: &Path,
        secret: &RootSecret,
        clock: Clock,
    ) -> Result<Self, KeystoreError> {
        let outer = read_outer(path)?;
        let seal_key = derive_seal_key(&*root_key(secret, &outer.root, path)?)?;
        let state = unseal(path, &outer, &seal_key)?;
        let ks = Self {
            path: path.to_owned(),
            root: outer.root,
            seal_key,
            state: RwLock::new(state),
            clock,
        };
        let due = {
            let st = ks.read_state();
            let now = (ks.clock)();
            st.keys
                .values()
                .any(|r| matches!(r.state, KeyState::PendingDestruction { at } if at <= now))
        };
        if due {
            ks.mutate(|st, now| {
                st.purge_due(now);
                Ok(())
            })?;
        }
        Ok(ks)
    }

    /// The file this keystore lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Read-modify-write under the file lock; reloads first so concurrent processes
    /// never lose each other's changes.
    fn mutate<T>(
        &self,
        f: impl FnOnce(&mut State, OffsetDateTime) -> Result<T, KeystoreError>,
    ) -> Result<T, KeystoreError> {
        let _guard = lock(&self.path)?;
        let outer = read_outer(&self.path)?;
        if outer.root != self.root {
            return Err(KeystoreError::WrongSecret(self.path.clone()));
        }
        let mut st = unseal(&self.path, &outer, &self.seal_key)?;
        let now = (self.clock)();
        st.purge_due(now);
        let out = f(&mut st, now)?;
        self.save(&st)?;
        *self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = st;
        Ok(out)
    }

    fn save(&self, st: &State) -> Result<(), KeystoreError> {
        let plain = to_zeroizing_json(st)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).map_err(|_| KeystoreError::Crypto)?;
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, self.seal_key.as_ref())
                .map_err(|_| KeystoreError::Crypto)?,
        );
        let mut sealed = Vec::with_capacity(plain.len() + 16);
        sealed.extend_from_slice(&plain);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad_of(&self.root)?),
            &mut sealed,
        )
        .map_err(|_| KeystoreError::Crypto)?;
        let outer = FileOuter {
            format: FORMAT.into(),
            version: 1,
            root: self.root.clone(),
            nonce,
            sealed,
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let io_err = |e| KeystoreError::io(&self.path, e);
        let mut tmp = tempfile::Builder::new()
            .prefix(".keystore.")
            .tempfile_in(dir)
            .map_err(io_err)?;
        serde_json::to_writer_pretty(tmp.as_file_mut(), &outer).map_err(|e| io_err(e.into()))?;
        tmp.as_file_mut().write_all(b"\n").map_err(io_err)?;
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(&self.path).map_err(|e| io_err(e.error))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
        Ok(())
    }

    /// Creates a key with version 1.
    pub fn create_key(&self, id: &str) -> Result<KeyInfo, KeystoreError> {
        if !valid_key_id(id) {
            return Err(KeyError::InvalidKeyId(id.to_owned()).into());
        }
        self.mutate(|st, now| {
            if st.keys.contains_key(id) {
                return Err(KeyError::AlreadyExists(id.to_owned()).into());
            }
            let rec = KeyRecord {
                created: now,
                state: KeyState::Enabled,
                current: 1,
                versions: vec![new_version(1, now)?],
            };
            st.keys.insert(id.to_owned(), rec);
            Ok(())
        })?;
        self.describe(id).map_err(Into::into)
    }

    /// Adds a new version and makes it current; older versions still unwrap.
    pub fn rotate(&self, id: &str) -> Result<KeyInfo, KeystoreError> {
        self.mutate(|st, now| {
            let rec = st.record_mut(id)?;
            usable(id, rec, now)?;
            let next = rec.current.checked_add(1).ok_or(KeystoreError::Crypto)?;
            rec.versions.push(new_version(next, now)?);
            rec.current = next;
            Ok(())
        })?;
        self.describe(id).map_err(Into::into)
    }

    /// Stops all use of the key until it is enabled again.
    pub fn disable(&self, id: &str) -> Result<KeyInfo, KeystoreError> {
        self.set_state(id, |s| match s {
            KeyState::Enabled | KeyState::Disabled => Ok(KeyState::Disabled),
            other => Err(other),
        })
    }

    /// Re-enables a disabled key.
    pub fn enable(&self, id: &str) -> Result<KeyInfo, KeystoreError> {
        self.set_state(id, |s| match s {
            KeyState::Enabled | KeyState::Disabled => Ok(KeyState::Enabled),
            other => Err(other),
        })
    }

    fn set_state(
        &self,
        id: &str,
        f: impl FnOnce(KeyState) -> Result<KeyState, KeyState>,
    ) -> Result<KeyInfo, KeystoreError> {
        self.mutate(|st, _| {
            let rec = st.record_mut(id)?;
            rec.state = f(rec.state).map_err(|s| match s {
                KeyState::PendingDestruction { at } => {
                    KeyError::PendingDestruction(id.to_owned(), rfc3339(at))
                }
                KeyState::Destroyed { at } => KeyError::Destroyed(id.to_owned(), rfc3339(at)),
                _ => KeyError::Disabled(id.to_owned()),
            })?;
            Ok(())
        })?;
        self.describe(id).map_err(Into::into)
    }

    /// Schedules destruction of every version of the key after `days` (7 to 30). The key
    /// refuses all use from now on; its material is destroyed when the date passes.
    pub fn schedule_destruction(&self, id: &str, days: i64) -> Result<KeyInfo, KeystoreError> {
        if !(MIN_DESTRUCTION_DAYS..=MAX_DESTRUCTION_DAYS).contains(&days) {
            return Err(KeystoreError::WaitingPeriod(days));
        }
        self.mutate(|st, now| {
            let rec = st.record_mut(id)?;
            if let KeyState::Destroyed { at } = rec.state {
                return Err(KeyError::Destroyed(id.to_owned(), rfc3339(at)).into());
            }
            rec.state = KeyState::PendingDestruction {
                at: now + Duration::days(days),
            };
            Ok(())
        })?;
        self.describe(id).map_err(Into::into)
    }

    /// Cancels a scheduled destruction; the key comes back disabled, to be enabled
    /// deliberately.
    pub fn cancel_destruction(&self, id: &str) -> Result<KeyInfo, KeystoreError> {
        self.mutate(|st, _| {
            let rec = st.record_mut(id)?;
            match rec.state {
                KeyState::PendingDestruction { .. } => {
                    rec.state = KeyState::Disabled;
                    Ok(())
                }
                KeyState::Destroyed { at } => {
                    Err(KeyError::Destroyed(id.to_owned(), rfc3339(at)).into())
                }
                _ => Err(KeystoreError::NotPendingDestruction(id.to_owned())),
            }
        })?;
        self.describe(id).map_err(Into::into)
    }

    /// The material of a usable key's `version` (the current one when `None`).
    fn kek<'s>(
        &self,
        st: &'s State,
        key_id: &str,
        version: Option<u32>,
    ) -> Result<(u32, &'s [u8; KEY_LEN]), KeyError> {
        let rec = usable(key_id, st.record(key_id)?, (self.clock)())?;
        let want = version.unwrap_or(rec.current);
        let v = rec
            .versions
            .iter()
            .find(|v| v.version == want)
            .ok_or_else(|| KeyError::UnknownVersion(key_id.to_owned(), want))?;
        let kek = v
            .material
            .as_ref()
            .ok_or_else(|| KeyError::Destroyed(key_id.to_owned(), "an earlier date".into()))?;
        Ok((want, kek))
    }

    /// Every key, without material.
    pub fn list(&self) -> Vec<KeyInfo> {
        let st = self.read_state();
        st.keys.iter().map(|(id, r)| info(id, r)).collect()
    }
}

fn new_version(version: u32, now: OffsetDateTime) -> Result<VersionRecord, KeystoreError> {
    let mut material = Zeroizing::new([0u8; KEY_LEN]);
    rand::fill(material.as_mut()).map_err(|_| KeystoreError::Crypto)?;
    Ok(VersionRecord {
        version,
        created: now,
        material: Some(material),
    })
}

fn info(id: &str, r: &KeyRecord) -> KeyInfo {
    KeyInfo {
        provider: PROVIDER_ID.into(),
        key_id: id.to_owned(),
        state: r.state,
        current_version: r.current,
        versions: r
            .versions
            .iter()
            .filter(|v| v.material.is_some())
            .map(|v| v.version)
            .collect(),
        created: r.created,
    }
}

fn read_outer(path: &Path) -> Result<FileOuter, KeystoreError> {
    let f = File::open(path).map_err(|e| KeystoreError::io(path, e))?;
    let len = f.metadata().map_err(|e| KeystoreError::io(path, e))?.len();
    if len > MAX_FILE_LEN {
        return Err(KeystoreError::Corrupt(
            path.to_owned(),
            format!("file is {len} bytes"),
        ));
    }
    let outer: FileOuter = serde_json::from_reader(io::BufReader::new(f))
        .map_err(|e| KeystoreError::Corrupt(path.to_owned(), e.to_string()))?;
    if outer.format != FORMAT {
        return Err(KeystoreError::Corrupt(
            path.to_owned(),
            format!("format is `{}`", outer.format),
        ));
    }
    if outer.version != 1 {
        return Err(KeystoreError::Corrupt(
            path.to_owned(),
            format!(
                "keystore version {} is not supported by this build; upgrade itarvault",
                outer.version
            ),
        ));
    }
    Ok(outer)
}

fn unseal(
    path: &Path,
    outer: &FileOuter,
    seal_key: &[u8; KEY_LEN],
) -> Result<State, KeystoreError> {
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, seal_key).map_err(|_| KeystoreError::Crypto)?,
    );
    let mut buf = Zeroizing::new(outer.sealed.clone());
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(outer.nonce),
            Aad::from(aad_of(&outer.root)?),
            buf.as_mut_slice(),
        )
        .map_err(|_| KeystoreError::WrongSecret(path.to_owned()))?;
    serde_json::from_slice(plain).map_err(|_| {
        // No parser detail: it could quote the sealed contents, which hold key material.
        KeystoreError::Corrupt(
            path.to_owned(),
            "its sealed contents do not parse (written by an incompatible itarvault version?)"
                .into(),
        )
    })
}

impl LocalKeystore {
    /// An HMAC-SHA-256 of `data` under a key derived from the current version of
    /// `key_id` (HKDF-SHA-256, info `itarvault/binding-mac/v1`). The server binds
    /// metadata rows to their blobs with it, so that whoever can edit the database but
    /// does not hold the keystore cannot forge a binding. Verify with
    /// [`Self::verify_mac`] (constant time). Returns the key version used with the tag.
    pub fn mac(&self, key_id: &str, data: &[u8]) -> Result<(u32, [u8; 32]), KeyError> {
        self.mac_with(key_id, None, data)
    }

    fn mac_with(
        &self,
        key_id: &str,
        version: Option<u32>,
        data: &[u8],
    ) -> Result<(u32, [u8; 32]), KeyError> {
        let st = self.read_state();
        let (version, kek) = self.kek(&st, key_id, version)?;
        let prk =
            aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"itarvault/binding-mac/v1")
                .extract(kek.as_ref());
        let info = [key_id.as_bytes()];
        let okm = prk
            .expand(&info, aws_lc_rs::hmac::HMAC_SHA256)
            .map_err(|_| KeyError::Crypto(itarvault_format::CryptoFailure))?;
        let key = aws_lc_rs::hmac::Key::from(okm);
        let tag = aws_lc_rs::hmac::sign(&key, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Ok((version, out))
    }

    /// Whether `tag` is [`Self::mac`] of `data` under `version` of the key, in constant
    /// time.
    pub fn verify_mac(
        &self,
        key_id: &str,
        version: u32,
        data: &[u8],
        tag: &[u8],
    ) -> Result<bool, KeyError> {
        let (_, want) = self.mac_with(key_id, Some(version), data)?;
        Ok(aws_lc_rs::constant_time::verify_slices_are_equal(&want, tag).is_ok())
    }
}

impl KeyProvider for LocalKeystore {
    fn provider_id(&self) -> &str {
        PROVIDER_ID
    }

    fn wrap(&self, key_id: &str, dek: &DataKey, context: &[u8; 32]) -> Result<KeyWrap, KeyError> {
        let st = self.read_state();
        let (version, kek) = self.kek(&st, key_id, None)?;
        Ok(KeyWrap {
            provider: PROVIDER_ID.into(),
            key_id: key_id.to_owned(),
            key_version: version,
            wrapped: local_wrap::wrap(kek, key_id, version, dek, context)?,
        })
    }

    fn unwrap(&self, wrap: &KeyWrap, context: &[u8; 32]) -> Result<DataKey, KeyError> {
        if wrap.provider != PROVIDER_ID {
            return Err(KeyError::WrongProvider(
                PROVIDER_ID.into(),
                wrap.provider.clone(),
            ));
        }
        let st = self.read_state();
        let (_, kek) = self.kek(&st, &wrap.key_id, Some(wrap.key_version))?;
        local_wrap::unwrap(kek, &wrap.key_id, wrap.key_version, &wrap.wrapped, context)
    }

    fn describe(&self, key_id: &str) -> Result<KeyInfo, KeyError> {
        let st = self.read_state();
        Ok(info(key_id, st.record(key_id)?))
    }
}
