//! Content-addressed blob storage: a blob's name is the sha256 of its content, it is
//! written whole or not at all, identical uploads are stored once, and every read is
//! checked against the name. Two backends behind one type: a local directory (the
//! default) and an S3-compatible bucket, which lets processes on many hosts share
//! blobs with nothing but the bucket in common. Uploads in flight and downloads for
//! streaming always use a local temp directory.

mod bucket;
mod local;
mod regular_file;

pub use bucket::BucketConfig;
pub use regular_file::read_regular_capped;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use bucket::Bucket;
use local::Local;

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
    backend: Arc<Backend>,
    /// Local: uploads in flight, sweep leftovers, downloads being streamed.
    tmp: PathBuf,
}

enum Backend {
    Local(Local),
    Bucket(Bucket),
}

/// A blob's name: exactly 64 lower-case hex digits, the sha256 of its content. The only
/// way to a path or key in the store, so no caller-supplied text (an absolute path,
/// `..`, a short or non-ASCII string) can become one.
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

    /// Fails unless `actual`, the sha256 of what was read, is this blob's name.
    fn verify(&self, actual: &str) -> Result<()> {
        anyhow::ensure!(
            actual == self.0,
            "blob {} is corrupt (hash {actual})",
            self.0
        );
        Ok(())
    }
}

/// A blob that has been written and verified.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    pub sha256: String,
    pub size: i64,
}

/// Bytes shared with the caller, handed to the bucket client without a copy.
struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// What a sweep removed (or, dry, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub blobs: u64,
    pub bytes: u64,
}

impl BlobStore {
    /// A store in a local directory.
    pub fn open(root: &Path) -> Result<BlobStore> {
        let local = Local::open(root)?;
        Ok(BlobStore {
            tmp: root.join("tmp"),
            backend: Arc::new(Backend::Local(local)),
        })
    }

    /// A store in a bucket, with `local_root/tmp` for files on their way.
    pub fn open_bucket(config: &BucketConfig, local_root: &Path) -> Result<BlobStore> {
        let tmp = local_root.join("tmp");
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(BlobStore {
            tmp,
            backend: Arc::new(Backend::Bucket(Bucket::open(config)?)),
        })
    }

    /// Where the blobs are, for messages: a directory or `s3://bucket/prefix`.
    pub fn location(&self) -> String {
        match &*self.backend {
            Backend::Local(l) => l.root().display().to_string(),
            Backend::Bucket(b) => b.url().to_owned(),
        }
    }

    /// The directory, when the store is one (backups hard-link from it).
    pub fn local_root(&self) -> Option<&Path> {
        match &*self.backend {
            Backend::Local(l) => Some(l.root()),
            Backend::Bucket(_) => None,
        }
    }

    /// Writes and removes something in the store, for the readiness probe.
    pub async fn probe_writable(&self) -> Result<()> {
        match &*self.backend {
            Backend::Local(_) => {
                let path = self
                    .tmp
                    .join(format!("probe-{}", uuid::Uuid::now_v7().simple()));
                tokio::fs::write(&path, b"ok")
                    .await
                    .with_context(|| format!("writing {}", path.display()))?;
                tokio::fs::remove_file(&path).await?;
                Ok(())
            }
            Backend::Bucket(b) => b.probe().await,
        }
    }

    /// Where a large upload is written before [`Self::adopt`] takes it.
    pub fn tmp_dir(&self) -> PathBuf {
        self.tmp.clone()
    }

    /// Stores an in-memory submission. In a directory the whole write (existence
    /// check, temp file, rename) is one blocking task: one thread hand-off per launch.
    pub async fn put_bytes(&self, bytes: Arc<Vec<u8>>) -> Result<StoredBlob> {
        let blob = StoredBlob {
            sha256: hex::encode(Sha256::digest(&bytes[..])),
            size: bytes.len() as i64,
        };
        match &*self.backend {
            Backend::Local(local) => {
                let (local, tmp, written) = (local.clone(), self.tmp.clone(), blob.clone());
                tokio::task::spawn_blocking(move || local.put_blocking(&tmp, &written, &bytes))
                    .await
                    .context("blob write task panicked")??;
            }
            Backend::Bucket(b) => {
                // The caller keeps the bytes too (the run reads them from memory): shared, not copied.
                b.put(
                    &BlobId(blob.sha256.clone()),
                    Bytes::from_owner(Shared(bytes)),
                )
                .await?;
            }
        }
        Ok(blob)
    }

