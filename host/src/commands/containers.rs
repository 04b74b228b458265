//! `validibot containers cleanup | register | list | unregister`: operator
//! commands against the engine and the database directly; `conformance`, an image
//! author's check that needs only an engine.

use anyhow::{bail, Context, Result};

use crate::config::InstanceArgs;
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
        /// Image reference or ID on the engine; with --image-config, a reference pinned by
        /// digest (`repository@sha256:…`) that a cluster pulls.
        image: String,
        /// Read the labels and command from this file instead of an engine: the output of
        /// `docker image inspect IMAGE` (or its `Config`, or the OCI image config), for
        /// the Kubernetes launcher, whose cluster no engine here can see.
        #[arg(long, value_name = "FILE")]
        image_config: Option<std::path::PathBuf>,
    },
    /// The registered container validators.
    List,
    /// Replace a registered version's settings: environment variables its containers
    /// start with (`NAME=VALUE`; none clears them), e.g. an image's policy without
    /// rebuilding it. Runs started afterwards get them.
    SetEnv {
        slug: String,
        version: String,
        settings: Vec<String>,
    },
    /// Take a version off the allow-list.
    Unregister { slug: String, version: String },
    /// Run an image as the server would, with your documents and a garbage one, and
    /// print which container-validator behaviours pass (docs/validators/authoring.md).
    /// Needs only an engine: no database, no license. Exits 1 when a check fails.
    Conformance {
        /// Image reference or ID on the engine.
        image: String,
        /// A document to run it with (repeatable); its media type is guessed from the
        /// extension unless --content-type is given.
        #[arg(long = "document", value_name = "FILE")]
        documents: Vec<std::path::PathBuf>,
        /// The media type of every --document.
        #[arg(long)]
        content_type: Option<String>,
        /// The step config (JSON text, or @file).
        #[arg(long, default_value = "{}")]
        config: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(global: &InstanceArgs, command: &ContainersCommand) -> Result<()> {
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
        ContainersCommand::Register {
            image,
            image_config,
        } => {
            let db = crate::commands::serve::open_db(global).await?;
            let licensing = Licensing::new(
                db.clone(),
                crate::commands::serve::load_extensions(global).await?,
            );
            let config = match image_config {
                Some(path) => Some(
                    serde_json::from_slice::<serde_json::Value>(&std::fs::read(path)?)
                        .with_context(|| format!("{} is not JSON", path.display()))?,
                ),
                None => None,
            };
            let engine;
            let source = match &config {
                Some(c) => registry::ImageSource::Config(c),
                None => {
                    engine = runner().await?;
                    registry::ImageSource::Engine(&engine)
                }
            };
            match registry::register_image(&db, source, &licensing, image, None).await {
                Ok(Registered::Created(v)) => print(serde_json::json!({"registered": v})),
                Ok(Registered::Unchanged(v)) => print(serde_json::json!({"already_registered": v})),
                Err(RegisterError::Internal(e)) => return Err(e),
                Err(e) => bail!("{image} not registered: {e}"),
            }
        }
        ContainersCommand::Conformance {
            image,
            documents,
            content_type,
            config,
            json,
        } => {
            conformance(
                global,
                image,
                documents,
                content_type.as_deref(),
                config,
                *json,
            )
            .await?
        }
        ContainersCommand::List => {
            let db = crate::commands::serve::open_db(global).await?;
            print(serde_json::to_value(registry::list(&db).await?)?);
        }
        ContainersCommand::SetEnv {
            slug,
            version,
            settings,
        } => {
            let env = registry::parse_env(settings).map_err(|e| anyhow::anyhow!(e))?;
            let db = crate::commands::serve::open_db(global).await?;
            if !registry::set_env(&db, slug, version, &env).await? {
                bail!("{slug} {version} is not registered");
            }
            print(serde_json::json!({"slug": slug, "version": version, "env": env}));
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

async fn conformance(
    global: &InstanceArgs,
    image: &str,
    files: &[std::path::PathBuf],
    content_type: Option<&str>,
    config: &str,
    json: bool,
) -> Result<()> {
    use validibot_services::validators::conformance::{self, Document};
    let config_text = match config.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => config.to_owned(),
    };
    let config: serde_json::Value =
        serde_json::from_str(&config_text).context("--config is not JSON")?;
    let mut documents = Vec::new();
    for file in files {
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let content_type = match content_type {
            Some(t) => t.to_owned(),
            None => validibot_types::media_types::guess_from_filename(&name)
                .with_context(|| {
                    format!("cannot tell the media type of {name}: pass --content-type")
                })?
                .to_owned(),
        };
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        documents.push(Document {
            name,
            content_type,
            bytes,
        });
    }
    let runner = DockerRunner::connect(global.docker_socket.as_deref()).await?;
    let work = tempfile::Builder::new()
        .prefix("validibot-conformance-")
        .tempdir()?;
    let report = conformance::run(&runner, work.path(), image, documents, config).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.checks {
            println!(
                "{}  {}: {}",
                if c.passed { "PASS" } else { "FAIL" },
                c.name,
                c.detail
            );
        }
        let failed = report.checks.iter().filter(|c| !c.passed).count();
        println!(
            "{}: {} of {} checks passed",
            report.image,
            report.checks.len() - failed,
            report.checks.len()
        );
    }
    if !report.passed() {
        bail!("{image} does not conform");
    }
    Ok(())
}
