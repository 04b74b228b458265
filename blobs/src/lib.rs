//! Content-addressed local blob storage: `<root>/sha256/ab/cd/<hex>`.
//! Writes go to a temp file and are renamed into place, so a blob is either
//! absent or complete; identical uploads are stored once.

mod regular_file;

pub use regular_file::read_regular_capped;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;

/// The size and lower-case hex sha256 of everything `reader` yields, read a MiB at a
/// time (memory stays flat whatever the size).
pub fn sha256_of(reader: &mut impl std::io::Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&chunk[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// A blob's name: exactly 64 lower-case hex digits, the sha256 of its content. The only
/// way to a path in the store, so no caller-supplied text (an absolute path, `..`, a
/// short or non-ASCII string) can become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobId(String);

impl BlobId {
    pub fn parse(s: &str) -> Result<BlobId> {
        anyhow::ensure!(
            s.len() == 64
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "not a blob id (64 lower-case hex digits): {:?}",
            s.chars().take(80).collect::<String>()
        );
        Ok(BlobId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A blob that has been written and verified.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    pub sha256: String,
    pub size: i64,
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<BlobStore> {
        std::fs::create_dir_all(root.join("tmp"))
            .with_context(|| format!("creating {}", root.display()))?;
        Ok(BlobStore {
            root: root.to_path_buf(),
        })
    }

    /// Creates and removes a file in the store, for the readiness probe.
    pub async fn probe_writable(&self) -> Result<()> {
        let path = self
            .tmp_dir()
            .join(format!("probe-{}", uuid::Uuid::now_v7().simple()));
        tokio::fs::write(&path, b"ok")
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        tokio::fs::remove_file(&path).await?;
        Ok(())
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn path_of(&self, id: &BlobId) -> PathBuf {
        let hex = id.as_str();
        self.root
            .join("sha256")
            .join(&hex[0..2])
            .join(&hex[2..4])
            .join(hex)
    }

    /// Stores an in-memory submission. The whole write (existence check, temp file, rename)
    /// is one blocking task: one thread hand-off per launch instead of one per file operation.
    pub async fn put_bytes(&self, bytes: Arc<Vec<u8>>) -> Result<StoredBlob> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.put_bytes_blocking(&bytes))
            .await
            .context("blob write task panicked")?
    }

    fn put_bytes_blocking(&self, bytes: &[u8]) -> Result<StoredBlob> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let blob = StoredBlob {
            sha256,
            size: bytes.len() as i64,
        };
        let dest = self.path_of(&BlobId(blob.sha256.clone()));
        // Already stored: refresh its mtime, which keeps the retention sweep off it
        // (the sweep spares anything touched within its grace period).
        if let Ok(f) = std::fs::File::options().append(true).open(&dest) {
            if f.set_modified(std::time::SystemTime::now()).is_ok() {
                return Ok(blob);
            }
        }
        let mut tmp = tempfile::NamedTempFile::new_in(self.tmp_dir())?;
        tmp.write_all(bytes)?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        tmp.persist(&dest)
            .with_context(|| format!("storing blob {}", blob.sha256))?;
        Ok(blob)
    }

    /// Moves a fully written temp file (from [`Self::tmp_dir`]) into place.
    pub async fn adopt(&self, tmp: &Path, sha256: &str) -> Result<()> {
        let dest = self.path_of(&BlobId::parse(sha256)?);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(tmp, &dest)
            .await
            .with_context(|| format!("storing blob {sha256}"))?;
        Ok(())
    }

    /// Every stored blob's sha256 (for the retention sweep).
    pub fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let top = self.root.join("sha256");
        if !top.exists() {
            return Ok(out);
        }
        for a in std::fs::read_dir(&top)? {
            for b in std::fs::read_dir(a?.path())? {
                for f in std::fs::read_dir(b?.path())? {
                    let name = f?.file_name().to_string_lossy().into_owned();
                    if name.len() == 64 && name.bytes().all(|c| c.is_ascii_hexdigit()) {
                        out.push(name);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether the blob was last written or re-used longer than `grace` ago.
    pub fn is_stale(&self, sha256: &str, grace: std::time::Duration) -> bool {
        let Ok(id) = BlobId::parse(sha256) else {
            return false;
        };
        std::fs::metadata(self.path_of(&id))
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= grace))
    }

    /// Deletes an unreferenced blob unless it was written or re-used within `grace`;
    /// returns the bytes freed. The blob is first renamed aside, then its mtime is
    /// read: a concurrent upload of the same content either touched it before the
    /// rename (it is put back) or finds it gone and writes it anew — never lost.
    pub fn remove_if_stale(&self, sha256: &str, grace: std::time::Duration) -> Result<u64> {
        let dest = self.path_of(&BlobId::parse(sha256)?);
        let aside = self
            .tmp_dir()
            .join(format!("sweep-{sha256}-{}", uuid::Uuid::now_v7().simple()));
        if std::fs::rename(&dest, &aside).is_err() {
            return Ok(0); // gone already
        }
        let meta = std::fs::metadata(&aside)?;
        let fresh = meta.modified()?.elapsed().map_or(true, |age| age < grace);
        if fresh {
            if !dest.exists() {
                std::fs::rename(&aside, &dest)?;
            } else {
                std::fs::remove_file(&aside)?; // rewritten meanwhile, same content
            }
            return Ok(0);
        }
        std::fs::remove_file(&aside)?;
        Ok(meta.len())
    }

    /// The blob opened for reading in pieces (a large submission streamed into a
    /// validator), checked against its id first by hashing it a chunk at a time, so
    /// memory stays flat whatever its size. Opened like [`BlobStore::read`] opens it.
    pub async fn open_verified(&self, sha256: &str) -> Result<std::fs::File> {
        let id = BlobId::parse(sha256)?;
        let path = self.path_of(&id);
        tokio::task::spawn_blocking(move || {
            let (mut file, _) = regular_file::open_regular(&path)
                .map_err(|e| anyhow::anyhow!("reading blob {}: {e}", id.0))?;
            let (_, actual) =
                sha256_of(&mut file).with_context(|| format!("reading blob {}", id.0))?;
            anyhow::ensure!(actual == id.0, "blob {} is corrupt (hash {actual})", id.0);
            Ok(file)
        })
        .await
        .context("blob open task panicked")?
    }

    /// The blob's bytes, checked against its id at every size. The file is opened
    /// without following links and must be a regular file (never a FIFO or a device
    /// someone planted in the store).
    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let id = BlobId::parse(sha256)?;
        let path = self.path_of(&id);
        tokio::task::spawn_blocking(move || {
            let bytes = read_regular_capped(&path, u64::MAX - 1)
                .map_err(|e| anyhow::anyhow!("reading blob {}: {e}", id.0))?;
            let actual = hex::encode(Sha256::digest(&bytes));
            anyhow::ensure!(actual == id.0, "blob {} is corrupt (hash {actual})", id.0);
            Ok(bytes)
        })
        .await
        .context("blob read task panicked")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_by_content_and_detects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let a = store.put_bytes(Arc::new(b"hello".to_vec())).await.unwrap();
        let b = store.put_bytes(Arc::new(b"hello".to_vec())).await.unwrap();
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(store.read(&a.sha256).await.unwrap(), b"hello");
        let opened = store.open_verified(&a.sha256).await.unwrap();
        assert_eq!(opened.metadata().unwrap().len(), 5);
        let path = store.path_of(&BlobId::parse(&a.sha256).unwrap());
        std::fs::write(&path, b"jello").unwrap();
        assert!(store.read(&a.sha256).await.is_err());
        assert!(store.open_verified(&a.sha256).await.is_err());
    }

    #[tokio::test]
    async fn only_blob_ids_reach_the_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"secret").unwrap();
        for bad in [
            outside.to_str().unwrap(),
            "ab",
            "",
            "../../../../etc/passwd",
            "ÄÖÜ",
            &"A".repeat(64),
            &format!("{}/", "a".repeat(63)),
        ] {
            assert!(store.read(bad).await.is_err(), "{bad:?}");
            assert!(store.open_verified(bad).await.is_err(), "{bad:?}");
            assert!(!store.is_stale(bad, std::time::Duration::ZERO));
            assert!(store
                .remove_if_stale(bad, std::time::Duration::ZERO)
                .is_err());
        }
        assert!(outside.exists());
    }

    #[tokio::test]
    async fn links_and_special_files_in_the_store_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"x").unwrap();
        let link_id = hex::encode(Sha256::digest(b"x"));
        let link = store.path_of(&BlobId::parse(&link_id).unwrap());
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(
            store.read(&link_id).await.is_err(),
            "a link is not followed"
        );
        // A FIFO: refused at once instead of blocking the reader.
        let fifo_id = hex::encode(Sha256::digest(b"fifo"));
        let fifo = store.path_of(&BlobId::parse(&fifo_id).unwrap());
        std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let started = std::time::Instant::now();
        let err = store.read(&fifo_id).await.unwrap_err();
        assert!(format!("{err:#}").contains("not a regular file"), "{err:#}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
