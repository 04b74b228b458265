//! `validibot plugin install <file.wasm>`: the same checks and record as
//! `POST /api/v1/validators`, against this instance's database and storage.
//! Running servers and workers pick the plugin up on their next use of it.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::config::GlobalArgs;
use validibot_blobs::BlobStore;
use validibot_engines::plugins::grants::Grants;
use validibot_engines::plugins::{Limits, PluginRegistry, Runtime};
use validibot_services::validators::installed::{self, InstallError};
use validibot_store::db::Db;

#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// The component file (`.wasm`).
    pub file: PathBuf,
    /// Capability for this plugin (repeatable): `clock`, `network`, `env:NAME`,
    /// `fs-read:/abs/dir`. Nothing is granted by default. Re-installing the same
    /// component replaces its grants.
    #[arg(long = "grant", value_name = "CAPABILITY")]
    pub grants: Vec<String>,
}

pub async fn run(global: &GlobalArgs, args: &InstallArgs) -> Result<()> {
    let grants = Grants::parse(&args.grants)?;
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    global.prepare_data_dir()?;
    let db = Db::connect(&global.database_url(), 2).await?;
    db.migrate().await?;
    let blobs = BlobStore::open(&global.data_dir.join("blobs"))?;
    let runtime = Runtime::new(Some(global.data_dir.join("cache").join("wasm")))?;
    let registry =
        tokio::task::spawn_blocking(move || PluginRegistry::builtin(&runtime, Limits::default()))
            .await??;
    match installed::install(&db, &blobs, &registry, bytes, &grants, None).await {
        Ok(done) => {
            let m = &done.meta;
            let what = if done.created {
                "installed"
            } else {
                "already installed"
            };
            println!(
                "{what}: {} {} (validibot:validator@{}, sha256 {}, content types {})",
                m.slug,
                m.version,
                m.wit_version,
                m.sha256,
                m.content_types.join(", ")
            );
            if !grants.is_empty() {
                println!("granted: {}", serde_json::to_string(&grants)?);
            }
            Ok(())
        }
        Err(InstallError::Invalid(e)) => bail!("not installed: {e}"),
        Err(InstallError::Conflict(e)) => bail!("not installed: {e}"),
        Err(InstallError::Internal(e)) => Err(e),
    }
}
