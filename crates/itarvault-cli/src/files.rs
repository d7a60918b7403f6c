//! `encrypt`, `decrypt`, `inspect`, `rewrap`: envelopes on files and pipes.
//!
//! Output files are written to a temporary file in the destination's own directory
//! (the one place the user asked data to go), fsynced, and renamed into place only
//! when the operation succeeded; on failure the temporary file is removed.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use itarvault_format::stream::envelope_len;
use itarvault_format::{Label, UnverifiedHeader};
use itarvault_keys::{KeyRef, Keyring};
use serde_json::json;

use crate::secrets::open_keystore;
use crate::{KeystoreArgs, OutputArgs, Transfer};

fn is_std(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// Opens the input; returns its size when it is a regular file.
pub(crate) fn open_input(p: &Path) -> anyhow::Result<(Box<dyn Read + Send>, Option<u64>)> {
    if is_std(p) {
        return Ok((Box::new(io::stdin()), None));
    }
    let f = File::open(p).with_context(|| format!("opening `{}`", p.display()))?;
    let meta = f
        .metadata()
        .with_context(|| format!("reading `{}`", p.display()))?;
    if meta.is_dir() {
        bail!("`{}` is a directory", p.display());
    }
    Ok((Box::new(f), meta.is_file().then_some(meta.len())))
}

/// Where output goes: stdout, or a private temporary file renamed into place on commit.
pub(crate) enum Sink {
    Stdout(io::Stdout),
    File {
        tmp: tempfile::NamedTempFile,
        dest: PathBuf,
    },
}

impl Sink {
    pub(crate) fn create(dest: &Path, force: bool) -> anyhow::Result<Self> {
        if is_std(dest) {
            return Ok(Self::Stdout(io::stdout()));
        }
        if dest.exists() && !force {
            bail!(
                "`{}` already exists\npass --force to replace it",
                dest.display()
            );
        }
        let dir = dest
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".itarvault-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in `{}`", dir.display()))?;
        Ok(Self::File {
            tmp,
            dest: dest.to_owned(),
        })
    }

    pub(crate) fn writer(&mut self) -> &mut (dyn Write + Send) {
        match self {
            Self::Stdout(s) => s,
            Self::File { tmp, .. } => tmp.as_file_mut(),
        }
    }

    fn is_stdout(&self) -> bool {
        matches!(self, Self::Stdout(_))
    }

    /// Makes the output durable and visible.
    pub(crate) fn commit(self) -> anyhow::Result<()> {
        match self {
            Self::Stdout(mut s) => Ok(s.flush()?),
            Self::File { tmp, dest } => {
                tmp.as_file()
                    .sync_all()
                    .with_context(|| format!("writing `{}`", dest.display()))?;
                tmp.persist(&dest)
                    .with_context(|| format!("renaming into `{}`", dest.display()))?;
                sync_parent(&dest);
                Ok(())
            }
        }
    }
}

/// Best effort: persist the rename itself. Some filesystems refuse fsync on directories.
fn sync_parent(p: &Path) {
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

pub(crate) fn progress_bar(out: OutputArgs, len: Option<u64>) -> ProgressBar {
    // Only worth drawing for large inputs, and only for a person at a terminal.
    if out.no_progress
        || out.json
        || !io::stderr().is_terminal()
        || len.is_some_and(|l| l < 16 << 20)
    {
        return ProgressBar::hidden();
    }
    let pb = len.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style);
    }
    pb
}

fn keyring(ks: &KeystoreArgs) -> anyhow::Result<Keyring> {
    Ok(Keyring::new(vec![Arc::new(open_keystore(ks)?)]))
}

/// Prints a result: JSON on stdout (on stderr when stdout carries data), else `human`
/// on stderr.
fn report(out: OutputArgs, data_on_stdout: bool, value: serde_json::Value, human: &str) {
    if out.json {
        if data_on_stdout {
            eprintln!("{value}");
        } else {
            println!("{value}");
        }
    } else {
        eprintln!("{human}");
    }
}

pub fn encrypt(
    ks: &KeystoreArgs,
    out: OutputArgs,
    label: &str,
    keys: &[String],
    chunk_size: u32,
    t: &Transfer,
) -> anyhow::Result<()> {
    let (input, output) = (t.input.as_path(), t.output.as_path());
    let label: Label = label.parse().context("--label")?;
    let ring = keyring(ks)?;
    let keys: Vec<_> = keys.iter().map(|k| KeyRef::local(k)).collect();
    let (reader, size) = open_input(input)?;
    let mut sink = Sink::create(output, t.force)?;
    let pb = progress_bar(out, size);
    let written = ring
        .encrypt(
            &keys,
            label.clone(),
            Some(chunk_size),
            reader,
            sink.writer(),
            &mut |n| pb.set_position(n),
        )
        .with_context(|| format!("encrypting `{}`", input.display()))?;
    pb.finish_and_clear();
    let on_stdout = sink.is_stdout();
    sink.commit()?;
    report(
        out,
        on_stdout,
        json!({ "input": input, "output": output, "label": label.to_string(),
                "plaintext_bytes": written.plaintext_bytes, "envelope_bytes": written.envelope_bytes }),
        &format!(
            "encrypted `{}` -> `{}` (label {label}, {} bytes)",
            input.display(),
            output.display(),
            written.plaintext_bytes
        ),
    );
    Ok(())
}

