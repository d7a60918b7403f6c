//! The one rule for characters in text that crosses the API, and the one way to show
//! such text on a terminal.
//!
//! Text that people read later (a lockbox justification in an owner's `lockbox list`,
//! an object key in a listing, a reason in the audit trail) must display as what is
//! stored. Two kinds of character break that:
//!
//! - **controls**: C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F). ESC and CSI
//!   start terminal escape sequences that move the cursor, erase lines and rewrite what
//!   was printed before; CR returns to the start of the line; a line feed starts a line
//!   that looks like the next field.
//! - **bidi controls**: U+061C, U+200E, U+200F, U+202A–U+202E and U+2066–U+2069 reorder
//!   the text around them (`blade\u{202e}pets.exe` displays as `bladeexe.step`).
//!
//! The server refuses both in every text field ([`check`]), naming the code point; only
//! fields that hold source text (Cedar policies) are [`Lines::Multi`] and accept line
//! feeds and tabs. The CLI shows whatever the server sends through [`escape`], so even
//! data stored before this rule, or sent by another server, cannot drive the terminal.
//!
//! ```
//! use itarvault_api::text::{check, escape, Lines};
//!
//! assert!(check("ticket 42: restore", Lines::Single).is_ok());
//! let e = check("read-only\u{1b}[1A", Lines::Single).unwrap_err();
//! assert_eq!(e.code_point(), "U+001B");
//! assert!(check("permit(\n\tprincipal, action, resource\n);", Lines::Multi).is_ok());
//! assert_eq!(escape("blade\u{202e}pets.exe"), "blade\\u{202e}pets.exe");
//! ```

use std::borrow::Cow;
use std::fmt;

/// Whether a field is one line (names, keys, justifications, reasons) or source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// No control character at all: not even a tab or a line feed.
    Single,
    /// Line feeds and tabs allowed (Cedar policy text); every other control refused,
    /// CR included (send `\n` line ends).
    Multi,
}

/// What a refused character does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A C0 or C1 control, or DEL.
    Control,
    /// A Unicode bidirectional formatting character.
    Bidi,
}

/// Whether `c` is refused in a field of kind `lines`, and why.
pub fn class(c: char, lines: Lines) -> Option<Class> {
    match c {
        '\n' | '\t' if lines == Lines::Multi => None,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => Some(Class::Control),
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            Some(Class::Bidi)
        }
        _ => None,
    }
}

/// The first refused character of a text, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The character.
    pub ch: char,
    /// Its position, counted in characters from 1.
    pub position: usize,
    pub class: Class,
}

impl Refused {
    /// `U+XXXX`, as people search for it.
    pub fn code_point(&self) -> String {
        format!("U+{:04X}", u32::from(self.ch))
    }
}

/// The Unicode name of a refused character, where it has a well-known one.
fn name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{0}' => "NULL",
        '\u{7}' => "BELL",
        '\u{8}' => "BACKSPACE",
        '\t' => "CHARACTER TABULATION",
        '\n' => "LINE FEED",
        '\u{b}' => "LINE TABULATION",
        '\u{c}' => "FORM FEED",
        '\r' => "CARRIAGE RETURN",
        '\u{1b}' => "ESCAPE",
        '\u{7f}' => "DELETE",
        '\u{85}' => "NEXT LINE",
        '\u{9b}' => "CONTROL SEQUENCE INTRODUCER",
        '\u{9d}' => "OPERATING SYSTEM COMMAND",
        '\u{61c}' => "ARABIC LETTER MARK",
        '\u{200e}' => "LEFT-TO-RIGHT MARK",
        '\u{200f}' => "RIGHT-TO-LEFT MARK",
        '\u{202a}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202b}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202c}' => "POP DIRECTIONAL FORMATTING",
        '\u{202d}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202e}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        _ => return None,
    })
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code_point())?;
        if let Some(n) = name(self.ch) {
            write!(f, " ({n})")?;
        }
        let what = match self.class {
            Class::Control => "a control character",
            Class::Bidi => "a bidirectional formatting character",
        };
        write!(f, " at character {}, {what}", self.position)
    }
}

