//! The document a validator reads (contract 1.1): whole with [`Document::read_all`],
//! or a piece at a time with [`Document::reader`], so a validator that streams (CSV
//! rows, JSON Lines records) holds a few chunks of a large document, never all of it.
//! In native tests a document is plain bytes.

use std::borrow::Cow;
use std::io;

use crate::ValidatorError;

/// How much one read asks the host for: large enough that the per-call cost vanishes
/// (a host call costs microseconds), small next to the validator's memory cap.
#[cfg(feature = "guest")]
const READ_CHUNK: u32 = 1 << 20;

#[cfg(feature = "guest")]
type HostSource = crate::bindings::validibot::validator::inputs::Source;

/// Bytes to validate: borrowed from memory, or a host `source` read on demand.
#[derive(Clone, Copy)]
pub struct Document<'a> {
    body: Body<'a>,
}

#[derive(Clone, Copy)]
enum Body<'a> {
    Bytes(&'a [u8]),
    #[cfg(feature = "guest")]
    Source(&'a HostSource),
}

impl std::fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Document({} bytes)", self.size())
    }
}

impl<'a> Document<'a> {
    pub fn from_bytes(bytes: &'a [u8]) -> Document<'a> {
        Document {
            body: Body::Bytes(bytes),
        }
    }

    #[cfg(feature = "guest")]
    pub(crate) fn from_source(source: &'a HostSource) -> Document<'a> {
        Document {
            body: Body::Source(source),
        }
    }

    /// Length in bytes.
    pub fn size(&self) -> u64 {
        match self.body {
            Body::Bytes(b) => b.len() as u64,
            #[cfg(feature = "guest")]
            Body::Source(s) => s.size(),
        }
    }

    /// Up to `len` bytes from `offset` (fewer only at the end): the first lines, to
    /// sniff a delimiter or an encoding before streaming.
    pub fn read_at(&self, offset: u64, len: usize) -> Result<Cow<'a, [u8]>, ValidatorError> {
        match self.body {
            Body::Bytes(b) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(b.len());
                let end = start.saturating_add(len).min(b.len());
                Ok(Cow::Borrowed(&b[start..end]))
            }
            #[cfg(feature = "guest")]
            Body::Source(s) => {
                let left = s.size().saturating_sub(offset);
                let mut out = Vec::with_capacity(usize::try_from(left).unwrap_or(0).min(len));
                while out.len() < len {
                    let want = (len - out.len()).min(READ_CHUNK as usize) as u32;
                    let chunk = s
                        .read(offset + out.len() as u64, want)
                        .map_err(|e| ValidatorError::new("input.read", e))?;
                    if chunk.is_empty() {
                        break;
                    }
                    out.extend_from_slice(&chunk);
                }
                Ok(Cow::Owned(out))
            }
        }
    }

    /// The whole document in memory.
    pub fn read_all(&self) -> Result<Cow<'a, [u8]>, ValidatorError> {
        #[cfg(feature = "guest")]
        if let Body::Source(s) = self.body {
            // Reads are short only at the end: a short first read is the whole document,
            // one host call for a small one (no `size()` first).
            let first = s
                .read(0, READ_CHUNK)
                .map_err(|e| ValidatorError::new("input.read", e))?;
            if first.len() < READ_CHUNK as usize {
                return Ok(Cow::Owned(first));
            }
            let size = s.size();
            let mut whole = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            whole.extend_from_slice(&first);
            while (whole.len() as u64) < size {
                let chunk = s
                    .read(whole.len() as u64, READ_CHUNK)
                    .map_err(|e| ValidatorError::new("input.read", e))?;
                if chunk.is_empty() {
                    break;
                }
                whole.extend_from_slice(&chunk);
            }
            return Ok(Cow::Owned(whole));
        }
        self.read_at(0, usize::try_from(self.size()).unwrap_or(usize::MAX))
    }

    /// A buffered reader from the start: `std::io::Read` and `BufRead`, for parsers
    /// that take a reader (`csv::Reader`, `serde_json::Deserializer::from_reader`).
    pub fn reader(&self) -> Reader<'a> {
        Reader {
            document: *self,
            offset: 0,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

/// Reads a [`Document`] front to back, a chunk at a time. [`Reader::position`] is how
/// far the caller has consumed (for progress or error offsets).
pub struct Reader<'a> {
    document: Document<'a>,
    /// Where `buf` starts in the document.
    offset: u64,
    /// The chunk last read from a host-side source (guests only: bytes in memory need none).
    #[cfg_attr(not(feature = "guest"), allow(dead_code))]
    buf: Vec<u8>,
    /// How much of `buf` the caller has consumed.
    pos: usize,
}

impl Reader<'_> {
    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.offset + self.pos as u64
    }
}

impl io::Read for Reader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = io::BufRead::fill_buf(self)?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl io::BufRead for Reader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self.document.body {
            Body::Bytes(b) => {
                let at = usize::try_from(self.offset)
                    .unwrap_or(usize::MAX)
                    .min(b.len());
                Ok(&b[at..])
            }
            #[cfg(feature = "guest")]
            Body::Source(s) => {
                if self.pos == self.buf.len() {
                    self.offset += self.buf.len() as u64;
                    self.pos = 0;
                    self.buf = s.read(self.offset, READ_CHUNK).map_err(io::Error::other)?;
                }
                Ok(&self.buf[self.pos..])
            }
        }
    }

    fn consume(&mut self, n: usize) {
        match self.document.body {
            Body::Bytes(_) => self.offset += n as u64,
            #[cfg(feature = "guest")]
            Body::Source(_) => self.pos = (self.pos + n).min(self.buf.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Read};

    #[test]
    fn reads_whole_in_parts_and_by_line() {
        let doc = Document::from_bytes(b"a,b\n1,2\n3,4\n");
        assert_eq!(doc.size(), 12);
        assert_eq!(&*doc.read_at(4, 3).unwrap(), b"1,2");
        assert_eq!(&*doc.read_at(10, 99).unwrap(), b"4\n");
        assert!(doc.read_at(99, 1).unwrap().is_empty());
        let mut r = doc.reader();
        let mut first = String::new();
        r.read_line(&mut first).unwrap();
        assert_eq!(first, "a,b\n");
        assert_eq!(r.position(), 4);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"1,2\n3,4\n");
        assert_eq!(r.position(), 12);
    }
}
