//! The audit log on disk: one writer thread, group commit, checkpoints, signed head.
//!
//! Requests hand their events to the writer and wait. The writer takes everything that
//! queued up, appends it, makes it durable with one `fdatasync`, and only then answers
//! every waiting request. If a write or sync fails, that batch and every later one
//! fail: the server refuses to act without a record.
//!
//! The signed head (the log's length and last hash, for truncation checks) follows the
//! log: rewritten as soon as the writer is idle, and at most 50 ms apart under
//! load. Signing and replacing it after every group commit took a tenth of the
//! server's time serving small reads.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use itarvault_audit::{verify, Chain, Event, Head, PublicKey, Signer};
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// Why the audit log cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log cannot be written ({0}); the request was refused because every operation must be recorded\nfree disk space or fix the audit directory, then restart the server")]
    Unavailable(String),
    #[error("audit log `{0}` failed verification: {1}\nrun `itarvault audit verify` for every problem; the server will not append to a log that was altered")]
    Tampered(PathBuf, String),
    #[error("{1}: `{0}`")]
    Io(PathBuf, #[source] io::Error),
    #[error("audit signing key `{0}`: {1}")]
    Key(PathBuf, String),
}

/// Files of the audit trail, under one directory.
#[derive(Debug, Clone)]
pub struct AuditPaths {
    pub dir: PathBuf,
}

impl AuditPaths {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("log.jsonl")
    }
    pub fn head(&self) -> PathBuf {
        self.dir.join("head.json")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("signing-key.p8")
    }
    pub fn public_key(&self) -> PathBuf {
        self.dir.join("signing-key.pub")
    }

    /// Loads the signing key, creating it (and its public half) on first use.
    pub fn signer(&self) -> Result<Signer, AuditError> {
        let p = self.key();
        if p.exists() {
            itarvault_keys::check_private(&p)
                .map_err(|e| AuditError::Key(p.clone(), e.to_string()))?;
            let der =
                zeroize::Zeroizing::new(fs::read(&p).map_err(|e| AuditError::Io(p.clone(), e))?);
            return Signer::from_pkcs8(&der).map_err(|e| AuditError::Key(p.clone(), e.to_string()));
        }
        fs::create_dir_all(&self.dir).map_err(|e| AuditError::Io(self.dir.clone(), e))?;
        let s = Signer::generate().map_err(|e| AuditError::Key(p.clone(), e.to_string()))?;
        crate::fsutil::write_private(&p, s.pkcs8()).map_err(|e| AuditError::Io(p.clone(), e))?;
        let pubp = self.public_key();
        fs::write(&pubp, format!("{}\n", s.public_key().to_hex()))
            .map_err(|e| AuditError::Io(pubp, e))?;
        Ok(s)
    }

    /// The verifying key, for offline verification.
    pub fn verifying_key(&self) -> Result<PublicKey, AuditError> {
        let p = self.public_key();
        let text = fs::read_to_string(&p).map_err(|e| AuditError::Io(p.clone(), e))?;
        PublicKey::from_hex(&text).ok_or_else(|| AuditError::Key(p, "not a hex public key".into()))
    }

    pub fn read_head(&self) -> Result<Option<Head>, AuditError> {
        let p = self.head();
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| AuditError::Tampered(p, format!("the head file is unreadable: {e}"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuditError::Io(p, e)),
        }
    }
}

type Reply = oneshot::Sender<Result<u64, AuditError>>;

struct Batch {
    events: Vec<Event>,
    reply: Reply,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct AuditStats {
    pub records: AtomicU64,
    pub commits: AtomicU64,
    pub checkpoints: AtomicU64,
}

/// A handle to the writer. Cloning shares it.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Batch>,
    failed: Arc<AtomicBool>,
    pub stats: Arc<AuditStats>,
}

