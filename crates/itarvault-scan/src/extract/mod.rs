//! The extraction layer `itarvault scan` and the upload check share: what a file is,
//! and the text inside the formats that hide it.
//!
//! Every file's own bytes go through the matcher. When the first bytes say it is a
//! container or an encoding that hides text, what is inside is opened as well and
//! matched in turn, to a bounded depth: OOXML documents (docx, xlsx, pptx) and other
//! zip archives, gzip and the tar archives inside it, PDF text, XML text, UTF-16 and
//! UTF-32 text. Anything that cannot be opened (an encrypted entry, an unsupported
//! compression, a container over the memory budget or past the decompression limit, a
//! damaged one) is reported as [`Unchecked`], never skipped silently.
//!
//! Each piece of content is a node: it waits for its first bytes, then either
//! streams (plain bytes, gzip, tar, XML, wide text) or, for the formats whose index
//! sits at the end (zip, PDF), buffers within the memory budget and opens at the end.
//! Everything is fed in pieces, so the same code serves a file on disk and an upload
//! arriving chunk by chunk, with the same results whatever the chunking.

mod gzip;
mod inflate;
mod pdf;
mod tar;
mod text;
mod zip;

pub use text::{xml_text, Encoding};

use crate::matcher::{Finding, Scanner, Stream};
use crate::secret::SecretBuf;
use std::fmt;

/// Default plaintext an extraction may hold in memory at once.
pub const DEFAULT_MEMORY: usize = 64 << 20;
/// Default number of containers opened inside one another.
pub const DEFAULT_DEPTH: u32 = 4;
/// Default bound on how far one compressed stream may expand: its output may reach
/// 1 MiB, and past that this many times the compressed bytes read so far (deflate
/// tops out near 1032; real documents stay far below 100).
pub const DEFAULT_MAX_RATIO: u64 = 200;
/// Default bound on decompressed bytes, whatever the input's size.
pub const DEFAULT_MAX_DECOMPRESSED: u64 = 1 << 30;
/// Bytes a node waits for before it decides what it holds (a tar header is 512).
pub const SNIFF_LEN: usize = 512;
/// Entry names are cut to this many characters in findings and reasons.
const NAME_MAX: usize = 256;

/// Limits on what opening containers may cost. An input that would need more is
/// reported as [`Unchecked`], never read half-way in silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Plaintext held in memory at once: zip archives and PDFs (their index is at the
    /// end, so they are buffered whole), nested ones inside them, object streams.
    pub memory: usize,
    /// Containers opened inside one another (a zip in a docx in a tar.gz is 3).
    pub depth: u32,
    /// One compressed stream (a zip entry, a gzip member, a PDF stream) may expand to
    /// 1 MiB, and past that to `max_ratio` times the compressed bytes read so far: zip
    /// bombs expand a thousandfold and are stopped early.
    pub max_ratio: u64,
    /// Decompressed bytes never exceed this, whatever the input's size.
    pub max_decompressed: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            memory: DEFAULT_MEMORY,
            depth: DEFAULT_DEPTH,
            max_ratio: DEFAULT_MAX_RATIO,
            max_decompressed: DEFAULT_MAX_DECOMPRESSED,
        }
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Matched byte for byte: text, source, STEP/IGES/DXF/G-code, CSV, and any binary
    /// (title blocks sit in CAD binaries).
    Plain,
    /// An image: matched as bytes, but its text (if any) is pixels.
    Image,
    /// XML: matched as bytes and as text (markup between the words removed).
    Xml,
    /// UTF-16 or UTF-32 text, with or without a byte-order mark.
    Wide {
        encoding: Encoding,
        bom: bool,
    },
    /// A legacy binary Office file (.doc, .xls, .ppt): its text is stored as 8-bit or
    /// UTF-16LE runs, matched both ways.
    LegacyOffice,
    Zip,
    Pdf,
    Gzip,
    Tar,
    /// A compressed or archive format the check cannot open (named).
    Unsupported(&'static str),
}