    /// Takes a fully written temp file (from [`Self::tmp_dir`]) whose sha256 the
    /// caller computed while writing it.
    pub async fn adopt(&self, tmp: &Path, sha256: &str) -> Result<()> {
        let id = BlobId::parse(sha256)?;
        match &*self.backend {
            Backend::Local(l) => l.adopt(tmp, &id).await,
            Backend::Bucket(b) => {
                b.put_file(&id, tmp).await?;
                tokio::fs::remove_file(tmp).await?;
                Ok(())
            }
        }
    }

    /// Every stored blob's sha256.
    pub async fn list(&self) -> Result<Vec<String>> {
        match &*self.backend {
            Backend::Local(local) => {
                let local = local.clone();
                tokio::task::spawn_blocking(move || local.list())
                    .await
                    .context("blob list task panicked")?
            }
            Backend::Bucket(b) => b.list().await,
        }
    }

    /// Removes (or, dry, counts) every blob not in `keep` that was last written or
    /// re-used longer than `grace` ago: the sweep of mark-and-sweep, `keep` its mark.
    pub async fn sweep(
        &self,
        keep: &HashSet<String>,
        grace: Duration,
        dry_run: bool,
    ) -> Result<Swept> {
        // A bucket's earlier sweeps moved blobs aside; settled first (see `bucket`).
        if let Backend::Bucket(b) = &*self.backend {
            if !dry_run {
                b.settle_swept(keep, grace).await?;
            }
        }
        let mut swept = Swept::default();
        for sha in self.list().await? {
            if keep.contains(&sha) {
                continue;
            }
            let id = BlobId(sha);
            if dry_run {
                swept.blobs += u64::from(self.is_stale(&id, grace).await?);
                continue;
            }
            let bytes = self.remove_if_stale(&id, grace).await?;
            if bytes > 0 {
                swept.blobs += 1;
                swept.bytes += bytes;
            }
        }
        Ok(swept)
    }

    async fn is_stale(&self, id: &BlobId, grace: Duration) -> Result<bool> {
        match &*self.backend {
            Backend::Local(local) => Ok(local.is_stale(id, grace)),
            Backend::Bucket(b) => b.is_stale(id, grace).await,
        }
    }

    /// The bytes the blob held, if it was stale and is gone now.
    async fn remove_if_stale(&self, id: &BlobId, grace: Duration) -> Result<u64> {
        match &*self.backend {
            Backend::Local(local) => {
                let (local, tmp, id) = (local.clone(), self.tmp.clone(), id.clone());
                tokio::task::spawn_blocking(move || local.remove_if_stale(&tmp, &id, grace))
                    .await
                    .context("blob sweep task panicked")?
            }
            Backend::Bucket(b) => b.remove_if_stale(id, grace).await,
        }
    }

    /// Copies every blob into a directory store at `dir` (a backup's `blobs/`), each
    /// checked on the way; returns how many.
    pub async fn export_to(&self, dir: &Path) -> Result<u64> {
        let target = Local::open(dir)?;
        let mut n = 0;
        for sha in self.list().await? {
            let id = BlobId::parse(&sha)?;
            let mut from = self.open_verified(&sha).await?;
            let dest = target.path_of(&id);
            tokio::task::spawn_blocking(move || -> Result<()> {
                std::fs::create_dir_all(dest.parent().expect("blob paths have parents"))?;
                std::io::copy(&mut from, &mut std::fs::File::create(&dest)?)?;
                Ok(())
            })
            .await
            .context("blob copy task panicked")??;
            n += 1;
        }
        std::fs::remove_dir_all(dir.join("tmp"))?;
        Ok(n)
    }

