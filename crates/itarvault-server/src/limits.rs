//! What one client may take from the server: how slowly it may send a body, how many
//! uploads it may run, how often it may fail to authenticate. Each limit turns an
//! attack that costs the attacker little (a byte a second, a forged token a
//! millisecond) into a refusal that costs the server little, and says so to the
//! client with the status and `Retry-After` a well-behaved client acts on.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// A request body sent too slowly: no frame for the idle timeout, or an average below
/// the minimum rate over the time the server spent waiting for it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BodyTooSlow {
    #[error("no part of the request body arrived for {0} seconds")]
    Idle(u64),
    #[error("the request body arrived at {rate} bytes/s, below the minimum of {min} bytes/s (`limits.body_min_bytes_per_sec`)")]
    Rate { rate: u64, min: u64 },
}

impl BodyTooSlow {
    /// The slowness in an error's source chain, if that is what ended a body.
    pub fn find<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTooSlow> {
        let mut cur = Some(e);
        while let Some(e) = cur {
            if let Some(s) = e.downcast_ref::<BodyTooSlow>() {
                return Some(s);
            }
            cur = e.source();
        }
        None
    }
}

/// How slowly a body may arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub idle: Duration,
    pub min_bytes_per_sec: u64,
}

/// A request body that fails when the client sends too slowly. Only the time the
/// server spends waiting for the client counts: a server that reads slowly (a busy
/// disk) does not make its client too slow.
#[derive(Debug)]
pub struct PacedBody<B> {
    inner: B,
    pace: BodyPace,
    // Tokio's clock, so that tests can pause it.
    waiting_since: Option<tokio::time::Instant>,
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
    waited: Duration,
    bytes: u64,
}

impl<B> PacedBody<B> {
    pub fn new(inner: B, pace: BodyPace) -> Self {
        Self {
            inner,
            pace,
            waiting_since: None,
            idle: None,
            waited: Duration::ZERO,
            bytes: 0,
        }
    }

    /// After the first idle period of waiting, the average must reach the minimum.
    fn too_slow(&self) -> Option<BodyTooSlow> {
        if self.waited <= self.pace.idle || self.pace.min_bytes_per_sec == 0 {
            return None;
        }
        let rate = (self.bytes as f64 / self.waited.as_secs_f64()) as u64;
        (rate < self.pace.min_bytes_per_sec).then_some(BodyTooSlow::Rate {
            rate,
            min: self.pace.min_bytes_per_sec,
        })
    }
}

impl<B> Body for PacedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                this.idle = None;
                if let Some(Ok(f)) = &frame {
                    this.bytes += f.data_ref().map_or(0, |d| d.len() as u64);
                    if let Some(slow) = this.too_slow() {
                        return Poll::Ready(Some(Err(slow.into())));
                    }
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                let since = *this
                    .waiting_since
                    .get_or_insert_with(tokio::time::Instant::now);
                let deadline = since + this.pace.idle;
                let idle = this
                    .idle
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if idle.as_mut().poll(cx).is_ready() {
                    let slow = BodyTooSlow::Idle(this.pace.idle.as_secs());
                    return Poll::Ready(Some(Err(slow.into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why an upload could not start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("the server is running its maximum of {0} concurrent uploads (`limits.max_uploads`)")]
    Server(usize),
    #[error("this principal is running its maximum of {0} concurrent uploads (`limits.max_uploads_per_principal`)")]
    Principal(usize),
}

/// Concurrent uploads, in total and per principal.
#[derive(Debug)]
pub struct UploadSlots {
    total: usize,
    per_principal: usize,
    running: Mutex<(usize, HashMap<String, usize>)>,
}

/// One running upload; its slot is free again when this is dropped.
#[derive(Debug)]
pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    principal: String,
}

impl UploadSlots {
    pub fn new(total: usize, per_principal: usize) -> Arc<Self> {
        Arc::new(Self {
            total,
            per_principal,
            running: Mutex::new((0, HashMap::new())),
        })
    }

    pub fn acquire(self: &Arc<Self>, principal: &str) -> Result<UploadSlot, Busy> {
        let mut guard = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per) = &mut *guard;
        if *total >= self.total {
            return Err(Busy::Server(self.total));
        }
        let mine = per.entry(principal.to_owned()).or_insert(0);
        if *mine >= self.per_principal {
            return Err(Busy::Principal(self.per_principal));
        }
        *mine += 1;
        *total += 1;
        Ok(UploadSlot {
            slots: self.clone(),
            principal: principal.to_owned(),
        })
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut guard = self.slots.running.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per) = &mut *guard;
        *total = total.saturating_sub(1);
        if let Some(n) = per.get_mut(&self.principal) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per.remove(&self.principal);
            }
        }
    }
}

