//! Splits a JSON document into records as it is read: the items of a top-level array, or
//! the lines of JSON Lines, each parsed as it is reached. Only the current record's
//! bytes (and the rest of the chunk it was read in) are held. An array item is parsed
//! where it lies in the read buffer — the parser itself finds where it ends, so the
//! bytes are scanned once; a line is cut at its newline first, so a broken line is one
//! bad record and the next line is read.

use std::io::BufRead;

use crate::{Document, ValidatorError};

/// How far into a document its first byte that is not whitespace is looked for.
const HEAD: usize = 64 << 10;

/// Whether the document is a top-level array (its first byte after whitespace is `[`).
pub fn starts_array(document: Document<'_>) -> Result<bool, ValidatorError> {
    let head = document.read_at(0, HEAD)?;
    Ok(head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'['))
}

/// How records are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[ record, record, … ]`.
    Array,
    /// One record per line (JSON Lines / NDJSON); blank lines are skipped.
    Lines,
}

/// One record: where it starts (1-based line, column in characters), its text and its
/// value, or the parser's error (positions relative to the record's start).
pub struct Record<'s> {
    pub index: u64,
    pub line: usize,
    pub column: usize,
    /// The record's text; for one that failed to parse, from its start to the end of
    /// what was read.
    pub bytes: &'s [u8],
    pub value: Result<serde_json::Value, serde_json::Error>,
}

impl Record<'_> {
    /// A position inside the record's text (1-based line and column, as serde_json
    /// and `position` give them) made a position in the document.
    pub fn absolute(&self, line: usize, column: usize) -> (usize, usize) {
        if line <= 1 {
            (self.line, self.column + column.saturating_sub(1))
        } else {
            (self.line + line - 1, column)
        }
    }
}

/// A break in the array's structure, at a 1-based line and column.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the array's `[`.
    Start,
    /// After `[`: a record or `]`.
    First,
    /// After `,`: a record.
    Next,
    /// After a record: `,` or `]`.
    After,
    /// After `]`: only whitespace.
    Done,
}

/// Bytes asked of the reader at a time (the SDK reader's own chunk).
const READ: usize = 1 << 20;

pub struct Splitter<R> {
    reader: R,
    layout: Layout,
    state: State,
    /// What has been read and not yet dropped; `buf[start..]` is not yet consumed.
    buf: Vec<u8>,
    start: usize,
    /// The reader is exhausted.
    eof: bool,
    /// The position (1-based line, column) of `buf[counted]`: positions are counted
    /// forward only as far as a record or an error needs them.
    counted: usize,
    line: usize,
    column: usize,
    index: u64,
    /// Bytes taken from the reader at a time (`READ`; small in tests).
    read: usize,
}

impl<R: BufRead> Splitter<R> {
    pub fn new(reader: R, layout: Layout) -> Self {
        Self::reading(reader, layout, READ)
    }

    fn reading(reader: R, layout: Layout, read: usize) -> Self {
        Splitter {
            reader,
            layout,
            state: State::Start,
            buf: Vec::new(),
            start: 0,
            eof: false,
            counted: 0,
            line: 1,
            column: 1,
            index: 0,
            read,
        }
    }

