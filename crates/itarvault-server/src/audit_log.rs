//! The audit log on disk: one writer thread, group commit, checkpoints, a signed head
//! beside the log, and a witness outside the data directory.
//!
//! Requests hand their events to the writer and wait. The writer takes everything that
//! queued up, appends it, makes it durable with one `fdatasync`, and only then answers
//! every waiting request. If a write or sync fails, that batch and every later one
//! fail: the server refuses to act without a record.
//!
//! The signed head (the log's length and last hash, for truncation checks) follows the
//! log: handed to a thread of its own as soon as the writer is idle, and at most 50 ms
//! apart under load, which replaces `head.json` durably (file and directory synced).
//! Signing and replacing it after every group commit took a tenth of the server's time
//! serving small reads. A second thread sends the head of every checkpoint, and the
//! newest head at least every `interval`, to the witness; if the witness has not taken
//! the newest head for `max_lag`, or refuses it, appends fail until it does.
//!
//! Start-up ([`AuditLog::open`]) verifies the whole chain against the head, and the
//! log's end against the newest head the witness holds: a missing head, a cut log and
//! a log rolled back with its head all stop it. What an operator may then do is a
//! [`StartMode`]: recover a lost head, or begin a restore epoch that a quorum approves.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use itarvault_audit::{
    verify_witnessed, Chain, Event, Head, ProblemKind, PublicKey, Restore, Signer, VerifyReport,
    Witness, WitnessError,
};
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// Why the audit log cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log cannot be written ({0}); the request was refused because every operation must be recorded\nfree disk space, fix the audit directory or bring the witness back; restart the server if the log itself failed")]
    Unavailable(String),
    #[error("audit log `{0}` failed verification: {1}\nrun `itarvault audit verify` for every problem; the server will not append to a log that was altered")]
    Tampered(PathBuf, String),
    #[error("audit log `{0}`: {1}\nif only `head.json` was lost (and the log was not cut), start the server once with `--recover-head \"<why>\"`: it records the recovery and what it could not prove (docs/audit.md#recovery)")]
    HeadMissing(PathBuf, String),
    #[error("audit log `{0}`: {1}\nif the data directory was restored from a backup, start the server once with `--restore-epoch \"<why>\"` and have a quorum approve the restore (docs/audit.md#restore); otherwise treat this as tampering")]
    RolledBack(PathBuf, String),
    #[error("the audit witness: {0}\nthe server checks the log against its witness before it starts, so that a rollback cannot pass unseen")]
    Witness(String),
    #[error("{0}")]
    Recovery(String),
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

    /// The signed head: `None` when the file does not exist, an error when it cannot be
    /// read or parsed (which verification treats like a missing head).
    pub fn read_head(&self) -> Result<Option<Head>, AuditError> {
        let p = self.head();
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                AuditError::HeadMissing(p, format!("the head file is unreadable: {e}"))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuditError::Io(p, e)),
        }
    }
}

/// What the operator asked the start to do beyond the normal checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StartMode {
    /// Start only on a log that verifies against its head and its witness.
    #[default]
    Normal,
    /// `head.json` was lost: accept a log without one (everything else must verify,
    /// against the witness too) and record the recovery, with this reason, and what it
    /// could not prove.
    RecoverHead(String),
    /// The data directory was restored from a backup: the log is behind its witness.
    /// Begin a restore epoch (a signed `restore` record, with this reason) and serve
    /// only quorum and audit routes until a quorum approves it.
    RestoreEpoch(String),
}

/// The witness the writer feeds, and how.
pub struct WitnessLink {
    /// Makes the witness for the log's verifying key (known once the key is loaded).
    pub make: Box<dyn FnOnce(PublicKey) -> Arc<dyn Witness> + Send>,
    /// Send the newest head at least this often while records arrive.
    pub interval: Duration,
    /// Refuse appends when the witness has not taken the newest head for this long.
    pub max_lag: Duration,
}

impl std::fmt::Debug for WitnessLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessLink")
            .field("interval", &self.interval)
            .field("max_lag", &self.max_lag)
            .finish_non_exhaustive()
    }
}

/// How to open the log.
#[derive(Debug)]
pub struct AuditOptions {
    pub checkpoint_every: Duration,
    pub witness: Option<WitnessLink>,
    pub start: StartMode,
}

impl AuditOptions {
    pub fn new(checkpoint_every: Duration) -> Self {
        Self {
            checkpoint_every,
            witness: None,
            start: StartMode::Normal,
        }
    }
}

/// A restore epoch waiting for its quorum: the `restore` record that began it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRestore {
    pub seq: u64,
    pub restore: Restore,
}

type Reply = oneshot::Sender<Result<u64, AuditError>>;

struct Batch {
    events: Vec<Event>,
    reply: Reply,
}