/// Authentication failures per client address, counted in fixed one-minute windows.
/// Over the limit, an address's requests are refused before any credential is checked
/// (a forged JWT costs a signature verification) and its failures are counted instead
/// of recorded one by one, so a flood cannot fill the audit log's disk.
#[derive(Debug)]
pub struct FailureThrottle {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
    suppressed: u64,
}

/// What to do with one authentication failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Record it; `suppressed` failures of the address's previous window were counted
    /// but not recorded, and the record says so.
    Record { suppressed: u64 },
    /// The address just went over its limit: record that once.
    Throttled,
    /// Over the limit: count it, record nothing.
    Counted,
}

/// Addresses tracked at most; beyond that (a flood from many addresses) every new
/// address is throttled until old windows expire: the server keeps its memory.
const MAX_ADDRESSES: usize = 100_000;

impl FailureThrottle {
    pub fn new(per_minute: u32) -> Self {
        Self::with_window(per_minute, Duration::from_secs(60))
    }

    fn with_window(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `addr` may try again, if it is over its limit now.
    pub fn blocked(&self, addr: IpAddr) -> Option<u32> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = windows.get(&addr)?;
        let age = w.start.elapsed();
        (w.failures >= self.limit && age < self.window)
            .then(|| (self.window - age).as_secs().max(1) as u32)
    }

    /// Seconds until a request counted against `addrs` may try again, if any of them
    /// is over its limit now.
    pub fn blocked_any(&self, addrs: &[IpAddr]) -> Option<u32> {
        addrs.iter().filter_map(|a| self.blocked(*a)).max()
    }

    /// Counts one failure against each of `addrs`. It is recorded only if every one of
    /// them is under its limit: a client naming a fresh address beside its own cannot
    /// get its failures recorded one by one again.
    pub fn fail_all(&self, addrs: &[IpAddr]) -> Failure {
        let results: Vec<Failure> = addrs.iter().map(|a| self.fail(*a)).collect();
        if results.contains(&Failure::Throttled) {
            Failure::Throttled
        } else if results.contains(&Failure::Counted) {
            Failure::Counted
        } else {
            let suppressed = results
                .iter()
                .map(|r| match r {
                    Failure::Record { suppressed } => *suppressed,
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            Failure::Record { suppressed }
        }
    }

    /// Counts a failure from `addr`.
    pub fn fail(&self, addr: IpAddr) -> Failure {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_ADDRESSES && !windows.contains_key(&addr) {
            windows.retain(|_, w| now.duration_since(w.start) < self.window);
            if windows.len() >= MAX_ADDRESSES {
                return Failure::Counted;
            }
        }
        let fresh = Window {
            start: now,
            failures: 0,
            suppressed: 0,
        };
        let w = windows.entry(addr).or_insert(fresh);
        let mut carried = 0;
        if now.duration_since(w.start) >= self.window {
            carried = w.suppressed;
            *w = fresh;
        }
        w.failures = w.failures.saturating_add(1);
        if w.failures <= self.limit {
            Failure::Record {
                suppressed: carried,
            }
        } else {
            w.suppressed += 1;
            if w.suppressed == 1 {
                Failure::Throttled
            } else {
                Failure::Counted
            }
        }
    }
}

/// Cuts attacker-chosen text to `max` bytes (at a character boundary) and says so, so
/// an audit record of an unauthenticated request stays small whatever was sent.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated: {} bytes in all]", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn upload_slots_are_shared_and_per_principal() {
        let s = UploadSlots::new(3, 2);
        let a1 = s.acquire("alice").unwrap();
        let _a2 = s.acquire("alice").unwrap();
        assert_eq!(s.acquire("alice").unwrap_err(), Busy::Principal(2));
        let _b1 = s.acquire("bob").unwrap();
        assert_eq!(s.acquire("carol").unwrap_err(), Busy::Server(3));
        drop(a1);
        assert!(s.acquire("alice").is_ok());
    }

