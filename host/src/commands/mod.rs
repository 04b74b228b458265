//! The `validibot` command line: every subcommand, operator and client alike, and
//! where each one goes. `main` only loads the configuration file and calls [`main`].

pub mod admin;
pub mod backup;
pub mod bench;
pub mod client;
pub mod containers;
pub mod license;
pub mod logging;
pub mod plugin;
pub mod serve;
pub mod verify;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{InstanceArgs, ServeArgs, WorkerArgs};
use admin::AdminCommand;
use containers::ContainersCommand;
use license::LicenseCommand;

#[derive(Debug, Parser)]
#[command(
    name = "validibot",
    version,
    about = "Self-hosted data validation: workflows of sandboxed validators over a REST API."
)]
pub struct Cli {
    /// A `validibot.toml` (default: `./validibot.toml` when present); keys are the
    /// variables' names without `VALIDIBOT_`, in lower case.
    #[arg(long, global = true, env = "VALIDIBOT_CONFIG")]
    pub config_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// `validibot agent …`.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Write the agent binary (static, runs in any image) to PATH: a Kubernetes Job's
    /// init container does this into a volume the validator's container mounts.
    Install { path: PathBuf },
}

/// The commands. Those that open the instance (its database, files and keys) take
/// [`InstanceArgs`]; the client commands (`login` … `check`) take only their own options.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API (and, unless --no-worker, an embedded worker).
    Serve {
        #[command(flatten)]
        instance: InstanceArgs,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Run workers only (no API); many may share one PostgreSQL.
    Worker {
        #[command(flatten)]
        instance: InstanceArgs,
        #[command(flatten)]
        args: WorkerArgs,
    },
    /// Apply database migrations.
    Migrate {
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// Bootstrap users and API keys.
    Admin {
        #[command(flatten)]
        instance: InstanceArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Measure launch throughput and latency against a server started in-process.
    Bench {
        #[command(flatten)]
        instance: InstanceArgs,
        #[command(flatten)]
        args: crate::commands::bench::BenchArgs,
    },
    /// Tools for plugin authors: scaffold, fixture tests, per-call benchmark.
    #[command(subcommand)]
    Plugin(crate::commands::plugin::PluginCommand),
    /// The instance's license (Pro): show its state, install or check a license file.
    License {
        #[command(flatten)]
        instance: InstanceArgs,
        #[command(subcommand)]
        command: LicenseCommand,
    },
    /// Validator containers: register images, operator settings, remove orphans.
    Containers {
        #[command(flatten)]
        instance: InstanceArgs,
        #[command(subcommand)]
        command: ContainersCommand,
    },
    /// Save a server URL and API key for the client commands (file mode 0600).
    Login(crate::commands::client::login::LoginArgs),
    /// Workflows on a server: list, show, create from a YAML/JSON file.
    #[command(subcommand)]
    Workflows(crate::commands::client::workflows::WorkflowsCommand),
    /// Runs on a server: list them, show one's report, cancel one.
    #[command(subcommand)]
    Runs(crate::commands::client::runs::RunsCommand),
    /// Submit a file to a workflow on a server, wait for the result and report it.
    #[command(after_help = crate::commands::client::exit::TABLE)]
    Validate(crate::commands::client::validate::ValidateArgs),
    /// Run a workflow file locally with the embedded validators (no server); same
    /// reports and exit codes as `validate`.
    #[command(after_help = crate::commands::client::exit::TABLE)]
    Check(crate::commands::client::check::CheckArgs),
    /// Apply the retention policy once: delete expired runs and submitted files, sweep
    /// unreferenced blobs, delete audit log events past their retention; prints what
    /// was done as JSON.
    Purge {
        #[command(flatten)]
        instance: InstanceArgs,
        #[command(flatten)]
        retention: crate::config::RetentionArgs,
        /// Count what would be deleted without deleting anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy the database (SQLite: an online, consistent snapshot), the stored files
    /// and the instance keys into a new directory.
    Backup {
        #[command(flatten)]
        instance: InstanceArgs,
        /// The directory to create.
        output: PathBuf,
    },
    /// Restore a backup made by `validibot backup` into the data dir (which must not
    /// hold a database yet, unless --force), then apply newer migrations.
    Restore {
        #[command(flatten)]
        instance: InstanceArgs,
        /// The backup directory.
        input: PathBuf,
        /// Replace an existing database and files.
        #[arg(long)]
        force: bool,
    },
    /// Configuration: check every setting at once, or print the reference.
    Config {
        #[command(flatten)]
        instance: InstanceArgs,
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The container agent asynchronous steps start with.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Verify a run's evidence manifest offline; exit 1 if anything was altered.
    Verify {
        file: PathBuf,
        /// The signing instance's public key: `kid:base64`, or a saved
        /// `/.well-known/validibot-keys.json`. Repeatable.
        #[arg(long = "key")]
        keys: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Report every problem with the file, the environment and what they point at
    /// (database, data dir, Docker engine); exit 1 if there is any.
    Check,
    /// Print every setting (variable, file key, default, meaning) as Markdown.
    Reference,
}

/// The whole program: `config check` first (it must see a broken file), then the
/// configuration file, logging, and the subcommand.
pub fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let root = Cli::command();
    if crate::config::check::requested(&args) {
        crate::commands::logging::init();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let code = runtime.block_on(crate::config::check::run(&args, Cli::command))?;
        std::process::exit(code);
    }
    if let Err(e) = crate::config::file::apply(&args, &root) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
    // After the file: it may set VALIDIBOT_LOG and VALIDIBOT_LOG_FORMAT.
    crate::commands::logging::init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Client commands exit with a run's result code, or REQUEST_FAILED.
    let client_code = |r: anyhow::Result<i32>| match r {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(crate::commands::client::exit::REQUEST_FAILED)
        }
    };
    use crate::commands::client;
    use crate::commands::plugin::PluginCommand;
    runtime.block_on(async move {
        match &cli.command {
            Command::Login(args) => client_code(client::login::run(args).await.map(|_| 0)),
            Command::Workflows(cmd) => client_code(client::workflows::run(cmd).await.map(|_| 0)),
            Command::Runs(cmd) => client_code(client::runs::run(cmd).await),
            Command::Validate(args) => client_code(client::validate::run(args).await),
            Command::Check(args) => client_code(client::check::run(args).await),
            Command::Serve { instance, args } => {
                crate::commands::serve::serve(instance, args, None).await
            }
            Command::Worker { instance, args } => {
                crate::commands::serve::run_worker(instance, args).await
            }
            Command::Migrate { instance } => {
                instance.prepare_data_dir()?;
                let db = validibot_store::db::Db::connect(&instance.database_url(), 2).await?;
                db.migrate().await?;
                validibot_store::accounts::directory::ensure_default_workspace(&db).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::Admin { instance, command } => {
                crate::commands::admin::run(instance, command).await
            }
            Command::Purge {
                instance,
                retention,
                dry_run,
            } => {
                let (db, blobs) = crate::commands::serve::open_storage(instance).await?;
                let report = validibot_services::retention::purge(
                    &db,
                    &blobs,
                    &retention.policy(),
                    *dry_run,
                )
                .await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Backup { instance, output } => {
                crate::commands::backup::create(instance, output).await
            }
            Command::Restore {
                instance,
                input,
                force,
            } => crate::commands::backup::restore(instance, input, *force).await,
            Command::Config {
                command: ConfigCommand::Reference,
                ..
            } => {
                print!("{}", crate::config::reference::markdown(&Cli::command()));
                Ok(())
            }
            Command::Config {
                command: ConfigCommand::Check,
                ..
            } => {
                unreachable!("handled before parsing")
            }
            Command::Verify { file, keys } => crate::commands::verify::run(file, keys),
            Command::Agent(AgentCommand::Install { path }) => {
                validibot_engines::containers::launcher::write_agent(path)?;
                Ok(())
            }
            Command::Containers { instance, command } => {
                crate::commands::containers::run(instance, command).await
            }
            Command::License { instance, command } => {
                crate::commands::license::run(instance, command).await
            }
            Command::Bench { instance, args } => crate::commands::bench::run(instance, args).await,
            Command::Plugin(PluginCommand::Install(args)) => {
                crate::commands::plugin::install::run(&args.instance, args).await
            }
            Command::Plugin(PluginCommand::List { instance }) => {
                crate::commands::plugin::install::list(instance).await
            }
            Command::Plugin(PluginCommand::Uninstall(args)) => {
                crate::commands::plugin::install::uninstall(&args.instance, args).await
            }
            Command::Plugin(PluginCommand::Disable(args)) => {
                crate::commands::plugin::availability::disable(&args.instance, args).await
            }
            Command::Plugin(PluginCommand::Enable(args)) => {
                crate::commands::plugin::availability::enable(&args.instance, args).await
            }
            Command::Plugin(cmd) => {
                let cmd = cmd.clone();
                tokio::task::spawn_blocking(move || crate::commands::plugin::run(&cmd)).await?
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::{known_settings, read};

    #[test]
    fn config_file_keys_map_to_variables_and_mistakes_are_all_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validibot.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite://x.db\"\ndb_pool = 4\nno_worker = true\ndatabse_url = \"x\"\nbind = [1]\n",
        )
        .unwrap();
        let (vars, problems) = read(&path, &Cli::command());
        assert_eq!(
            vars,
            vec![
                (
                    "VALIDIBOT_DATABASE_URL".to_owned(),
                    "sqlite://x.db".to_owned()
                ),
                ("VALIDIBOT_DB_POOL".to_owned(), "4".to_owned()),
                ("VALIDIBOT_NO_WORKER".to_owned(), "true".to_owned()),
            ]
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].setting, "bind");
        assert!(problems[0].detail.contains("not array"), "{problems:?}");
        assert_eq!(
            problems[1].detail,
            "unknown setting (did you mean \"database_url\"?)"
        );
    }

    #[test]
    fn every_setting_of_every_command_is_known_with_its_help() {
        let known = known_settings(&Cli::command());
        for var in [
            "VALIDIBOT_DATABASE_URL",
            "VALIDIBOT_BIND",
            "VALIDIBOT_WORKER_CONCURRENCY",
            "VALIDIBOT_RUN_RETENTION_DAYS",
        ] {
            let (help, _) = known.get(var).unwrap_or_else(|| panic!("{var} missing"));
            assert!(!help.is_empty(), "{var} has no help");
        }
        assert_eq!(known["VALIDIBOT_BIND"].1.as_deref(), Some("127.0.0.1:8080"));
    }
}