/// What the writer is asked to do.
enum Job {
    Append(Batch),
    /// Append the signed approval of the pending restore epoch.
    ApproveRestore {
        event: Box<Event>,
        reply: mpsc::Sender<Result<u64, AuditError>>,
    },
    /// Write `log.close`, a final checkpoint and head, hand them to the witness, stop.
    Close {
        reason: String,
        reply: Reply,
    },
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
    tx: mpsc::Sender<Job>,
    failed: Arc<AtomicBool>,
    closed: Arc<AtomicBool>,
    held: Arc<Mutex<Option<PendingRestore>>>,
    witness: Option<Arc<WitnessFeed>>,
    pub stats: Arc<AuditStats>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The start-up check's verdict as the error the operator sees. The first problem
/// decides the kind of error (a rollback comes first: it is found before the head is
/// looked at); the message names up to three.
fn refusal(log: &Path, report: &VerifyReport, allowed: &[ProblemKind]) -> Option<AuditError> {
    let mut refused = report
        .problems
        .iter()
        .filter(|p| !allowed.contains(&p.kind));
    let p = refused.next()?;
    let mut message = match p.line {
        0 => p.message.clone(),
        n => format!("line {n}: {}", p.message),
    };
    for also in refused.take(2) {
        message.push_str("; and ");
        message.push_str(&also.message);
    }
    let log = log.to_owned();
    Some(match p.kind {
        ProblemKind::HeadMissing => AuditError::HeadMissing(log, message),
        ProblemKind::RolledBack => AuditError::RolledBack(log, message),
        _ => AuditError::Tampered(log, message),
    })
}

impl AuditLog {
    /// Opens the log and checks it: the whole chain, every checkpoint, the signed head
    /// (which must exist once the log has records), and the log's end against the
    /// newest head the witness holds. Removes an incomplete last line left by a crash,
    /// writes `log.open` and a starting checkpoint, and starts the writer. A log that
    /// fails is not appended to, except as `opts.start` allows.
    pub fn open(paths: &AuditPaths, opts: AuditOptions) -> Result<Self, AuditError> {
        fs::create_dir_all(&paths.dir).map_err(|e| AuditError::Io(paths.dir.clone(), e))?;
        let had_key = paths.key().exists();
        let signer = paths.signer()?;
        let keys = [signer.public_key()];
        let log_path = paths.log();
        let io_err = |e| AuditError::Io(log_path.clone(), e);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(io_err)?;
        let log_len = file.metadata().map_err(io_err)?.len();
        let recovering = matches!(opts.start, StartMode::RecoverHead(_));
        let head = match paths.read_head() {
            Ok(h) => h,
            Err(AuditError::HeadMissing(..)) if recovering => None,
            Err(e) => return Err(e),
        };
        if recovering && head.is_some() {
            return Err(AuditError::Recovery(format!(
                "the audit head `{}` is present and readable: there is nothing to recover\nstart the server without `--recover-head`",
                paths.head().display()
            )));
        }
        if log_len == 0 && head.is_none() && had_key && !recovering {
            return Err(AuditError::HeadMissing(
                log_path,
                "the log is empty and its signed head is missing, but this data directory has signed records before: the trail was deleted".into(),
            ));
        }
        let witness = opts.witness.map(|link| {
            let w = (link.make)(signer.public_key());
            Arc::new(WitnessFeed::new(w, link.interval, link.max_lag))
        });
        let witnessed = match &witness {
            Some(w) => w
                .witness
                .latest(signer.key_id())
                .map_err(|e| AuditError::Witness(e.to_string()))?,
            None => None,
        };
        let report = verify_witnessed(
            BufReader::new(&file),
            &keys,
            head.as_ref(),
            witnessed.as_slice(),
        );
        let allowed: &[ProblemKind] = match &opts.start {
            StartMode::Normal => &[ProblemKind::RestorePending],
            StartMode::RecoverHead(_) => &[ProblemKind::HeadMissing, ProblemKind::RestorePending],
            StartMode::RestoreEpoch(_) => {
                if !report.has(ProblemKind::RolledBack) {
                    return Err(AuditError::Recovery(format!(
                        "the audit log reaches seq {} and {}: it is not behind its witness, so there is nothing to restore\nstart the server without `--restore-epoch`",
                        report.last_seq,
                        match &witnessed {
                            Some(w) => format!("the witness last saw seq {}", w.seq),
                            None => "no witness is configured or it holds nothing".into(),
                        }
                    )));
                }
                &[ProblemKind::RolledBack]
            }
        };
        if let Some(e) = refusal(&log_path, &report, allowed) {
            return Err(e);
        }
        let mut restore_from = None;
        if let (StartMode::RestoreEpoch(reason), Some(w), Some(newest)) =
            (&opts.start, &witness, &witnessed)
        {
            // A restore must be a backup of this very trail: everything the witness saw
            // up to the backup's end must be in it, unchanged.
            let all = w
                .witness
                .heads(signer.key_id())
                .map_err(|e| AuditError::Witness(e.to_string()))?;
            file.seek(SeekFrom::Start(0)).map_err(io_err)?;
            let full = verify_witnessed(BufReader::new(&file), &keys, head.as_ref(), &all);
            if let Some(p) = full
                .problems
                .iter()
                .find(|p| p.kind != ProblemKind::RolledBack)
            {
                return Err(AuditError::Tampered(
                    log_path,
                    format!(
                        "{} (checked against all {} witnessed heads): this log is not a backup of the trail the witness saw",
                        p.message,
                        all.len()
                    ),
                ));
            }
            restore_from = Some((newest.anchor(), reason.clone()));
        }
        let mut pending = report.pending_restore().map(|r| PendingRestore {
            seq: r.seq,
            restore: Restore {
                restored: r.restored.clone(),
                witnessed: r.witnessed.clone(),
            },
        });
        let mut recovered = Vec::new();
        if !report.notes.is_empty() {
            let keep = complete_prefix_len(&log_path)?;
            file.set_len(keep).map_err(io_err)?;
            file.sync_all().map_err(io_err)?;
            recovered.push(Event::new("log.recovered", "ok").detail(report.notes.join("; ")));
        }
        if let StartMode::RecoverHead(reason) = &opts.start {
            recovered.push(Event::new("log.recovered", "ok").detail(format!(
                "the signed head was missing or unreadable; recovered at the operator's request: {reason}. The log verifies ({} records, last signed checkpoint at seq {}); {}",
                report.records,
                report.last_signed_seq,
                match &witnessed {
                    Some(w) => format!(
                        "it agrees with the witness, which last saw seq {}: records after that seq cannot be proven complete",
                        w.seq
                    ),
                    None => "no witness holds a head of it: records cut off its end before this start cannot be ruled out".into(),
                }
            )));
        }
        file.seek(SeekFrom::End(0)).map_err(io_err)?;
        let chain = if report.records == 0 {
            Chain::new()
        } else {
            Chain::resume(report.last_seq, report.last_hash.clone())
        };
        let heads = Arc::new(HeadFile::new(paths.head()));
        let failed = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(AuditStats::default());
        let held = Arc::new(Mutex::new(None));
        let mut writer = Writer {
            file,
            log_path,
            chain,
            signer,
            since_checkpoint: 0,
            failed: failed.clone(),
            stats: stats.clone(),
            heads: heads.clone(),
            witness: witness.clone(),
            held: held.clone(),
        };
        spawn("audit-head", {
            let heads = heads.clone();
            move || heads.run()
        })?;
        if let Some(w) = &witness {
            let w = w.clone();
            spawn("audit-witness", move || w.run())?;
        }
        if head.is_none() && report.records == 0 {
            // A fresh log gets its head before its first record, so that a crash right
            // after that record never leaves records without a head.
            writer.publish(OffsetDateTime::now_utc(), false);
            heads
                .flush(Duration::from_secs(10))
                .map_err(|e| AuditError::Io(paths.head(), io::Error::other(e)))?;
        }
        if let Some((witnessed_at, reason)) = restore_from {
            pending = Some(writer.begin_restore(witnessed_at, &reason)?);
        }
        *lock(&held) = pending.clone();
        let mut start = vec![Event::new("log.open", "ok").detail(format!(
            "server started; log continues at seq {}{}",
            writer.chain.last_seq() + 1,
            match &pending {
                Some(p) => format!(
                    "; the restore epoch begun at seq {} awaits a quorum's approval: only quorum and audit routes are served",
                    p.seq
                ),
                None => String::new(),
            }
        ))];
        start.append(&mut recovered);
        writer.commit(&mut [Batch {
            events: start,
            reply: oneshot::channel().0,
        }]);
        // A starting checkpoint: a signed statement of where this run began.
        writer.checkpoint();
        if failed.load(Ordering::SeqCst) {
            return Err(AuditError::Unavailable("the first write failed".into()));
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let checkpoint_every = opts.checkpoint_every;
        spawn("audit-writer", move || writer.run(rx, checkpoint_every))?;
        Ok(Self {
            tx,
            failed,
            closed: Arc::new(AtomicBool::new(false)),
            held,
            witness,
            stats,
        })
    }

    /// Appends events and waits until they are durable. Returns the last seq.
    pub async fn append(&self, events: Vec<Event>) -> Result<u64, AuditError> {
        if let Some(why) = self.unavailable() {
            return Err(AuditError::Unavailable(why));
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Append(Batch { events, reply }))
            .map_err(|_| AuditError::Unavailable("the writer stopped".into()))?;
        rx.await
            .unwrap_or_else(|_| Err(AuditError::Unavailable("the writer stopped".into())))
    }

    /// Appends one event and waits until it is durable.
    pub async fn record(&self, event: Event) -> Result<u64, AuditError> {
        self.append(vec![event]).await
    }

    /// Why nothing can be appended now, if so.
    fn unavailable(&self) -> Option<String> {
        if self.failed.load(Ordering::SeqCst) {
            return Some("an earlier write failed".into());
        }
        if self.closed.load(Ordering::SeqCst) {
            return Some("the server is stopping".into());
        }
        self.witness.as_ref().and_then(|w| w.overdue())
    }

    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// What keeps the trail from taking records, for `/healthz`: a failed write, or a
    /// witness that has not taken the newest head in time.
    pub fn health_problem(&self) -> Option<String> {
        self.unavailable()
    }

    /// The restore epoch waiting for a quorum, if any: until it is approved, only
    /// quorum and audit routes are served.
    pub fn pending_restore(&self) -> Option<PendingRestore> {
        lock(&self.held).clone()
    }

    /// Appends the signed approval of the pending restore epoch (`event` says who
    /// approved it and under which proposal) and lifts the hold. Blocks until durable:
    /// it runs inside a quorum execution, once.
    pub fn approve_restore(&self, event: Event) -> Result<u64, AuditError> {
        if let Some(why) = self.unavailable() {
            return Err(AuditError::Unavailable(why));
        }
        let (reply, rx) = mpsc::channel();
        self.tx
            .send(Job::ApproveRestore {
                event: Box::new(event),
                reply,
            })
            .map_err(|_| AuditError::Unavailable("the writer stopped".into()))?;
        rx.recv()
            .unwrap_or_else(|_| Err(AuditError::Unavailable("the writer stopped".into())))
    }

    /// Stops the log cleanly: a `log.close` record with `reason`, a final signed
    /// checkpoint, the head replaced and synced, and both handed to the witness (for
    /// at most a few seconds). Every later append fails. Returns the final seq.
    pub async fn close(&self, reason: &str) -> Result<u64, AuditError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Err(AuditError::Unavailable("the log is already closed".into()));
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Close {
                reason: reason.to_owned(),
                reply,
            })
            .map_err(|_| AuditError::Unavailable("the writer stopped".into()))?;
        rx.await
            .unwrap_or_else(|_| Err(AuditError::Unavailable("the writer stopped".into())))
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), AuditError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .map_err(|e| AuditError::Unavailable(format!("starting the {name} thread: {e}")))
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

/// `head.json`, replaced by a thread of its own so that its two syncs never delay a
/// group commit. Only the newest head handed to it is written.
struct HeadFile {
    path: PathBuf,
    state: Mutex<HeadState>,
    changed: Condvar,
}

#[derive(Default)]
struct HeadState {
    latest: Option<Head>,
    /// How many heads were handed over, and how many of them are on disk.
    handed: u64,
    written: u64,
    error: Option<String>,
}

impl HeadFile {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            state: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    fn publish(&self, head: Head) {
        let mut s = lock(&self.state);
        s.latest = Some(head);
        s.handed += 1;
        self.changed.notify_all();
    }