    #[test]
    fn failures_over_the_limit_are_counted_then_carried_into_the_next_record() {
        let t = FailureThrottle::with_window(2, Duration::from_millis(200));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(t.fail(a), Failure::Record { suppressed: 0 });
        assert_eq!(t.blocked(a), None);
        assert_eq!(t.fail(a), Failure::Record { suppressed: 0 });
        assert!(t.blocked(a).is_some());
        assert_eq!(t.fail(a), Failure::Throttled);
        assert_eq!(t.fail(a), Failure::Counted);
        assert_eq!(t.fail(b), Failure::Record { suppressed: 0 });
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(t.blocked(a), None);
        assert_eq!(t.fail(a), Failure::Record { suppressed: 2 });
    }

    #[test]
    fn a_failure_counted_against_several_addresses_is_recorded_only_under_every_limit() {
        let t = FailureThrottle::with_window(1, Duration::from_secs(60));
        let own: IpAddr = "192.0.2.1".parse().unwrap();
        let fresh = |n: u8| -> IpAddr { format!("198.51.100.{n}").parse().unwrap() };
        assert_eq!(
            t.fail_all(&[own, fresh(1)]),
            Failure::Record { suppressed: 0 }
        );
        assert!(t.blocked_any(&[own, fresh(2)]).is_some());
        // Over the limit on its own address: naming a new one each time changes nothing.
        assert_eq!(t.fail_all(&[own, fresh(2)]), Failure::Throttled);
        assert_eq!(t.fail_all(&[own, fresh(3)]), Failure::Counted);
        assert_eq!(t.blocked_any(&[fresh(9)]), None);
    }

    #[test]
    fn bounded_text_says_it_was_cut_and_keeps_characters_whole() {
        assert_eq!(bounded("short", 10), "short");
        let cut = bounded(&"é".repeat(100), 5);
        assert!(cut.starts_with("éé…"), "{cut}");
        assert!(cut.ends_with("[truncated: 200 bytes in all]"));
    }

    /// A body that yields its pieces after the given delays.
    fn trickle(
        pieces: Vec<(u64, &'static [u8])>,
    ) -> impl Body<Data = Bytes, Error = std::io::Error> + Unpin {
        let s = futures_util::stream::iter(pieces).then(|(ms, b)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b)))
        });
        http_body_util::StreamBody::new(Box::pin(s))
    }

    use futures_util::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_ends_after_the_idle_time() {
        let pace = BodyPace {
            idle: Duration::from_secs(30),
            min_bytes_per_sec: 0,
        };
        let body = PacedBody::new(trickle(vec![(0, b"a"), (31_000, b"b")]), pace);
        let err = body.collect().await.unwrap_err();
        assert!(
            matches!(BodyTooSlow::find(&*err), Some(BodyTooSlow::Idle(30))),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_below_the_minimum_rate_ends_and_a_steady_body_does_not() {
        let pace = BodyPace {
            idle: Duration::from_secs(5),
            min_bytes_per_sec: 100,
        };
        let slow = (0..20).map(|_| (1_000, &b"x"[..])).collect();
        let err = PacedBody::new(trickle(slow), pace)
            .collect()
            .await
            .unwrap_err();
        assert!(
            matches!(BodyTooSlow::find(&*err), Some(BodyTooSlow::Rate { .. })),
            "{err}"
        );
        let steady = (0..20).map(|_| (1_000, &[7u8; 200][..])).collect();
        let got = PacedBody::new(trickle(steady), pace)
            .collect()
            .await
            .unwrap();
        assert_eq!(got.to_bytes().len(), 4000);
    }
}
