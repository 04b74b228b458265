//! The document a validation reads: bytes already in memory, or a file read in pieces.
//! A 1.1 validator pulls a file-backed document through `inputs.source` a chunk at a
//! time, so the host never holds a large document whole (issue 24); only a 1.0
//! component, which takes one list, makes the host load it.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Cheap to clone: the bytes or the open file are shared.
#[derive(Clone)]
pub struct Document {
    body: Body,
    /// The furthest byte any reader has reached: how far a streaming validator got.
    reached: Arc<AtomicU64>,
}

#[derive(Clone)]
enum Body {
    Bytes(Arc<Vec<u8>>),
    File { file: Arc<File>, size: u64 },
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.body {
            Body::Bytes(_) => "bytes",
            Body::File { .. } => "file",
        };
        write!(f, "Document({kind}, {} bytes)", self.len())
    }
}

impl Document {
    fn with(body: Body) -> Document {
        Document {
            body,
            reached: Arc::new(AtomicU64::new(0)),
        }
    }

    /// An empty document (calls that read none, such as assertions over outputs only).
    pub fn empty() -> Document {
        Document::from(Vec::new())
    }

    /// A regular file, read on demand. Its size is taken now: the caller owns the file
    /// and does not change it while the document is in use (blobs are immutable).
    pub fn open(path: &Path) -> io::Result<Document> {
        let file = File::open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        Document::from_file(file)
    }

    /// An open regular file (a verified blob), read on demand.
    pub fn from_file(file: File) -> io::Result<Document> {
        let size = file.metadata()?.len();
        Ok(Document::with(Body::File {
            file: Arc::new(file),
            size,
        }))
    }

    /// The same document with its own count of how far readers got: one per step, so
    /// each step's progress is its own.
    pub fn tracked(&self) -> Document {
        Document::with(self.body.clone())
    }

    pub fn len(&self) -> u64 {
        match &self.body {
            Body::Bytes(b) => b.len() as u64,
            Body::File { size, .. } => *size,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `len` bytes from `offset`: fewer only at the end, none past it.
    pub fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let size = self.len();
        let start = offset.min(size);
        let end = start.saturating_add(len as u64).min(size);
        let out = match &self.body {
            Body::Bytes(b) => b[start as usize..end as usize].to_vec(),
            Body::File { file, .. } => {
                let mut buf = vec![0; (end - start) as usize];
                read_exact_at(file, &mut buf, start)?;
                buf
            }
        };
        self.reached.fetch_max(end, Ordering::Relaxed);
        Ok(out)
    }

    /// The whole document in memory: shared when it already is, else read from the file.
    pub fn load(&self) -> io::Result<Arc<Vec<u8>>> {
        match &self.body {
            Body::Bytes(b) => Ok(Arc::clone(b)),
            Body::File { size, .. } => {
                let bytes = self.read_at(0, usize::try_from(*size).unwrap_or(usize::MAX))?;
                Ok(Arc::new(bytes))
            }
        }
    }

    /// How far into the document readers have got, in bytes (progress of a stream).
    pub fn reached(&self) -> u64 {
        self.reached.load(Ordering::Relaxed)
    }
}

impl From<Arc<Vec<u8>>> for Document {
    fn from(bytes: Arc<Vec<u8>>) -> Document {
        Document::with(Body::Bytes(bytes))
    }
}

impl From<Vec<u8>> for Document {
    fn from(bytes: Vec<u8>) -> Document {
        Document::from(Arc::new(bytes))
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_like_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.csv");
        std::fs::write(&path, b"id\n1\n2\n").unwrap();
        let file = Document::open(&path).unwrap();
        let bytes = Document::from(b"id\n1\n2\n".to_vec());
        for doc in [&file, &bytes] {
            assert_eq!(doc.len(), 7);
            assert_eq!(doc.read_at(3, 2).unwrap(), b"1\n");
            assert_eq!(doc.read_at(5, 100).unwrap(), b"2\n");
            assert!(doc.read_at(7, 1).unwrap().is_empty());
            assert!(doc.read_at(u64::MAX, usize::MAX).unwrap().is_empty());
            assert_eq!(doc.reached(), 7);
            assert_eq!(doc.load().unwrap().as_slice(), b"id\n1\n2\n");
        }
        assert!(
            Document::open(dir.path()).is_err(),
            "a directory is refused"
        );
    }
}
