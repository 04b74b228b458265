//! Well-formedness a chunk at a time, for steps without a schema.
//!
//! A pull parser (quick-xml) reads the document as the host hands it over, so
//! memory holds about one chunk and the open elements' names, whatever the size.
//! The parser alone is lenient; the checks here (and in `chars`, `tag`,
//! `prefixes`) make this path refuse what the tree path (roxmltree) refuses:
//! characters, names, attributes, entity and character references, namespace
//! prefixes, end tags, one root, nothing but markup and white space around it, a
//! DOCTYPE. `streamed_tests` holds the two paths to the same verdicts on known
//! cases and on mutated documents; where roxmltree departs from the XML and
//! Namespaces specs, this path follows the specs (listed there and in the docs).

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use validibot_plugin_api::{Document, ValidatorError};

use crate::chars;
use crate::document::{dtd_refusal, Refusal};
use crate::prefixes::Prefixes;
use crate::tag::{self, Attribute};

/// What a well-formed document held.
#[derive(Debug, Default)]
pub struct Summary {
    pub elements: u64,
}

/// Why a document is not well-formed, at a byte offset of the document.
#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
    pub offset: u64,
}

/// Checks the document front to back; a failure carries its line and column.
pub fn check(document: Document<'_>) -> Result<Result<Summary, Refusal>, ValidatorError> {
    match scan(document.reader()) {
        Ok(summary) => Ok(Ok(summary)),
        Err(Scan::Read(e)) => Err(e),
        Err(Scan::Bad(f)) => {
            let (line, column) = line_col(document, f.offset)?;
            Ok(Err(Refusal {
                code: f.code,
                message: f.message,
                line,
                column,
            }))
        }
    }
}

pub(crate) enum Scan {
    Bad(Failure),
    /// The host could not hand over the document.
    Read(ValidatorError),
}

fn malformed(message: impl std::fmt::Display, offset: u64) -> Scan {
    Scan::Bad(Failure {
        code: "xml.malformed",
        message: format!("the document is not well-formed XML: {message}"),
        offset,
    })
}

/// Reads `input` in windows that end just before a `<`, so text and references are
/// never split; a piece of markup that runs past a window's end (a comment or CDATA
/// holding `<`, a tag whose value does) is carried into the next, longer one.
pub(crate) fn scan(mut input: impl BufRead) -> Result<Summary, Scan> {
    let mut window: Vec<u8> = Vec::new();
    // The document offset of window[0].
    let mut base = 0u64;
    let mut scanner = Scanner::default();
    let mut eof = false;
    // After markup was carried over, the window at least doubles before it is parsed
    // again, so an unclosed comment costs linear time, not quadratic.
    let mut wait_for = 0usize;
    let head = input.fill_buf().map_err(read_failed)?;
    // A UTF-8 byte-order mark is dropped; offsets count it.
    if head.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
        base = 3;
        scanner.skip = 3;
    }
    while !eof {
        let chunk = input.fill_buf().map_err(read_failed)?;
        eof = chunk.is_empty();
        let n = chunk.len();
        if window.is_empty() && !eof {
            // Nothing carried: the chunk is parsed where it lies, and only what
            // follows its last `<` is kept for the next window.
            if let Some(cut) = memchr::memrchr(b'<', chunk).filter(|&cut| cut > 0) {
                let done = scanner.bytes(&chunk[..cut], base, false)?;
                window.extend_from_slice(&chunk[done..]);
                base += done as u64;
                wait_for = if done < cut { 2 * window.len() } else { 0 };
                input.consume(n);
                continue;
            }
        }
        window.extend_from_slice(chunk);
        input.consume(n);
        if !eof && window.len() < wait_for {
            continue;
        }
        let cut = if eof {
            window.len()
        } else {
            match memchr::memrchr(b'<', &window) {
                Some(cut) if cut > 0 => cut,
                _ => continue,
            }
        };
        let done = scanner.bytes(&window[..cut], base, eof)?;
        window.drain(..done);
        base += done as u64;
        wait_for = if done < cut { 2 * window.len() } else { 0 };
    }
    scanner.end(base)
}

/// What the parser does not check, event by event.
#[derive(Default)]
struct Scanner {
    summary: Summary,
    /// Bytes before the document proper (a byte-order mark).
    skip: u64,
    /// The open elements' names, end to end (`open` marks where each starts).
    names: String,
    open: Vec<usize>,
    root_seen: bool,
    past_first: bool,
    prefixes: Prefixes,
    /// The current tag's attributes (kept to reuse the allocation).
    attrs: Vec<Attribute>,
}

impl Scanner {
    /// Checks `bytes` (at document offset `base`) as text, then as XML: see [`Self::window`].
    fn bytes(&mut self, bytes: &[u8], base: u64, eof: bool) -> Result<usize, Scan> {
        let text = chars::checked(bytes, base).map_err(|bad| {
            Scan::Bad(Failure {
                code: bad.code,
                message: bad.message,
                offset: bad.offset,
            })
        })?;
        self.window(text, base, eof)
    }