    /// Records seen so far.
    pub fn count(&self) -> u64 {
        self.index
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, SyntaxError> {
        match self.layout {
            Layout::Array => self.next_item(),
            Layout::Lines => self.next_line(),
        }
    }

    fn io_error(&mut self, e: std::io::Error) -> SyntaxError {
        self.error_at(
            self.buf.len(),
            format!("the document could not be read: {e}"),
        )
    }

    /// A syntax error at `buf[at]`.
    fn error_at(&mut self, at: usize, message: String) -> SyntaxError {
        self.count_to(at);
        SyntaxError {
            message,
            line: self.line,
            column: self.column,
        }
    }

    /// Moves the counted position forward to `buf[to]`.
    fn count_to(&mut self, to: usize) {
        let skipped = &self.buf[self.counted..to];
        match memchr::memrchr(b'\n', skipped) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', skipped).count();
                self.column = 1 + chars(&skipped[last + 1..]);
            }
            None => self.column += chars(skipped),
        }
        self.counted = to;
    }

    /// Reads at least `more` bytes (fewer at the end), after dropping what is consumed.
    /// False at the end of the document.
    fn fill(&mut self, more: usize) -> Result<bool, SyntaxError> {
        if self.start > 0 {
            self.count_to(self.start);
            self.buf.drain(..self.start);
            self.counted -= self.start;
            self.start = 0;
        }
        let mut read = 0;
        while read < more {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) => return Err(self.io_error(e)),
            };
            if chunk.is_empty() {
                self.eof = true;
                break;
            }
            let n = chunk.len().min(self.read);
            self.buf.extend_from_slice(&chunk[..n]);
            self.reader.consume(n);
            read += n;
        }
        Ok(read > 0)
    }

    /// The first byte at or after `start` that is not whitespace (consuming the
    /// whitespace), reading as needed; `None` at the end of the document.
    fn next_byte(&mut self) -> Result<Option<u8>, SyntaxError> {
        loop {
            let rest = &self.buf[self.start..];
            if let Some(at) = rest.iter().position(|b| !b.is_ascii_whitespace()) {
                self.start += at;
                return Ok(Some(self.buf[self.start]));
            }
            self.start = self.buf.len();
            if self.eof || !self.fill(self.read)? {
                return Ok(None);
            }
        }
    }

    fn next_line(&mut self) -> Result<Option<Record<'_>>, SyntaxError> {
        loop {
            let line = match memchr::memchr(b'\n', &self.buf[self.start..]) {
                Some(at) => self.start..self.start + at + 1,
                None if self.eof => self.start..self.buf.len(),
                None => {
                    let wanted = (self.buf.len() - self.start).max(self.read);
                    self.fill(wanted)?;
                    continue;
                }
            };
            if line.is_empty() {
                return Ok(None);
            }
            self.start = line.end;
            let text = &self.buf[line.clone()];
            let len = text.trim_ascii().len();
            if len == 0 {
                continue;
            }
            let at = line.start + (text.len() - text.trim_ascii_start().len());
            let value = serde_json::from_slice(&self.buf[at..at + len]);
            return Ok(Some(self.record(at..at + len, value)));
        }
    }

    /// The next record: `buf[text]` and its value, placed where it starts.
    fn record(
        &mut self,
        text: std::ops::Range<usize>,
        value: Result<serde_json::Value, serde_json::Error>,
    ) -> Record<'_> {
        self.count_to(text.start);
        let index = self.index;
        self.index += 1;
        Record {
            index,
            line: self.line,
            column: self.column,
            bytes: &self.buf[text],
            value,
        }
    }

    fn next_item(&mut self) -> Result<Option<Record<'_>>, SyntaxError> {
        loop {
            let Some(byte) = self.next_byte()? else {
                return match self.state {
                    State::Done => Ok(None),
                    State::Start => Err(self.error_at(
                        self.buf.len(),
                        "the document is empty: expected an array".into(),
                    )),
                    _ => Err(self.error_at(
                        self.buf.len(),
                        "the document ends before the array's closing `]`".into(),
                    )),
                };
            };
            match (self.state, byte) {
                (State::Start, b'[') => self.state = State::First,
                (State::First, b']') | (State::After, b']') => self.state = State::Done,
                (State::After, b',') => self.state = State::Next,
                (State::First | State::Next, _) => return self.item(),
                (state, _) => return Err(self.error_at(self.start, unexpected(state, byte))),
            }
            self.start += 1;
        }
    }

    /// Parses the item at `start`. When the parse reaches the end of what was read
    /// before the document's end, more is read (at least doubling what is held, so a
    /// record larger than a chunk costs linear time) and the item is parsed again.
    fn item(&mut self) -> Result<Option<Record<'_>>, SyntaxError> {
        loop {
            let rest = &self.buf[self.start..];
            let mut stream = serde_json::Deserializer::from_slice(rest).into_iter();
            let value: Result<serde_json::Value, _> = stream
                .next()
                .expect("the item starts with a byte that is not whitespace");
            let end = stream.byte_offset();
            let cut = match &value {
                Ok(_) => end == rest.len(),
                // A cut number (`-`, `1.`, `2e`) is an end-of-input error too.
                Err(e) => e.is_eof(),
            };
            if cut && !self.eof {
                let held = self.buf.len() - self.start;
                self.fill(held.max(self.read))?;
                continue;
            }
            if cut && value.is_err() {
                return Err(
                    self.error_at(self.buf.len(), "the document ends inside a record".into())
                );
            }
            let from = self.start;
            let to = if value.is_ok() {
                from + end
            } else {
                self.buf.len()
            };
            self.start = to;
            self.state = State::After;
            return Ok(Some(self.record(from..to, value)));
        }
    }
}

