//! `inputs.source` (contract 1.1): read-only bytes a call hands the guest to read
//! in pieces — the document, or a file attached to the step.

use std::sync::Arc;

/// The most one `read` returns, whatever the guest asks for (the contract says 16 MiB):
/// a guest cannot make the host copy more than this per call.
pub const MAX_READ: u32 = 16 << 20;

/// The bytes behind one `source` handle (shared, never copied whole).
pub struct Source {
    bytes: Arc<Vec<u8>>,
}

impl Source {
    pub fn new(bytes: Arc<Vec<u8>>) -> Source {
        Source { bytes }
    }

    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Up to `len` bytes (at most [`MAX_READ`]) from `offset`; empty past the end.
    pub fn slice(&self, offset: u64, len: u32) -> &[u8] {
        let size = self.bytes.len();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(size);
        let end = start.saturating_add(len.min(MAX_READ) as usize).min(size);
        &self.bytes[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_clamped_to_the_bytes_and_the_cap() {
        let s = Source::new(Arc::new(b"hello".to_vec()));
        assert_eq!(s.slice(0, 2), b"he");
        assert_eq!(s.slice(3, 100), b"lo");
        assert_eq!(s.slice(5, 1), b"");
        assert_eq!(s.slice(u64::MAX, u32::MAX), b"");
        let big = Source::new(Arc::new(vec![0; (MAX_READ as usize) + 10]));
        assert_eq!(big.slice(0, u32::MAX).len(), MAX_READ as usize);
    }
}
