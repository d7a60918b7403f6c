//! The matcher: every rule's primary pattern in one automaton, then the window checks
//! only around a hit. Works on a whole buffer or on a stream of chunks with the same
//! results, holding at most one chunk plus a small overlap whatever the input size.

use crate::rules::{build, strip_names, Compiled, Confidence, Implies, Meta, RuleError, RuleFile};
use crate::rules::{expand_spaces, BUILTIN_RULES, MAX_WINDOW};
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use std::io::{self, Read};
use zeroize::Zeroizing;

/// Bytes a stream accumulates before matching, and the bound on what it holds.
const CHUNK: usize = 1 << 20;
/// Bytes held back at the end of a chunk: a hit starting there is matched next time,
/// when the bytes after it (its own tail and its context window) have arrived.
const MARGIN: usize = 4 * MAX_WINDOW + 96;
/// Bytes kept before the resume point for context windows and line starts.
const KEEP: usize = MAX_WINDOW + 1024;
/// The longest `matched` excerpt a finding carries.
pub const MATCHED_MAX: usize = 120;

/// One marking found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    /// The archive entry the marking is in (`word/header1.xml`, `a.zip!b.txt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// 1-based line where the source has lines; `None` for extracted text.
    pub line: Option<u64>,
    /// The marking text only (whitespace and comment leaders collapsed), at most
    /// [`MATCHED_MAX`] characters: never the document's technical content.
    pub matched: String,
    pub implies: Implies,
    pub usml_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eccn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cui: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    pub confidence: Confidence,
    pub cite: String,
    /// Stable identity across runs: see [`fingerprint`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Against `--baseline`: `new` or `unchanged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// The compiled rule set.
#[derive(Debug)]
pub struct Scanner {
    meta: Meta,
    rules: Vec<Compiled>,
    all: Regex,
    patterns: Vec<String>,
}

impl Scanner {
    /// The rule set shipped in `rules/markings.toml`.
    pub fn builtin() -> Result<Self, RuleError> {
        Self::from_toml(BUILTIN_RULES)
    }

    pub fn from_toml(text: &str) -> Result<Self, RuleError> {
        let (meta, rules) = RuleFile::parse(text)?.compile()?;
        let patterns: Vec<String> = rules
            .iter()
            .map(|c| strip_names(&expand_spaces(&c.rule.pattern)))
            .collect();
        let joined = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| format!("(?P<r{i}>{p})"))
            .collect::<Vec<_>>()
            .join("|");
        let all = build(&joined).map_err(|e| {
            RuleError::Invalid(vec![format!("the combined pattern does not compile: {e}")])
        })?;
        Ok(Self {
            meta,
            rules,
            all,
            patterns,
        })
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The rules, in file order.
    pub fn rules(&self) -> impl Iterator<Item = &crate::rules::Rule> {
        self.rules.iter().map(|c| &c.rule)
    }

    /// The primary patterns as the matcher runs them (ASCII mode), for comparison
    /// runs with other tools.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Every finding in a whole buffer.
    pub fn scan_bytes(&self, hay: &[u8], lines: bool) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut counter = Lines::new(lines);
        self.scan_buf(hay, 0, 0, hay.len(), true, &mut counter, &mut out);
        out
    }

    /// A matcher fed chunk by chunk (an upload as it streams through).
    pub fn stream(&self, lines: bool) -> Stream<'_> {
        Stream {
            scanner: self,
            buf: Zeroizing::new(Vec::new()),
            base: 0,
            resume: 0,
            lines: Lines::new(lines),
            findings: Vec::new(),
            bytes: 0,
        }
    }

    /// Matches `buf[from..]`, accepting hits that start before `limit`; returns where
    /// the next search resumes. `base` is the offset of `buf[0]` in the whole input.
    #[expect(
        clippy::too_many_arguments,
        reason = "the scan state is split so a stream and a whole buffer share one loop"
    )]
    fn scan_buf(
        &self,
        buf: &[u8],
        base: u64,
        from: usize,
        limit: usize,
        at_end: bool,
        lines: &mut Lines,
        out: &mut Vec<Finding>,
    ) -> usize {
        let mut pos = from;
        while pos < limit {
            let Some(m) = self.all.find_at(buf, pos) else {
                break;
            };
            if m.start() >= limit {
                break;
            }
            pos = m.end().max(m.start() + 1);
            if let Some(f) = self.hit(buf, base, m.start(), at_end, lines) {
                out.push(f);
            }
        }
        pos.max(limit)
    }

    fn hit(
        &self,
        buf: &[u8],
        base: u64,
        start: usize,
        at_end: bool,
        lines: &mut Lines,
    ) -> Option<Finding> {
        let caps = self.all.captures_at(buf, start)?;
        let i = (0..self.rules.len()).find(|i| caps.name(&format!("r{i}")).is_some())?;
        let c = &self.rules[i];
        let caps = c.primary.captures_at(buf, start)?;
        let whole = caps.get(0)?;
        if whole.start() != start {
            return None;
        }
        let (s, e) = (whole.start(), whole.end());
        let w = c.rule.window;
        let region = &buf[s.saturating_sub(w)..(e + w).min(buf.len())];
        if !c.context.iter().all(|r| r.is_match(region))
            || c.negative.iter().any(|r| r.is_match(region))
        {
            return None;
        }
        if c.rule.whole_line && !alone_on_line(buf, s, e, base == 0, at_end) {
            return None;
        }
        let text = |name: &str| {
            caps.name(name)
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                .filter(|t| !t.is_empty())
        };
        Some(Finding {
            rule: c.rule.id.clone(),
            entry: None,
            line: lines.line_of(buf, base, s),
            matched: normalise(caps.name("mark").map_or(&buf[s..e], |m| m.as_bytes())),
            implies: c.rule.implies,
            usml_category: text("usml"),
            paragraph: text("para"),
            eccn: text("eccn"),
            cui: text("cui").map(|c| if c == "EXPT" { "SP-EXPT".into() } else { c }),
            distribution: text("dist"),
            confidence: c.rule.confidence,
            cite: c.rule.cite.clone(),
            fingerprint: None,
            baseline: None,
        })
    }
}

