//! The audit log verifier: any bytes give a report, never a panic, and a log that
//! verifies as intact with records has a last record whose hash the report names.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rep = itarvault_audit::verify(data, &[], None);
    if rep.is_intact() && rep.records > 0 {
        assert_eq!(rep.last_hash.len(), 64);
    }
    for line in data.split(|b| *b == b'\n') {
        let _ = itarvault_audit::parse_line(line);
    }
});
