//! Throughput of the upload check on one file, against the raw-bytes-only matcher the
//! upload path ran before, in the same process (`bench/upload_check.py` drives it).
//!
//!     cargo run --release -p itarvault-scan --example upload_check -- FILE [RUNS] [MEMORY_MIB]
//!
//! The file is read into memory once; each run pushes it in 64 KiB chunks (the
//! envelope's chunk size, what the server hands the check), alternating the two paths,
//! and the best of RUNS is kept. Time is this thread's CPU time where Linux reports it
//! (`/proc/thread-self/schedstat`), so that other work on a shared machine does not
//! skew the ratio; wall time otherwise. Prints one JSON object.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark driver fails loudly"
)]

use itarvault_scan::{Budget, Scanner};
use std::time::Instant;

/// Seconds of CPU this thread has used, or of wall time where that is not reported.
fn now(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns as f64 / 1e9)
}

const CHUNK: usize = 64 << 10;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: upload_check FILE [RUNS] [MEMORY_MIB]");
    let runs: usize = args.get(2).map_or(3, |r| r.parse().unwrap());
    let budget = Budget {
        memory: args.get(3).map_or(Budget::default().memory, |m| {
            m.parse::<usize>().unwrap() << 20
        }),
        ..Budget::default()
    };
    let data = std::fs::read(path).unwrap();
    let scanner = Scanner::builtin().unwrap();
    let wall = Instant::now();
    let mut best_raw = f64::MAX;
    let mut best_check = f64::MAX;
    let mut raw_findings = 0;
    let mut outcome = None;
    for run in 0..runs {
        // Alternate which path goes first, so that neither always meets a cold cache.
        for path in if run % 2 == 0 { [0, 1] } else { [1, 0] } {
            let start = now(wall);
            if path == 0 {
                let mut stream = scanner.stream(true);
                for chunk in data.chunks(CHUNK) {
                    stream.push(chunk);
                }
                raw_findings = stream.finish().len();
                best_raw = best_raw.min(now(wall) - start);
            } else {
                let mut check = scanner.upload_check(budget);
                for chunk in data.chunks(CHUNK) {
                    check.push(chunk);
                }
                let done = check.finish();
                best_check = best_check.min(now(wall) - start);
                outcome = Some(done);
            }
        }
    }
    let outcome = outcome.expect("at least one run");
    let mb = data.len() as f64 / 1e6;
    let unchecked = outcome
        .unchecked
        .as_ref()
        .map_or("null".to_string(), |u| format!("{:?}", u.to_string()));
    println!(
        "{{\"bytes\": {}, \"runs\": {runs}, \"memory_mib\": {}, \"raw_mb_s\": {:.1}, \"check_mb_s\": {:.1}, \"ratio\": {:.3}, \"raw_findings\": {raw_findings}, \"check_findings\": {}, \"decompressed\": {}, \"unchecked\": {unchecked}}}",
        data.len(),
        budget.memory >> 20,
        mb / best_raw,
        mb / best_check,
        best_raw / best_check,
        outcome.findings.len(),
        outcome.decompressed,
    );
}
