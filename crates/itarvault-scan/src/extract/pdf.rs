//! PDF text, read without a PDF library: the objects are found by a linear pass (no
//! recursion, whatever the nesting in the file), each stream is decoded by our own
//! filters into zeroizing memory, and the strings that content streams show are
//! turned back into text, through the fonts' ToUnicode maps where they have one.
//!
//! What this reads: page and form content (the text a reader sees, words and lines
//! rebuilt from the text positioning operators), strings in compressed object streams
//! (document information), and every other stream as content of its own (XMP
//! metadata, attachments, which may be containers). What it does not: text drawn as
//! outlines or images (no OCR), fonts without a ToUnicode map whose codes are not
//! ASCII, encrypted documents (reported as not checked).

use super::inflate::{Inflater, BLOCK};
use super::{join, Extraction, Node, Unchecked, Unreadable};
use crate::matcher::Stream;
use crate::secret::SecretBuf;
use memchr::memmem;
use std::collections::{HashMap, HashSet};
use zeroize::Zeroize;

/// Names and keywords longer than this are cut (none that matters is longer).
const WORD_MAX: usize = 64;
/// A string kept as a token (a ToUnicode map's codes and text) is cut here.
const TOKEN_STRING_MAX: usize = 1024;
/// Entries a single ToUnicode map may hold.
const CMAP_MAX: usize = 1 << 16;
/// Tokens kept from one dictionary or map: bounds what a hostile file can make this
/// allocate (a ToUnicode map of the largest size needs about 200 000).
const TOKENS_MAX: usize = 1 << 18;

/// Decodes the PDF in `bytes` (a node at `path`; attachments become nodes at `depth`).
pub(crate) fn extract(bytes: &[u8], path: &str, depth: u32, root: bool, ctx: &mut Extraction<'_>) {
    if memmem::find(bytes, b"/Encrypt").is_some() {
        return ctx.note(Unchecked::Encrypted {
            entry: path.to_string(),
        });
    }
    let mut structure = Structure::default();
    let (streams, complete) = index(bytes, &mut structure);
    if complete == 0 {
        return ctx.note(Unchecked::Corrupt {
            entry: path.to_string(),
            detail: "no PDF object parses".into(),
        });
    }
    let mut text = ctx.scanner.stream(false);
    let mut shown = false;
    let no_fonts = Fonts::default();
    // Object streams hold dictionaries (fonts, pages, document information): read
    // them first, so that the structure sees every object.
    for object in streams.iter().filter(|o| o.packed.is_some()) {
        if let Some(decoded) = decode_whole(object, &object.name(path), ctx) {
            // Strings in them (a title, a subject) are text too.
            let mut reader = ContentText::new(&no_fonts);
            run_lexer(decoded.as_slice(), &mut reader, &mut text);
            for (number, tokens) in unpack(object, decoded.as_slice()) {
                structure.add(number, &tokens);
            }
            ctx.release(decoded.len());
        }
    }
    let fonts = structure.fonts(&streams, path, ctx);
    for object in &streams {
        match structure.kind(object) {
            StreamKind::Skip => {}
            StreamKind::Content => {
                let mut reader = ContentText::new(&fonts);
                let mut lexer = Lexer::default();
                decode(object, &object.name(path), ctx, &mut |piece, _| {
                    lexer.feed(piece, &mut |event| {
                        reader.event(event, &mut |t| text.push(t))
                    });
                });
                lexer.finish(&mut |event| reader.event(event, &mut |t| text.push(t)));
                shown |= reader.shown;
                text.push(b"\n");
            }
            StreamKind::Other => {
                let mut node = Node::new(object.name(path), depth, ctx);
                decode(object, &object.name(path), ctx, &mut |piece, ctx| {
                    node.push(piece, ctx)
                });
                node.finish(ctx);
            }
        }
    }
    let found = text.finish();
    ctx.record(path, found);
    if root && !shown {
        ctx.unreadable = Some(Unreadable::PdfWithoutText);
    }
}

/// A stream object: its bytes and what its dictionary says about them. Other objects
/// leave only what [`Structure`] keeps.
struct StreamObject<'a> {
    number: u32,
    data: &'a [u8],
    filters: Vec<Vec<u8>>,
    /// Images, font programs, cross-reference and object streams.
    skip: bool,
    form: bool,
    /// An object stream: its object count and where its first object starts.
    packed: Option<(usize, usize)>,
}