/// Whether `buf[s..e]` is the only non-blank text on its line.
fn alone_on_line(buf: &[u8], s: usize, e: usize, starts_input: bool, at_end: bool) -> bool {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    let before = &buf[..s];
    let head = match memchr::memrchr(b'\n', before) {
        Some(nl) => &before[nl + 1..],
        None if starts_input => before,
        None => return false,
    };
    let after = &buf[e..];
    let tail = match memchr::memchr(b'\n', after) {
        Some(nl) => &after[..nl],
        None if at_end => after,
        None => return false,
    };
    head.iter().all(blank) && tail.iter().all(blank)
}

/// Collapses whitespace (and the comment leaders after a line break) to one space and
/// cuts the text to [`MATCHED_MAX`] characters.
pub fn normalise(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len().min(MATCHED_MAX * 4));
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            let mut newline = c == '\n';
            while let Some(&n) = chars.peek() {
                let leader = newline && matches!(n, '*' | '#' | '/' | ';' | '!' | '%' | '>' | '|');
                if n.is_whitespace() || leader {
                    newline |= n == '\n';
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    let trimmed = out.trim();
    if trimmed.chars().count() <= MATCHED_MAX {
        return trimmed.to_string();
    }
    let mut cut: String = trimmed.chars().take(MATCHED_MAX - 1).collect();
    cut.push('…');
    cut
}

/// Counts lines lazily: only as far as the last hit, or what a stream drops.
#[derive(Debug)]
struct Lines {
    enabled: bool,
    counted: u64,
    newlines: u64,
}

impl Lines {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            counted: 0,
            newlines: 0,
        }
    }

    /// Counts the newlines of `buf` up to `to` (relative) not yet counted.
    fn advance(&mut self, buf: &[u8], base: u64, to: usize) {
        let from = self.counted.saturating_sub(base) as usize;
        if self.enabled && from < to {
            self.newlines += bytecount::count(&buf[from..to], b'\n') as u64;
            self.counted = base + to as u64;
        }
    }

    fn line_of(&mut self, buf: &[u8], base: u64, at: usize) -> Option<u64> {
        if !self.enabled {
            return None;
        }
        self.advance(buf, base, at);
        Some(self.newlines + 1)
    }
}

/// A matcher fed chunk by chunk. Plaintext it holds is zeroed when it is dropped, and
/// never shown by `Debug`.
pub struct Stream<'s> {
    scanner: &'s Scanner,
    buf: Zeroizing<Vec<u8>>,
    base: u64,
    resume: usize,
    lines: Lines,
    findings: Vec<Finding>,
    bytes: u64,
}

impl std::fmt::Debug for Stream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("bytes", &self.bytes)
            .field("held", &self.buf.len())
            .field("findings", &self.findings.len())
            .finish_non_exhaustive()
    }
}

