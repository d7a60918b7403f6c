//! The decision request parser and the floor: any JSON gives either a decision with
//! cited reasons or a list of input problems, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        match itarvault_policy::decide_json(&v, time::OffsetDateTime::UNIX_EPOCH) {
            Ok(d) => assert!(!d.reasons.is_empty()),
            Err(e) => assert!(!e.0.is_empty()),
        }
    }
});
