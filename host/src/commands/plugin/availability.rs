//! `validibot plugin disable SLUG` and `validibot plugin enable SLUG [--workspace WS]…
//! [--all-workspaces]`: the same changes as `PATCH /api/v1/validators/{slug}`, against
//! the database directly. Running servers and workers see them at the next launch or step.

use anyhow::{bail, Result};

use super::install::open;
use crate::config::InstanceArgs;
use validibot_plugin_api::extension::features;
use validibot_services::licensing::Licensing;
use validibot_services::validators::availability::{self, ChangeError};

#[derive(Debug, Clone, clap::Args)]
pub struct DisableArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// The installed validator's slug.
    pub slug: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EnableArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// The installed validator's slug.
    pub slug: String,
    /// Make it available in this workspace only (repeat for several; Pro:
    /// `workspaces.multiple`). Without it, the workspaces it had stay as they were.
    #[arg(long = "workspace", value_name = "SLUG")]
    pub workspaces: Vec<String>,
    /// Make it available in every workspace again.
    #[arg(long, conflicts_with = "workspaces")]
    pub all_workspaces: bool,
}

pub async fn disable(global: &InstanceArgs, args: &DisableArgs) -> Result<()> {
    change(global, &args.slug, |a| a.disabled = true).await?;
    println!(
        "disabled {}: workflows keep their steps; runs of them are refused until it is enabled",
        args.slug
    );
    Ok(())
}

pub async fn enable(global: &InstanceArgs, args: &EnableArgs) -> Result<()> {
    if !args.workspaces.is_empty() {
        let db = crate::commands::serve::open_db(global).await?;
        let licensing = Licensing::new(db, crate::commands::serve::load_extensions(global).await?);
        if let Err((state, detail)) = licensing.require(features::MULTIPLE_WORKSPACES).await? {
            bail!("enabling a validator per workspace needs Validibot Pro (license state {state}): {detail}");
        }
    }
    let only = (!args.workspaces.is_empty()).then(|| args.workspaces.clone());
    let all = args.all_workspaces;
    change(global, &args.slug, |a| {
        a.disabled = false;
        if all {
            a.workspaces = None;
        } else if only.is_some() {
            a.workspaces = only.clone();
        }
    })
    .await?;
    println!("enabled {}", args.slug);
    Ok(())
}

async fn change(
    global: &InstanceArgs,
    slug: &str,
    edit: impl FnOnce(&mut availability::Availability),
) -> Result<()> {
    let (db, _blobs, registry) = open(global).await?;
    let mut next = availability::all(&db)
        .await?
        .remove(slug)
        .unwrap_or_default();
    edit(&mut next);
    match availability::set(&db, &registry, slug, &next).await {
        Ok(()) => Ok(()),
        Err(ChangeError::Internal(e)) => Err(e),
        Err(e) => bail!("not changed: {e}"),
    }
}
