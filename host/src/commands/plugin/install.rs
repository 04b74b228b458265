//! The operator's plugin commands, against this instance's database and storage:
//! `plugin install <file.wasm>` (the same checks and record as `POST /api/v1/validators`),
//! `plugin list` (with each one's availability) and `plugin uninstall`. Running servers and workers pick changes up
//! on their next use of the plugin.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::config::InstanceArgs;
use validibot_blobs::BlobStore;
use validibot_engines::plugins::grants::Grants;
use validibot_engines::plugins::{Limits, PluginRegistry, Runtime};
use validibot_services::validators::installed::{self, InstallError, UninstallError};
use validibot_store::db::Db;
use validibot_store::plugins;

#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// The component file (`.wasm`).
    pub file: PathBuf,
    /// Capability for this plugin (repeatable): `clock`, `network`, `env:NAME`,
    /// `fs-read:/abs/dir`. Nothing is granted by default. Re-installing the same
    /// component replaces its grants.
    #[arg(long = "grant", value_name = "CAPABILITY")]
    pub grants: Vec<String>,
    /// The detached signature; default: `<file>.sig` when it exists.
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// Install even though the component is unsigned (an operator's decision; also
    /// VALIDIBOT_ALLOW_UNSIGNED_PLUGINS=true).
    #[arg(long)]
    pub allow_unsigned: bool,
}

#[derive(Debug, Clone, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// The validator's slug.
    pub slug: String,
    /// Only this version (default: every installed version).
    pub version: Option<String>,
}

pub async fn run(global: &InstanceArgs, args: &InstallArgs) -> Result<()> {
    let grants = Grants::parse(&args.grants)?;
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let signature = read_signature(args)?;
    let mut trust = global.plugin_trust()?;
    trust.allow_unsigned |= args.allow_unsigned;
    let (db, blobs, registry) = open(global).await?;
    match installed::install(
        &db,
        &blobs,
        &registry,
        bytes,
        &grants,
        (&trust, signature.as_deref()),
        None,
    )
    .await
    {
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
            match &signature {
                Some(_) => println!("signature verified"),
                None => println!("unsigned (allowed by the operator)"),
            }
            if !grants.is_empty() {
                println!("granted: {}", serde_json::to_string(&grants)?);
            }
            Ok(())
        }
        Err(InstallError::Internal(e)) => Err(e),
        Err(e) => bail!("not installed: {e}"),
    }
}

/// The signature given, or the `.sig` file beside the component.
fn read_signature(args: &InstallArgs) -> Result<Option<String>> {
    let path = match &args.signature {
        Some(p) => p.clone(),
        None => {
            let mut p = args.file.as_os_str().to_owned();
            p.push(".sig");
            let p = PathBuf::from(p);
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(text))
}

pub(super) async fn open(global: &InstanceArgs) -> Result<(Db, BlobStore, PluginRegistry)> {
    global.prepare_data_dir()?;
    let db = Db::connect(&global.database_url(), 2).await?;
    db.migrate().await?;
    let blobs = global.blob_store()?;
    let runtime = Runtime::new(Some(global.data_dir.join("cache").join("wasm")))?;
    let registry =
        tokio::task::spawn_blocking(move || PluginRegistry::builtin(&runtime, Limits::default()))
            .await??;
    installed::sync(&db, &blobs, &registry).await?;
    Ok((db, blobs, registry))
}

/// `validibot plugin uninstall SLUG [VERSION]`.
pub async fn uninstall(global: &InstanceArgs, args: &UninstallArgs) -> Result<()> {
    let (db, blobs, registry) = open(global).await?;
    match installed::uninstall(&db, &blobs, &registry, &args.slug, args.version.as_deref()).await {
        Ok(n) => {
            println!(
                "uninstalled {} ({n} version{})",
                args.slug,
                if n == 1 { "" } else { "s" }
            );
            Ok(())
        }
        Err(UninstallError::Internal(e)) => Err(e),
        Err(e) => bail!("not uninstalled: {e}"),
    }
}

/// `validibot plugin list`: every installed version with its signer.
pub async fn list(global: &InstanceArgs) -> Result<()> {
    global.prepare_data_dir()?;
    let db = Db::connect(&global.database_url(), 2).await?;
    db.migrate().await?;
    let rows = plugins::versions(&db, None).await?;
    let settings = plugins::availability(&db).await?;
    if rows.is_empty() {
        println!("no plugins installed");
    }
    for r in rows {
        let available = match settings.get(&r.slug) {
            Some(a) if a.disabled => "disabled".to_owned(),
            Some(plugins::Availability {
                workspaces: Some(ws),
                ..
            }) => format!("enabled in {}", ws.join(", ")),
            _ => "enabled".to_owned(),
        };
        println!(
            "{} {}\tsha256 {}\t{}\t{available}\tgrants {}",
            r.slug,
            r.version,
            &r.sha256[..12.min(r.sha256.len())],
            match &r.signed_by {
                Some(kid) => format!("signed by {kid}"),
                None => "unsigned".into(),
            },
            r.grants
        );
    }
    Ok(())
}