impl<'a> StreamObject<'a> {
    fn new(number: u32, data: &'a [u8], tokens: &[Token]) -> Self {
        let has = |key: &[u8], value: &[u8]| {
            tokens
                .windows(2)
                .any(|w| matches!(w, [Token::Name(k), Token::Name(v)] if k == key && v == value))
        };
        let key = |key: &[u8]| {
            tokens
                .iter()
                .any(|t| matches!(t, Token::Name(k) if k == key))
        };
        let number_after = |key: &[u8]| {
            tokens.windows(2).find_map(|w| match w {
                [Token::Name(k), Token::Word(n)] if k == key => {
                    std::str::from_utf8(n).ok()?.parse::<usize>().ok()
                }
                _ => None,
            })
        };
        let packed = has(b"Type", b"ObjStm")
            .then(|| Some((number_after(b"N")?, number_after(b"First")?)))
            .flatten();
        let skip = has(b"Type", b"ObjStm")
            || has(b"Type", b"XRef")
            || ["Image", "Type1C", "CIDFontType0C", "OpenType"]
                .iter()
                .any(|v| has(b"Subtype", v.as_bytes()))
            || key(b"Length1")
            || key(b"Length2");
        Self {
            number,
            data,
            filters: filters(tokens),
            skip,
            form: has(b"Subtype", b"Form"),
            packed,
        }
    }

    fn name(&self, path: &str) -> String {
        join(path, &format!("object {}", self.number))
    }
}

/// The `/Filter` names, in order.
fn filters(tokens: &[Token]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = tokens
        .iter()
        .skip_while(|t| !matches!(t, Token::Name(n) if n == b"Filter"));
    rest.next();
    match rest.next() {
        Some(Token::Name(n)) => out.push(n.clone()),
        Some(Token::ArrayOpen) => {
            for t in rest {
                match t {
                    Token::Name(n) => out.push(n.clone()),
                    _ => break,
                }
            }
        }
        _ => {}
    }
    out
}

/// Finds the objects of the file in one pass, handing each dictionary to `structure`;
/// returns the stream objects and how many objects ended properly (with `endobj` or
/// `endstream`). A stream's bytes are skipped, so an `obj` inside one is never taken
/// for an object.
fn index<'a>(bytes: &'a [u8], structure: &mut Structure) -> (Vec<StreamObject<'a>>, usize) {
    let mut streams = Vec::new();
    let mut complete = 0;
    let mut from = 0;
    let finder = memmem::Finder::new(b"obj");
    while let Some(found) = finder.find(&bytes[from..]) {
        let at = from + found;
        from = at + 3;
        let Some(number) = object_number(bytes, at) else {
            continue;
        };
        if bytes.get(at + 3).is_some_and(|b| is_regular(*b)) {
            continue;
        }
        let body_start = at + 3;
        let end = memmem::find(&bytes[body_start..], b"endobj").map(|e| body_start + e);
        let stream_at = memmem::find(&bytes[body_start..], b"stream")
            .map(|s| body_start + s)
            .filter(|s| end.is_none_or(|e| *s < e) && stream_keyword(bytes, *s));
        let dict_end = stream_at.or(end).unwrap_or(bytes.len());
        let tokens = tokens(&bytes[body_start..dict_end], false);
        structure.add(number, &tokens);
        if let Some(s) = stream_at {
            let data_start = skip_eol(bytes, s + 6);
            let (data, after) = stream_data(bytes, data_start, &tokens);
            streams.push(StreamObject::new(number, data, &tokens));
            complete += usize::from(after.is_some());
            from = after.unwrap_or(bytes.len());
        } else if let Some(e) = end {
            complete += 1;
            from = e + 6;
        }
    }
    (streams, complete)
}

/// The object number of an `N G obj` header ending at `at`.
fn object_number(bytes: &[u8], at: usize) -> Option<u32> {
    let mut i = at;
    let field = |i: &mut usize| -> Option<u32> {
        while *i > 0 && bytes[*i - 1].is_ascii_whitespace() {
            *i -= 1;
        }
        let end = *i;
        while *i > 0 && bytes[*i - 1].is_ascii_digit() {
            *i -= 1;
        }
        std::str::from_utf8(&bytes[*i..end]).ok()?.parse().ok()
    };
    let spaced = at > 0 && bytes[at - 1].is_ascii_whitespace();
    field(&mut i)?;
    let number = field(&mut i)?;
    let starts = i == 0 || !is_regular(bytes[i - 1]);
    (spaced && starts).then_some(number)
}

fn stream_keyword(bytes: &[u8], at: usize) -> bool {
    let before = at.checked_sub(1).and_then(|i| bytes.get(i));
    let after = bytes.get(at + 6);
    before.is_some_and(|b| b.is_ascii_whitespace() || *b == b'>')
        && matches!(after, Some(b'\r' | b'\n'))
}

fn skip_eol(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at..at + 2) {
        Some(b"\r\n") => at + 2,
        _ if matches!(bytes.get(at), Some(b'\n' | b'\r')) => at + 1,
        _ => at,
    }
}

