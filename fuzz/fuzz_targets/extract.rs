//! The extraction layer (zip/OOXML, gzip, tar, PDF, XML, UTF-16/32) on arbitrary bytes:
//! no panic, the decompression bound holds, and the outcome is the same however the
//! input is cut into upload chunks.
#![no_main]
use itarvault_scan::{Budget, Scanner};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static SCANNER: OnceLock<Scanner> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let s = SCANNER.get_or_init(|| Scanner::builtin().expect("built-in rules compile"));
    let (cut, body) = match data.split_first() {
        Some((c, rest)) => (usize::from(*c) % 97 + 1, rest),
        None => (1, data),
    };
    // Small limits, so that the fuzzer reaches them.
    let budget = Budget {
        memory: 256 << 10,
        depth: 3,
        max_ratio: 50,
        max_decompressed: 4 << 20,
    };
    let mut whole = s.upload_check(budget);
    whole.push(body);
    let whole = whole.finish();
    assert!(whole.decompressed <= budget.max_decompressed);
    let mut pieces = s.upload_check(budget);
    for chunk in body.chunks(cut) {
        pieces.push(chunk);
    }
    assert_eq!(pieces.finish(), whole, "chunks of {cut}");
});
