//! `validibot containers cleanup | register | list | unregister`: operator
//! commands against the engine and the database directly.

use anyhow::{bail, Result};

use crate::config::GlobalArgs;
use validibot_engines::containers::sweeper::{self, Scope};
use validibot_engines::containers::DockerRunner;
use validibot_services::licensing::Licensing;
use validibot_services::validators::images::{self as registry, RegisterError, Registered};

#[derive(Debug, clap::Subcommand)]
pub enum ContainersCommand {
    /// Remove validator containers whose runner is gone or whose deadline passed.
    Cleanup {
        /// List what would be removed without removing it.
        #[arg(long)]
        dry_run: bool,
        /// Remove every container Validibot manages, running or not.
        #[arg(long)]
        all: bool,
        /// Only containers of this validator (label `org.validibot.validator`).
        #[arg(long)]
        validator: Option<String>,
    },
    /// Put an image on the allow-list (metadata from its `org.validibot.validator.*` labels;
    /// pinned by image ID). Needs Pro: validators.advanced or validators.user_images.
    Register {
        /// Image reference or ID on the engine.
        image: String,
    },
    /// The registered container validators.
    List,
    /// Take a version off the allow-list.
    Unregister { slug: String, version: String },
}

pub async fn run(global: &GlobalArgs, command: &ContainersCommand) -> Result<()> {
    let runner = || DockerRunner::connect(global.docker_socket.as_deref());
    let print =
        |v: serde_json::Value| println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    match command {
        ContainersCommand::Cleanup {
            dry_run,
            all,
            validator,
        } => {
            let scope = Scope {
                all: *all,
                validator: validator.clone(),
            };
            let swept = sweeper::sweep(&runner().await?, &scope, *dry_run).await?;
            print(serde_json::to_value(swept)?);
        }
        ContainersCommand::Register { image } => {
            let db = crate::commands::serve::open_db(global).await?;
            let licensing = Licensing::new(
                db.clone(),
                crate::commands::serve::load_extensions(global).await?,
            );
            match registry::register_image(&db, &runner().await?, &licensing, image, None).await {
                Ok(Registered::Created(v)) => print(serde_json::json!({"registered": v})),
                Ok(Registered::Unchanged(v)) => print(serde_json::json!({"already_registered": v})),
                Err(RegisterError::Internal(e)) => return Err(e),
                Err(e) => bail!("{image} not registered: {e}"),
            }
        }
        ContainersCommand::List => {
            let db = crate::commands::serve::open_db(global).await?;
            print(serde_json::to_value(registry::list(&db).await?)?);
        }
        ContainersCommand::Unregister { slug, version } => {
            let db = crate::commands::serve::open_db(global).await?;
            if !registry::unregister(&db, slug, version).await? {
                bail!("{slug} {version} is not registered");
            }
            print(serde_json::json!({"unregistered": {"slug": slug, "version": version}}));
        }
    }
    Ok(())
}
