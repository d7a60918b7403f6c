//! What client commands print: JSON for scripts (`--json`), a summary for people.
//!
//! Everything a server sends is someone else's text: a justification, an object key,
//! a reason, an error message. None of it reaches the terminal as is. Summaries show it
//! through [`safe`] (control and bidi characters as `\u{1b}`, `\u{202e}`), and JSON is
//! written with those characters as `\u001b` escapes: the same JSON value, and nothing a
//! terminal acts on. So even a server from before the character rule
//! (`itarvault_api::text`), or one that is not ours, cannot move the cursor, rewrite a
//! line or reorder a name on the screen of whoever reads its answers.

use std::borrow::Cow;
use std::io;

use itarvault_api::text::{class, escape, Lines};
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use serde_json::Value;

use crate::OutputArgs;

/// A string that came from a server (or from the audit trail), as it may be shown.
pub fn safe(s: &str) -> Cow<'_, str> {
    escape(s)
}

/// A formatter that writes every control and bidi character of a string as a JSON
/// `\uXXXX` escape (serde_json escapes only C0 controls itself).
struct Safe<F>(F);

impl<F: Formatter> Formatter for Safe<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if class(c, Lines::Single).is_some() {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `v` as JSON text that is safe on a terminal (see the module doc).
pub fn json_text(v: &impl Serialize, pretty: bool) -> String {
    let mut out = Vec::new();
    let written = if pretty {
        v.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            Safe(PrettyFormatter::new()),
        ))
    } else {
        v.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            Safe(CompactFormatter),
        ))
    };
    match written {
        // The formatter writes only whole UTF-8 fragments and ASCII escapes.
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("(the answer could not be shown: {e})"),
    }
}

/// Prints `v`: safe JSON with `--json`, else the summary `human` makes from it. The
/// summary must show every string of `v` through [`safe`] (see [`print_item`]).
pub fn print(out: OutputArgs, v: &Value, human: impl FnOnce(&Value) -> String) {
    if out.json {
        println!("{}", json_text(v, false));
    } else {
        println!("{}", human(v));
    }
}

/// Prints `v` as JSON: compact with `--json`, indented for people.
pub fn print_json(out: OutputArgs, v: &Value) {
    println!("{}", json_text(v, !out.json));
}

/// A string field of `v`, shown safely; `?` when missing.
fn field<'a>(v: &'a Value, k: &str) -> Cow<'a, str> {
    v[k].as_str().map_or(Cow::Borrowed("?"), safe)
}

/// What an access request covers, in words.
fn scope_text(scope: &Value) -> String {
    let (bucket, prefix, key) = (
        field(scope, "bucket"),
        field(scope, "prefix"),
        field(scope, "key"),
    );
    match scope["kind"].as_str() {
        Some("bucket") => format!("the whole bucket `{bucket}`"),
        Some("prefix") => format!("keys under `{prefix}` in bucket `{bucket}`"),
        Some("object") => format!("object `{key}` in bucket `{bucket}`"),
        _ => json_text(scope, false),
    }
}

/// A request or proposal for people: what it asks, in words, then its bookkeeping.
/// Every string in it came from the server and is shown through [`safe`].
pub fn item_text(v: &Value) -> String {
    let id = field(v, "id");
    if !(id.starts_with("req_") || id.starts_with("prop_")) {
        return json_text(v, true);
    }
    let names = |k: &str| -> String {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .or_else(|| x["by"].as_str())
                            .map_or(Cow::Borrowed("?"), safe)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let what = match v["effect"].as_str() {
        Some(effect) => safe(effect).into_owned(),
        None => {
            let actions: Vec<_> = v["actions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_str().map_or(Cow::Borrowed("?"), safe))
                        .collect()
                })
                .unwrap_or_default();
            let minutes = v["duration_secs"]
                .as_i64()
                .map_or_else(|| "?".into(), |s| (s / 60).to_string());
            format!(
                "{} on {} for {minutes} minutes",
                actions.join("+"),
                scope_text(&v["scope"])
            )
        }
    };
    let approvals = v["approvals"].as_array().map_or(0, Vec::len);
    let mut s = format!(
        "{id} [{}] by {}: {what}\n  approvals {approvals}/{} ({}) from [{}]",
        field(v, "state"),
        field(v, "requester"),
        v["required"]
            .as_u64()
            .map_or_else(|| "?".into(), |n| n.to_string()),
        names("approvals"),
        names("approvers"),
    );
    for (k, label) in [
        ("not_after", "grant ends"),
        ("result", "result"),
        ("justification", "justification"),
        (
            "enrollment_token",
            "enrollment token (shown once: hand it to the person, who runs `itarvault tokens create` with it)",
        ),
    ] {
        if let Some(t) = v[k].as_str() {
            s.push_str(&format!("\n  {label}: {}", safe(t)));
        }
    }
    s
}

