//! The decision request parser and the floor: any JSON gives either a decision with
//! cited reasons or a list of input problems, never a panic; also with the clock at the
//! ends of the calendar, where date arithmetic on the request's dates would overflow.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        for now in [
            time::OffsetDateTime::UNIX_EPOCH,
            time::PrimitiveDateTime::MIN.assume_utc(),
            time::PrimitiveDateTime::MAX.assume_utc(),
        ] {
            match itarvault_policy::decide_json(&v, now) {
                Ok(d) => assert!(!d.reasons.is_empty()),
                Err(e) => assert!(!e.0.is_empty()),
            }
        }
    }
});
