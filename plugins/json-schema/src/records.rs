//! Splits a document into records as it is read: the items of a top-level array, or
//! the lines of JSON Lines. Only the current record's bytes are held; each is parsed
//! alone. The splitter knows JSON's structure (strings, nesting) but not its grammar:
//! a record's own syntax errors come from the parser, with positions made absolute.

use std::io::BufRead;

/// How records are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[ record, record, … ]`.
    Array,
    /// One record per line (JSON Lines / NDJSON); blank lines are skipped.
    Lines,
}

/// One record: its bytes and where they start (1-based line, column in characters).
pub struct Record<'s> {
    pub index: u64,
    pub line: usize,
    pub column: usize,
    pub bytes: &'s [u8],
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

/// Where a record being copied stands.
#[derive(Clone, Copy, Default)]
struct Value {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// A number, `true`, `false` or `null`: ends at a delimiter.
    scalar: bool,
}

pub struct Splitter<R> {
    reader: R,
    layout: Layout,
    state: State,
    /// Position of the next byte.
    line: usize,
    column: usize,
    index: u64,
    record: Vec<u8>,
}

impl<R: BufRead> Splitter<R> {
    pub fn new(reader: R, layout: Layout) -> Self {
        Splitter {
            reader,
            layout,
            state: State::Start,
            line: 1,
            column: 1,
            index: 0,
            record: Vec::new(),
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

    fn io_error(&self, e: std::io::Error) -> SyntaxError {
        self.error(format!("the document could not be read: {e}"))
    }

    fn error(&self, message: String) -> SyntaxError {
        SyntaxError {
            message,
            line: self.line,
            column: self.column,
        }
    }

    fn next_line(&mut self) -> Result<Option<Record<'_>>, SyntaxError> {
        loop {
            self.record.clear();
            let line = self.line;
            let read = self
                .reader
                .read_until(b'\n', &mut self.record)
                .map_err(|e| self.io_error(e))?;
            if read == 0 {
                return Ok(None);
            }
            if self.record.last() == Some(&b'\n') {
                self.line += 1;
            }
            let text = self.record.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let lead = self.record.len() - self.record.trim_ascii_start().len();
            let index = self.index;
            self.index += 1;
            return Ok(Some(Record {
                index,
                line,
                column: lead + 1,
                bytes: self.record.trim_ascii(),
            }));
        }
    }

    fn next_item(&mut self) -> Result<Option<Record<'_>>, SyntaxError> {
        self.record.clear();
        let mut value: Option<Value> = None;
        let (mut line, mut column) = (0, 0);
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) => return Err(self.io_error(e)),
            };
            if chunk.is_empty() {
                return self.end(value.is_some());
            }
            // Where this chunk's part of the record starts (0 when it began earlier).
            let mut from = 0;
            let mut used = 0;
            let mut done = false;
            let mut failure = None;
            while used < chunk.len() {
                // Inside a string only `"` and `\` matter: jump to the next one (most of
                // a record's bytes are in strings).
                if let Some(v) = value.as_ref().filter(|v| v.in_string && !v.escaped) {
                    debug_assert!(!v.scalar);
                    let rest = &chunk[used..];
                    let skip = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                    self.column += chars(&rest[..skip]);
                    used += skip;
                    if used == chunk.len() {
                        break;
                    }
                }
                let byte = chunk[used];
                if let Some(v) = value.as_mut() {
                    if v.scalar && (byte == b',' || byte == b']' || byte.is_ascii_whitespace()) {
                        done = true;
                        break;
                    }
                    step(v, byte);
                } else if !byte.is_ascii_whitespace() {
                    match (self.state, byte) {
                        (State::Start, b'[') => self.state = State::First,
                        (State::First, b']') | (State::After, b']') => self.state = State::Done,
                        (State::After, b',') => self.state = State::Next,
                        (State::First | State::Next, _) => {
                            line = self.line;
                            column = self.column;
                            from = used;
                            value = Some(Value {
                                scalar: !matches!(byte, b'{' | b'[' | b'"'),
                                ..Value::default()
                            });
                            continue;
                        }
                        (state, _) => {
                            failure = Some(unexpected(state, byte));
                            break;
                        }
                    }
                }
                used += 1;
                if byte == b'\n' {
                    self.line += 1;
                    self.column = 1;
                } else if byte & 0xC0 != 0x80 {
                    self.column += 1;
                }
                if let Some(v) = value {
                    if !v.scalar && v.depth == 0 && !v.in_string {
                        done = true;
                        break;
                    }
                }
            }
            if value.is_some() {
                self.record.extend_from_slice(&chunk[from..used]);
            }
            self.reader.consume(used);
            if let Some(message) = failure {
                return Err(self.error(message));
            }
            if done {
                self.state = State::After;
                let index = self.index;
                self.index += 1;
                return Ok(Some(Record {
                    index,
                    line,
                    column,
                    bytes: &self.record,
                }));
            }
        }
    }

    fn end(&mut self, in_record: bool) -> Result<Option<Record<'_>>, SyntaxError> {
        match self.state {
            State::Done => Ok(None),
            State::Start => Err(self.error("the document is empty: expected an array".into())),
            _ if in_record => Err(self.error("the document ends inside a record".into())),
            _ => Err(self.error("the document ends before the array's closing `]`".into())),
        }
    }
}

/// Characters in `bytes` (UTF-8): the bytes that do not continue a character.
fn chars(bytes: &[u8]) -> usize {
    bytes.len() - bytes.iter().filter(|&&b| b & 0xC0 == 0x80).count()
}

/// Moves a record's copy state past `byte`.
fn step(v: &mut Value, byte: u8) {
    if v.in_string {
        if v.escaped {
            v.escaped = false;
        } else if byte == b'\\' {
            v.escaped = true;
        } else if byte == b'"' {
            v.in_string = false;
        }
        return;
    }
    match byte {
        b'"' => v.in_string = true,
        b'{' | b'[' => v.depth += 1,
        b'}' | b']' => v.depth = v.depth.saturating_sub(1),
        _ => {}
    }
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
        let mut splitter = Splitter::new(BufReader::with_capacity(chunk, text.as_bytes()), layout);
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
}