    /// Waits until the newest head handed over is on disk.
    fn flush(&self, timeout: Duration) -> Result<(), String> {
        let until = Instant::now() + timeout;
        let mut s = lock(&self.state);
        let target = s.handed;
        while s.written < target {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("the head was not written in time".into());
            }
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        s.error.clone().map_or(Ok(()), Err)
    }

    fn run(&self) {
        loop {
            let mut s = lock(&self.state);
            while s.latest.is_none() {
                s = self
                    .changed
                    .wait(s)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            let head = s.latest.take();
            let handed = s.handed;
            drop(s);
            let res = head
                .ok_or_else(String::new)
                .and_then(|h| serde_json::to_vec(&h).map_err(|e| e.to_string()))
                .and_then(|b| crate::fsutil::replace(&self.path, &b).map_err(|e| e.to_string()));
            if let Err(e) = &res {
                tracing::warn!(error = %e, "could not update the audit head file");
            }
            let mut s = lock(&self.state);
            s.written = handed;
            s.error = res.err();
            self.changed.notify_all();
        }
    }
}

/// Sends heads to the witness from a thread of its own: every checkpoint's head, in
/// order, as soon as it can; the newest head at least every `interval`. Failures are
/// retried with backoff; the log refuses appends once the newest head has waited
/// longer than `max_lag`, or when the witness refuses a head (a fork or rollback).
struct WitnessFeed {
    witness: Arc<dyn Witness>,
    interval: Duration,
    max_lag: Duration,
    state: Mutex<FeedState>,
    changed: Condvar,
}

impl std::fmt::Debug for WitnessFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessFeed")
            .field("witness", &self.witness.describe())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct FeedState {
    checkpoints: VecDeque<Head>,
    latest: Option<Head>,
    /// The newest seq the witness took.
    delivered: u64,
    /// Since when a head has been waiting.
    waiting_since: Option<Instant>,
    last_sent: Option<Instant>,
    retry_at: Option<Instant>,
    backoff: Duration,
    last_error: Option<String>,
    refused: Option<String>,
    flush: bool,
}

impl FeedState {
    fn drop_delivered(&mut self) {
        let d = self.delivered;
        self.checkpoints.retain(|h| h.seq > d);
        if self.latest.as_ref().is_some_and(|h| h.seq <= d) {
            self.latest = None;
        }
        if self.checkpoints.is_empty() && self.latest.is_none() {
            self.waiting_since = None;
        }
    }

