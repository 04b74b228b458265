//! The S3-compatible bucket backend (AWS S3, GCS's XML API, MinIO, SeaweedFS) through
//! `object_store`: `<prefix>/sha256/ab/cd/<hex>`, as in a local directory. An object
//! appears whole or not at all (S3's PUT and multipart completion are atomic); a
//! re-upload PUTs again, which refreshes `Last-Modified`, what keeps the sweep off it.
//!
//! A bucket has no atomic rename, so the sweep cannot take a blob aside and look again
//! as the directory does: it moves a stale blob to `<prefix>/swept/<hex>` instead, and
//! readers fall back there. A launch that re-uploads the content while it is being
//! moved still finds it; the next sweep deletes swept blobs that are still
//! unreferenced a grace period later, and puts back any that a run references now.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{GetResult, ObjectMeta, ObjectStore, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::BlobId;

/// Files above this go up in parts of this size (S3's minimum part is 5 MiB).
const PART: usize = 16 << 20;

/// Where and how to reach the bucket. Credentials left out come from the usual
/// `AWS_*` variables, a web identity token or the instance's metadata service.
#[derive(Debug, Clone, Default)]
pub struct BucketConfig {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// For anything but AWS: `http://127.0.0.1:8333`, `https://storage.googleapis.com`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl BucketConfig {
    /// The bucket and the key prefix (without slashes at either end) of the URL.
    pub fn parse_url(url: &str) -> Result<(String, String)> {
        let Some(rest) = url.strip_prefix("s3://") else {
            bail!("{url:?} is not an s3://bucket[/prefix] URL");
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            bail!("{bucket:?} is not a bucket name (3–63 lower-case letters, digits, '-', '.')");
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
            && !prefix.is_empty()
        {
            bail!("{prefix:?} is not a key prefix (segments separated by single '/')");
        }
        Ok((bucket.to_owned(), prefix.to_owned()))
    }
}

/// Where objects exchanged with asynchronous steps' containers live (under the prefix).
const EXCHANGE: &str = "exchange";

/// What a presigned URL points at.
pub(crate) enum Signed<'a> {
    Blob(&'a BlobId),
    /// An object under `exchange/`.
    Exchange(&'a str),
}

pub(crate) struct Bucket {
    store: Arc<AmazonS3>,
    prefix: String,
    url: String,
}

impl Bucket {
    pub(crate) fn open(config: &BucketConfig) -> Result<Bucket> {
        let (bucket, prefix) = BucketConfig::parse_url(&config.url)?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        if let Some(endpoint) = config.endpoint.as_deref().filter(|e| !e.is_empty()) {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = config.region.as_deref().filter(|r| !r.is_empty()) {
            builder = builder.with_region(region);
        }
        if let Some(id) = config.access_key_id.as_deref().filter(|k| !k.is_empty()) {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = config
            .secret_access_key
            .as_deref()
            .filter(|k| !k.is_empty())
        {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .with_context(|| format!("configuring the bucket {}", config.url))?;
        Ok(Bucket {
            store: Arc::new(store),
            prefix,
            url: config.url.trim_end_matches('/').to_owned(),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn key(&self, rest: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(rest)
        } else {
            Key::from(format!("{}/{rest}", self.prefix))
        }
    }

    fn live(&self, id: &BlobId) -> Key {
        let hex = id.as_str();
        self.key(&format!("sha256/{}/{}/{hex}", &hex[0..2], &hex[2..4]))
    }

    fn swept(&self, id: &BlobId) -> Key {
        self.key(&format!("swept/{}", id.as_str()))
    }

    /// A presigned URL for `method` on a blob (`None`) or an exchange object.
    pub(crate) async fn sign(
        &self,
        method: http::Method,
        target: Signed<'_>,
        ttl: Duration,
    ) -> Result<String> {
        use object_store::signer::Signer;
        let key = match target {
            Signed::Blob(id) => self.live(id),
            Signed::Exchange(name) => self.key(&format!("{EXCHANGE}/{name}")),
        };
        let url = self
            .store
            .signed_url(method, &key, ttl)
            .await
            .with_context(|| format!("presigning {key}"))?;
        Ok(url.to_string())
    }

    pub(crate) async fn put_exchange(&self, name: &str, bytes: Bytes) -> Result<()> {
        let key = self.key(&format!("{EXCHANGE}/{name}"));
        self.store
            .put(&key, PutPayload::from(bytes))
            .await
            .with_context(|| format!("writing {key}"))?;
        Ok(())
    }

    /// An exchange object of at most `cap` bytes; `None` when there is none.
    pub(crate) async fn get_exchange(&self, name: &str, cap: u64) -> Result<Option<Bytes>> {
        let key = self.key(&format!("{EXCHANGE}/{name}"));
        let got = match self.store.get(&key).await {
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            other => other.with_context(|| format!("reading {key}"))?,
        };
        anyhow::ensure!(
            got.meta.size <= cap,
            "{key} holds {} bytes, more than the {cap} allowed",
            got.meta.size
        );
        Ok(Some(got.bytes().await?))
    }

    pub(crate) async fn delete_exchange(&self, name: &str) -> Result<()> {
        let key = self.key(&format!("{EXCHANGE}/{name}"));
        match self.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting {key}")),
        }
    }

    /// Deletes every exchange object under `prefix/` (one listing, one delete each).
    pub(crate) async fn delete_exchange_all(&self, prefix: &str) -> Result<()> {
        let under = self.key(&format!("{EXCHANGE}/{prefix}"));
        let found: Vec<ObjectMeta> = self
            .store
            .list(Some(&under))
            .try_collect()
            .await
            .with_context(|| format!("listing {under}"))?;
        for meta in found {
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e).with_context(|| format!("deleting {}", meta.location)),
            }
        }
        Ok(())
    }

    /// Writes and deletes an object, for the readiness probe.
    pub(crate) async fn probe(&self) -> Result<()> {
        let key = self.key(&format!("probe/{}", uuid::Uuid::now_v7().simple()));
        self.store
            .put(&key, PutPayload::from_static(b"ok"))
            .await
            .with_context(|| format!("writing to {}", self.url))?;
        self.store.delete(&key).await?;
        Ok(())
    }

    pub(crate) async fn put(&self, id: &BlobId, bytes: Bytes) -> Result<()> {
        self.store
            .put(&self.live(id), PutPayload::from(bytes))
            .await
            .with_context(|| format!("storing blob {} in {}", id.as_str(), self.url))?;
        Ok(())
    }

    /// Uploads a file: in one request when small, else in parts (memory stays at a
    /// few parts whatever its size).
    pub(crate) async fn put_file(&self, id: &BlobId, path: &Path) -> Result<()> {
        let mut file = tokio::fs::File::open(path).await?;
        let size = file.metadata().await?.len();
        if size <= PART as u64 {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).await?;
            return self.put(id, Bytes::from(bytes)).await;
        }
        let upload = self.store.put_multipart(&self.live(id)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&chunk[..n]);
        }
        writer
            .finish()
            .await
            .with_context(|| format!("storing blob {} in {}", id.as_str(), self.url))?;
        Ok(())
    }

    /// The blob's object, from its live key or, while a sweep has it, the swept one.
    async fn fetch(&self, id: &BlobId) -> Result<GetResult> {
        let got = match self.store.get(&self.live(id)).await {
            Err(object_store::Error::NotFound { .. }) => self.store.get(&self.swept(id)).await,
            other => other,
        };
        got.with_context(|| format!("reading blob {} from {}", id.as_str(), self.url))
    }

    pub(crate) async fn get(&self, id: &BlobId) -> Result<Bytes> {
        Ok(self.fetch(id).await?.bytes().await?)
    }

    /// Streams the blob into `file` a chunk at a time, handing each to `seen`.
    pub(crate) async fn download(
        &self,
        id: &BlobId,
        file: &mut tokio::fs::File,
        mut seen: impl FnMut(&[u8]),
    ) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut stream = self.fetch(id).await?.into_stream();
        while let Some(chunk) = stream.try_next().await? {
            seen(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(())
    }

    /// Every live blob's id.
    pub(crate) async fn list(&self) -> Result<Vec<String>> {
        let metas: Vec<ObjectMeta> = self
            .store
            .list(Some(&self.key("sha256")))
            .try_collect()
            .await
            .with_context(|| format!("listing {}", self.url))?;
        Ok(metas
            .into_iter()
            .filter_map(|m| m.location.filename().map(str::to_owned))
            .filter(|name| BlobId::parse(name).is_ok())
            .collect())
    }

    async fn age(&self, key: &Key) -> Result<Option<(Duration, u64)>> {
        match self.store.head(key).await {
            Ok(meta) => {
                let modified = SystemTime::from(meta.last_modified);
                let age = modified.elapsed().unwrap_or(Duration::ZERO);
                Ok(Some((age, meta.size)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn is_stale(&self, id: &BlobId, grace: Duration) -> Result<bool> {
        Ok(self
            .age(&self.live(id))
            .await?
            .is_some_and(|(age, _)| age >= grace))
    }

    /// Moves the blob to `swept/` unless it was written or re-used within `grace`;
    /// returns its size.
    pub(crate) async fn remove_if_stale(&self, id: &BlobId, grace: Duration) -> Result<u64> {
        let live = self.live(id);
        let Some((age, size)) = self.age(&live).await? else {
            return Ok(0);
        };
        if age < grace {
            return Ok(0);
        }
        self.store.copy(&live, &self.swept(id)).await?;
        self.store.delete(&live).await?;
        Ok(size)
    }

    /// Settles what earlier sweeps moved aside: referenced again → put back; still
    /// unreferenced a grace period after the move → deleted (counted when it was moved).
    pub(crate) async fn settle_swept(&self, keep: &HashSet<String>, grace: Duration) -> Result<()> {
        let swept: Vec<ObjectMeta> = self
            .store
            .list(Some(&self.key("swept")))
            .try_collect()
            .await?;
        for meta in swept {
            let Some(id) = meta.location.filename().and_then(|n| BlobId::parse(n).ok()) else {
                continue;
            };
            if keep.contains(id.as_str()) {
                self.store.copy(&meta.location, &self.live(&id)).await?;
                self.store.delete(&meta.location).await?;
                continue;
            }
            let age = SystemTime::from(meta.last_modified)
                .elapsed()
                .unwrap_or(Duration::ZERO);
            if age >= grace {
                self.store.delete(&meta.location).await?;
            }
        }
        Ok(())
    }
}
