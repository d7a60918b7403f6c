//! `itarvault keys ...`

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use itarvault_keys::{KeyInfo, LocalKeystore, RootSecret};

use crate::secrets::{keystore_path, open_keystore, root_secret};
use crate::{KeystoreArgs, OutputArgs};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a new, empty keystore sealed under a passphrase or a root key file.
    Init {
        /// Generate a new random root key into this file (mode 0600) and seal the
        /// keystore under it instead of a passphrase.
        #[arg(long, conflicts_with = "root_key_file")]
        generate_root_key: Option<PathBuf>,
    },
    /// Create a key-encryption key (version 1).
    Create { key_id: String },
    /// List keys, their states and versions.
    List,
    /// Show one key.
    Show { key_id: String },
    /// Add a new key version and make it current. Old versions still decrypt.
    Rotate { key_id: String },
    /// Refuse all use of a key until it is enabled again.
    Disable { key_id: String },
    /// Re-enable a disabled key.
    Enable { key_id: String },
    /// Schedule destruction of every version of a key (crypto-shredding).
    ///
    /// The key refuses all use at once; its material is erased when the waiting period
    /// ends, after which data wrapped only under it can never be decrypted.
    Destroy {
        key_id: String,
        /// Waiting period in days, 7 to 30.
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// Cancel a scheduled destruction. The key comes back disabled.
    CancelDestroy { key_id: String },
}

fn print_keys(out: OutputArgs, keys: &[KeyInfo]) -> anyhow::Result<()> {
    if out.json {
        println!("{}", serde_json::to_string(keys)?);
        return Ok(());
    }
    if keys.is_empty() {
        println!("no keys; create one with `itarvault keys create KEY_ID`");
        return Ok(());
    }
    let w = keys
        .iter()
        .map(|k| k.key_id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<w$}  {:>7}  {:<12}  STATE",
        "KEY ID", "CURRENT", "VERSIONS"
    );
    for k in keys {
        let versions = if k.versions.is_empty() {
            "none".to_owned()
        } else {
            k.versions
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        println!(
            "{:<w$}  {:>7}  {:<12}  {}",
            k.key_id, k.current_version, versions, k.state
        );
    }
    Ok(())
}

pub fn run(args: &KeystoreArgs, out: OutputArgs, cmd: KeysCommand) -> anyhow::Result<()> {
    use itarvault_keys::KeyProvider;
    let ks = || open_keystore(args);
    let info = match cmd {
        KeysCommand::Init { generate_root_key } => return init(args, out, generate_root_key),
        KeysCommand::List => return print_keys(out, &ks()?.list()),
        KeysCommand::Show { key_id } => ks()?.describe(&key_id)?,
        KeysCommand::Create { key_id } => ks()?.create_key(&key_id)?,
        KeysCommand::Rotate { key_id } => ks()?.rotate(&key_id)?,
        KeysCommand::Disable { key_id } => ks()?.disable(&key_id)?,
        KeysCommand::Enable { key_id } => ks()?.enable(&key_id)?,
        KeysCommand::Destroy { key_id, days } => {
            let i = ks()?.schedule_destruction(&key_id, days)?;
            if !out.json {
                eprintln!("key `{key_id}` now refuses all use; `itarvault keys cancel-destroy {key_id}` undoes this until the date");
            }
            i
        }
        KeysCommand::CancelDestroy { key_id } => ks()?.cancel_destruction(&key_id)?,
    };
    print_keys(out, &[info])
}

fn init(args: &KeystoreArgs, out: OutputArgs, generate: Option<PathBuf>) -> anyhow::Result<()> {
    let path = keystore_path(args)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    let secret = match &generate {
        Some(f) => RootSecret::generate_key_file(f)?,
        None => root_secret(args, true)?,
    };
    LocalKeystore::init(&path, &secret)?;
    if out.json {
        println!(
            "{}",
            serde_json::json!({ "keystore": path, "root_key_file": generate })
        );
    } else {
        println!("created keystore `{}`", path.display());
        if let Some(f) = generate {
            println!(
                "root key written to `{}`: keep it safe and private; without it the keys are lost",
                f.display()
            );
        }
        println!("next: itarvault keys create KEY_ID");
    }
    Ok(())
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}