/// Prints a request or proposal: the full JSON, or a summary for people.
pub fn print_item(out: OutputArgs, v: &Value) -> anyhow::Result<()> {
    print(out, v, item_text);
    Ok(())
}

pub fn print_list(out: OutputArgs, v: &Value) -> anyhow::Result<()> {
    if out.json {
        println!("{}", json_text(v, false));
        return Ok(());
    }
    let items = v.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("nothing");
    }
    for it in items {
        print_item(out, &it)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use serde_json::json;

    /// Nothing a terminal acts on: no C0/C1 control but the line feeds of the layout,
    /// no bidi control.
    fn inert(shown: &str) {
        for line in shown.split('\n') {
            assert!(
                itarvault_api::text::check(line, Lines::Single).is_ok(),
                "{line:?}"
            );
        }
    }

    /// The attack: a justification that moves the cursor up and rewrites the
    /// lines above, so that a whole-bucket read/write/delete request for 8 hours reads
    /// as a read of one object. Shown escaped, with the real scope in words.
    #[test]
    fn a_hostile_justification_cannot_rewrite_the_summary() {
        let hostile = "ok\u{1b}[1A\u{1b}[2K\rreq_1 [pending] by olive: read on object `a.txt` in bucket `designs` for 5 minutes\u{9b}2K\u{202e}";
        let v = json!({
            "id": "req_1", "state": "pending", "requester": "olive",
            "scope": {"kind": "bucket", "bucket": "designs"},
            "actions": ["read", "write", "delete"], "duration_secs": 28800,
            "required": 1, "approvers": ["alice"], "approvals": [],
            "justification": hostile,
        });
        let shown = item_text(&v);
        inert(&shown);
        assert!(
            shown.starts_with("req_1 [pending] by olive: read+write+delete on the whole bucket `designs` for 480 minutes"),
            "{shown}"
        );
        assert!(
            shown.contains("justification: ok\\u{1b}[1A\\u{1b}[2K\\u{d}req_1"),
            "{shown}"
        );
        assert!(shown.ends_with("\\u{9b}2K\\u{202e}"), "{shown}");
    }

    #[test]
    fn json_output_escapes_c1_and_bidi_and_stays_the_same_value() {
        let v = json!({"key": "blade\u{202e}pets.exe", "k\u{9b}": ["\u{1b}[2J", "\u{7f}", "Überprüfung 設計"]});
        for pretty in [false, true] {
            let text = json_text(&v, pretty);
            assert!(text.is_ascii() || text.contains("設計"), "{text}");
            inert(&text);
            assert!(text.contains("blade\\u202epets.exe"), "{text}");
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn every_field_of_a_proposal_summary_is_escaped() {
        let v = json!({
            "id": "prop_\u{1b}]0;x\u{7}", "state": "pending\u{1b}[0m", "requester": "a\u{202e}b",
            "effect": "replace the organisation's Cedar policies with these 3 bytes:\n\u{1b}[1A",
            "required": 1, "approvers": ["alice\u{85}"], "approvals": [{"by": "olive\u{200f}"}],
            "justification": "why\n  approvals 2/1",
            "result": "\u{9d}8;;http://x\u{9c}",
        });
        let shown = item_text(&v);
        inert(&shown);
        assert_eq!(shown.lines().count(), 4, "{shown}");
    }
}