/// A stream's bytes (by a direct `/Length` when it checks out, else up to
/// `endstream`) and where the scan goes on (`None`: the file ends inside it).
fn stream_data<'a>(bytes: &'a [u8], start: usize, tokens: &[Token]) -> (&'a [u8], Option<usize>) {
    let length = tokens.windows(3).find_map(|w| match w {
        [Token::Name(k), Token::Word(n), next] if k == b"Length" && !is_reference(next) => {
            std::str::from_utf8(n).ok()?.parse::<usize>().ok()
        }
        _ => None,
    });
    if let Some(len) = length {
        let end = start.saturating_add(len);
        if let Some(rest) = bytes.get(end..) {
            let trimmed = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            if rest[trimmed..].starts_with(b"endstream") {
                return (&bytes[start..end], Some(end + trimmed + 9));
            }
        }
    }
    match memmem::find(&bytes[start..], b"endstream") {
        Some(e) => {
            let mut end = start + e;
            if bytes[..end].ends_with(b"\r\n") {
                end -= 2;
            } else if bytes[..end].ends_with(b"\n") || bytes[..end].ends_with(b"\r") {
                end -= 1;
            }
            (&bytes[start..end.max(start)], Some(start + e + 9))
        }
        None => (&bytes[start..], None),
    }
}

fn is_reference(token: &Token) -> bool {
    matches!(token, Token::Word(w) if w.iter().all(u8::is_ascii_digit))
}

/// PDF's regular characters: everything but white space and delimiters.
fn is_regular(b: u8) -> bool {
    !b.is_ascii_whitespace() && b != 0 && !b"()<>[]{}/%".contains(&b)
}

