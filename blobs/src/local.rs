//! The local directory backend: `<root>/sha256/ab/cd/<hex>`. A blob is written to a
//! temp file and renamed into place, so it is either absent or complete; a re-upload
//! refreshes its mtime, which is what keeps the sweep off it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::regular_file::{open_regular, read_regular_capped};
use crate::{BlobId, StoredBlob};

#[derive(Debug, Clone)]
pub(crate) struct Local {
    root: PathBuf,
}

impl Local {
    pub(crate) fn open(root: &Path) -> Result<Local> {
        std::fs::create_dir_all(root.join("tmp"))
            .with_context(|| format!("creating {}", root.display()))?;
        Ok(Local {
            root: root.to_path_buf(),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn path_of(&self, id: &BlobId) -> PathBuf {
        let hex = id.as_str();
        self.root
            .join("sha256")
            .join(&hex[0..2])
            .join(&hex[2..4])
            .join(hex)
    }

    /// Stores `bytes` (already hashed into `blob`) with blocking file operations.
    pub(crate) fn put_blocking(
        &self,
        tmp_dir: &Path,
        blob: &StoredBlob,
        bytes: &[u8],
    ) -> Result<()> {
        let dest = self.path_of(&BlobId(blob.sha256.clone()));
        // Already stored: refresh its mtime, which keeps the retention sweep off it
        // (the sweep spares anything touched within its grace period).
        if let Ok(f) = std::fs::File::options().append(true).open(&dest) {
            if f.set_modified(std::time::SystemTime::now()).is_ok() {
                return Ok(());
            }
        }
        let mut tmp = tempfile::NamedTempFile::new_in(tmp_dir)?;
        tmp.write_all(bytes)?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        tmp.persist(&dest)
            .with_context(|| format!("storing blob {}", blob.sha256))?;
        Ok(())
    }

    /// Moves a fully written temp file into place.
    pub(crate) async fn adopt(&self, tmp: &Path, id: &BlobId) -> Result<()> {
        let dest = self.path_of(id);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(tmp, &dest)
            .await
            .with_context(|| format!("storing blob {}", id.as_str()))?;
        Ok(())
    }

    /// Every stored blob's id.
    pub(crate) fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let top = self.root.join("sha256");
        if !top.exists() {
            return Ok(out);
        }
        for a in std::fs::read_dir(&top)? {
            for b in std::fs::read_dir(a?.path())? {
                for f in std::fs::read_dir(b?.path())? {
                    let name = f?.file_name().to_string_lossy().into_owned();
                    if BlobId::parse(&name).is_ok() {
                        out.push(name);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether the blob was last written or re-used longer than `grace` ago.
    pub(crate) fn is_stale(&self, id: &BlobId, grace: Duration) -> bool {
        std::fs::metadata(self.path_of(id))
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= grace))
    }

    /// Deletes the blob unless it was written or re-used within `grace`; returns the
    /// bytes freed. It is first renamed aside, then its mtime is read: a concurrent
    /// upload of the same content either touched it before the rename (it is put back)
    /// or finds it gone and writes it anew — never lost.
    pub(crate) fn remove_if_stale(
        &self,
        tmp_dir: &Path,
        id: &BlobId,
        grace: Duration,
    ) -> Result<u64> {
        let dest = self.path_of(id);
        let aside = tmp_dir.join(format!(
            "sweep-{}-{}",
            id.as_str(),
            uuid::Uuid::now_v7().simple()
        ));
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

    /// The blob opened without following links (a regular file only).
    pub(crate) fn open_blob(&self, id: &BlobId) -> Result<std::fs::File> {
        let (file, _) = open_regular(&self.path_of(id))
            .map_err(|e| anyhow::anyhow!("reading blob {}: {e}", id.as_str()))?;
        Ok(file)
    }

    pub(crate) fn read(&self, id: &BlobId) -> Result<Vec<u8>> {
        read_regular_capped(&self.path_of(id), u64::MAX - 1)
            .map_err(|e| anyhow::anyhow!("reading blob {}: {e}", id.as_str()))
    }
}
