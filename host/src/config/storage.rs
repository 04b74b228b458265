//! Where blobs live: `blobs/` in the data dir, or an S3-compatible bucket that every
//! process (API servers and workers on many hosts) shares.

use std::path::Path;

use clap::Args;
use validibot_blobs::{BlobStore, BucketConfig};

#[derive(Debug, Clone, Default, Args)]
pub struct StorageArgs {
    /// Where stored files (submissions, artifacts, installed components, step files)
    /// live: unset for `blobs/` in the data dir, or `s3://BUCKET[/PREFIX]` for
    /// S3-compatible object storage shared by every process.
    #[arg(long, global = true, env = "VALIDIBOT_STORAGE_URL")]
    pub storage_url: Option<String>,
    /// The S3 API's address for anything but AWS: MinIO or SeaweedFS
    /// (`http://HOST:8333`), Google Cloud Storage (`https://storage.googleapis.com`).
    #[arg(long, global = true, env = "VALIDIBOT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region (default: `AWS_REGION`, else `us-east-1`).
    #[arg(long, global = true, env = "VALIDIBOT_S3_REGION")]
    pub s3_region: Option<String>,
    /// Access key id (default: `AWS_ACCESS_KEY_ID`, a web identity token or the
    /// instance's role).
    #[arg(long, global = true, env = "VALIDIBOT_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// Secret access key (default: `AWS_SECRET_ACCESS_KEY`, …, as for the key id).
    #[arg(
        long,
        global = true,
        env = "VALIDIBOT_S3_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,
}

impl StorageArgs {
    /// The bucket's settings, when one is configured (compose passes unset variables as "").
    pub fn bucket(&self) -> Option<BucketConfig> {
        let url = self.storage_url.as_deref().filter(|u| !u.is_empty())?;
        Some(BucketConfig {
            url: url.to_owned(),
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
        })
    }

    /// The blob store: the bucket, else `blobs/` in the data dir (which holds the
    /// bucket's temp files too).
    pub fn open(&self, data_dir: &Path) -> anyhow::Result<BlobStore> {
        let local = data_dir.join("blobs");
        match self.bucket() {
            Some(bucket) => BlobStore::open_bucket(&bucket, &local)
                .map_err(|e| anyhow::anyhow!("VALIDIBOT_STORAGE_URL: {e:#}")),
            None => BlobStore::open(&local),
        }
    }
}