    fn target(&self) -> u64 {
        self.checkpoints
            .back()
            .map(|h| h.seq)
            .max(self.latest.as_ref().map(|h| h.seq))
            .unwrap_or(0)
    }

    /// The head to send now, if one is due; otherwise how long until one may be.
    fn next(&self, interval: Duration, now: Instant) -> Result<Head, Option<Duration>> {
        if let Some(r) = self.retry_at.filter(|r| *r > now) {
            return Err(Some(r - now));
        }
        if let Some(h) = self.checkpoints.front() {
            return Ok(h.clone());
        }
        let Some(h) = &self.latest else {
            return Err(None);
        };
        let since = self.last_sent.map_or(interval, |t| now.duration_since(t));
        if self.flush || since >= interval {
            Ok(h.clone())
        } else {
            Err(Some(interval - since))
        }
    }
}

impl WitnessFeed {
    fn new(witness: Arc<dyn Witness>, interval: Duration, max_lag: Duration) -> Self {
        Self {
            witness,
            interval,
            max_lag,
            state: Mutex::new(FeedState {
                backoff: Duration::from_secs(1),
                ..FeedState::default()
            }),
            changed: Condvar::new(),
        }
    }

    fn publish(&self, head: Head, checkpoint: bool) {
        let mut s = lock(&self.state);
        if head.seq <= s.delivered {
            return;
        }
        s.waiting_since.get_or_insert_with(Instant::now);
        if checkpoint {
            s.checkpoints.push_back(head.clone());
        }
        if s.latest.as_ref().is_none_or(|l| l.seq < head.seq) {
            s.latest = Some(head);
        }
        self.changed.notify_all();
    }

