//! Finding the keystore and the secret that opens it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use itarvault_keys::{check_private, LocalKeystore, RootSecret};
use zeroize::Zeroizing;

use crate::KeystoreArgs;

/// The keystore path: flag or $ITARVAULT_KEYSTORE, else under $ITARVAULT_HOME, else
/// under the XDG data directory.
pub fn keystore_path(args: &KeystoreArgs) -> anyhow::Result<PathBuf> {
    if let Some(p) = &args.keystore {
        return Ok(p.clone());
    }
    let base = if let Some(h) = std::env::var_os("ITARVAULT_HOME") {
        PathBuf::from(h)
    } else if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        PathBuf::from(x).join("itarvault")
    } else if let Some(h) = std::env::var_os("HOME") {
        PathBuf::from(h).join(".local/share/itarvault")
    } else {
        bail!("cannot tell where the keystore is\npass --keystore PATH or set ITARVAULT_KEYSTORE")
    };
    Ok(base.join("keystore.json"))
}

fn read_passphrase_file(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    check_private(path)?;
    let raw = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading passphrase file `{}`", path.display()))?,
    );
    Ok(Zeroizing::new(
        raw.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// The secret for an existing keystore (`confirm` asks twice on a terminal, for init).
pub fn root_secret(args: &KeystoreArgs, confirm: bool) -> anyhow::Result<RootSecret> {
    if let Some(p) = &args.root_key_file {
        return Ok(RootSecret::from_key_file(p)?);
    }
    if let Some(p) = &args.passphrase_file {
        return Ok(RootSecret::Passphrase(read_passphrase_file(p)?));
    }
    if let Ok(p) = std::env::var("ITARVAULT_PASSPHRASE") {
        return Ok(RootSecret::Passphrase(Zeroizing::new(p)));
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let p = Zeroizing::new(rpassword::prompt_password("keystore passphrase: ")?);
        if confirm {
            let again = Zeroizing::new(rpassword::prompt_password("repeat passphrase: ")?);
            if *again != *p {
                bail!("the passphrases do not match");
            }
        }
        return Ok(RootSecret::Passphrase(p));
    }
    bail!(
        "no keystore passphrase given\nset ITARVAULT_PASSPHRASE, pass --passphrase-file FILE, or use --root-key-file FILE"
    )
}

/// Opens the keystore named by `args`.
pub fn open_keystore(args: &KeystoreArgs) -> anyhow::Result<LocalKeystore> {
    let path = keystore_path(args)?;
    if !path.exists() {
        return Err(itarvault_keys::KeystoreError::NotFound(path).into());
    }
    let secret = root_secret(args, false)?;
    Ok(LocalKeystore::open(&path, &secret)?)
}
