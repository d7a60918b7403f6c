//! The character rule and the CLI's escaping: any text is checked without a panic, what
//! `escape` shows always passes the rule, and text that passes is shown unchanged.
#![no_main]
use itarvault_api::text::{check, escape, escape_lines, Lines};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let single = check(text, Lines::Single);
    let multi = check(text, Lines::Multi);
    // One line is the stricter rule.
    assert!(single.is_err() || multi.is_ok());
    let shown = escape(text);
    assert!(check(&shown, Lines::Single).is_ok());
    assert_eq!(single.is_ok(), shown == text);
    assert!(check(&escape_lines(text), Lines::Multi).is_ok());
    if let Err(r) = single {
        assert_eq!(text.chars().nth(r.position - 1), Some(r.ch));
    }
});
