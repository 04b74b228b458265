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

use crate::config::{GlobalArgs, ServeArgs, WorkerArgs};
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
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API (and, unless --no-worker, an embedded worker).
    Serve(ServeArgs),
    /// Run workers only (no API); many may share one PostgreSQL.
    Worker(WorkerArgs),
    /// Apply database migrations.
    Migrate,
    /// Bootstrap users and API keys.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Measure launch throughput and latency against a server started in-process.
    Bench(crate::commands::bench::BenchArgs),
    /// Tools for plugin authors: scaffold, fixture tests, per-call benchmark.
    #[command(subcommand)]
    Plugin(crate::commands::plugin::PluginCommand),
    /// The instance's license (Pro): show its state, install or check a license file.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Validator containers: remove orphans.
    #[command(subcommand)]
    Containers(ContainersCommand),
    /// Save a server URL and API key for the client commands (file mode 0600).
    Login(crate::commands::client::login::LoginArgs),
    /// Workflows on a server: list, show, create from a YAML/JSON file.
    #[command(subcommand)]
    Workflows(crate::commands::client::workflows::WorkflowsCommand),
    /// Runs on a server: cancel one.
    #[command(subcommand)]
    Runs(crate::commands::client::runs::RunsCommand),
    /// Submit a file to a workflow on a server and report the result.
    /// Exit codes: 0 PASS, 1 FAIL, 2 ERROR/TIMED_OUT/CANCELED (or a failed request),
    /// 3 the wait ran out, 130 interrupted.
    Validate(crate::commands::client::validate::ValidateArgs),
    /// Run a workflow file locally with the embedded validators (no server); same
    /// reports and exit codes as `validate`.
    Check(crate::commands::client::check::CheckArgs),
    /// Apply the retention policy once: delete expired runs and submitted files, sweep
    /// unreferenced blobs; prints what was done as JSON.
    Purge {
        #[command(flatten)]
        retention: crate::config::RetentionArgs,
        /// Count what would be deleted without deleting anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy the database (SQLite: an online, consistent snapshot), the stored files
    /// and the instance keys into a new directory.
    Backup {
        /// The directory to create.
        output: PathBuf,
    },
    /// Restore a backup made by `validibot backup` into the data dir (which must not
    /// hold a database yet, unless --force), then apply newer migrations.
    Restore {
        /// The backup directory.
        input: PathBuf,
        /// Replace an existing database and files.
        #[arg(long)]
        force: bool,
    },
    /// Configuration: check every setting at once, or print the reference.
    #[command(subcommand)]
    Config(ConfigCommand),
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
    // Client commands exit with a run's result code; a failed request is exit 2 (ERROR).
    let client_code = |r: anyhow::Result<i32>| match r {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(crate::commands::client::exit::ERROR)
        }
    };
    runtime.block_on(async move {
        match &cli.command {
            Command::Login(args) => {
                client_code(crate::commands::client::login::run(args).await.map(|_| 0))
            }
            Command::Workflows(cmd) => client_code(
                crate::commands::client::workflows::run(cmd)
                    .await
                    .map(|_| 0),
            ),
            Command::Runs(cmd) => {
                client_code(crate::commands::client::runs::run(cmd).await.map(|_| 0))
            }
            Command::Validate(args) => {
                client_code(crate::commands::client::validate::run(args).await)
            }
            Command::Check(args) => client_code(crate::commands::client::check::run(args).await),
            Command::Serve(args) => crate::commands::serve::serve(&cli.global, args, None).await,
            Command::Worker(args) => crate::commands::serve::run_worker(&cli.global, args).await,
            Command::Migrate => {
                cli.global.prepare_data_dir()?;
                let db = validibot_store::db::Db::connect(&cli.global.database_url(), 2).await?;
                db.migrate().await?;
                validibot_store::accounts::directory::ensure_default_workspace(&db).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::Admin(cmd) => crate::commands::admin::run(&cli.global, cmd).await,
            Command::Purge { retention, dry_run } => {
                let (db, blobs) = crate::commands::serve::open_storage(&cli.global).await?;
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
            Command::Backup { output } => {
                crate::commands::backup::create(&cli.global, output).await
            }
            Command::Restore { input, force } => {
                crate::commands::backup::restore(&cli.global, input, *force).await
            }
            Command::Config(ConfigCommand::Reference) => {
                print!("{}", crate::config::reference::markdown(&Cli::command()));
                Ok(())
            }
            Command::Config(ConfigCommand::Check) => {
                unreachable!("handled before parsing")
            }
            Command::Verify { file, keys } => crate::commands::verify::run(file, keys),
            Command::Containers(cmd) => crate::commands::containers::run(&cli.global, cmd).await,
            Command::License(cmd) => crate::commands::license::run(&cli.global, cmd).await,
            Command::Bench(args) => crate::commands::bench::run(&cli.global, args).await,
            Command::Plugin(crate::commands::plugin::PluginCommand::Install(args)) => {
                crate::commands::plugin::install::run(&cli.global, args).await
            }
            Command::Plugin(crate::commands::plugin::PluginCommand::List) => {
                crate::commands::plugin::install::list(&cli.global).await
            }
            Command::Plugin(crate::commands::plugin::PluginCommand::Uninstall(args)) => {
                crate::commands::plugin::install::uninstall(&cli.global, args).await
            }
            Command::Plugin(crate::commands::plugin::PluginCommand::Disable(args)) => {
                crate::commands::plugin::availability::disable(&cli.global, args).await
            }
            Command::Plugin(crate::commands::plugin::PluginCommand::Enable(args)) => {
                crate::commands::plugin::availability::enable(&cli.global, args).await
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