    /// Stores every blob of a directory store at `dir` (a restored backup's), each
    /// checked first; returns how many.
    pub async fn import_from(&self, dir: &Path) -> Result<u64> {
        let source = Local::open(dir)?;
        let mut n = 0;
        for sha in source.list()? {
            let id = BlobId::parse(&sha)?;
            let mut file = source.open_blob(&id)?;
            let (_, actual) = sha256_of(&mut file)?;
            id.verify(&actual)?;
            match &*self.backend {
                Backend::Local(l) => {
                    let tmp = self.tmp.join(format!("import-{sha}"));
                    std::fs::copy(source.path_of(&id), &tmp)?;
                    l.adopt(&tmp, &id).await?;
                }
                Backend::Bucket(b) => b.put_file(&id, &source.path_of(&id)).await?,
            }
            n += 1;
        }
        Ok(n)
    }

    /// The blob opened for reading in pieces (a large submission streamed into a
    /// validator), checked against its id first by hashing it a chunk at a time, so
    /// memory stays flat whatever its size; returned at its start. From a bucket it is downloaded into an
    /// unnamed temp file, gone once closed.
    pub async fn open_verified(&self, sha256: &str) -> Result<std::fs::File> {
        let id = BlobId::parse(sha256)?;
        match &*self.backend {
            Backend::Local(local) => {
                let local = local.clone();
                tokio::task::spawn_blocking(move || {
                    let mut file = local.open_blob(&id)?;
                    let (_, actual) =
                        sha256_of(&mut file).with_context(|| format!("reading blob {}", id.0))?;
                    id.verify(&actual)?;
                    std::io::Seek::rewind(&mut file)?;
                    Ok(file)
                })
                .await
                .context("blob open task panicked")?
            }
            Backend::Bucket(b) => {
                let tmp = self.tmp.clone();
                let file = tokio::task::spawn_blocking(move || tempfile::tempfile_in(tmp))
                    .await
                    .context("temp file task panicked")??;
                let mut file = tokio::fs::File::from_std(file);
                let mut hasher = Sha256::new();
                b.download(&id, &mut file, |chunk| hasher.update(chunk))
                    .await?;
                let actual = hex::encode(hasher.finalize());
                id.verify(&actual)?;
                let mut file = file.into_std().await;
                std::io::Seek::rewind(&mut file)?;
                Ok(file)
            }
        }
    }

    /// The blob's bytes, checked against its id at every size. From a directory the
    /// file is opened without following links and must be a regular file (never a FIFO
    /// or a device someone planted in the store).
    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let id = BlobId::parse(sha256)?;
        let bytes = match &*self.backend {
            Backend::Local(local) => {
                let (local, id) = (local.clone(), id.clone());
                tokio::task::spawn_blocking(move || local.read(&id))
                    .await
                    .context("blob read task panicked")??
            }
            Backend::Bucket(b) => Vec::from(b.get(&id).await?),
        };
        let actual = hex::encode(Sha256::digest(&bytes));
        id.verify(&actual)?;
        Ok(bytes)
    }
}

/// Objects an asynchronous step exchanges with its container through presigned URLs
/// (the input envelope, the output envelope), under `exchange/` beside the blobs — and
/// presigned reads of blobs themselves. Only a bucket has them: a container elsewhere
/// cannot read a directory on this host.
pub struct Exchange<'a>(&'a Bucket);

impl BlobStore {
    /// The exchange, or why there is none (a directory store).
    pub fn exchange(&self) -> Result<Exchange<'_>> {
        match &*self.backend {
            Backend::Bucket(b) => Ok(Exchange(b)),
            Backend::Local(_) => anyhow::bail!(
                "asynchronous container steps need blobs in a bucket (VALIDIBOT_STORAGE_URL=s3://…): \
                 their containers read and write through presigned URLs"
            ),
        }
    }
}

impl Exchange<'_> {
    /// A presigned GET of a stored blob.
    pub async fn get_blob_url(&self, sha256: &str, ttl: Duration) -> Result<String> {
        let id = BlobId::parse(sha256)?;
        self.0
            .sign(http::Method::GET, bucket::Signed::Blob(&id), ttl)
            .await
    }

    /// A presigned GET of an exchange object.
    pub async fn get_url(&self, name: &str, ttl: Duration) -> Result<String> {
        self.0
            .sign(http::Method::GET, bucket::Signed::Exchange(name), ttl)
            .await
    }

    /// A presigned PUT of an exchange object.
    pub async fn put_url(&self, name: &str, ttl: Duration) -> Result<String> {
        self.0
            .sign(http::Method::PUT, bucket::Signed::Exchange(name), ttl)
            .await
    }

    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        self.0.put_exchange(name, Bytes::from(bytes)).await
    }

    /// An exchange object of at most `cap` bytes; `None` when it was never written.
    pub async fn read(&self, name: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get_exchange(name, cap).await?.map(|b| b.to_vec()))
    }

    /// Deletes an exchange object (gone already is fine).
    pub async fn remove(&self, name: &str) -> Result<()> {
        self.0.delete_exchange(name).await
    }

    /// Deletes every exchange object under `prefix/` (an execution's).
    pub async fn remove_all(&self, prefix: &str) -> Result<()> {
        self.0.delete_exchange_all(prefix).await
    }
}

