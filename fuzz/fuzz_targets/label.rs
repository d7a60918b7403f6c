//! Labels: text and JSON forms never panic; the canonical form is a fixed point.
#![no_main]
use itarvault_format::Label;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(l) = s.parse::<Label>() {
            let canon = l.to_string();
            assert_eq!(canon.parse::<Label>().expect("canonical form parses"), l);
        }
        let _ = serde_json::from_str::<Label>(s);
    }
});