    /// Checks the events of `text` (at document offset `base`) and returns how many of
    /// its bytes are done with: all, or up to markup that the next window completes.
    fn window(&mut self, text: &str, base: u64, eof: bool) -> Result<usize, Scan> {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_comments = true;
        // Tags open across windows: end tags are matched here, not by the parser.
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        loop {
            let at = reader.buffer_position();
            match reader.read_event() {
                Ok(Event::Eof) => return Ok(text.len()),
                Ok(event) => {
                    let start = base + at;
                    self.event(event, start, start == self.skip)?
                }
                Err(quick_xml::Error::Syntax(_)) if !eof => {
                    return Ok(usize::try_from(reader.error_position()).unwrap_or(0));
                }
                Err(e) => return Err(malformed(e, base + reader.error_position())),
            }
        }
    }

    /// One event starting at document offset `start` (`at_start`: the document's first byte).
    fn event(&mut self, event: Event<'_>, start: u64, at_start: bool) -> Result<(), Scan> {
        let first = !std::mem::replace(&mut self.past_first, true);
        match event {
            Event::Decl(decl) => {
                if !first || !at_start {
                    return Err(malformed(
                        "an XML declaration is allowed only at the very start",
                        start,
                    ));
                }
                decl.version().map_err(|e| malformed(e, start))?;
            }
            Event::PI(pi) => processing_instruction(pi.target(), start)?,
            Event::DocType(_) => {
                let r = dtd_refusal();
                return Err(Scan::Bad(Failure {
                    code: r.code,
                    message: r.message,
                    offset: start,
                }));
            }
            Event::Start(e) => {
                self.element(&e, start)?;
                self.open.push(self.names.len());
                self.names.push_str(e.name().as_ref());
            }
            Event::Empty(e) => {
                self.element(&e, start)?;
                self.prefixes.close(self.open.len() + 1);
            }
            Event::End(e) => {
                let Some(from) = self.open.pop() else {
                    return Err(malformed(
                        format!("end tag </{}> closes no element", e.name().as_ref()),
                        start,
                    ));
                };
                if &self.names[from..] != e.name().as_ref() {
                    return Err(malformed(
                        format!(
                            "expected </{}>, found </{}>",
                            &self.names[from..],
                            e.name().as_ref()
                        ),
                        start,
                    ));
                }
                self.names.truncate(from);
                self.prefixes.close(self.open.len() + 1);
            }
            Event::Text(text) => self.text(text.as_bytes(), start)?,
            Event::GeneralRef(r) => {
                if self.open.is_empty() {
                    return Err(malformed(
                        "a reference is not allowed outside the root element",
                        start,
                    ));
                }
                reference_name(r.as_bytes(), start)?;
            }
            Event::CData(_) if self.open.is_empty() => {
                return Err(malformed(
                    "CDATA is not allowed outside the root element",
                    start,
                ));
            }
            Event::CData(_) | Event::Comment(_) | Event::Eof => {}
        }
        Ok(())
    }

    fn end(self, at: u64) -> Result<Summary, Scan> {
        if let Some(&from) = self.open.last() {
            return Err(malformed(
                format!("the document ends inside element <{}>", &self.names[from..]),
                at,
            ));
        }
        if !self.root_seen {
            return Err(malformed("the document has no root element", at));
        }
        Ok(self.summary)
    }

    fn text(&self, text: &[u8], start: u64) -> Result<(), Scan> {
        if self.open.is_empty() {
            if let Some(at) = text.iter().position(|b| !b.is_ascii_whitespace()) {
                return Err(malformed(
                    "text is not allowed outside the root element",
                    start + at as u64,
                ));
            }
        } else if let Some(at) =
            memchr::memchr_iter(b']', text).find(|&at| text[at..].starts_with(b"]]>"))
        {
            return Err(malformed("']]>' is not allowed in text", start + at as u64));
        }
        Ok(())
    }

    /// One start or empty tag: one root, its name, attributes and namespace prefixes.
    fn element(&mut self, e: &BytesStart<'_>, start: u64) -> Result<(), Scan> {
        if self.open.is_empty() && self.root_seen {
            return Err(malformed(
                "a document has one root element; another starts here",
                start,
            ));
        }
        self.root_seen = true;
        self.summary.elements += 1;
        let tag = start + 1;
        let raw: &str = e;
        let mut attrs = std::mem::take(&mut self.attrs);
        let result = self.tag(raw, tag, &mut attrs);
        self.attrs = attrs;
        result
    }

