//! Text hidden by its encoding: XML markup between the words of a marking, UTF-16 and
//! UTF-32 code units. Each decoder is fed in pieces and gives the same text whatever the
//! pieces, so that a marking split across upload chunks is still found.

use zeroize::{Zeroize, Zeroizing};

/// Wide text encodings the check decodes before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

impl Encoding {
    fn width(self) -> usize {
        match self {
            Self::Utf16Le | Self::Utf16Be => 2,
            Self::Utf32Le | Self::Utf32Be => 4,
        }
    }

    /// The byte-order mark this encoding starts with, when it has one.
    fn bom(self) -> &'static [u8] {
        match self {
            Self::Utf16Le => b"\xFF\xFE",
            Self::Utf16Be => b"\xFE\xFF",
            Self::Utf32Le => b"\xFF\xFE\x00\x00",
            Self::Utf32Be => b"\x00\x00\xFE\xFF",
        }
    }
}

/// The wide encoding `head` is in: by byte-order mark, or, without one, by the NUL
/// bytes that ASCII text leaves in every code unit (`M\0A\0R\0K\0`). Text in a script
/// without ASCII has no such pattern and is matched as bytes only; binary data that
/// happens to look like UTF-16 costs a decoding pass and no false finding.
pub(crate) fn wide_encoding(head: &[u8]) -> Option<(Encoding, bool)> {
    for encoding in [
        Encoding::Utf32Le,
        Encoding::Utf32Be,
        Encoding::Utf16Le,
        Encoding::Utf16Be,
    ] {
        if head.starts_with(encoding.bom()) {
            return Some((encoding, true));
        }
    }
    let share = |count: usize, of: usize| of > 0 && count * 10 >= of * 9;
    let units32 = head.chunks_exact(4).count();
    if units32 >= 4 {
        let le = head
            .chunks_exact(4)
            .filter(|u| u[0] != 0 && u[1..] == [0, 0, 0])
            .count();
        let be = head
            .chunks_exact(4)
            .filter(|u| u[3] != 0 && u[..3] == [0, 0, 0])
            .count();
        if share(le, units32) {
            return Some((Encoding::Utf32Le, false));
        }
        if share(be, units32) {
            return Some((Encoding::Utf32Be, false));
        }
    }
    let units16 = head.chunks_exact(2).count();
    if units16 >= 8 {
        let le = head
            .chunks_exact(2)
            .filter(|u| u[0] != 0 && u[1] == 0)
            .count();
        let be = head
            .chunks_exact(2)
            .filter(|u| u[0] == 0 && u[1] != 0)
            .count();
        // Most units ASCII (a few accented or other characters allowed), and hardly any
        // with the NUL on the other side.
        let mostly = |n: usize| n * 10 >= units16 * 6;
        let hardly = |n: usize| n * 20 <= units16;
        if mostly(le) && hardly(be) {
            return Some((Encoding::Utf16Le, false));
        }
        if mostly(be) && hardly(le) {
            return Some((Encoding::Utf16Be, false));
        }
    }
    None
}

/// Output is handed on in pieces of at most this many bytes.
const OUT_CAPACITY: usize = 16 << 10;

/// UTF-16 or UTF-32 code units to UTF-8, fed in pieces of any size. Invalid units
/// (unpaired surrogates, values past U+10FFFF) become U+FFFD; a trailing odd byte is
/// dropped.
pub(crate) struct UnitDecoder {
    encoding: Encoding,
    /// Byte-order-mark bytes still to skip.
    skip: usize,
    carry: [u8; 4],
    carried: usize,
    high: Option<u16>,
    out: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for UnitDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitDecoder")
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl Drop for UnitDecoder {
    fn drop(&mut self) {
        self.carry.zeroize();
    }
}

impl UnitDecoder {
    pub(crate) fn new(encoding: Encoding, bom: bool) -> Self {
        Self {
            encoding,
            skip: if bom { encoding.bom().len() } else { 0 },
            carry: [0; 4],
            carried: 0,
            high: None,
            out: Zeroizing::new(Vec::with_capacity(OUT_CAPACITY)),
        }
    }

    pub(crate) fn feed(&mut self, mut input: &[u8], sink: &mut dyn FnMut(&[u8])) {
        let skipped = self.skip.min(input.len());
        self.skip -= skipped;
        input = &input[skipped..];
        let width = self.encoding.width();
        if self.carried > 0 {
            let take = (width - self.carried).min(input.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&input[..take]);
            self.carried += take;
            input = &input[take..];
            if self.carried < width {
                return;
            }
            let unit = self.carry;
            self.carried = 0;
            self.unit(&unit[..width], sink);
        }
        let mut units = input.chunks_exact(width);
        for unit in &mut units {
            self.unit(unit, sink);
        }
        let rest = units.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
        self.flush(sink);
    }

