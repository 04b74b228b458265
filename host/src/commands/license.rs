//! `validibot license show | install FILE | verify FILE`: the same checks as the
//! API, run against the database directly (for operators on the host).

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::config::{GlobalArgs, LicenseCommand};
use validibot_services::licensing::Licensing;

pub async fn run(global: &GlobalArgs, command: &LicenseCommand) -> Result<()> {
    let db = crate::server::open_db(global).await?;
    let registry = crate::server::load_extensions(global).await?;
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
    }
    Ok(())
}