    /// Why appends must stop, if they must.
    fn overdue(&self) -> Option<String> {
        let s = lock(&self.state);
        if let Some(r) = &s.refused {
            return Some(format!(
                "the witness {} refused the trail's head ({r}); the trail and its witness disagree: investigate before anything else",
                self.witness.describe()
            ));
        }
        let waited = s.waiting_since?.elapsed();
        (waited > self.max_lag).then(|| {
            format!(
                "the witness {} has not taken the trail's newest head for {} s (limit {} s){}",
                self.witness.describe(),
                waited.as_secs(),
                self.max_lag.as_secs(),
                s.last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            )
        })
    }

    /// Sends everything handed over now; waits at most `timeout`.
    fn flush(&self, timeout: Duration) -> Result<(), String> {
        let until = Instant::now() + timeout;
        let mut s = lock(&self.state);
        s.flush = true;
        s.retry_at = None;
        self.changed.notify_all();
        let target = s.target();
        while s.delivered < target && s.refused.is_none() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        s.flush = false;
        if s.delivered >= target {
            Ok(())
        } else {
            Err(s
                .refused
                .clone()
                .or_else(|| s.last_error.clone())
                .unwrap_or_else(|| "the witness did not answer in time".into()))
        }
    }

    fn run(&self) {
        loop {
            let mut s = lock(&self.state);
            let head = loop {
                s.drop_delivered();
                match s.next(self.interval, Instant::now()) {
                    Ok(h) => break h,
                    Err(wait) => {
                        s = match wait {
                            Some(w) => {
                                self.changed
                                    .wait_timeout(s, w)
                                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                                    .0
                            }
                            None => self
                                .changed
                                .wait(s)
                                .unwrap_or_else(std::sync::PoisonError::into_inner),
                        }
                    }
                }
            };
            drop(s);
            let res = self.witness.submit(&head);
            let mut s = lock(&self.state);
            let now = Instant::now();
            match res {
                Ok(()) => {
                    s.delivered = s.delivered.max(head.seq);
                    s.last_sent = Some(now);
                    s.retry_at = None;
                    s.backoff = Duration::from_secs(1);
                    s.last_error = None;
                    s.refused = None;
                }
                Err(e) => {
                    let refused = matches!(
                        e,
                        WitnessError::Refused { .. } | WitnessError::Unsigned { .. }
                    );
                    if refused {
                        tracing::error!(error = %e, seq = head.seq, "the audit witness refused the trail's head");
                        s.refused = Some(e.to_string());
                    } else {
                        tracing::warn!(error = %e, seq = head.seq, "the audit witness did not take the head; retrying");
                    }
                    s.last_error = Some(e.to_string());
                    s.retry_at = Some(now + s.backoff);
                    s.backoff = (s.backoff * 2).min(Duration::from_secs(30));
                }
            }
            self.changed.notify_all();
        }
    }
}

struct Writer {
    file: File,
    log_path: PathBuf,
    chain: Chain,
    signer: Signer,
    since_checkpoint: u64,
    failed: Arc<AtomicBool>,
    stats: Arc<AuditStats>,
    heads: Arc<HeadFile>,
    witness: Option<Arc<WitnessFeed>>,
    held: Arc<Mutex<Option<PendingRestore>>>,
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

/// How long a clean stop waits for the head file and for the witness.
const STOP_WAIT: Duration = Duration::from_secs(10);

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>, checkpoint_every: Duration) {
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
                Ok(job) => Some(job),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Every handle is gone without a close: still end with a signature.
                    if let Err(e) = self.stop("every handle to the log was dropped") {
                        tracing::error!(error = %e, "the audit log did not stop cleanly");
                    }
                    return;
                }
            };
            let mut group: Vec<Batch> = Vec::new();
            let mut special = None;
            match first {
                Some(Job::Append(b)) => group.push(b),
                Some(other) => special = Some(other),
                None => {}
            }
            let until = Instant::now() + if concurrent { GATHER } else { Duration::ZERO };
            while !group.is_empty() && group.len() < MAX_GROUP {
                let more = match until.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => rx.recv_timeout(left).ok(),
                    _ => rx.try_recv().ok(),
                };
                match more {
                    Some(Job::Append(b)) => group.push(b),
                    Some(other) => {
                        special = Some(other);
                        break;
                    }
                    None => break,
                }
            }
            concurrent = group.len() > 1;
            let idle = group.is_empty() && special.is_none();
            if !group.is_empty() {
                head_stale |= self.commit(&mut group);
            }
            match special {
                Some(Job::Close { reason, reply }) => {
                    let _ = reply.send(self.stop(&reason));
                    return;
                }
                Some(Job::ApproveRestore { event, reply }) => {
                    let _ = reply.send(self.approve_restore(*event));
                    head_stale = false;
                    last_head = Instant::now();
                }
                Some(Job::Append(_)) | None => {}
            }
            if self.since_checkpoint > 0 && last_checkpoint.elapsed() >= checkpoint_every {
                if self.checkpoint() {
                    // A checkpoint publishes the head itself.
                    head_stale = false;
                    last_head = Instant::now();
                }
                last_checkpoint = Instant::now();
            }
            if head_stale && (idle || last_head.elapsed() >= HEAD_EVERY) {
                self.publish(OffsetDateTime::now_utc(), false);
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

    /// Appends `lines` and syncs; on failure restores the chain to `saved`.
    fn write_durably(&mut self, lines: &[u8], saved: Chain) -> Result<(), String> {
        let res = self
            .file
            .write_all(lines)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("{}: {e}", self.log_path.display()));
        if res.is_err() {
            self.chain = saved;
        }
        res
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
        if let Err(why) = self.write_durably(&buf, saved) {
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

    /// Appends a signed checkpoint and publishes the head. Returns whether it did.
    fn checkpoint(&mut self) -> bool {
        if self.failed.load(Ordering::SeqCst) {
            return false;
        }
        let now = OffsetDateTime::now_utc();
        let saved = self.chain.clone();
        let res = self
            .chain
            .checkpoint(&self.signer, now)
            .map_err(|e| e.to_string())
            .and_then(|line| self.write_durably(&line, saved));
        match res {
            Ok(()) => {
                self.since_checkpoint = 0;
                self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
                self.stats.records.fetch_add(1, Ordering::Relaxed);
                self.publish(now, true);
                true
            }
            Err(e) => {
                self.fail(&mut [], &format!("checkpoint: {e}"));
                false
            }
        }
    }

    /// Hands the head of the log as it is now to the head file and the witness. The
    /// head is made after the log is durable, so it lags the log at worst: a log
    /// shorter than its head can only mean truncation.
    fn publish(&self, now: OffsetDateTime, checkpoint: bool) {
        match self.chain.head(&self.signer, now) {
            Ok(h) => {
                if let Some(w) = &self.witness {
                    w.publish(h.clone(), checkpoint);
                }
                self.heads.publish(h);
            }
            Err(e) => tracing::warn!(error = %e, "could not sign the audit head"),
        }
    }

    /// Appends the signed `restore` record that begins an epoch after the witnessed
    /// head `witnessed`.
    fn begin_restore(
        &mut self,
        witnessed: itarvault_audit::Anchor,
        reason: &str,
    ) -> Result<PendingRestore, AuditError> {
        let saved = self.chain.clone();
        let restored = self.chain.anchor();
        let event = Event::new("restore", "pending").detail(format!(
            "the data directory was restored from a backup whose log ends at seq {}; the witness had seen seq {}: records {}..{} are not in this log. Reason given: {reason}. Until a quorum approves (`itarvault quorum propose audit-restore {}`), only quorum and audit routes are served",
            restored.seq,
            witnessed.seq,
            restored.seq + 1,
            witnessed.seq,
            witnessed.seq + 1
        ));
        let line = self
            .chain
            .begin_restore(&self.signer, witnessed, event, OffsetDateTime::now_utc())
            .map_err(|e| AuditError::Recovery(e.to_string()))?;
        let seq = self.chain.last_seq();
        self.write_durably(&line, saved)
            .map_err(AuditError::Unavailable)?;
        self.since_checkpoint += 1;
        self.stats.records.fetch_add(1, Ordering::Relaxed);
        self.publish(OffsetDateTime::now_utc(), true);
        let restore = itarvault_audit::parse_line(line.strip_suffix(b"\n").unwrap_or(&line))
            .ok()
            .and_then(|r| r.restore)
            .ok_or_else(|| AuditError::Recovery("the restore record did not read back".into()))?;
        Ok(PendingRestore { seq, restore })
    }

    fn approve_restore(&mut self, event: Event) -> Result<u64, AuditError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(AuditError::Unavailable("an earlier write failed".into()));
        }
        let Some(pending) = lock(&self.held).clone() else {
            return Err(AuditError::Recovery(
                "no restore epoch is waiting for approval".into(),
            ));
        };
        let saved = self.chain.clone();
        let line = self
            .chain
            .approve_restore(
                &self.signer,
                pending.restore,
                event,
                OffsetDateTime::now_utc(),
            )
            .map_err(|e| AuditError::Unavailable(e.to_string()))?;
        if let Err(why) = self.write_durably(&line, saved) {
            self.fail(&mut [], &why);
            return Err(AuditError::Unavailable(why));
        }
        self.since_checkpoint += 1;
        self.stats.records.fetch_add(1, Ordering::Relaxed);
        *lock(&self.held) = None;
        self.publish(OffsetDateTime::now_utc(), true);
        Ok(self.chain.last_seq())
    }

    /// The clean end of a run: `log.close`, a final checkpoint, the head on disk and
    /// with the witness.
    fn stop(&mut self, reason: &str) -> Result<u64, AuditError> {
        self.commit(&mut [Batch {
            events: vec![Event::new("log.close", "ok").detail(format!(
                "server stopping ({reason}); a final checkpoint follows"
            ))],
            reply: oneshot::channel().0,
        }]);
        if !self.checkpoint() {
            return Err(AuditError::Unavailable(
                "the final checkpoint could not be written".into(),
            ));
        }
        self.heads.flush(STOP_WAIT).map_err(|e| {
            AuditError::Io(
                self.log_path.with_file_name("head.json"),
                io::Error::other(e),
            )
        })?;
        if let Some(w) = &self.witness {
            if let Err(e) = w.flush(STOP_WAIT) {
                tracing::error!(error = %e, "the audit witness did not take the final head");
                return Err(AuditError::Witness(format!(
                    "the final head was not witnessed: {e}"
                )));
            }
        }
        Ok(self.chain.last_seq())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

    use super::*;
    use crate::witness::DirWitness;

    fn link(dir: &Path) -> WitnessLink {
        let dir = dir.to_owned();
        WitnessLink {
            make: Box::new(move |key| Arc::new(DirWitness::new(&dir, vec![key]))),
            interval: Duration::from_millis(100),
            max_lag: Duration::from_secs(60),
        }
    }

    fn opts(witness: &Path, start: StartMode) -> AuditOptions {
        AuditOptions {
            checkpoint_every: Duration::from_secs(3600),
            witness: Some(link(witness)),
            start,
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn lines(p: &AuditPaths) -> Vec<String> {
        fs::read_to_string(p.log())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Runs the log through `n` records and a clean close.
    fn run(p: &AuditPaths, w: &Path, start: StartMode, n: usize) -> Result<u64, AuditError> {
        let log = AuditLog::open(p, opts(w, start))?;
        rt().block_on(async {
            for i in 0..n {
                log.record(Event::new("object.get", "deny").principal(format!("p{i}")))
                    .await?;
            }
            log.close("test").await
        })
    }

    #[test]
    fn a_clean_close_ends_with_a_checkpoint_that_head_and_witness_name() {
        let d = tempfile::tempdir().unwrap();
        let p = AuditPaths::new(&d.path().join("audit"));
        let w = d.path().join("witness");
        let last = run(&p, &w, StartMode::Normal, 3).unwrap();
        let l = lines(&p);
        assert!(l[l.len() - 2].contains("\"kind\":\"log.close\""), "{l:?}");
        assert!(l[l.len() - 1].contains("\"kind\":\"checkpoint\""), "{l:?}");
        let head = p.read_head().unwrap().unwrap();
        assert_eq!(head.seq, last);
        let key = p.verifying_key().unwrap();
        let witnessed = DirWitness::new(&w, vec![key.clone()]);
        assert_eq!(witnessed.latest(key.key_id()).unwrap(), Some(head));
        // It starts again, and again ends signed.
        run(&p, &w, StartMode::Normal, 1).unwrap();
    }

    #[test]
    fn a_deleted_head_stops_the_start_until_a_recorded_recovery() {
        let d = tempfile::tempdir().unwrap();
        let p = AuditPaths::new(&d.path().join("audit"));
        let w = d.path().join("witness");
        run(&p, &w, StartMode::Normal, 3).unwrap();
        fs::remove_file(p.head()).unwrap();
        let e = AuditLog::open(&p, opts(&w, StartMode::Normal)).unwrap_err();
        assert!(matches!(e, AuditError::HeadMissing(..)), "{e}");
        assert!(e.to_string().contains("--recover-head"), "{e}");
        // An unreadable head is no better.
        fs::write(p.head(), b"{\"v\":1,").unwrap();
        let e = AuditLog::open(&p, opts(&w, StartMode::Normal)).unwrap_err();
        assert!(matches!(e, AuditError::HeadMissing(..)), "{e}");
        run(
            &p,
            &w,
            StartMode::RecoverHead("ticket 7: disk error".into()),
            0,
        )
        .unwrap();
        let recovered = lines(&p)
            .into_iter()
            .find(|l| l.contains("log.recovered"))
            .unwrap();
        assert!(
            recovered.contains("ticket 7") && recovered.contains("agrees with the witness"),
            "{recovered}"
        );
        // Recovery is refused when there is nothing to recover.
        let e = AuditLog::open(&p, opts(&w, StartMode::RecoverHead("x".into()))).unwrap_err();
        assert!(e.to_string().contains("nothing to recover"), "{e}");
        // An empty log without a head, in a directory that signed before, was deleted.
        fs::write(p.log(), b"").unwrap();
        fs::remove_file(p.head()).unwrap();
        let e = AuditLog::open(&p, AuditOptions::new(Duration::from_secs(60))).unwrap_err();
        assert!(e.to_string().contains("trail was deleted"), "{e}");
    }

    #[test]
    fn a_cut_log_without_its_head_is_a_rollback_that_recovery_does_not_cover() {
        let d = tempfile::tempdir().unwrap();
        let p = AuditPaths::new(&d.path().join("audit"));
        let w = d.path().join("witness");
        run(&p, &w, StartMode::Normal, 8).unwrap();
        let l = lines(&p);
        fs::write(p.log(), l[..l.len() - 5].join("\n") + "\n").unwrap();
        fs::remove_file(p.head()).unwrap();
        for start in [StartMode::Normal, StartMode::RecoverHead("x".into())] {
            let e = AuditLog::open(&p, opts(&w, start)).unwrap_err();
            assert!(
                matches!(e, AuditError::HeadMissing(..) | AuditError::RolledBack(..)),
                "{e}"
            );
        }
        let e = AuditLog::open(&p, opts(&w, StartMode::RecoverHead("x".into()))).unwrap_err();
        assert!(matches!(e, AuditError::RolledBack(..)), "{e}");
    }

    #[test]
    fn a_restore_epoch_holds_until_approved_and_then_continues_after_the_witness() {
        let d = tempfile::tempdir().unwrap();
        let p = AuditPaths::new(&d.path().join("audit"));
        let w = d.path().join("witness");
        run(&p, &w, StartMode::Normal, 2).unwrap();
        let backup = d.path().join("backup");
        fs::create_dir(&backup).unwrap();
        for f in ["log.jsonl", "head.json"] {
            fs::copy(p.dir.join(f), backup.join(f)).unwrap();
        }
        run(&p, &w, StartMode::Normal, 4).unwrap();
        for f in ["log.jsonl", "head.json"] {
            fs::copy(backup.join(f), p.dir.join(f)).unwrap();
        }
        let e = AuditLog::open(&p, opts(&w, StartMode::Normal)).unwrap_err();
        assert!(matches!(e, AuditError::RolledBack(..)), "{e}");
        let log =
            AuditLog::open(&p, opts(&w, StartMode::RestoreEpoch("disk died".into()))).unwrap();
        let pending = log.pending_restore().unwrap();
        let newest = DirWitness::new(&w, vec![p.verifying_key().unwrap()])
            .heads(p.verifying_key().unwrap().key_id())
            .unwrap();
        assert!(newest
            .iter()
            .any(|h| h.seq == pending.restore.witnessed.seq));
        assert_eq!(pending.seq, pending.restore.witnessed.seq + 1);
        rt().block_on(log.close("held")).unwrap();
        // A restart keeps the hold.
        let log = AuditLog::open(&p, opts(&w, StartMode::Normal)).unwrap();
        assert_eq!(log.pending_restore(), Some(pending));
        log.approve_restore(Event::new("restore", "ok").grant("prop_1"))
            .unwrap();
        assert_eq!(log.pending_restore(), None);
        rt().block_on(log.close("done")).unwrap();
        let key = p.verifying_key().unwrap();
        let all = DirWitness::new(&w, vec![key.clone()])
            .heads(key.key_id())
            .unwrap();
        let rep = verify_witnessed(
            File::open(p.log()).unwrap(),
            &[key],
            p.read_head().unwrap().as_ref(),
            &all,
        );
        assert!(rep.is_intact(), "{:?}", rep.problems);
        assert_eq!(rep.restores[0].grant.as_deref(), Some("prop_1"));
        // Nothing left to restore.
        let e = AuditLog::open(&p, opts(&w, StartMode::RestoreEpoch("again".into()))).unwrap_err();
        assert!(e.to_string().contains("nothing to restore"), "{e}");
    }

    /// A witness that can be taken down and brought back.
    #[derive(Debug, Default)]
    struct Flaky {
        inner: Mutex<Option<DirWitness>>,
        down: AtomicBool,
    }

    impl Flaky {
        fn with<T>(&self, f: impl FnOnce(&DirWitness) -> T) -> T {
            f(lock(&self.inner).as_ref().expect("made"))
        }
    }

    impl Witness for Flaky {
        fn submit(&self, head: &Head) -> Result<(), WitnessError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(WitnessError::Unavailable {
                    at: "test".into(),
                    why: "down".into(),
                });
            }
            self.with(|w| w.submit(head))
        }
        fn latest(&self, key_id: &str) -> Result<Option<Head>, WitnessError> {
            self.with(|w| w.latest(key_id))
        }
        fn heads(&self, key_id: &str) -> Result<Vec<Head>, WitnessError> {
            self.with(|w| w.heads(key_id))
        }
        fn describe(&self) -> String {
            "test witness".into()
        }
    }

    fn with_witness(
        p: &AuditPaths,
        make: Box<dyn FnOnce(PublicKey) -> Arc<dyn Witness> + Send>,
    ) -> AuditLog {
        AuditLog::open(
            p,
            AuditOptions {
                checkpoint_every: Duration::from_secs(3600),
                witness: Some(WitnessLink {
                    make,
                    interval: Duration::from_millis(50),
                    max_lag: Duration::from_millis(400),
                }),
                start: StartMode::Normal,
            },
        )
        .unwrap()
    }

    #[test]
    fn appends_fail_closed_while_the_witness_lags_too_long_and_resume_after() {
        let d = tempfile::tempdir().unwrap();
        let p = AuditPaths::new(&d.path().join("audit"));
        let dir = d.path().join("witness");
        let flaky = Arc::new(Flaky::default());
        let f2 = flaky.clone();
        let log = with_witness(
            &p,
            Box::new(move |key| {
                *lock(&f2.inner) = Some(DirWitness::new(&dir, vec![key]));
                f2
            }),
        );
        rt().block_on(async {
            log.record(Event::new("a", "ok")).await.unwrap();
            flaky.down.store(true, Ordering::SeqCst);
            log.record(Event::new("b", "ok")).await.unwrap();
            tokio::time::sleep(Duration::from_millis(700)).await;
            let e = log.record(Event::new("c", "ok")).await.unwrap_err();
            assert!(e.to_string().contains("has not taken"), "{e}");
            assert!(log.health_problem().is_some());
            flaky.down.store(false, Ordering::SeqCst);
            let until = Instant::now() + Duration::from_secs(10);
            while log.health_problem().is_some() && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            log.record(Event::new("d", "ok")).await.unwrap();
            log.close("test").await.unwrap();
        });
    }

    #[test]
    fn a_witness_that_refuses_the_head_stops_appends_at_once() {
        let d = tempfile::tempdir().unwrap();
        let p = AuditPaths::new(&d.path().join("audit"));
        let dir = d.path().join("witness");
        // This witness trusts no key: it refuses every head.
        let log = with_witness(
            &p,
            Box::new(move |_| Arc::new(DirWitness::new(&dir, vec![]))),
        );
        rt().block_on(async {
            let until = Instant::now() + Duration::from_secs(10);
            while log.health_problem().is_none() && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let e = log.record(Event::new("a", "ok")).await.unwrap_err();
            assert!(e.to_string().contains("refused"), "{e}");
        });
    }
}
