//! `validibot license show | install FILE | verify FILE | check | release`: the same checks as the
//! API, run against the database directly (for operators on the host).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::config::InstanceArgs;
use validibot_services::licensing::online::Check;
use validibot_services::licensing::Licensing;

#[derive(Debug, clap::Subcommand)]
pub enum LicenseCommand {
    /// Print the edition, license state, features, limits and usage.
    Show,
    /// Verify and install a license file (the previous one stays if it is refused).
    Install { file: PathBuf },
    /// Verify a license file without installing it; exit 1 if it is refused.
    Verify { file: PathBuf },
    /// Online licenses: ask the license server now (activate or revalidate) and print
    /// the state after it; exit 1 if the server could not be reached or refused.
    Check,
    /// Online licenses: give this instance's activation back to the license server
    /// (before moving the license to another machine).
    Release,
}

pub async fn run(global: &InstanceArgs, command: &LicenseCommand) -> Result<()> {
    let db = crate::commands::serve::open_db(global).await?;
    let registry = crate::commands::serve::load_extensions(global).await?;
    let licensing = Licensing::new(db, registry);
    let read = |file: &std::path::Path| {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
    };
    match command {
        LicenseCommand::Show => {
            let status = licensing.refresh().await?;
            let registry = licensing.registry();
            let mut view = serde_json::to_value(&*status)?;
            view["extensions"] = json!(registry.reports);
            view["extended_hooks"] = json!(registry.hooks.extended());
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        LicenseCommand::Install { file } => match licensing.install(&read(file)?).await? {
            Ok(status) => println!("{}", serde_json::to_string_pretty(&*status)?),
            Err(reason) => bail!("license refused: {reason}; the installed license is unchanged"),
        },
        LicenseCommand::Verify { file } => {
            let answer = licensing.verify(&read(file)?).await?;
            match (answer.ok, answer.status) {
                (true, Some(status)) => println!("{}", serde_json::to_string_pretty(&status)?),
                _ => bail!(
                    "license refused: {}",
                    answer.reason.unwrap_or_else(|| "no reason given".into())
                ),
            }
        }
        LicenseCommand::Check => {
            let status = licensing.check_online(Check::Now).await?;
            println!("{}", serde_json::to_string_pretty(&*status)?);
            match &status.online {
                None => bail!("the installed license is not an online license: nothing to check"),
                Some(online) if online.last_error.is_some() => {
                    bail!("{}", online.last_error.clone().unwrap_or_default())
                }
                Some(_) => {}
            }
        }
        LicenseCommand::Release => match licensing.release_online().await? {
            Ok(status) => println!("{}", serde_json::to_string_pretty(&*status)?),
            Err(reason) => bail!("{reason}"),
        },
    }
    Ok(())
}