/// What `head` (the first [`SNIFF_LEN`] bytes, or all there is) says the content is.
pub fn sniff(head: &[u8]) -> Kind {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        Kind::Zip
    } else if starts(b"\x1F\x8B") {
        Kind::Gzip
    } else if starts(b"%PDF-") {
        Kind::Pdf
    } else if tar::is_header(head) {
        Kind::Tar
    } else if starts(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        Kind::LegacyOffice
    } else if let Some(format) = unsupported(head) {
        Kind::Unsupported(format)
    } else if starts(b"\x89PNG")
        || starts(b"\xFF\xD8\xFF")
        || starts(b"GIF8")
        || starts(b"II*\x00")
        || starts(b"MM\x00*")
        || (starts(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
    {
        Kind::Image
    } else if let Some((encoding, bom)) = text::wide_encoding(head) {
        Kind::Wide { encoding, bom }
    } else if looks_like_xml(head) {
        Kind::Xml
    } else {
        Kind::Plain
    }
}

fn unsupported(head: &[u8]) -> Option<&'static str> {
    let starts = |m: &[u8]| head.starts_with(m);
    Some(if starts(b"7z\xBC\xAF\x27\x1C") {
        "7-Zip"
    } else if starts(b"Rar!\x1A\x07") {
        "RAR"
    } else if starts(b"\xFD7zXZ\x00") {
        "xz"
    } else if starts(b"\x28\xB5\x2F\xFD") {
        "Zstandard"
    } else if starts(b"BZh") && head.get(4..10) == Some(b"1AY&SY") {
        "bzip2"
    } else if starts(b"LZIP") {
        "lzip"
    } else if starts(b"\x04\x22\x4D\x18") {
        "LZ4"
    } else if starts(b"\x1F\x9D") {
        "compress (.Z)"
    } else if starts(b"MSCF") {
        "Microsoft Cabinet"
    } else {
        return None;
    })
}

fn looks_like_xml(head: &[u8]) -> bool {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    start.is_some_and(|s| body[s..].starts_with(b"<?xml"))
}

/// Why part of the content could not be checked. `entry` names the part (empty: the
/// file itself). The display reads `<class> (<details>)`, the class first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unchecked {
    #[error("encrypted ({} needs a password)", what(entry))]
    Encrypted { entry: String },
    #[error("over the in-memory budget ({} is a container larger than {})", what(entry), mib(*budget))]
    OverBudget { entry: String, budget: u64 },
    #[error(
        "decompression limit ({} expands past {limit} bytes: a zip bomb?)",
        what(entry)
    )]
    DecompressionLimit { entry: String, limit: u64 },
    #[error("unsupported compression ({} uses {method})", what(entry))]
    UnsupportedCompression { entry: String, method: String },
    #[error("unsupported archive format ({} is a {format} archive)", what(entry))]
    UnsupportedFormat { entry: String, format: &'static str },
    #[error(
        "nested too deep ({} is a container inside {depth} others)",
        what(entry)
    )]
    DepthLimit { entry: String, depth: u32 },
    #[error("damaged container ({}: {detail})", what(entry))]
    Corrupt { entry: String, detail: String },
}

fn what(entry: &str) -> String {
    if entry.is_empty() {
        "the file".into()
    } else {
        format!("`{entry}`")
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

impl Unchecked {
    /// What the person uploading can do about it.
    pub fn remedy(&self) -> String {
        let first = match self {
            Self::Encrypted { .. } => {
                "remove the password protection so that the content can be checked".to_string()
            }
            Self::OverBudget { budget, .. } => format!(
                "split it into parts smaller than {} so that each can be checked",
                mib(*budget)
            ),
            Self::DecompressionLimit { .. } => {
                "split it into smaller archives so that each can be checked".into()
            }
            Self::UnsupportedCompression { .. } | Self::UnsupportedFormat { .. } => {
                "repack it as zip (deflate), tar.gz or plain files so that it can be checked".into()
            }
            Self::DepthLimit { .. } => "unpack the inner archives and upload their content".into(),
            Self::Corrupt { .. } => "repair or re-create the file".into(),
        };
        format!("{first}; or, if it is export-controlled, upload it under its ITAR or EAR label")
    }

    /// Whether the input is damaged (rather than merely unopenable).
    pub fn is_damage(&self) -> bool {
        matches!(self, Self::Corrupt { .. })
    }
}

/// Why a whole file has no text the matcher can read (for `itarvault scan` to say;
/// the upload check does not refuse on it: a picture carries no marking it can read,
/// and no evidence either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("image without a text layer (OCR is not supported)")]
    Image,
    #[error("PDF has no text layer (a scanned image?); OCR is not supported")]
    PdfWithoutText,
}

/// The state all nodes of one input share: the rules, the budget and what it has
/// used, and what was found.
pub(crate) struct Extraction<'s> {
    pub(crate) scanner: &'s Scanner,
    pub(crate) budget: Budget,
    produced: u64,
    held: usize,
    exhausted: bool,
    pub(crate) findings: Vec<Finding>,
    pub(crate) unchecked: Option<Unchecked>,
    pub(crate) unreadable: Option<Unreadable>,
}