    /// The tag's name and attributes (`tag`: the document offset of its text).
    fn tag(&mut self, raw: &str, tag: u64, attrs: &mut Vec<Attribute>) -> Result<(), Scan> {
        tag::attributes(raw, attrs).map_err(|(message, at)| malformed(message, tag + at as u64))?;
        let depth = self.open.len() + 1;
        // Declarations apply to the element's own name and attributes: bind first.
        for a in attrs.iter() {
            let key = &raw[a.key.clone()];
            let prefix = match key.strip_prefix("xmlns") {
                Some("") => None,
                Some(p) if p.starts_with(':') => Some(&p[1..]),
                _ => continue,
            };
            self.prefixes
                .declare(prefix, &raw[a.value.clone()], depth)
                .map_err(|m| malformed(m, tag + a.key.start as u64))?;
        }
        let name_len = attrs.first().map_or(raw.len(), |a| a.key.start);
        self.qualified(raw[..name_len].trim_end(), "element", tag)?;
        for a in attrs.iter() {
            if a.references {
                let value = &raw.as_bytes()[a.value.clone()];
                attribute_references(value, tag + a.value.start as u64)?;
            }
            let key = &raw[a.key.clone()];
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            self.qualified(key, "attribute", tag + a.key.start as u64)?;
        }
        Ok(())
    }

    /// A valid qualified name whose prefix, if any, is in scope.
    fn qualified(&self, name: &str, what: &str, at: u64) -> Result<(), Scan> {
        let Some(prefix) = chars::qname_prefix(name) else {
            return Err(malformed(format!("invalid {what} name '{name}'"), at));
        };
        if let Some(prefix) = prefix {
            if prefix == "xmlns" || !self.prefixes.is_bound(prefix) {
                return Err(malformed(
                    format!("unknown namespace prefix '{prefix}'"),
                    at,
                ));
            }
        }
        Ok(())
    }
}

/// The target is the name the instruction starts with (as the tree path reads it);
/// it may not be `xml` in any case.
fn processing_instruction(target: &str, start: u64) -> Result<(), Scan> {
    let name_end = target
        .char_indices()
        .find(|&(i, c)| !chars::is_name_char(c) || (i == 0 && !chars::is_name_start(c)))
        .map_or(target.len(), |(i, _)| i);
    let name = &target[..name_end];
    if name.is_empty() || name.eq_ignore_ascii_case("xml") {
        return Err(malformed("invalid processing instruction target", start));
    }
    Ok(())
}

/// Every `&…;` in an attribute value (at document offset `start`) names a
/// predefined entity or a character.
fn attribute_references(value: &[u8], start: u64) -> Result<(), Scan> {
    let mut from = 0;
    while let Some(at) = memchr::memchr(b'&', &value[from..]) {
        let amp = from + at;
        let after = &value[amp + 1..];
        let at_amp = start + amp as u64;
        let Some(end) = memchr::memchr(b';', after) else {
            return Err(malformed(
                "'&' must start a reference ending in ';'",
                at_amp,
            ));
        };
        reference_name(&after[..end], at_amp)?;
        from = amp + 1 + end + 1;
    }
    Ok(())
}

/// `lt`, `gt`, `amp`, `apos`, `quot`, `#N` or `#xH` naming an XML character; nothing
/// else, since a document without a DTD declares no entities.
fn reference_name(name: &[u8], start: u64) -> Result<(), Scan> {
    let code = match name {
        b"lt" | b"gt" | b"amp" | b"apos" | b"quot" => return Ok(()),
        [b'#', b'x', hex @ ..] => parse_digits(hex, 16),
        [b'#', dec @ ..] => parse_digits(dec, 10),
        _ => {
            return Err(malformed(
                format!(
                    "unknown entity reference '&{};' (a document without a DTD may use only \
                     &lt; &gt; &amp; &apos; &quot; and character references)",
                    String::from_utf8_lossy(name)
                ),
                start,
            ))
        }
    };
    match code.and_then(char::from_u32) {
        Some(c) if chars::is_xml_char(c) => Ok(()),
        _ => Err(malformed(
            format!(
                "invalid character reference '&{};'",
                String::from_utf8_lossy(name)
            ),
            start,
        )),
    }
}

fn parse_digits(digits: &[u8], radix: u32) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    if !text.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(text, radix).ok()
}

fn read_failed(e: std::io::Error) -> Scan {
    Scan::Read(ValidatorError::new("input.read", e.to_string()))
}

/// 1-based line and column (in characters) of a byte offset, counted by reading the
/// document again up to it (only a failing document pays for this).
fn line_col(document: Document<'_>, offset: u64) -> Result<(u32, u32), ValidatorError> {
    let mut reader = document.reader();
    let (mut line, mut column) = (1u32, 1u32);
    let mut left = offset;
    while left > 0 {
        let chunk = reader
            .fill_buf()
            .map_err(|e| ValidatorError::new("input.read", e.to_string()))?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        for &b in &chunk[..n] {
            if b == b'\n' {
                line += 1;
                column = 1;
            } else if b & 0xC0 != 0x80 {
                column += 1;
            }
        }
        reader.consume(n);
        left -= n as u64;
    }
    Ok((line, column))
}