/// The objects of a decoded object stream: `/N` pairs of object number and offset
/// (from `/First`), then the objects themselves.
fn unpack(object: &StreamObject<'_>, decoded: &[u8]) -> Vec<(u32, Vec<Token>)> {
    let Some((count, first)) = object.packed else {
        return Vec::new();
    };
    let first = first.min(decoded.len());
    let numbers: Vec<usize> = tokens(&decoded[..first], false)
        .iter()
        .map_while(|t| match t {
            Token::Word(w) => std::str::from_utf8(w).ok()?.parse().ok(),
            _ => None,
        })
        .take(count.saturating_mul(2))
        .collect();
    let pairs: Vec<(u32, usize)> = numbers
        .chunks_exact(2)
        .filter_map(|p| Some((u32::try_from(p[0]).ok()?, p[1])))
        .collect();
    let at = |offset: usize| first.saturating_add(offset).min(decoded.len());
    pairs
        .iter()
        .enumerate()
        .map(|(i, (number, offset))| {
            let start = at(*offset);
            let end = pairs.get(i + 1).map_or(decoded.len(), |(_, o)| at(*o));
            (*number, tokens(&decoded[start..end.max(start)], false))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    /// Page or form content: its strings are the text.
    Content,
    /// Images, fonts, cross-reference and object streams, ToUnicode maps.
    Skip,
    /// Anything else (metadata, attachments): content of its own.
    Other,
}

/// What the dictionaries say: which streams are page content, which fonts map to
/// which ToUnicode maps and under which resource names. Built object by object, so
/// that no object's tokens outlive its reading.
#[derive(Default)]
struct Structure {
    contents: HashSet<u32>,
    to_unicode: HashMap<u32, u32>,
    cmaps: HashSet<u32>,
    /// Resource name (`F1`) to font objects.
    font_names: HashMap<Vec<u8>, Vec<u32>>,
    /// `/Font 12 0 R`: resource dictionaries held in objects of their own.
    font_dict_refs: HashSet<u32>,
    /// Objects that are dictionaries of `/Name N G R` pairs (maybe font resources).
    pair_dicts: HashMap<u32, Vec<(Vec<u8>, u32)>>,
}

impl Structure {
    fn add(&mut self, number: u32, t: &[Token]) {
        if let Some(Token::DictOpen) = t.first() {
            let pairs = name_refs(&t[1..]);
            if !pairs.is_empty() {
                self.pair_dicts.insert(number, pairs);
            }
        }
        for (i, token) in t.iter().enumerate() {
            let Token::Name(key) = token else { continue };
            let rest = &t[i + 1..];
            match key.as_slice() {
                b"ToUnicode" => {
                    if let Some(target) = reference(rest) {
                        self.to_unicode.insert(number, target);
                        self.cmaps.insert(target);
                    }
                }
                b"Contents" => match rest.first() {
                    Some(Token::ArrayOpen) => {
                        let mut r = &rest[1..];
                        while let Some(target) = reference(r) {
                            self.contents.insert(target);
                            r = &r[3..];
                        }
                    }
                    _ => {
                        if let Some(target) = reference(rest) {
                            self.contents.insert(target);
                        }
                    }
                },
                b"Font" => match rest.first() {
                    Some(Token::DictOpen) => {
                        for (name, target) in name_refs(&rest[1..]) {
                            self.font_names.entry(name).or_default().push(target);
                        }
                    }
                    _ => {
                        if let Some(target) = reference(rest) {
                            self.font_dict_refs.insert(target);
                        }
                    }
                },
                _ => {}
            }
        }
    }

    fn kind(&self, object: &StreamObject<'_>) -> StreamKind {
        if object.skip || self.cmaps.contains(&object.number) {
            StreamKind::Skip
        } else if object.form || self.contents.contains(&object.number) {
            StreamKind::Content
        } else {
            StreamKind::Other
        }
    }

    /// Each resource name's ToUnicode map, read from the streams the fonts point to.
    fn fonts(
        &mut self,
        streams: &[StreamObject<'_>],
        path: &str,
        ctx: &mut Extraction<'_>,
    ) -> Fonts {
        for number in &self.font_dict_refs {
            for (name, target) in self.pair_dicts.get(number).into_iter().flatten() {
                self.font_names
                    .entry(name.clone())
                    .or_default()
                    .push(*target);
            }
        }
        let mut maps: HashMap<u32, usize> = HashMap::new();
        let mut fonts = Fonts::default();
        for object in streams.iter().filter(|o| self.cmaps.contains(&o.number)) {
            if let Some(decoded) = decode_whole(object, &object.name(path), ctx) {
                maps.insert(object.number, fonts.maps.len());
                fonts.maps.push(CMap::parse(decoded.as_slice()));
                ctx.release(decoded.len());
            }
        }
        for (name, targets) in &self.font_names {
            let map = targets
                .iter()
                .find_map(|font| maps.get(self.to_unicode.get(font)?).copied());
            if let Some(map) = map {
                fonts.by_name.insert(name.clone(), map);
            }
        }
        fonts
    }
}

/// `/F1 5 0 R /F2 7 0 R …`: the leading name-reference pairs of a dictionary.
fn name_refs(mut t: &[Token]) -> Vec<(Vec<u8>, u32)> {
    let mut out = Vec::new();
    while let Some(Token::Name(name)) = t.first() {
        let Some(target) = reference(&t[1..]) else {
            break;
        };
        out.push((name.clone(), target));
        t = &t[4..];
    }
    out
}

/// `N G R` at the start of `t`.
fn reference(t: &[Token]) -> Option<u32> {
    match t {
        [Token::Word(n), Token::Word(g), Token::Word(r), ..]
            if r == b"R" && g.iter().all(u8::is_ascii_digit) =>
        {
            std::str::from_utf8(n).ok()?.parse().ok()
        }
        _ => None,
    }
}

#[derive(Default)]
struct Fonts {
    maps: Vec<CMap>,
    by_name: HashMap<Vec<u8>, usize>,
}

/// A ToUnicode map: character codes of `width` bytes to text.
#[derive(Default)]
struct CMap {
    width: usize,
    map: HashMap<u32, String>,
}

impl CMap {
    fn parse(data: &[u8]) -> Self {
        let t = tokens(data, true);
        let mut cmap = Self {
            width: 2,
            map: HashMap::new(),
        };
        let word = |i: usize, w: &[u8]| matches!(t.get(i), Some(Token::Word(x)) if x == w);
        let mut i = 0;
        while i < t.len() {
            if word(i, b"begincodespacerange") {
                if let Some(Token::String(lo)) = t.get(i + 1) {
                    cmap.width = lo.len().clamp(1, 4);
                }
            } else if word(i, b"beginbfchar") {
                i += 1;
                while let (Some(Token::String(src)), Some(Token::String(dst))) =
                    (t.get(i), t.get(i + 1))
                {
                    cmap.insert(code(src), utf16_text(dst));
                    i += 2;
                }
                continue;
            } else if word(i, b"beginbfrange") {
                i += 1;
                while let (Some(Token::String(lo)), Some(Token::String(hi))) =
                    (t.get(i), t.get(i + 1))
                {
                    let (lo, hi) = (code(lo), code(hi));
                    i += 2;
                    match t.get(i) {
                        Some(Token::String(dst)) => {
                            for (offset, c) in (lo..=hi.min(lo.saturating_add(0xFFFF))).enumerate()
                            {
                                cmap.insert(c, shifted(dst, offset));
                            }
                            i += 1;
                        }
                        Some(Token::ArrayOpen) => {
                            i += 1;
                            let mut c = lo;
                            while let Some(Token::String(dst)) = t.get(i) {
                                cmap.insert(c, utf16_text(dst));
                                c = c.saturating_add(1);
                                i += 1;
                            }
                            i += 1;
                        }
                        _ => break,
                    }
                }
                continue;
            }
            i += 1;
        }
        cmap
    }

    fn insert(&mut self, code: u32, text: String) {
        if self.map.len() < CMAP_MAX {
            self.map.insert(code, text);
        }
    }
}

fn code(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0, |n, b| (n << 8) | u32::from(*b))
}

fn utf16_text(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// A bfrange destination with its last code unit moved on by `offset`.
fn shifted(dst: &[u8], offset: usize) -> String {
    let mut units: Vec<u16> = dst
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    if let Some(last) = units.last_mut() {
        *last = last.wrapping_add(u16::try_from(offset).unwrap_or(u16::MAX));
    }
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Runs `data` through each of the stream's filters into `sink` (inflated bytes count
/// against the decompression limit). Image streams are skipped; a filter that cannot
/// be decoded is noted as not checked.
fn decode<'s>(
    object: &StreamObject<'_>,
    name: &str,
    ctx: &mut Extraction<'s>,
    sink: &mut dyn FnMut(&[u8], &mut Extraction<'s>),
) {
    let (filters, data) = (&object.filters, object.data);
    let mut ascii: Option<SecretBuf> = None;
    let mut flate = false;
    for (i, filter) in filters.iter().enumerate() {
        match filter.as_slice() {
            b"FlateDecode" | b"Fl" if i + 1 == filters.len() => flate = true,
            b"ASCIIHexDecode" | b"AHx" | b"ASCII85Decode" | b"A85" => {
                let input = ascii.as_ref().map_or(data, SecretBuf::as_slice);
                let mut out = SecretBuf::new(input.len());
                if filter.starts_with(b"ASCIIHex") || filter == b"AHx" {
                    ascii_hex(input, &mut out);
                } else {
                    ascii85(input, &mut out);
                }
                ascii = Some(out);
            }
            b"DCTDecode" | b"DCT" | b"JPXDecode" | b"JBIG2Decode" | b"CCITTFaxDecode" | b"CCF" => {
                return
            }
            other => {
                return ctx.note(Unchecked::UnsupportedCompression {
                    entry: name.to_string(),
                    method: format!("PDF {}", String::from_utf8_lossy(other)),
                })
            }
        }
    }
    let input = ascii.as_ref().map_or(data, SecretBuf::as_slice);
    if !flate {
        return sink(input, ctx);
    }
    if ctx.exhausted() {
        return;
    }
    let mut inflater = Inflater::zlib(ctx.budget.max_ratio);
    let mut out = |piece: &[u8]| {
        let allowed = ctx.admit(piece.len(), name);
        sink(&piece[..allowed], ctx);
        allowed == piece.len()
    };
    let blocks = input.chunks(BLOCK);
    let last = blocks.len();
    for (i, block) in blocks.enumerate() {
        match inflater.feed(block, i + 1 < last, &mut out) {
            Ok(fed) if fed.done || fed.stopped => {
                if let Some(limit) = fed.expanded_past {
                    ctx.note(Unchecked::DecompressionLimit {
                        entry: name.to_string(),
                        limit,
                    });
                }
                return;
            }
            Ok(_) => {}
            // A stream cut short still gave what it had; only undecodable data is
            // damage.
            Err(_) => {
                return ctx.note(Unchecked::Corrupt {
                    entry: name.to_string(),
                    detail: "its Flate data does not decode".into(),
                })
            }
        }
    }
}

/// A stream decoded whole (object streams, ToUnicode maps), within the memory budget.
fn decode_whole(
    object: &StreamObject<'_>,
    name: &str,
    ctx: &mut Extraction<'_>,
) -> Option<SecretBuf> {
    let mut out = SecretBuf::new(ctx.budget.memory);
    let mut over = false;
    decode(object, name, ctx, &mut |piece, ctx| {
        if over || !ctx.reserve(piece.len()) {
            over = true;
            return;
        }
        out.extend(piece);
    });
    if over {
        ctx.release(out.len());
        ctx.note(Unchecked::OverBudget {
            entry: name.to_string(),
            budget: ctx.budget.memory as u64,
        });
        return None;
    }
    Some(out)
}

fn ascii_hex(input: &[u8], out: &mut SecretBuf) {
    let mut high = None;
    for &b in input {
        if b == b'>' {
            break;
        }
        let Some(v) = (b as char).to_digit(16) else {
            continue;
        };
        let v = v as u8;
        match high.take() {
            Some(h) => out.extend(&[(h << 4) | v]),
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        out.extend(&[h << 4]);
    }
}

fn ascii85(input: &[u8], out: &mut SecretBuf) {
    let mut group = [0u8; 5];
    let mut n = 0;
    let body = input.strip_prefix(b"<~").unwrap_or(input);
    for &b in body {
        match b {
            b'~' => break,
            b'z' if n == 0 => out.extend(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = b - b'!';
                n += 1;
                if n == 5 {
                    let value = group
                        .iter()
                        .fold(0u32, |v, d| v.wrapping_mul(85).wrapping_add(u32::from(*d)));
                    out.extend(&value.to_be_bytes());
                    n = 0;
                }
            }
            _ => {}
        }
    }
    if n > 1 {
        for slot in group.iter_mut().skip(n) {
            *slot = 84;
        }
        let value = group
            .iter()
            .fold(0u32, |v, d| v.wrapping_mul(85).wrapping_add(u32::from(*d)));
        out.extend(&value.to_be_bytes()[..n - 1]);
    }
    group.zeroize();
}

/// A lexical token kept for structure (dictionaries, ToUnicode maps).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Name(Vec<u8>),
    /// A number, an operator or a keyword (`R`, `beginbfchar`).
    Word(Vec<u8>),
    String(Vec<u8>),
    ArrayOpen,
    ArrayClose,
    DictOpen,
    DictClose,
}

/// The tokens of `data`, at most [`TOKENS_MAX`] of them. String contents are kept
/// only when asked for (a ToUnicode map's codes): a dictionary's strings are document
/// text, which is matched elsewhere and not copied here.
fn tokens(data: &[u8], keep_strings: bool) -> Vec<Token> {
    struct Collect(Vec<Token>, bool);
    impl Reader for Collect {
        fn event(&mut self, event: Event<'_>, _: &mut dyn FnMut(&[u8])) {
            if self.0.len() >= TOKENS_MAX {
                return;
            }
            let token = match event {
                Event::Name(n) => Token::Name(n.to_vec()),
                Event::Word(w) => Token::Word(w.to_vec()),
                Event::StringStart => Token::String(Vec::new()),
                Event::StringBytes(b) => {
                    if !self.1 {
                        return;
                    }
                    if let Some(Token::String(s)) = self.0.last_mut() {
                        let room = TOKEN_STRING_MAX.saturating_sub(s.len());
                        s.extend_from_slice(&b[..room.min(b.len())]);
                    }
                    return;
                }
                Event::StringEnd => return,
                Event::ArrayOpen => Token::ArrayOpen,
                Event::ArrayClose => Token::ArrayClose,
                Event::DictOpen => Token::DictOpen,
                Event::DictClose => Token::DictClose,
            };
            self.0.push(token);
        }
    }
    let mut collect = Collect(Vec::new(), keep_strings);
    let mut lexer = Lexer::default();
    let mut discard = |_: &[u8]| {};
    lexer.feed(data, &mut |e| collect.event(e, &mut discard));
    lexer.finish(&mut |e| collect.event(e, &mut discard));
    collect.0
}

fn run_lexer(data: &[u8], reader: &mut dyn Reader, text: &mut Stream<'_>) {
    let mut lexer = Lexer::default();
    lexer.feed(data, &mut |e| reader.event(e, &mut |t| text.push(t)));
    lexer.finish(&mut |e| reader.event(e, &mut |t| text.push(t)));
}

/// What the lexer hands out.
#[derive(Debug)]
enum Event<'a> {
    Name(&'a [u8]),
    Word(&'a [u8]),
    StringStart,
    /// Decoded string bytes (escapes resolved, hex digits paired).
    StringBytes(&'a [u8]),
    StringEnd,
    ArrayOpen,
    ArrayClose,
    DictOpen,
    DictClose,
}

trait Reader {
    fn event(&mut self, event: Event<'_>, out: &mut dyn FnMut(&[u8]));
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Lex {
    #[default]
    Normal,
    Comment,
    Literal,
    Escape,
    Octal,
    Hex,
    /// After `<`: a dictionary or a hex string.
    Less,
    /// After `>`: the end of a dictionary, or a stray byte.
    Greater,
    Name,
    Word,
    /// Inline image data after `ID`, up to `EI`.
    Inline,
}

/// PDF's lexical level (ISO 32000-1, 7.2), fed in pieces of any size: a state
/// machine, so that deep nesting costs a counter, never stack.
struct Lexer {
    state: Lex,
    depth: u32,
    word: [u8; WORD_MAX],
    word_len: usize,
    octal: u32,
    octal_digits: u8,
    high: Option<u8>,
    inline: u8,
}

impl Default for Lexer {
    fn default() -> Self {
        Self {
            state: Lex::Normal,
            depth: 0,
            word: [0; WORD_MAX],
            word_len: 0,
            octal: 0,
            octal_digits: 0,
            high: None,
            inline: 0,
        }
    }
}

impl Drop for Lexer {
    fn drop(&mut self) {
        self.word.zeroize();
    }
}

impl Lexer {
    fn feed(&mut self, data: &[u8], emit: &mut dyn FnMut(Event<'_>)) {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self.state {
                Lex::Normal => {
                    i += 1;
                    match b {
                        b'%' => self.state = Lex::Comment,
                        b'(' => {
                            self.depth = 1;
                            self.state = Lex::Literal;
                            emit(Event::StringStart);
                        }
                        b'<' => self.state = Lex::Less,
                        b'>' => self.state = Lex::Greater,
                        b'[' => emit(Event::ArrayOpen),
                        b']' => emit(Event::ArrayClose),
                        b'/' => {
                            self.word_len = 0;
                            self.state = Lex::Name;
                        }
                        b if is_regular(b) => {
                            self.word[0] = b;
                            self.word_len = 1;
                            self.state = Lex::Word;
                        }
                        _ => {}
                    }
                }
                Lex::Comment => {
                    let rest = &data[i..];
                    match memchr::memchr2(b'\n', b'\r', rest) {
                        Some(e) => {
                            i += e + 1;
                            self.state = Lex::Normal;
                        }
                        None => i = data.len(),
                    }
                }
                Lex::Literal => {
                    let rest = &data[i..];
                    let run = memchr::memchr3(b'(', b')', b'\\', rest).unwrap_or(rest.len());
                    if run > 0 {
                        emit(Event::StringBytes(&rest[..run]));
                    }
                    i += run;
                    let Some(&special) = data.get(i) else { break };
                    i += 1;
                    match special {
                        b'\\' => self.state = Lex::Escape,
                        b'(' => {
                            self.depth += 1;
                            emit(Event::StringBytes(b"("));
                        }
                        _ => {
                            self.depth -= 1;
                            if self.depth == 0 {
                                self.state = Lex::Normal;
                                emit(Event::StringEnd);
                            } else {
                                emit(Event::StringBytes(b")"));
                            }
                        }
                    }
                }
                Lex::Escape => {
                    i += 1;
                    self.state = Lex::Literal;
                    let decoded: &[u8] = match b {
                        b'n' => b"\n",
                        b'r' => b"\r",
                        b't' => b"\t",
                        b'b' => b"\x08",
                        b'f' => b"\x0C",
                        b'\r' | b'\n' => b"",
                        b'0'..=b'7' => {
                            self.octal = u32::from(b - b'0');
                            self.octal_digits = 1;
                            self.state = Lex::Octal;
                            b""
                        }
                        _ => std::slice::from_ref(&data[i - 1]),
                    };
                    if !decoded.is_empty() {
                        emit(Event::StringBytes(decoded));
                    }
                }
                Lex::Octal => {
                    if (b'0'..=b'7').contains(&b) && self.octal_digits < 3 {
                        self.octal = self.octal * 8 + u32::from(b - b'0');
                        self.octal_digits += 1;
                        i += 1;
                    } else {
                        let byte = [(self.octal & 0xFF) as u8];
                        emit(Event::StringBytes(&byte));
                        self.state = Lex::Literal;
                    }
                }
                Lex::Less => {
                    if b == b'<' {
                        i += 1;
                        self.state = Lex::Normal;
                        emit(Event::DictOpen);
                    } else {
                        self.high = None;
                        self.state = Lex::Hex;
                        emit(Event::StringStart);
                    }
                }
                Lex::Greater => {
                    self.state = Lex::Normal;
                    if b == b'>' {
                        i += 1;
                        emit(Event::DictClose);
                    }
                }
                Lex::Hex => {
                    i += 1;
                    if b == b'>' {
                        if let Some(h) = self.high.take() {
                            emit(Event::StringBytes(&[h << 4]));
                        }
                        self.state = Lex::Normal;
                        emit(Event::StringEnd);
                    } else if let Some(v) = (b as char).to_digit(16) {
                        let v = v as u8;
                        match self.high.take() {
                            Some(h) => emit(Event::StringBytes(&[(h << 4) | v])),
                            None => self.high = Some(v),
                        }
                    }
                }
                Lex::Name | Lex::Word => {
                    if is_regular(b) {
                        if self.word_len < WORD_MAX {
                            self.word[self.word_len] = b;
                            self.word_len += 1;
                        }
                        i += 1;
                    } else {
                        self.end_word(emit);
                    }
                }
                Lex::Inline => {
                    i += 1;
                    self.inline = match (self.inline, b) {
                        (1, b'E') => 2,
                        (2, b'I') => 3,
                        (3, b) if !is_regular(b) => {
                            self.state = Lex::Normal;
                            0
                        }
                        (_, b) if b.is_ascii_whitespace() => 1,
                        _ => 0,
                    };
                }
            }
        }
    }

    fn finish(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        match self.state {
            Lex::Name | Lex::Word => self.end_word(emit),
            Lex::Octal => {
                emit(Event::StringBytes(&[(self.octal & 0xFF) as u8]));
                emit(Event::StringEnd);
            }
            Lex::Literal | Lex::Escape | Lex::Hex => emit(Event::StringEnd),
            _ => {}
        }
        self.state = Lex::Normal;
    }

    fn end_word(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        let word = &self.word[..self.word_len];
        if self.state == Lex::Name {
            self.state = Lex::Normal;
            emit(Event::Name(word));
        } else if word == b"ID" {
            self.state = Lex::Inline;
            self.inline = 1;
        } else {
            self.state = Lex::Normal;
            emit(Event::Word(word));
        }
    }
}

/// Rebuilds text from a content stream: the strings that text operators show,
/// decoded through the selected font's ToUnicode map; a space where the text moves
/// along the line (a `TJ` gap of a word space or more, a new position on the same
/// line), a line break where it moves to another line. Outside text objects (in
/// object streams) each string stands on its own line.
struct ContentText<'f> {
    fonts: &'f Fonts,
    font: Option<usize>,
    in_text: bool,
    arrays: u32,
    operands: [f64; 6],
    operand_count: usize,
    last_name: Vec<u8>,
    y: f64,
    shown_y: Option<f64>,
    moved: bool,
    new_line: bool,
    code: [u8; 4],
    code_len: usize,
    /// Bytes of a string outside text: the first two say whether it is UTF-16.
    head: [u8; 2],
    head_len: usize,
    utf16: bool,
    shown: bool,
}

impl Drop for ContentText<'_> {
    fn drop(&mut self) {
        self.code.zeroize();
        self.head.zeroize();
        self.last_name.zeroize();
    }
}

impl<'f> ContentText<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Self {
            fonts,
            font: None,
            in_text: false,
            arrays: 0,
            operands: [0.0; 6],
            operand_count: 0,
            last_name: Vec::new(),
            y: 0.0,
            shown_y: None,
            moved: false,
            new_line: false,
            code: [0; 4],
            code_len: 0,
            head: [0; 2],
            head_len: 0,
            utf16: false,
            shown: false,
        }
    }

    fn operand(&self, from_end: usize) -> f64 {
        self.operand_count
            .checked_sub(from_end)
            .and_then(|i| self.operands.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    fn operator(&mut self, op: &[u8], out: &mut dyn FnMut(&[u8])) {
        match op {
            b"BT" => {
                self.in_text = true;
                self.y = 0.0;
                self.moved = true;
            }
            b"ET" => self.in_text = false,
            b"Td" | b"TD" => {
                self.y += self.operand(1);
                self.moved = true;
            }
            b"Tm" => {
                self.y = self.operand(1);
                self.moved = true;
            }
            b"T*" => self.new_line = true,
            b"'" | b"\"" => {
                out(b"\n");
                self.shown_y = None;
            }
            b"Tf" => {
                self.font = self.fonts.by_name.get(&self.last_name).copied();
            }
            _ => {}
        }
        self.operand_count = 0;
    }

    fn string_bytes(&mut self, bytes: &[u8], out: &mut dyn FnMut(&[u8])) {
        let map = self
            .font
            .filter(|_| self.in_text)
            .and_then(|i| self.fonts.maps.get(i));
        for &b in bytes {
            if let Some(map) = map {
                self.code[self.code_len] = b;
                self.code_len += 1;
                if self.code_len == map.width.clamp(1, 4) {
                    if let Some(text) = map.map.get(&code(&self.code[..self.code_len])) {
                        out(text.as_bytes());
                    }
                    self.code_len = 0;
                }
                continue;
            }
            if !self.in_text && self.head_len < 2 {
                self.head[self.head_len] = b;
                self.head_len += 1;
                if self.head_len == 2 {
                    self.utf16 = self.head == [0xFE, 0xFF];
                    if !self.utf16 {
                        let head = self.head;
                        latin1(&head, out);
                    }
                }
                continue;
            }
            if self.utf16 {
                self.code[self.code_len] = b;
                self.code_len += 1;
                if self.code_len == 2 {
                    out(utf16_text(&self.code[..2]).as_bytes());
                    self.code_len = 0;
                }
            } else {
                latin1(&[b], out);
            }
        }
    }
}

/// PDFDocEncoding and the standard Latin encodings agree with Latin-1 on what a marking
/// is made of.
fn latin1(bytes: &[u8], out: &mut dyn FnMut(&[u8])) {
    for &b in bytes {
        let mut utf8 = [0u8; 4];
        out(char::from(b).encode_utf8(&mut utf8).as_bytes());
    }
}

impl Reader for ContentText<'_> {
    fn event(&mut self, event: Event<'_>, out: &mut dyn FnMut(&[u8])) {
        match event {
            Event::Name(name) => {
                self.last_name.clear();
                self.last_name.extend_from_slice(name);
                if !self.in_text {
                    out(b"\n");
                }
            }
            Event::Word(word) => {
                let number = std::str::from_utf8(word)
                    .ok()
                    .and_then(|w| w.parse::<f64>().ok());
                match number {
                    Some(n) => {
                        if self.arrays > 0 && self.in_text && n < -150.0 {
                            out(b" ");
                        }
                        if self.operand_count == self.operands.len() {
                            self.operands.rotate_left(1);
                            self.operand_count -= 1;
                        }
                        self.operands[self.operand_count] = n;
                        self.operand_count += 1;
                    }
                    None => self.operator(word, out),
                }
            }
            Event::StringStart => {
                self.code_len = 0;
                self.head_len = 0;
                self.utf16 = false;
                if self.in_text {
                    self.shown = true;
                    let other_line = self.shown_y.is_some_and(|y| (y - self.y).abs() > 1.0);
                    if self.new_line || other_line {
                        out(b"\n");
                    } else if self.moved && self.shown_y.is_some() {
                        out(b" ");
                    }
                    self.shown_y = Some(self.y);
                    self.moved = false;
                    self.new_line = false;
                }
            }
            Event::StringBytes(bytes) => self.string_bytes(bytes, out),
            Event::StringEnd => {
                if !self.in_text {
                    if self.head_len == 1 {
                        let head = [self.head[0]];
                        latin1(&head, out);
                    }
                    out(b"\n");
                }
                self.code_len = 0;
            }
            Event::ArrayOpen => self.arrays += 1,
            Event::ArrayClose => self.arrays = self.arrays.saturating_sub(1),
            Event::DictOpen | Event::DictClose => {
                if !self.in_text {
                    out(b"\n");
                }
            }
        }
    }
}
