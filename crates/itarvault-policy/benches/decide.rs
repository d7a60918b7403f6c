//! Decision throughput and latency: the floor alone, and with 50 Cedar organisation
//! policies. Criterion measures the mean; a second pass times single decisions to
//! print p50/p99, which the latency target is stated in.
//!
//! `cargo bench -p itarvault-policy --bench decide`

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use itarvault_policy::{Engine, OrgPolicies, Request};
use serde_json::json;

fn request() -> serde_json::Value {
    json!({
      "principal": { "id": "alice", "person_status": "foreign_person", "citizenships": ["GB", "FR"],
        "authorizations": [
          { "id": "TAA-9", "type": "TAA", "countries": ["DE"], "usml_categories": ["XII"], "expires": "2027-01-01" },
          { "id": "DSP5-123456", "type": "DSP-5", "countries": ["GB", "FR"], "usml_categories": ["XI"],
            "valid_from": "2025-01-01", "expires": "2027-01-01" } ] },
      "action": "read",
      "context": { "source_country": "US", "time": "2026-11-22T10:00:00Z" },
      "resource": { "label": { "jurisdiction": "ITAR", "usml_category": "XI", "program": "f35" },
                    "end_to_end_encrypted": true, "storage_country": "US" }
    })
}

/// 50 realistic organisation policies: need-to-know per program, hours, locations.
fn fifty_policies() -> OrgPolicies {
    let mut text = String::new();
    for i in 0..50 {
        let p = match i % 5 {
            0 => format!("forbid(principal, action == Itarvault::Action::\"read\", resource) when {{ resource has program && resource.program == \"prog{i}\" }} unless {{ principal.id == \"owner{i}\" }};"),
            1 => format!("forbid(principal, action, resource) when {{ context.hour_utc == {} && principal.us_person == false && resource.jurisdiction == \"EAR\" }};", i % 24),
            2 => format!("forbid(principal, action, resource) when {{ principal.citizenships.contains(\"Z{}\") }};", i % 10),
            3 => format!("forbid(principal, action == Itarvault::Action::\"store\", resource) when {{ resource has storage_country && resource.storage_country == \"X{}\" }};", i % 10),
            _ => format!("forbid(principal, action, resource) when {{ context has source_country && context.source_country == \"Q{}\" && resource.jurisdiction == \"ITAR\" }};", i % 10),
        };
        text.push_str(&p);
        text.push('\n');
    }
    let org = OrgPolicies::load(&[("bench.cedar".into(), text)]).unwrap();
    assert_eq!(org.len(), 50);
    org
}

fn latency(name: &str, engine: &Engine, req: &Request) {
    let n = 200_000;
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let s = Instant::now();
        black_box(engine.decide(black_box(req)));
        t.push(s.elapsed());
    }
    t.sort_unstable();
    let total: Duration = t.iter().sum();
    let pct = |p: f64| t[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "{name:<28} {:>9.0} decisions/s (one core)   p50 {:>6.2} us   p99 {:>6.2} us",
        n as f64 / total.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6
    );
}

fn bench(c: &mut Criterion) {
    let now = time::OffsetDateTime::now_utc();
    let json = request();
    let req = Request::from_json(&json, now).unwrap();
    let floor = Engine::new(None);
    let with_org = Engine::new(Some(fifty_policies()));
    assert!(
        floor.decide(&req).is_allow(),
        "{}",
        floor.decide(&req).explain()
    );
    assert!(
        with_org.decide(&req).is_allow(),
        "{}",
        with_org.decide(&req).explain()
    );

    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(1));
    g.bench_function("floor", |b| b.iter(|| floor.decide(black_box(&req))));
    g.bench_function("floor+50-cedar-policies", |b| {
        b.iter(|| with_org.decide(black_box(&req)))
    });
    g.bench_function("parse+floor", |b| {
        b.iter(|| floor.decide(&Request::from_json(black_box(&json), now).unwrap()))
    });
    g.finish();

    let none = Engine::new(Some(OrgPolicies::load(&[]).unwrap()));
    latency("floor", &floor, &req);
    latency("floor + 50 Cedar (memo hit)", &with_org, &req);
    // Misses: a fresh hour every call defeats the memo, so Cedar evaluates each time.
    let misses: Vec<Request> = (0..2000)
        .map(|i| {
            let mut j = json.clone();
            j["principal"]["id"] = json!(format!("user{i}"));
            Request::from_json(&j, now).unwrap()
        })
        .collect();
    let cold = Engine::new(Some(fifty_policies()));
    let mut t: Vec<Duration> = misses
        .iter()
        .map(|r| {
            let s = Instant::now();
            black_box(cold.decide(r));
            s.elapsed()
        })
        .collect();
    t.sort_unstable();
    let total: Duration = t.iter().sum();
    println!(
        "{:<28} {:>9.0} decisions/s (one core)   p50 {:>6.2} us   p99 {:>6.2} us",
        "floor + 50 Cedar (memo miss)",
        t.len() as f64 / total.as_secs_f64(),
        t[t.len() / 2].as_secs_f64() * 1e6,
        t[t.len() * 99 / 100].as_secs_f64() * 1e6
    );
    let _ = none;
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