impl fmt::Debug for Extraction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extraction")
            .field("decompressed", &self.produced)
            .field("held", &self.held)
            .field("findings", &self.findings.len())
            .field("unchecked", &self.unchecked.is_some())
            .finish_non_exhaustive()
    }
}

impl<'s> Extraction<'s> {
    pub(crate) fn new(scanner: &'s Scanner, budget: Budget) -> Self {
        Self {
            scanner,
            budget,
            produced: 0,
            held: 0,
            exhausted: false,
            findings: Vec::new(),
            unchecked: None,
            unreadable: None,
        }
    }

    pub(crate) fn decompressed(&self) -> u64 {
        self.produced
    }

    /// The first reason wins: it is the one reported.
    pub(crate) fn note(&mut self, why: Unchecked) {
        if self.unchecked.is_none() {
            self.unchecked = Some(why);
        }
    }

    /// Admits `n` more decompressed bytes of `entry`: returns how many may be used.
    /// Past `max_decompressed` the rest is refused, noted once, and nothing more is
    /// decompressed anywhere in this input.
    pub(crate) fn admit(&mut self, n: usize, entry: &str) -> usize {
        if self.exhausted {
            return 0;
        }
        let limit = self.budget.max_decompressed;
        let left = limit.saturating_sub(self.produced);
        if n as u64 <= left {
            self.produced += n as u64;
            return n;
        }
        self.produced = limit;
        self.exhausted = true;
        self.note(Unchecked::DecompressionLimit {
            entry: entry.to_string(),
            limit,
        });
        usize::try_from(left).unwrap_or(n)
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Holds `n` more bytes in memory if the budget allows.
    pub(crate) fn reserve(&mut self, n: usize) -> bool {
        match self.held.checked_add(n) {
            Some(total) if total <= self.budget.memory => {
                self.held = total;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn release(&mut self, n: usize) {
        self.held = self.held.saturating_sub(n);
    }

    /// Adds findings from the content at `path`, each naming it.
    pub(crate) fn record(&mut self, path: &str, findings: Vec<Finding>) {
        self.findings
            .extend(findings.into_iter().map(|f| with_entry(f, path)));
    }
}

fn with_entry(mut f: Finding, path: &str) -> Finding {
    if f.entry.is_none() && !path.is_empty() {
        f.entry = Some(path.to_string());
    }
    f
}

/// `outer!inner`: where nested content sits.
pub(crate) fn join(outer: &str, inner: &str) -> String {
    if outer.is_empty() {
        inner.to_string()
    } else {
        format!("{outer}!{inner}")
    }
}

/// An entry name as it may be printed: control characters (terminal escapes) become
/// `?`, and it is cut to a sane length.
pub(crate) fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(NAME_MAX)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if name.chars().count() > NAME_MAX {
        out.push('…');
    }
    out
}

/// One piece of content: the input itself, an archive entry, a decompressed stream.
pub(crate) struct Node<'s> {
    path: String,
    depth: u32,
    /// Produced by a text decoder: only XML or plain text from here.
    decoded: bool,
    /// Where this node's descendants' findings start in the shared list.
    first_finding: usize,
    state: State<'s>,
}

enum State<'s> {
    Pending(SecretBuf),
    Plain(Stream<'s>),
    Decoding { raw: Stream<'s>, inner: Inner<'s> },
    Buffered { buf: SecretBuf, whole: Whole },
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whole {
    Zip,
    Pdf,
}

enum Inner<'s> {
    Xml {
        xml: text::XmlText,
        text: Stream<'s>,
    },
    Wide {
        units: text::UnitDecoder,
        text: Box<Node<'s>>,
    },
    Gzip(Box<gzip::Gunzip<'s>>),
    Tar(Box<tar::TarWalk<'s>>),
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (state, held) = match &self.state {
            State::Pending(head) => ("pending", head.len()),
            State::Plain(_) => ("plain", 0),
            State::Decoding { inner, .. } => (
                match inner {
                    Inner::Xml { .. } => "xml",
                    Inner::Wide { .. } => "wide text",
                    Inner::Gzip(_) => "gzip",
                    Inner::Tar(_) => "tar",
                },
                0,
            ),
            State::Buffered { buf, whole } => (
                match whole {
                    Whole::Zip => "zip",
                    Whole::Pdf => "pdf",
                },
                buf.len(),
            ),
            State::Finished => ("finished", 0),
        };
        f.debug_struct("Node")
            .field("depth", &self.depth)
            .field("state", &state)
            .field("held", &held)
            .finish_non_exhaustive()
    }
}

impl<'s> Node<'s> {
    /// Content at `path` (empty for the input itself), inside `depth` containers.
    pub(crate) fn new(path: String, depth: u32, ctx: &Extraction<'s>) -> Self {
        Self {
            path,
            depth,
            decoded: false,
            first_finding: ctx.findings.len(),
            state: State::Pending(SecretBuf::new(SNIFF_LEN)),
        }
    }

    pub(crate) fn push(&mut self, data: &[u8], ctx: &mut Extraction<'s>) {
        match &mut self.state {
            // The common case first: a plain file streams straight into the matcher.
            State::Plain(stream) => stream.push(data),
            State::Pending(head) if head.is_empty() && data.len() >= SNIFF_LEN => {
                self.begin(&data[..SNIFF_LEN], ctx);
                self.feed(data, ctx);
            }
            State::Pending(head) => {
                let take = (SNIFF_LEN - head.len()).min(data.len());
                head.extend(&data[..take]);
                if head.len() == SNIFF_LEN {
                    self.start(ctx);
                    self.feed(&data[take..], ctx);
                }
            }
            _ => self.feed(data, ctx),
        }
    }

    pub(crate) fn finish(mut self, ctx: &mut Extraction<'s>) {
        if matches!(self.state, State::Pending(_)) {
            self.start(ctx);
        }
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Plain(stream) => ctx.record(&self.path, stream.finish()),
            State::Decoding { raw, inner } => {
                if !matches!(inner, Inner::Gzip(_) | Inner::Tar(_)) {
                    // A decoder of the same bytes: the raw finding (with its line) is
                    // the one kept, the decoded text adds only what it alone shows.
                    let from = ctx.findings.len();
                    ctx.record(&self.path, raw.finish());
                    let mark = ctx.findings.len();
                    inner.finish(&self.path, ctx);
                    let decoded = ctx.findings.split_off(mark);
                    let kept = unexplained(decoded, &ctx.findings[from..mark]);
                    ctx.findings.extend(kept);
                } else {
                    inner.finish(&self.path, ctx);
                    self.record_raw(raw.finish(), ctx);
                }
            }
            State::Buffered { buf, whole } => {
                let raw = ctx.scanner.scan_bytes(buf.as_slice(), true);
                let (path, depth) = (&self.path, self.depth + 1);
                match whole {
                    Whole::Zip => zip::extract(buf.as_slice(), path, depth, ctx),
                    Whole::Pdf => {
                        let root = self.depth == 0 && path.is_empty();
                        pdf::extract(buf.as_slice(), path, depth, root, ctx);
                    }
                }
                ctx.release(buf.len());
                drop(buf);
                self.record_raw(raw, ctx);
            }
            State::Pending(_) | State::Finished => {}
        }
    }

    /// A container's own bytes: a finding the extracted content already explains (a
    /// stored zip entry, a PDF's uncompressed text) is dropped in favour of the one
    /// that names its entry.
    fn record_raw(&self, raw: Vec<Finding>, ctx: &mut Extraction<'s>) {
        let start = self.first_finding.min(ctx.findings.len());
        let kept = unexplained(raw, &ctx.findings[start..]);
        ctx.record(&self.path, kept);
    }

    fn start(&mut self, ctx: &mut Extraction<'s>) {
        if let State::Pending(mut head) = std::mem::replace(&mut self.state, State::Finished) {
            let head = head.take();
            self.begin(&head, ctx);
            self.feed(&head, ctx);
        }
    }

    /// Decides from the first bytes what this node holds.
    fn begin(&mut self, head: &[u8], ctx: &mut Extraction<'s>) {
        let root = self.depth == 0 && self.path.is_empty() && !self.decoded;
        let mut kind = sniff(head);
        if self.decoded {
            kind = if kind == Kind::Xml {
                Kind::Xml
            } else {
                Kind::Plain
            };
        } else if kind == Kind::Plain && is_xml_name(&self.path) {
            kind = Kind::Xml;
        }
        let container = matches!(kind, Kind::Zip | Kind::Pdf | Kind::Gzip | Kind::Tar);
        if container && self.depth >= ctx.budget.depth {
            ctx.note(Unchecked::DepthLimit {
                entry: self.path.clone(),
                depth: self.depth,
            });
            kind = Kind::Plain;
        }
        let scanner = ctx.scanner;
        let raw = || scanner.stream(true);
        self.state = match kind {
            Kind::Plain => State::Plain(raw()),
            Kind::Image => {
                if root {
                    ctx.unreadable = Some(Unreadable::Image);
                }
                State::Plain(raw())
            }
            Kind::Unsupported(format) => {
                ctx.note(Unchecked::UnsupportedFormat {
                    entry: self.path.clone(),
                    format,
                });
                State::Plain(raw())
            }
            Kind::Xml => State::Decoding {
                raw: raw(),
                inner: Inner::Xml {
                    xml: text::XmlText::default(),
                    text: scanner.stream(false),
                },
            },
            Kind::Wide { encoding, bom } => self.wide(encoding, bom, ctx),
            Kind::LegacyOffice => self.wide(Encoding::Utf16Le, false, ctx),
            Kind::Zip => State::Buffered {
                buf: SecretBuf::new(ctx.budget.memory),
                whole: Whole::Zip,
            },
            Kind::Pdf => State::Buffered {
                buf: SecretBuf::new(ctx.budget.memory),
                whole: Whole::Pdf,
            },
            Kind::Gzip => State::Decoding {
                raw: raw(),
                inner: Inner::Gzip(Box::new(gzip::Gunzip::new(
                    &self.path,
                    self.depth + 1,
                    ctx.budget.max_ratio,
                ))),
            },
            Kind::Tar => State::Decoding {
                raw: raw(),
                inner: Inner::Tar(Box::new(tar::TarWalk::new(
                    &self.path,
                    self.depth + 1,
                    ctx.budget.memory,
                ))),
            },
        };
    }

    fn wide(&self, encoding: Encoding, bom: bool, ctx: &Extraction<'s>) -> State<'s> {
        let mut text = Node::new(self.path.clone(), self.depth, ctx);
        text.decoded = true;
        State::Decoding {
            raw: ctx.scanner.stream(true),
            inner: Inner::Wide {
                units: text::UnitDecoder::new(encoding, bom),
                text: Box::new(text),
            },
        }
    }

    fn feed(&mut self, data: &[u8], ctx: &mut Extraction<'s>) {
        match &mut self.state {
            State::Plain(stream) => stream.push(data),
            State::Decoding { raw, inner } => {
                raw.push(data);
                inner.push(data, ctx);
            }
            State::Buffered { buf, .. } => {
                if ctx.reserve(data.len()) {
                    buf.extend(data);
                    return;
                }
                // Over the budget: what is held and what follows are matched as bytes
                // only, and the container is reported as not checked.
                ctx.note(Unchecked::OverBudget {
                    entry: self.path.clone(),
                    budget: ctx.budget.memory as u64,
                });
                let mut stream = ctx.scanner.stream(true);
                stream.push(buf.as_slice());
                stream.push(data);
                ctx.release(buf.len());
                self.state = State::Plain(stream);
            }
            State::Pending(_) | State::Finished => {}
        }
    }
}

impl<'s> Inner<'s> {
    fn push(&mut self, data: &[u8], ctx: &mut Extraction<'s>) {
        match self {
            Self::Xml { xml, text } => xml.feed(data, &mut |t| text.push(t)),
            Self::Wide { units, text } => units.feed(data, &mut |t| text.push(t, ctx)),
            Self::Gzip(gunzip) => gunzip.push(data, ctx),
            Self::Tar(walk) => walk.push(data, ctx),
        }
    }

    fn finish(self, path: &str, ctx: &mut Extraction<'s>) {
        match self {
            Self::Xml { mut xml, mut text } => {
                xml.finish(&mut |t| text.push(t));
                ctx.record(path, text.finish());
            }
            Self::Wide {
                mut units,
                mut text,
            } => {
                units.finish(&mut |t| text.push(t, ctx));
                text.finish(ctx);
            }
            Self::Gzip(gunzip) => gunzip.finish(ctx),
            Self::Tar(walk) => walk.finish(ctx),
        }
    }
}

fn is_xml_name(path: &str) -> bool {
    let name = path.rsplit('!').next().unwrap_or(path).to_ascii_lowercase();
    name.ends_with(".xml") || name.ends_with(".rels")
}

/// The findings of `raw` that no finding of `explained` accounts for (same rule, same
/// marking text; each explains one).
fn unexplained(raw: Vec<Finding>, explained: &[Finding]) -> Vec<Finding> {
    let mut used = vec![false; explained.len()];
    raw.into_iter()
        .filter(|f| {
            let twin = explained
                .iter()
                .enumerate()
                .position(|(i, e)| !used[i] && e.rule == f.rule && e.matched == f.matched);
            match twin {
                Some(i) => {
                    used[i] = true;
                    false
                }
                None => true,
            }
        })
        .collect()
}
