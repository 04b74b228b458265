//! `inputs.source` (contract 1.1): read-only bytes a call hands the guest to read
//! in pieces — the document, or a file attached to the step.

use super::document::Document;

/// The most one `read` returns, whatever the guest asks for (the contract says 16 MiB):
/// a guest cannot make the host copy more than this per call.
pub const MAX_READ: u32 = 16 << 20;

/// The bytes behind one `source` handle (shared, never copied whole).
pub struct Source {
    document: Document,
}

impl Source {
    pub fn new(document: Document) -> Source {
        Source { document }
    }

    pub fn size(&self) -> u64 {
        self.document.len()
    }

    /// Up to `len` bytes (at most [`MAX_READ`]) from `offset`; empty past the end.
    pub fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, String> {
        self.document
            .read_at(offset, len.min(MAX_READ) as usize)
            .map_err(|e| format!("reading the document: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_clamped_to_the_bytes_and_the_cap() {
        let s = Source::new(Document::from(b"hello".to_vec()));
        assert_eq!(s.read(0, 2).unwrap(), b"he");
        assert_eq!(s.read(3, 100).unwrap(), b"lo");
        assert_eq!(s.read(5, 1).unwrap(), b"");
        assert_eq!(s.read(u64::MAX, u32::MAX).unwrap(), b"");
        let big = Source::new(Document::from(vec![0; (MAX_READ as usize) + 10]));
        assert_eq!(big.read(0, u32::MAX).unwrap().len(), MAX_READ as usize);
    }
}