#[cfg(test)]
impl BlobStore {
    /// Overwrites a stored blob with other bytes, as a disk fault or an intruder would.
    async fn corrupt(&self, sha256: &str, bytes: &[u8]) {
        let id = BlobId::parse(sha256).unwrap();
        match &*self.backend {
            Backend::Local(l) => std::fs::write(l.path_of(&id), bytes).unwrap(),
            Backend::Bucket(b) => b.put(&id, bytes.to_vec().into()).await.unwrap(),
        }
    }
}

/// The same suite runs on both backends.
#[cfg(test)]
mod tests {
    use super::*;

    /// The test bucket: SeaweedFS, which `.ci/test` starts (`.ci/s3.sh`).
    pub(crate) fn test_bucket(root: &Path) -> BlobStore {
        let endpoint = std::env::var("VALIDIBOT_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
            panic!("bucket tests need VALIDIBOT_TEST_S3_ENDPOINT (e.g. http://127.0.0.1:8333); run `bash .ci/test`, which starts one")
        });
        let config = BucketConfig {
            url: format!(
                "s3://validibot-test/blobs-{}",
                uuid::Uuid::now_v7().simple()
            ),
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            access_key_id: Some("validibot".into()),
            secret_access_key: Some("validibot-test-secret".into()),
        };
        BlobStore::open_bucket(&config, root).unwrap()
    }

    async fn both(check: impl AsyncFn(BlobStore)) {
        let dir = tempfile::tempdir().unwrap();
        check(BlobStore::open(&dir.path().join("local")).unwrap()).await;
        check(test_bucket(&dir.path().join("bucket"))).await;
    }

    #[tokio::test]
    async fn stores_by_content_and_detects_corruption() {
        both(async |store| {
            let a = store.put_bytes(Arc::new(b"hello".to_vec())).await.unwrap();
            let b = store.put_bytes(Arc::new(b"hello".to_vec())).await.unwrap();
            assert_eq!(a.sha256, b.sha256);
            assert_eq!(store.read(&a.sha256).await.unwrap(), b"hello");
            let opened = store.open_verified(&a.sha256).await.unwrap();
            assert_eq!(opened.metadata().unwrap().len(), 5);
            assert_eq!(store.list().await.unwrap(), vec![a.sha256.clone()]);
            store.corrupt(&a.sha256, b"jello").await;
            assert!(store.read(&a.sha256).await.is_err());
            assert!(store.open_verified(&a.sha256).await.is_err());
            let missing = hex::encode(Sha256::digest(b"never stored"));
            assert!(store.read(&missing).await.is_err());
            assert!(store.open_verified(&missing).await.is_err());
            store.probe_writable().await.unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn large_files_are_adopted_and_streamed_back() {
        both(async |store| {
            // Over the bucket's single-request size: goes up in parts.
            let bytes: Vec<u8> = (0..40u32 << 20).map(|i| (i % 251) as u8).collect();
            let sha = hex::encode(Sha256::digest(&bytes));
            let tmp = store.tmp_dir().join("upload");
            std::fs::write(&tmp, &bytes).unwrap();
            store.adopt(&tmp, &sha).await.unwrap();
            assert!(!tmp.exists(), "the temp file is taken");
            let mut file = store.open_verified(&sha).await.unwrap();
            let (size, actual) = sha256_of(&mut file).unwrap();
            assert_eq!((size, actual), (bytes.len() as u64, sha));
        })
        .await;
    }

    #[tokio::test]
    async fn only_blob_ids_reach_the_storage() {
        both(async |store| {
            let outside = store.tmp_dir().join("outside");
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
                assert!(store.adopt(&outside, bad).await.is_err(), "{bad:?}");
            }
            assert!(outside.exists());
        })
        .await;
    }

    #[tokio::test]
    async fn the_sweep_removes_only_stale_unreferenced_blobs() {
        both(async |store| {
            let kept = store.put_bytes(Arc::new(b"kept".to_vec())).await.unwrap();
            let gone = store.put_bytes(Arc::new(b"gone".to_vec())).await.unwrap();
            let keep = HashSet::from([kept.sha256.clone()]);
            let hour = Duration::from_secs(3600);
            // Written just now: within the grace period.
            assert_eq!(
                store.sweep(&keep, hour, false).await.unwrap(),
                Swept::default()
            );
            let dry = store.sweep(&keep, Duration::ZERO, true).await.unwrap();
            assert_eq!(dry.blobs, 1);
            assert_eq!(
                store.list().await.unwrap().len(),
                2,
                "a dry run removes nothing"
            );
            let swept = store.sweep(&keep, Duration::ZERO, false).await.unwrap();
            assert_eq!(swept, Swept { blobs: 1, bytes: 4 });
            assert_eq!(store.list().await.unwrap(), vec![kept.sha256.clone()]);
            // A second sweep settles what the first moved aside (a bucket's way).
            store.sweep(&keep, Duration::ZERO, false).await.unwrap();
            assert!(store.read(&gone.sha256).await.is_err());
            assert_eq!(store.read(&kept.sha256).await.unwrap(), b"kept");
        })
        .await;
    }

    /// A bucket cannot rename a blob aside and look again: a blob re-used while the
    /// sweep moves it is read from where it was moved, and put back by the next sweep.
    #[tokio::test]
    async fn a_bucket_blob_referenced_during_its_sweep_survives() {
        let dir = tempfile::tempdir().unwrap();
        let store = test_bucket(dir.path());
        let blob = store.put_bytes(Arc::new(b"raced".to_vec())).await.unwrap();
        let swept = store
            .sweep(&HashSet::new(), Duration::ZERO, false)
            .await
            .unwrap();
        assert_eq!(swept.blobs, 1);
        // A run that took the blob just before the move still reads it…
        assert_eq!(store.read(&blob.sha256).await.unwrap(), b"raced");
        assert!(store.open_verified(&blob.sha256).await.is_ok());
        // …and the next sweep, seeing the reference, puts it back for good.
        let keep = HashSet::from([blob.sha256.clone()]);
        store.sweep(&keep, Duration::ZERO, false).await.unwrap();
        assert_eq!(store.list().await.unwrap(), vec![blob.sha256.clone()]);
        store.sweep(&keep, Duration::ZERO, false).await.unwrap();
        assert_eq!(store.read(&blob.sha256).await.unwrap(), b"raced");
    }

    #[tokio::test]
    async fn links_and_special_files_in_the_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let Backend::Local(local) = &*store.backend else {
            unreachable!()
        };
        let target = dir.path().join("target");
        std::fs::write(&target, b"x").unwrap();
        let link_id = hex::encode(Sha256::digest(b"x"));
        let link = local.path_of(&BlobId::parse(&link_id).unwrap());
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(
            store.read(&link_id).await.is_err(),
            "a link is not followed"
        );
        // A FIFO: refused at once instead of blocking the reader.
        let fifo_id = hex::encode(Sha256::digest(b"fifo"));
        let fifo = local.path_of(&BlobId::parse(&fifo_id).unwrap());
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

    #[test]
    fn bucket_urls_are_checked() {
        assert_eq!(
            BucketConfig::parse_url("s3://my-bucket/some/prefix/").unwrap(),
            ("my-bucket".into(), "some/prefix".into())
        );
        assert_eq!(
            BucketConfig::parse_url("s3://b.example").unwrap(),
            ("b.example".into(), "".into())
        );
        for bad in [
            "gs://b",
            "s3://",
            "s3://B",
            "s3://bucket/a//b",
            "s3://bucket/../x",
            "/tmp",
        ] {
            assert!(BucketConfig::parse_url(bad).is_err(), "{bad}");
        }
    }
}
