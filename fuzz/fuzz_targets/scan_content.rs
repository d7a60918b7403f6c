//! The marking matcher and the XML text extractor on arbitrary bytes: no panic, a
//! stream cut anywhere finds exactly what one pass finds, findings stay within the
//! excerpt bound, and a suggested label (when it has a category) parses.
#![no_main]
use itarvault_scan::{extract, suggest, Scanner};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static SCANNER: OnceLock<Scanner> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let s = SCANNER.get_or_init(|| Scanner::builtin().expect("built-in rules compile"));
    let (cut, body) = match data.split_first() {
        Some((c, rest)) => (usize::from(*c) * 37 + 1, rest),
        None => (1, data),
    };
    let whole = s.scan_bytes(body, true);
    let mut st = s.stream(true);
    for c in body.chunks(cut) {
        st.push(c);
    }
    assert_eq!(st.finish(), whole);
    for f in &whole {
        assert!(f.matched.chars().count() <= itarvault_scan::matcher::MATCHED_MAX);
    }
    if let Some(l) = suggest(&whole) {
        let control = l.split(';').next().unwrap_or("");
        if control.contains(':') || control == "EAR99" {
            l.parse::<itarvault_format::Label>().expect("suggested labels parse");
        }
    }
    let _ = s.scan_bytes(&extract::xml_text(body), false);
});
