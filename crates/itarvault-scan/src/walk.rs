//! The file walker: ripgrep's parallel walker with its filters turned off (controlled
//! data hides in dot-directories and git-ignored build output), one reusable buffer
//! per thread, and a result for every file that could not be scanned.

use crate::extract::{self, Budget, Kind};
use crate::label;
use crate::matcher::{Finding, Scanner};
use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// What a walk does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files larger than this are reported as unscanned.
    pub max_size: u64,
    /// Follow symbolic links (loops are reported per file).
    pub follow: bool,
    /// Worker threads; 0 picks one per core.
    pub threads: usize,
    /// List every file, not only those with findings or errors.
    pub all: bool,
    /// What opening a container may cost: the same limits as the upload check, except
    /// that a file on disk may be buffered up to `max_size`.
    pub budget: Budget,
}

impl Default for Options {
    fn default() -> Self {
        let max_size = 256 << 20;
        Self {
            max_size,
            follow: false,
            threads: 0,
            all: false,
            budget: Budget {
                memory: max_size as usize,
                ..Budget::default()
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Scanned,
    /// The format cannot be read (encrypted, image, over the size limit…), or a
    /// container could be opened only in part: `error` says why, `findings` holds what
    /// the readable parts showed.
    Unscanned,
    /// Reading failed (permissions, a symlink loop, a damaged file).
    Error,
}

/// One file in the report (the shape `docs/scan.md` describes, plus `status`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileReport {
    pub path: String,
    pub suggested_label: Option<String>,
    pub findings: Vec<Finding>,
    pub error: Option<String>,
    pub status: Status,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub files_scanned: u64,
    pub files_with_findings: u64,
    pub bytes: u64,
    pub errors: u64,
    pub seconds: f64,
    pub files_seen: u64,
    pub files_unscanned: u64,
    /// Why files were not scanned, with counts.
    pub unscanned: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub files: Vec<FileReport>,
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::report::BaselineDiff>,
}

impl Report {
    pub fn findings(&self) -> impl Iterator<Item = (&FileReport, &Finding)> {
        self.files
            .iter()
            .flat_map(|f| f.findings.iter().map(move |x| (f, x)))
    }
}

/// Scans every file under `paths`.
pub fn scan_paths(scanner: &Scanner, paths: &[PathBuf], opts: &Options) -> Report {
    let started = Instant::now();
    let Some((first, rest)) = paths.split_first() else {
        return Report {
            files: Vec::new(),
            summary: Summary::default(),
            baseline: None,
        };
    };
    let mut builder = ignore::WalkBuilder::new(first);
    for p in rest {
        builder.add(p);
    }
    // Every ripgrep filter off: hidden files, .gitignore, .ignore and parent ignores.
    builder
        .standard_filters(false)
        .follow_links(opts.follow)
        .threads(opts.threads);
    // Clean files are only counted, so memory does not grow with the number of files.
    let collected = Mutex::new((Vec::new(), Summary::default()));
    builder.build_parallel().run(|| {
        let collected = &collected;
        let mut buf = Vec::new();
        Box::new(move |entry| {
            let report = match entry {
                Ok(e) if e.file_type().is_some_and(|t| t.is_dir()) => None,
                Ok(e) if e.path_is_symlink() && !opts.follow => Some(unscanned(
                    e.path(),
                    "symbolic link not followed (use --follow)".into(),
                )),
                Ok(e) => Some(scan_file(scanner, e.path(), opts, &mut buf)),
                Err(err) => Some(walk_error(err)),
            };
            if let (Some((f, bytes)), Ok(mut c)) = (report, collected.lock()) {
                count(&mut c.1, &f, bytes);
                if opts.all || !f.findings.is_empty() || f.status != Status::Scanned {
                    c.0.push(f);
                }
            }
            ignore::WalkState::Continue
        })
    });
    let (mut files, mut summary) = collected.into_inner().unwrap_or_else(|p| p.into_inner());
    files.sort_by(|a, b| a.path.cmp(&b.path));
    summary.seconds = started.elapsed().as_secs_f64();
    Report {
        files,
        summary,
        baseline: None,
    }
}

fn count(summary: &mut Summary, f: &FileReport, bytes: u64) {
    summary.files_seen += 1;
    summary.bytes += bytes;
    match f.status {
        Status::Scanned => summary.files_scanned += 1,
        Status::Error => summary.errors += 1,
        Status::Unscanned => {
            summary.files_unscanned += 1;
            let why = reason_class(f.error.as_deref().unwrap_or(""));
            *summary.unscanned.entry(why).or_default() += 1;
        }
    }
    if !f.findings.is_empty() {
        summary.files_with_findings += 1;
    }
}

/// The reason without the file-specific part, for the summary's counts.
fn reason_class(why: &str) -> String {
    why.split([':', '('])
        .next()
        .unwrap_or(why)
        .trim()
        .to_string()
}

fn unscanned(path: &Path, why: String) -> (FileReport, u64) {
    (
        FileReport {
            path: path.display().to_string(),
            suggested_label: None,
            findings: Vec::new(),
            error: Some(why),
            status: Status::Unscanned,
        },
        0,
    )
}

fn failed(path: &Path, why: String) -> (FileReport, u64) {
    let (mut r, n) = unscanned(path, why);
    r.status = Status::Error;
    (r, n)
}

fn walk_error(err: ignore::Error) -> (FileReport, u64) {
    fn path_of(e: &ignore::Error) -> Option<&Path> {
        match e {
            ignore::Error::WithPath { path, .. } => Some(path),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            ignore::Error::Loop { child, .. } => Some(child),
            _ => None,
        }
    }
    let path = path_of(&err).map_or_else(|| PathBuf::from("?"), Path::to_path_buf);
    failed(&path, err.to_string())
}

/// Scans one file; returns its report and the bytes read.
pub fn scan_file(
    scanner: &Scanner,
    path: &Path,
    opts: &Options,
    buf: &mut Vec<u8>,
) -> (FileReport, u64) {
    // Stat before opening: opening a FIFO would block the walk until a writer came.
    let size = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => return unscanned(path, "not a regular file (FIFO, socket or device)".into()),
        Err(e) => return failed(path, format!("cannot open: {e}")),
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return failed(path, format!("cannot open: {e}")),
    };
    if size > opts.max_size {
        return unscanned(
            path,
            format!(
                "over the size limit ({size} bytes > {} bytes; raise --max-size)",
                opts.max_size
            ),
        );
    }
    let mut head = [0u8; extract::SNIFF_LEN];
    let got = match read_head(&mut file, &mut head) {
        Ok(n) => n,
        Err(e) => return failed(path, format!("cannot read: {e}")),
    };
    let head = &head[..got];
    let (mut findings, status, error) = if extract::sniff(head) == Kind::Plain {
        // Most files: straight through the matcher with a reused buffer.
        let mut stream = scanner.stream(true).with_buffer(std::mem::take(buf));
        stream.push(head);
        let read = stream.read_from(&mut file);
        let (found, back) = stream.finish_reuse();
        *buf = back;
        if let Err(e) = read {
            return failed(path, format!("cannot read: {e}"));
        }
        (found, Status::Scanned, None)
    } else {
        let mut check = scanner.upload_check(opts.budget);
        check.push(head);
        buf.resize(256 << 10, 0);
        loop {
            match file.read(buf) {
                Ok(0) => break,
                Ok(n) => check.push(&buf[..n]),
                Err(e) => return failed(path, format!("cannot read: {e}")),
            }
        }
        let outcome = check.finish();
        let status = match (&outcome.unchecked, &outcome.unreadable) {
            (Some(why), _) if why.is_damage() => Status::Error,
            (None, None) => Status::Scanned,
            _ => Status::Unscanned,
        };
        let why = outcome.unchecked.map(|u| u.to_string());
        let error = why.or(outcome.unreadable.map(|u| u.to_string()));
        (outcome.findings, status, error)
    };
    if !findings.is_empty() {
        match content_hash(path) {
            Ok(h) => assign_fingerprints(&mut findings, &h),
            Err(e) => return failed(path, format!("cannot re-read for the fingerprint: {e}")),
        }
    }
    (
        FileReport {
            path: path.display().to_string(),
            suggested_label: label::suggest(&findings),
            findings,
            error,
            status,
        },
        size,
    )
}

fn read_head(file: &mut File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

fn content_hash(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = File::open(path)?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut chunk = vec![0u8; 256 << 10];
    loop {
        match f.read(&mut chunk)? {
            0 => break,
            n => ctx.update(&chunk[..n]),
        }
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok(out)
}

/// Fingerprints: rule, entry, normalised marking text, the file's content hash and the
/// occurrence number of that marking in the file. Not the position: an edit elsewhere
/// in the file, or a different marking on a known line, is a new finding to review.
pub fn assign_fingerprints(findings: &mut [Finding], content: &[u8; 32]) {
    let mut seen: HashMap<(String, Option<String>, String), u32> = HashMap::new();
    for f in findings {
        let n = seen
            .entry((f.rule.clone(), f.entry.clone(), f.matched.clone()))
            .or_default();
        *n += 1;
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in [
            b"itarvault-scan fingerprint v1".as_slice(),
            f.rule.as_bytes(),
            f.entry.as_deref().unwrap_or("").as_bytes(),
            f.matched.as_bytes(),
            content,
            &n.to_be_bytes(),
        ] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        f.fingerprint = Some(hex::encode(&ctx.finish().as_ref()[..16]));
    }
}