impl Stream<'_> {
    pub fn push(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        // Grow by hand: a `Vec` growing in place would free its old allocation, with
        // plaintext in it, without zeroing it. The replaced buffer is zeroed on drop.
        // Small content (an archive's many small entries) gets a small buffer; growth
        // doubles up to the window.
        let need = self.buf.len() + data.len();
        if need > self.buf.capacity() {
            let doubled = (self.buf.capacity() * 2).clamp(4 << 10, CHUNK + MARGIN);
            let mut bigger = Zeroizing::new(Vec::with_capacity(need.max(doubled)));
            bigger.extend_from_slice(&self.buf);
            self.buf = bigger;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK + MARGIN {
            self.run();
        }
    }

    /// Reads `r` to its end through the stream, straight into the stream's buffer. For
    /// files at rest (the walker): the buffer may grow in place, unlike with [`Stream::push`].
    pub fn read_from(&mut self, r: &mut dyn Read) -> io::Result<()> {
        loop {
            let want = (CHUNK + MARGIN)
                .saturating_sub(self.buf.len())
                .max(64 << 10);
            let n = r.take(want as u64).read_to_end(&mut self.buf)?;
            self.bytes += n as u64;
            if n == 0 {
                return Ok(());
            }
            if self.buf.len() >= CHUNK + MARGIN {
                self.run();
            }
        }
    }

    /// Lends the stream a buffer to fill (its capacity is reused).
    pub fn with_buffer(mut self, mut buf: Vec<u8>) -> Self {
        buf.clear();
        self.buf = Zeroizing::new(buf);
        self
    }

    /// Bytes seen so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn run(&mut self) {
        let limit = self.buf.len() - MARGIN;
        self.resume = self.scanner.scan_buf(
            &self.buf,
            self.base,
            self.resume,
            limit,
            false,
            &mut self.lines,
            &mut self.findings,
        );
        let cut = self.resume.saturating_sub(KEEP);
        self.lines.advance(&self.buf, self.base, cut);
        self.buf.drain(..cut);
        self.base += cut as u64;
        self.resume -= cut;
    }

    fn run_to_end(&mut self) {
        let end = self.buf.len();
        self.resume = self.scanner.scan_buf(
            &self.buf,
            self.base,
            self.resume,
            end,
            true,
            &mut self.lines,
            &mut self.findings,
        );
    }

    /// Matches what is left and returns every finding. The held plaintext is zeroed.
    pub fn finish(mut self) -> Vec<Finding> {
        self.run_to_end();
        std::mem::take(&mut self.findings)
    }

    /// Like [`Stream::finish`], but hands the buffer back for the next file without
    /// zeroing it: for data read from files at rest, where a copy in our memory is no
    /// worse than the file itself and a memset per file is measurable.
    pub fn finish_reuse(mut self) -> (Vec<Finding>, Vec<u8>) {
        self.run_to_end();
        let mut buf = std::mem::take(&mut *self.buf);
        buf.clear();
        (std::mem::take(&mut self.findings), buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_collapses_wrapped_comment_blocks() {
        assert_eq!(
            normalise(b"Arms Export\n * Control   Act"),
            "Arms Export Control Act"
        );
        assert_eq!(normalise(b"a\n// b\n# c"), "a b c");
        assert_eq!(normalise(b"CUI//SP-EXPT"), "CUI//SP-EXPT");
        let long = "x".repeat(500);
        assert_eq!(normalise(long.as_bytes()).chars().count(), MATCHED_MAX);
    }

    #[test]
    fn streams_find_what_a_whole_buffer_finds_whatever_the_chunking() {
        let s = Scanner::builtin().unwrap();
        let mut text = Vec::new();
        for i in 0..3000 {
            text.extend_from_slice(format!("line {i} of filler text, nothing to see\n").as_bytes());
            if i % 700 == 13 {
                text.extend_from_slice(b"Export classification: ECCN 9E003\n");
                text.extend_from_slice(b"USML Category XI(a)(3)\nSECRET\n");
            }
        }
        let whole = s.scan_bytes(&text, true);
        assert_eq!(whole.len(), 15, "{whole:#?}");
        for piece in [1usize, 7, 4096, 65_536, 1 << 20] {
            let mut st = s.stream(true);
            for c in text.chunks(piece) {
                st.push(c);
            }
            assert_eq!(st.finish(), whole, "chunks of {piece}");
        }
        let mut st = s.stream(true);
        st.read_from(&mut &text[..]).unwrap();
        assert_eq!(st.finish(), whole);
    }

    #[test]
    fn debug_never_shows_the_plaintext_a_stream_holds() {
        let s = Scanner::builtin().unwrap();
        let mut st = s.stream(true);
        st.push(b"turbine blade cooling passage 0.31 mm");
        let shown = format!("{st:?}");
        assert!(
            !shown.contains("turbine") && !shown.contains("116, 117"),
            "{shown}"
        );
        assert!(shown.contains("held: 37"), "{shown}");
    }

    #[test]
    fn a_stream_holds_a_bounded_buffer() {
        let s = Scanner::builtin().unwrap();
        let mut st = s.stream(true);
        let block = vec![b'a'; 300_000];
        for _ in 0..40 {
            st.push(&block);
            assert!(st.buf.len() <= CHUNK + MARGIN + block.len());
        }
        assert_eq!(st.bytes(), 12_000_000);
    }
}