/// What every refusal tells the sender to do.
pub const RULE: &str = "control characters (U+0000-U+001F, U+007F-U+009F) and bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) are refused in every text field, because they make text display as something other than what is stored; remove it and send the text again (line feeds and tabs are accepted only in Cedar policy text)";

/// Checks a text against the rule: the first refused character, if any.
pub fn check(text: &str, lines: Lines) -> Result<(), Refused> {
    match text
        .chars()
        .enumerate()
        .find_map(|(i, c)| class(c, lines).map(|k| (i, c, k)))
    {
        None => Ok(()),
        Some((i, ch, class)) => Err(Refused {
            ch,
            position: i + 1,
            class,
        }),
    }
}

/// `text` as it may be shown on a terminal: every character [`check`] refuses in a
/// one-line field is written as a Rust escape (`\u{1b}`, `\u{202e}`), the rest as is.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_as(text, Lines::Single)
}

/// [`escape`] that keeps line feeds and tabs, for multi-line text shown as such.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_as(text, Lines::Multi)
}

fn escape_as(text: &str, lines: Lines) -> Cow<'_, str> {
    if check(text, lines).is_ok() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if class(c, lines).is_some() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn every_control_and_bidi_character_is_refused_in_one_line() {
        let refused: Vec<char> = (0u32..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|c| class(*c, Lines::Single).is_some())
            .collect();
        let mut expected: Vec<char> = (0u32..0x20)
            .chain(0x7f..0xa0)
            .filter_map(char::from_u32)
            .collect();
        expected.extend(['\u{61c}', '\u{200e}', '\u{200f}']);
        expected.extend((0x202au32..=0x202e).filter_map(char::from_u32));
        expected.extend((0x2066u32..=0x2069).filter_map(char::from_u32));
        expected.sort_unstable();
        assert_eq!(refused, expected);
    }

    #[test]
    fn multi_line_text_keeps_line_feeds_and_tabs_only() {
        assert!(check("a\n\tb", Lines::Multi).is_ok());
        for bad in ["a\r\nb", "a\u{1b}[2Jb", "a\u{202e}b", "a\u{9b}b"] {
            assert!(check(bad, Lines::Multi).is_err(), "{bad:?}");
        }
        assert!(check("a\tb", Lines::Single).is_err());
    }

    #[test]
    fn a_refusal_names_the_code_point_its_name_and_where() {
        let e = check("abc\u{202e}def", Lines::Single).unwrap_err();
        assert_eq!(e.position, 4);
        assert_eq!(
            e.to_string(),
            "U+202E (RIGHT-TO-LEFT OVERRIDE) at character 4, a bidirectional formatting character"
        );
        let e = check("\u{1}", Lines::Single).unwrap_err();
        assert_eq!(e.to_string(), "U+0001 at character 1, a control character");
    }

    #[test]
    fn printable_text_of_any_script_passes() {
        for ok in [
            "",
            "designs/engines/blade.step",
            "Überprüfung",
            "設計図",
            "שלום",
            "emoji 🚀",
            "a\u{a0}b",
        ] {
            assert!(check(ok, Lines::Single).is_ok(), "{ok:?}");
            assert!(matches!(escape(ok), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn escaping_leaves_nothing_a_terminal_acts_on() {
        let hostile = "ok\u{1b}[1A\u{1b}[2K\rread on `x`\u{9b}31m\u{202e}gpj.exe\u{7f}\n";
        let shown = escape(hostile);
        assert!(check(&shown, Lines::Single).is_ok(), "{shown}");
        assert_eq!(
            shown,
            "ok\\u{1b}[1A\\u{1b}[2K\\u{d}read on `x`\\u{9b}31m\\u{202e}gpj.exe\\u{7f}\\u{a}"
        );
        assert_eq!(escape_lines("a\n\tb\u{1b}"), "a\n\tb\\u{1b}");
    }
}