pub fn decrypt(ks: &KeystoreArgs, out: OutputArgs, t: &Transfer) -> anyhow::Result<()> {
    let (input, output) = (t.input.as_path(), t.output.as_path());
    let ring = keyring(ks)?;
    let (reader, size) = open_input(input)?;
    let mut sink = Sink::create(output, t.force)?;
    let pb = progress_bar(out, size);
    let (header, n) = ring
        .decrypt(reader, sink.writer(), &mut |n| pb.set_position(n))
        .with_context(|| format!("decrypting `{}`", input.display()))?;
    pb.finish_and_clear();
    let on_stdout = sink.is_stdout();
    sink.commit()?;
    let label = header.params.label.to_string();
    report(
        out,
        on_stdout,
        json!({ "input": input, "output": output, "label": label, "plaintext_bytes": n }),
        &format!(
            "decrypted `{}` -> `{}` (label {label}, {n} bytes)",
            input.display(),
            output.display()
        ),
    );
    Ok(())
}

/// The plaintext length an envelope's size implies, if the size is consistent.
fn implied_plaintext(body_len: u64, chunk_size: u32) -> Option<u64> {
    let slot = u64::from(chunk_size) + 16;
    let (full, rest) = (body_len / slot, body_len % slot);
    (rest >= 16).then(|| full * u64::from(chunk_size) + rest - 16)
}

pub fn inspect(out: OutputArgs, file: &Path) -> anyhow::Result<()> {
    let (mut reader, size) = open_input(file)?;
    let h = UnverifiedHeader::read_from(&mut reader)
        .with_context(|| format!("reading `{}`", file.display()))?;
    let total = match size {
        Some(s) => Some(s),
        // A pipe: count the rest without keeping it.
        None => Some(h.len() as u64 + io::copy(&mut reader, &mut io::sink())?),
    };
    let body = total.map(|t| t.saturating_sub(h.len() as u64));
    let plain = body.and_then(|b| implied_plaintext(b, h.params.chunk_size));
    let consistent = match (plain, total) {
        (Some(p), Some(t)) => envelope_len(h.len() as u64, h.params.chunk_size, p) == t,
        _ => false,
    };
    let wraps: Vec<_> = h
        .wraps
        .iter()
        .map(
            |w| json!({ "provider": w.provider, "key_id": w.key_id, "key_version": w.key_version }),
        )
        .collect();
    let v = json!({
        "authenticated": false,
        "format_version": itarvault_format::header::VERSION,
        "suite": "AES-256-GCM/HKDF-SHA-512/committing (0x0001)",
        "label": h.params.label.to_string(),
        "object_id": hex::encode(h.params.object_id),
        "chunk_size": h.params.chunk_size,
        "header_bytes": h.len(),
        "envelope_bytes": total,
        "plaintext_bytes": plain.filter(|_| consistent),
        "key_wraps": wraps,
    });
    if out.json {
        println!("{v}");
        return Ok(());
    }
    println!("label:          {}", h.params.label);
    println!(
        "format:         itarvault envelope v1, suite AES-256-GCM/HKDF-SHA-512/committing (0x0001)"
    );
    println!("object id:      {}", hex::encode(h.params.object_id));
    println!("chunk size:     {} bytes", h.params.chunk_size);
    match (total, plain.filter(|_| consistent)) {
        (Some(t), Some(p)) => println!("size:           {t} bytes envelope, {p} bytes plaintext"),
        (Some(t), None) => {
            println!("size:           {t} bytes: not a whole envelope (truncated or damaged)")
        }
        _ => {}
    }
    for w in &h.wraps {
        println!(
            "key wrap:       {}:{} version {}",
            w.provider, w.key_id, w.key_version
        );
    }
    println!("(not authenticated: decrypt with the key to verify any of this)");
    Ok(())
}

pub fn rewrap(
    ks: &KeystoreArgs,
    out: OutputArgs,
    file: &Path,
    keys: &[String],
) -> anyhow::Result<()> {
    if is_std(file) {
        bail!("rewrap works on a file in place, not on `-`");
    }
    let ring = keyring(ks)?;
    let keys: Vec<_> = keys.iter().map(|k| KeyRef::local(k)).collect();
    let mut f = File::open(file).with_context(|| format!("opening `{}`", file.display()))?;
    let perms = f.metadata()?.permissions();
    // `f` is read unbuffered, so after this it sits exactly at the start of the body.
    let (old, header) = ring
        .rewrap_header(&mut f, &keys)
        .with_context(|| format!("rewrapping `{}`", file.display()))?;
    let mut sink = Sink::create(file, true)?;
    sink.writer().write_all(&header)?;
    let body = io::copy(&mut f, sink.writer())
        .with_context(|| format!("copying the body of `{}`", file.display()))?;
    if let Sink::File { tmp, .. } = &sink {
        tmp.as_file().set_permissions(perms)?;
    }
    sink.commit()?;
    let new: Vec<_> = keys.iter().map(|k| k.key_id.clone()).collect();
    report(
        out,
        false,
        json!({ "file": file, "label": old.params.label.to_string(), "keys": new, "body_bytes": body }),
        &format!(
            "rewrapped `{}` for {} (body unchanged)",
            file.display(),
            new.join(", ")
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::implied_plaintext;
    use itarvault_format::stream::envelope_len;

    #[test]
    fn implied_plaintext_inverts_envelope_len() {
        for n in [0u64, 1, 1023, 1024, 1025, 5000] {
            let body = envelope_len(0, 1024, n);
            assert_eq!(implied_plaintext(body, 1024), Some(n));
        }
        assert_eq!(
            implied_plaintext(1040, 1024),
            None,
            "a full chunk with no final chunk"
        );
        assert_eq!(implied_plaintext(10, 1024), None);
    }
}