impl AuditLog {
    /// Opens the log, verifies it against its signed head, removes an incomplete last
    /// line left by a crash, and starts the writer. A log that fails verification is
    /// not appended to.
    pub fn open(paths: &AuditPaths, checkpoint_every: Duration) -> Result<Self, AuditError> {
        fs::create_dir_all(&paths.dir).map_err(|e| AuditError::Io(paths.dir.clone(), e))?;
        let signer = paths.signer()?;
        let log_path = paths.log();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(|e| AuditError::Io(log_path.clone(), e))?;
        let head = paths.read_head()?;
        let report = verify(BufReader::new(&file), &[signer.public_key()], head.as_ref());
        if let Some(p) = report.problems.first() {
            return Err(AuditError::Tampered(
                log_path,
                format!("line {}: {}", p.line, p.message),
            ));
        }
        let mut recovered = None;
        if !report.notes.is_empty() {
            let keep = complete_prefix_len(&log_path)?;
            file.set_len(keep)
                .map_err(|e| AuditError::Io(log_path.clone(), e))?;
            file.sync_all()
                .map_err(|e| AuditError::Io(log_path.clone(), e))?;
            recovered = Some(report.notes.join("; "));
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| AuditError::Io(log_path.clone(), e))?;
        let chain = if report.records == 0 {
            Chain::new()
        } else {
            Chain::resume(report.last_seq, report.last_hash)
        };
        let (tx, rx) = mpsc::channel::<Batch>();
        let failed = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(AuditStats::default());
        let mut writer = Writer {
            file,
            log_path,
            head_path: paths.head(),
            chain,
            signer,
            since_checkpoint: 0,
            failed: failed.clone(),
            stats: stats.clone(),
        };
        let mut start = vec![Event::new("log.open", "ok").detail(format!(
            "server started; log continues at seq {}",
            writer.chain.last_seq() + 1
        ))];
        if let Some(r) = recovered {
            start.push(Event::new("log.recovered", "ok").detail(r));
        }
        writer.commit(&mut [Batch {
            events: start,
            reply: oneshot::channel().0,
        }]);
        if failed.load(Ordering::SeqCst) {
            return Err(AuditError::Unavailable("the first write failed".into()));
        }
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(rx, checkpoint_every))
            .map_err(|e| AuditError::Io(paths.dir.clone(), e))?;
        Ok(Self { tx, failed, stats })
    }

    /// Appends events and waits until they are durable. Returns the last seq.
    pub async fn append(&self, events: Vec<Event>) -> Result<u64, AuditError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(AuditError::Unavailable("an earlier write failed".into()));
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Batch { events, reply })
            .map_err(|_| AuditError::Unavailable("the writer stopped".into()))?;
        rx.await
            .unwrap_or_else(|_| Err(AuditError::Unavailable("the writer stopped".into())))
    }

    /// Appends one event and waits until it is durable.
    pub async fn record(&self, event: Event) -> Result<u64, AuditError> {
        self.append(vec![event]).await
    }

    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

/// Length of the log up to and including its last newline.
fn complete_prefix_len(path: &Path) -> Result<u64, AuditError> {
    let f = File::open(path).map_err(|e| AuditError::Io(path.to_owned(), e))?;
    let mut r = BufReader::new(f);
    let mut keep = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = r
            .read_until(b'\n', &mut buf)
            .map_err(|e| AuditError::Io(path.to_owned(), e))?;
        if n == 0 || buf.last() != Some(&b'\n') {
            return Ok(keep);
        }
        keep += n as u64;
    }
}

struct Writer {
    file: File,
    log_path: PathBuf,
    head_path: PathBuf,
    chain: Chain,
    signer: Signer,
    since_checkpoint: u64,
    failed: Arc<AtomicBool>,
    stats: Arc<AuditStats>,
}

/// At most this many batches share one sync; more would only delay the first caller.
const MAX_GROUP: usize = 4096;

/// Under sustained load the head lags the durable log by at most this much.
const HEAD_EVERY: Duration = Duration::from_millis(50);

/// How long the writer waits for more work before it calls itself idle.
const IDLE: Duration = Duration::from_millis(2);