    pub(crate) fn finish(&mut self, sink: &mut dyn FnMut(&[u8])) {
        if self.high.take().is_some() {
            self.emit(char::REPLACEMENT_CHARACTER, sink);
        }
        self.flush(sink);
    }

    fn unit(&mut self, bytes: &[u8], sink: &mut dyn FnMut(&[u8])) {
        let value = match (self.encoding, bytes) {
            (Encoding::Utf16Le, &[a, b]) => u32::from(u16::from_le_bytes([a, b])),
            (Encoding::Utf16Be, &[a, b]) => u32::from(u16::from_be_bytes([a, b])),
            (Encoding::Utf32Le, &[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            (Encoding::Utf32Be, &[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => return,
        };
        if self.encoding.width() == 4 {
            let c = char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER);
            return self.emit(c, sink);
        }
        if let Some(high) = self.high.take() {
            if (0xDC00..0xE000).contains(&value) {
                let joined = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (value - 0xDC00);
                let c = char::from_u32(joined).unwrap_or(char::REPLACEMENT_CHARACTER);
                return self.emit(c, sink);
            }
            self.emit(char::REPLACEMENT_CHARACTER, sink);
        }
        match value {
            0xD800..=0xDBFF => self.high = u16::try_from(value).ok(),
            _ => {
                let c = char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER);
                self.emit(c, sink);
            }
        }
    }

    fn emit(&mut self, c: char, sink: &mut dyn FnMut(&[u8])) {
        if self.out.len() + 4 > OUT_CAPACITY {
            self.flush(sink);
        }
        let mut utf8 = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        utf8.zeroize();
    }

    fn flush(&mut self, sink: &mut dyn FnMut(&[u8])) {
        if !self.out.is_empty() {
            sink(&self.out);
            // Within capacity: no reallocation, the stale bytes are zeroed on drop.
            self.out.clear();
        }
    }
}

/// The text of XML (OOXML parts, S1000D/DITA documents): tags dropped, entities
/// decoded, a line break after each paragraph, row or shared string and a space between
/// cells, so that a marking split into runs (`<w:t>ITAR CON</w:t><w:t>TROLLED</w:t>`)
/// reads as one and words of adjacent paragraphs never join.
#[derive(Default)]
pub(crate) struct XmlText {
    state: XmlState,
    /// Inside a tag: its first byte is still to come, it is a closing tag, its name
    /// has ended.
    tag_first: bool,
    closing: bool,
    name_done: bool,
    /// The local part of the tag name (after its last `:`), as far as it can matter.
    local: [u8; 4],
    local_len: usize,
    /// After `&`: the bytes that may name an entity.
    entity: [u8; ENTITY_MAX],
    entity_len: usize,
}

/// An entity's `;` must come within this many bytes of its `&`.
const ENTITY_MAX: usize = 11;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum XmlState {
    #[default]
    Text,
    Tag,
    Entity,
}

impl std::fmt::Debug for XmlText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlText")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Drop for XmlText {
    fn drop(&mut self) {
        self.local.zeroize();
        self.entity.zeroize();
    }
}

impl XmlText {
    pub(crate) fn feed(&mut self, input: &[u8], sink: &mut dyn FnMut(&[u8])) {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                XmlState::Text => {
                    let rest = &input[i..];
                    let run = memchr::memchr2(b'<', b'&', rest).unwrap_or(rest.len());
                    if run > 0 {
                        sink(&rest[..run]);
                    }
                    i += run;
                    match input.get(i) {
                        Some(b'<') => {
                            self.state = XmlState::Tag;
                            self.tag_first = true;
                            self.closing = false;
                            self.name_done = false;
                            self.local_len = 0;
                        }
                        Some(_) => {
                            self.state = XmlState::Entity;
                            self.entity_len = 0;
                        }
                        None => break,
                    }
                    i += 1;
                }
                XmlState::Tag => {
                    let rest = &input[i..];
                    let end = memchr::memchr(b'>', rest);
                    for &b in &rest[..end.unwrap_or(rest.len())] {
                        self.tag_byte(b);
                    }
                    match end {
                        Some(e) => {
                            self.end_tag(sink);
                            i += e + 1;
                        }
                        None => break,
                    }
                }
                XmlState::Entity => {
                    let b = input[i];
                    i += 1;
                    if b == b';' {
                        self.end_entity(true, sink);
                    } else {
                        self.entity[self.entity_len] = b;
                        self.entity_len += 1;
                        if self.entity_len == ENTITY_MAX {
                            self.end_entity(false, sink);
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn finish(&mut self, sink: &mut dyn FnMut(&[u8])) {
        loop {
            match self.state {
                XmlState::Text => return,
                // An unterminated tag at the end still counts (`<w:br` ends a line).
                XmlState::Tag => self.end_tag(sink),
                XmlState::Entity => self.end_entity(false, sink),
            }
        }
    }

    fn tag_byte(&mut self, b: u8) {
        if std::mem::take(&mut self.tag_first) && b == b'/' {
            self.closing = true;
            return;
        }
        if self.name_done {
            return;
        }
        if b.is_ascii_whitespace() || b == b'/' {
            self.name_done = true;
        } else if b == b':' {
            self.local_len = 0;
        } else if self.local_len < self.local.len() {
            self.local[self.local_len] = b;
            self.local_len += 1;
        } else {
            // Longer than any name that matters, unless a `:` starts it again.
            self.local_len = self.local.len() + 1;
        }
    }

    fn end_tag(&mut self, sink: &mut dyn FnMut(&[u8])) {
        self.state = XmlState::Text;
        let local = self.local.get(..self.local_len).unwrap_or_default();
        match (self.closing, local) {
            (true, b"p" | b"si" | b"row" | b"tr") | (false, b"br" | b"cr") => sink(b"\n"),
            (true, b"c" | b"tc") | (false, b"tab") => sink(b" "),
            _ => {}
        }
    }

    /// Ends an entity: decoded when `terminated` names one; otherwise the `&` is text
    /// and the bytes after it are read again as XML.
    fn end_entity(&mut self, terminated: bool, sink: &mut dyn FnMut(&[u8])) {
        self.state = XmlState::Text;
        let mut held = self.entity;
        let len = std::mem::take(&mut self.entity_len);
        if terminated {
            if let Some(c) = entity(&held[..len]) {
                let mut utf8 = [0u8; 4];
                sink(c.encode_utf8(&mut utf8).as_bytes());
                utf8.zeroize();
                held.zeroize();
                return;
            }
        }
        sink(b"&");
        let mut again = [0u8; ENTITY_MAX + 1];
        again[..len].copy_from_slice(&held[..len]);
        let mut n = len;
        if terminated {
            again[n] = b';';
            n += 1;
        }
        held.zeroize();
        self.feed(&again[..n], sink);
        again.zeroize();
    }
}

fn entity(name: &[u8]) -> Option<char> {
    match name {
        b"amp" => Some('&'),
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        [b'#', b'x' | b'X', hex @ ..] => {
            char::from_u32(u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?)
        }
        [b'#', dec @ ..] => char::from_u32(std::str::from_utf8(dec).ok()?.parse().ok()?),
        _ => None,
    }
}

/// The text of a whole XML document (see [`XmlText`]).
pub fn xml_text(xml: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(xml.len() / 2);
    let mut decoder = XmlText::default();
    decoder.feed(xml, &mut |t| out.extend_from_slice(t));
    decoder.finish(&mut |t| out.extend_from_slice(t));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The one-pass extractor this module replaced: the reference the streaming one
    /// must agree with on every input and every split.
    fn reference_xml_text(xml: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < xml.len() {
            match xml[i] {
                b'<' => {
                    let end = memchr::memchr(b'>', &xml[i..]).map_or(xml.len(), |e| i + e);
                    let tag = &xml[i + 1..end];
                    let closing = tag.first() == Some(&b'/');
                    let name: Vec<u8> = tag
                        .iter()
                        .skip(usize::from(closing))
                        .take_while(|b| !b.is_ascii_whitespace() && **b != b'/')
                        .copied()
                        .collect();
                    let local = name.rsplit(|b| *b == b':').next().unwrap_or(&[]);
                    match (closing, local) {
                        (true, b"p" | b"si" | b"row" | b"tr") | (false, b"br" | b"cr") => {
                            out.push(b'\n')
                        }
                        (true, b"c" | b"tc") | (false, b"tab") => out.push(b' '),
                        _ => {}
                    }
                    i = end + 1;
                }
                b'&' => {
                    let end = xml[i..].iter().take(12).position(|b| *b == b';');
                    match (end, end.and_then(|e| entity(&xml[i + 1..i + e]))) {
                        (Some(e), Some(c)) => {
                            out.extend_from_slice(c.to_string().as_bytes());
                            i += e + 1;
                        }
                        _ => {
                            out.push(b'&');
                            i += 1;
                        }
                    }
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        out
    }

    fn chunked_xml(xml: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut decoder = XmlText::default();
        let mut rest = xml;
        for &cut in cuts {
            let (head, tail) = rest.split_at(cut.min(rest.len()));
            decoder.feed(head, &mut |t| out.extend_from_slice(t));
            rest = tail;
        }
        decoder.feed(rest, &mut |t| out.extend_from_slice(t));
        decoder.finish(&mut |t| out.extend_from_slice(t));
        out
    }

    #[test]
    fn xml_text_keeps_runs_together_and_paragraphs_apart() {
        let xml = br#"<w:p><w:r><w:t>ITAR CON</w:t></w:r><w:r><w:t>TROLLED</w:t></w:r></w:p><w:p><w:t>A&amp;B &#x41;&#66;</w:t></w:p>"#;
        assert_eq!(xml_text(xml), b"ITAR CONTROLLED\nA&B AB\n");
        assert_eq!(xml_text(b"<a>x &bogus; <"), b"x &bogus; ");
        assert_eq!(xml_text(b"a&<w:br/>b&amp"), b"a&\nb&amp");
        assert_eq!(xml_text(b"<w:br"), b"\n");
    }

    proptest! {
        #[test]
        fn streaming_xml_agrees_with_the_one_pass_reference(
            xml in proptest::collection::vec(
                prop_oneof![
                    Just(b'<'), Just(b'>'), Just(b'&'), Just(b';'), Just(b'/'), Just(b':'),
                    Just(b'#'), Just(b'x'), Just(b'p'), Just(b'b'), Just(b'r'), Just(b't'),
                    Just(b'a'), Just(b'm'), Just(b' '), Just(b'1'), Just(b'c'), any::<u8>(),
                ],
                0..200,
            ),
            cuts in proptest::collection::vec(0usize..12, 0..40),
        ) {
            let expected = reference_xml_text(&xml);
            prop_assert_eq!(xml_text(&xml), expected.clone());
            prop_assert_eq!(chunked_xml(&xml, &cuts), expected);
        }
    }

    fn decode(bytes: &[u8], piece: usize) -> String {
        let (encoding, bom) = wide_encoding(bytes).unwrap();
        let mut decoder = UnitDecoder::new(encoding, bom);
        let mut out = Vec::new();
        for chunk in bytes.chunks(piece) {
            decoder.feed(chunk, &mut |t| out.extend_from_slice(t));
        }
        decoder.finish(&mut |t| out.extend_from_slice(t));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn wide_text_is_decoded_by_mark_or_by_its_nul_pattern_in_any_pieces() {
        let text = "USML Category XIX(f) \u{1F680} café";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let le32: Vec<u8> = text
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        let be32: Vec<u8> = text
            .chars()
            .flat_map(|c| u32::from(c).to_be_bytes())
            .collect();
        for (bytes, encoding) in [
            (&le, Encoding::Utf16Le),
            (&be, Encoding::Utf16Be),
            (&le32, Encoding::Utf32Le),
            (&be32, Encoding::Utf32Be),
        ] {
            assert_eq!(wide_encoding(bytes), Some((encoding, false)));
            let mut marked = encoding.bom().to_vec();
            marked.extend_from_slice(bytes);
            assert_eq!(wide_encoding(&marked), Some((encoding, true)));
            for piece in [1, 3, 7, 4096] {
                assert_eq!(decode(bytes, piece), text, "{encoding:?} in {piece}");
                assert_eq!(decode(&marked, piece), text, "{encoding:?} in {piece}");
            }
        }
    }

    #[test]
    fn ordinary_text_and_binaries_are_not_taken_for_wide_text() {
        assert_eq!(
            wide_encoding(b"plain ASCII text, long enough to judge"),
            None
        );
        assert_eq!(wide_encoding(&[0u8; 512]), None);
        assert_eq!(
            wide_encoding(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0"),
            None
        );
        // Unpaired surrogates and a dangling byte decode to replacement characters.
        let mut decoder = UnitDecoder::new(Encoding::Utf16Le, false);
        let mut out = Vec::new();
        decoder.feed(b"\x00\xD8A\x00\x00\xDCB", &mut |t| out.extend_from_slice(t));
        decoder.finish(&mut |t| out.extend_from_slice(t));
        assert_eq!(String::from_utf8(out).unwrap(), "\u{FFFD}A\u{FFFD}");
    }
}
