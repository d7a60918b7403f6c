//! Baseline for bench/envelope.py: raw AES-256-GCM sealing in memory on one core,
//! through the same aws-lc-rs module, 1 MiB per call (the module's best case).
//! Prints `{"bytes": N, "seconds": S}`.

use std::time::Instant;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: u64 = std::env::args().nth(1).map_or(Ok(1 << 30), |s| s.parse())?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32])?);
    let mut buf = vec![0u8; 1 << 20];
    let calls = total / buf.len() as u64;
    let start = Instant::now();
    for i in 0..calls {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&i.to_be_bytes());
        let tag = key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(n),
            Aad::empty(),
            &mut buf,
        )?;
        let _ = std::hint::black_box(tag);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"bytes\": {}, \"seconds\": {secs}}}",
        calls * buf.len() as u64
    );
    Ok(())
}