/// While requests are arriving concurrently (the last group held more than one), the
/// writer gathers for this long before it syncs, so that one `fdatasync` serves more of
/// them: syncs are quick enough that otherwise each served two or three reads, and they
/// cost a tenth of the server's time (PostgreSQL's `commit_delay` does the same).
const GATHER: Duration = Duration::from_micros(200);

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Batch>, checkpoint_every: Duration) {
        let mut last_checkpoint = Instant::now();
        let mut last_head = Instant::now();
        let mut head_stale = false;
        let mut concurrent = false;
        loop {
            let mut wait = checkpoint_every.saturating_sub(last_checkpoint.elapsed());
            if head_stale {
                wait = wait.min(IDLE);
            }
            let first = match rx.recv_timeout(wait.max(Duration::from_millis(1))) {
                Ok(b) => Some(b),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if self.since_checkpoint > 0 {
                        self.checkpoint();
                    } else if head_stale {
                        self.write_head(OffsetDateTime::now_utc());
                    }
                    return;
                }
            };
            let mut group: Vec<Batch> = first.into_iter().collect();
            let until = Instant::now() + if concurrent { GATHER } else { Duration::ZERO };
            while !group.is_empty() && group.len() < MAX_GROUP {
                let more = match until.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => rx.recv_timeout(left).ok(),
                    _ => rx.try_recv().ok(),
                };
                match more {
                    Some(b) => group.push(b),
                    None => break,
                }
            }
            concurrent = group.len() > 1;
            let idle = group.is_empty();
            if !idle {
                head_stale |= self.commit(&mut group);
            }
            if self.since_checkpoint > 0 && last_checkpoint.elapsed() >= checkpoint_every {
                if self.checkpoint() {
                    // A checkpoint rewrites the head itself.
                    head_stale = false;
                    last_head = Instant::now();
                }
                last_checkpoint = Instant::now();
            }
            if head_stale && (idle || last_head.elapsed() >= HEAD_EVERY) {
                self.write_head(OffsetDateTime::now_utc());
                last_head = Instant::now();
                head_stale = false;
            }
        }
    }

    fn fail(&self, group: &mut [Batch], why: &str) {
        self.failed.store(true, Ordering::SeqCst);
        tracing::error!(
            error = why,
            "audit log write failed; refusing all further operations"
        );
        for b in group.iter_mut() {
            let reply = std::mem::replace(&mut b.reply, oneshot::channel().0);
            let _ = reply.send(Err(AuditError::Unavailable(why.to_owned())));
        }
    }

    /// Appends and syncs a group, then answers it. Returns whether anything was written.
    fn commit(&mut self, group: &mut [Batch]) -> bool {
        if self.failed.load(Ordering::SeqCst) {
            self.fail(group, "an earlier write failed");
            return false;
        }
        let now = OffsetDateTime::now_utc();
        let saved = self.chain.clone();
        let mut buf = Vec::with_capacity(group.len() * 512);
        let mut n = 0u64;
        let mut seqs = Vec::with_capacity(group.len());
        for b in group.iter_mut() {
            for ev in b.events.drain(..) {
                buf.extend_from_slice(&self.chain.append(ev, now));
                n += 1;
            }
            seqs.push(self.chain.last_seq());
        }
        let res = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("{}: {e}", self.log_path.display()));
        if let Err(why) = res {
            self.chain = saved;
            self.fail(group, &why);
            return false;
        }
        self.since_checkpoint += n;
        self.stats.records.fetch_add(n, Ordering::Relaxed);
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        for (b, seq) in group.iter_mut().zip(seqs) {
            let reply = std::mem::replace(&mut b.reply, oneshot::channel().0);
            let _ = reply.send(Ok(seq));
        }
        true
    }

    /// Appends a signed checkpoint and rewrites the head. Returns whether it did.
    fn checkpoint(&mut self) -> bool {
        let now = OffsetDateTime::now_utc();
        let saved = self.chain.clone();
        let res = self
            .chain
            .checkpoint(&self.signer, now)
            .map_err(|e| e.to_string())
            .and_then(|line| {
                self.file
                    .write_all(&line)
                    .and_then(|()| self.file.sync_data())
                    .map_err(|e| e.to_string())
            });
        match res {
            Ok(()) => {
                self.since_checkpoint = 0;
                self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
                self.write_head(now);
                true
            }
            Err(e) => {
                self.chain = saved;
                self.fail(&mut [], &format!("checkpoint: {e}"));
                false
            }
        }
    }

    /// The head lags the log at worst (it is written after the log is durable), so a
    /// log shorter than its head can only mean truncation.
    fn write_head(&self, now: OffsetDateTime) {
        let res = self
            .chain
            .head(&self.signer, now)
            .map_err(|e| e.to_string())
            .and_then(|h| serde_json::to_vec(&h).map_err(|e| e.to_string()))
            .and_then(|b| crate::fsutil::replace(&self.head_path, &b).map_err(|e| e.to_string()));
        if let Err(e) = res {
            tracing::warn!(error = %e, "could not update the audit head file");
        }
    }
}