/// Characters in `bytes` (UTF-8): the bytes that do not continue a character.
fn chars(bytes: &[u8]) -> usize {
    bytes.len() - bytes.iter().filter(|&&b| b & 0xC0 == 0x80).count()
}

fn unexpected(state: State, byte: u8) -> String {
    let found = if byte.is_ascii_graphic() {
        format!("`{}`", byte as char)
    } else {
        format!("byte 0x{byte:02x}")
    };
    match state {
        State::Start => format!("expected `[` at the start of the document, found {found}"),
        State::After => format!("expected `,` or `]` after a record, found {found}"),
        State::Done => format!("trailing characters after the array: {found}"),
        State::First | State::Next => unreachable!("a value starts in these states"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    /// Every record with its position, read through a buffer of `chunk` bytes so
    /// records and strings straddle reads.
    fn split(
        text: &str,
        layout: Layout,
        chunk: usize,
    ) -> Result<Vec<(String, usize, usize)>, SyntaxError> {
        let mut splitter = Splitter::reading(
            BufReader::with_capacity(chunk, text.as_bytes()),
            layout,
            chunk,
        );
        let mut out = Vec::new();
        while let Some(r) = splitter.next_record()? {
            out.push((
                String::from_utf8(r.bytes.to_vec()).unwrap(),
                r.line,
                r.column,
            ));
        }
        Ok(out)
    }

    #[test]
    fn array_items_are_cut_whole_across_reads() {
        let text = "[\n  {\"a\": \"x],}\\\"\"},\n  [1, [2]], 3.5e1 ,\"é\",null, true\n]\n";
        for chunk in [1, 2, 3, 7, 64] {
            let got = split(text, Layout::Array, chunk).unwrap();
            let want = vec![
                ("{\"a\": \"x],}\\\"\"}".to_owned(), 2, 3),
                ("[1, [2]]".to_owned(), 3, 3),
                ("3.5e1".to_owned(), 3, 13),
                ("\"é\"".to_owned(), 3, 20),
                ("null".to_owned(), 3, 24),
                ("true".to_owned(), 3, 30),
            ];
            assert_eq!(got, want, "chunk {chunk}");
        }
        assert_eq!(split(" [ ] ", Layout::Array, 2).unwrap(), vec![]);
    }

    #[test]
    fn a_broken_array_is_a_syntax_error_where_it_breaks() {
        let err = |text: &str| split(text, Layout::Array, 4).unwrap_err();
        assert_eq!(
            err("[1 2]"),
            SyntaxError {
                message: "expected `,` or `]` after a record, found `2`".into(),
                line: 1,
                column: 4
            }
        );
        assert_eq!(err("[1,\n2\n").line, 3);
        assert!(err("[{\"a\": 1").message.contains("inside a record"));
        assert!(err("[1] x").message.contains("trailing characters"));
        assert!(err("\n").message.contains("empty"));
        assert!(err("{}").message.contains("expected `[`"));
    }

    #[test]
    fn lines_skip_blanks_and_keep_their_line_numbers() {
        let text = "{\"a\":1}\r\n\n   {\"a\":2}\n[3]";
        let got = split(text, Layout::Lines, 3).unwrap();
        assert_eq!(
            got,
            vec![
                ("{\"a\":1}".to_owned(), 1, 1),
                ("{\"a\":2}".to_owned(), 3, 4),
                ("[3]".to_owned(), 4, 1),
            ]
        );
    }

    /// Every record and the outcome of the split, the values and errors shown as text.
    fn outcome(text: &[u8], layout: Layout, chunk: usize) -> (Vec<String>, Option<SyntaxError>) {
        let mut splitter = Splitter::reading(BufReader::with_capacity(chunk, text), layout, chunk);
        let mut out = Vec::new();
        loop {
            match splitter.next_record() {
                Ok(Some(r)) => {
                    let value = match &r.value {
                        Ok(v) => v.to_string(),
                        Err(e) => format!("error {e}"),
                    };
                    let failed = r.value.is_err();
                    out.push(format!("{}:{} {value}", r.line, r.column));
                    if failed && layout == Layout::Array {
                        return (out, None);
                    }
                }
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    /// A random JSON value: nesting, escapes, non-ASCII text, every number form.
    fn value(seed: &mut u64, depth: u32) -> String {
        const SCALARS: [&str; 12] = [
            "0",
            "-7",
            "12.5",
            "-0.25e-3",
            "3E+2",
            "18446744073709551616",
            "true",
            "false",
            "null",
            "\"a\\\"b\"",
            "\"é – ✓\"",
            "\"\\u00e9\\n,]}\"",
        ];
        let pick = next(seed) % if depth > 2 { 12 } else { 16 };
        let ws = [" ", "", "\n  ", "\t"][(next(seed) % 4) as usize];
        match pick {
            0..=11 => SCALARS[pick as usize].to_owned(),
            12 | 13 => {
                let n = next(seed) % 4;
                let items: Vec<String> = (0..n).map(|_| value(seed, depth + 1)).collect();
                format!("[{ws}{}{ws}]", items.join(&format!(",{ws}")))
            }
            _ => {
                let n = next(seed) % 4;
                let items: Vec<String> = (0..n)
                    .map(|k| format!("\"k{k}\"{ws}:{ws}{}", value(seed, depth + 1)))
                    .collect();
                format!("{{{ws}{}{ws}}}", items.join(&format!(",{ws}")))
            }
        }
    }

    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn reads_of_any_size_give_the_same_records_values_and_errors() {
        let mut seed = 0x5EED_0024_0000_0001u64;
        for round in 0..600 {
            let n = next(&mut seed) % 6;
            let items: Vec<String> = (0..n).map(|_| value(&mut seed, 0)).collect();
            let array = format!("[\n{}\n]\n", items.join(",\n "));
            let mut text = array.clone().into_bytes();
            // Most rounds also break the text: a byte dropped, or one added.
            if round % 3 != 0 && !text.is_empty() {
                let at = (next(&mut seed) as usize) % text.len();
                if round % 2 == 0 {
                    text.remove(at);
                } else {
                    text.insert(at, b"{}[],:\"\\-1e. x\n"[(next(&mut seed) % 15) as usize]);
                }
            }
            let lines = items.join("\n").into_bytes();
            for (layout, text) in [(Layout::Array, &text), (Layout::Lines, &lines)] {
                let whole = outcome(text, layout, text.len().max(1));
                for chunk in 1..=9 {
                    assert_eq!(
                        outcome(text, layout, chunk),
                        whole,
                        "{layout:?}, read {chunk}: {}",
                        String::from_utf8_lossy(text)
                    );
                }
            }
            // An unbroken array: its items are the whole parse's elements.
            if round % 3 == 0 {
                let parsed: serde_json::Value = serde_json::from_str(&array).unwrap();
                let (records, error) = outcome(array.as_bytes(), Layout::Array, 3);
                assert!(error.is_none());
                let values: Vec<String> = records
                    .iter()
                    .map(|r| r.split_once(' ').unwrap().1.to_owned())
                    .collect();
                let want: Vec<String> = parsed
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                assert_eq!(values, want);
            }
        }
    }
}
