use clap::Parser;

use validibot::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if validibot::config::check::requested(&args) {
        validibot::observability::logging::init();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let code = runtime.block_on(validibot::config::check::run(&args))?;
        std::process::exit(code);
    }
    if let Err(e) = validibot::config::file::apply(&args) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
    // After the file: it may set VALIDIBOT_LOG and VALIDIBOT_LOG_FORMAT.
    validibot::observability::logging::init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Client commands exit with a run's result code; a failed request is exit 2 (ERROR).
    let client_code = |r: anyhow::Result<i32>| match r {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(validibot::cli::exit::ERROR)
        }
    };
    runtime.block_on(async move {
        match &cli.command {
            Command::Login(args) => client_code(validibot::cli::login::run(args).await.map(|_| 0)),
            Command::Workflows(cmd) => {
                client_code(validibot::cli::workflows::run(cmd).await.map(|_| 0))
            }
            Command::Validate(args) => client_code(validibot::cli::validate::run(args).await),
            Command::Check(args) => client_code(validibot::cli::check::run(args).await),
            Command::Serve(args) => validibot::server::serve(&cli.global, args, None).await,
            Command::Worker(args) => validibot::server::run_worker(&cli.global, args).await,
            Command::Migrate => {
                cli.global.prepare_data_dir()?;
                let db = validibot::db::Db::connect(&cli.global.database_url(), 2).await?;
                db.migrate().await?;
                validibot::accounts::store::ensure_default_workspace(&db).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::Admin(cmd) => validibot::admin::run(&cli.global, cmd).await,
            Command::Purge { retention, dry_run } => {
                let (db, blobs) = validibot::server::open_storage(&cli.global).await?;
                let report = validibot::retention::purge(&db, &blobs, retention, *dry_run).await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Backup { output } => validibot::backup::create(&cli.global, output).await,
            Command::Restore { input, force } => {
                validibot::backup::restore(&cli.global, input, *force).await
            }
            Command::Config(validibot::config::ConfigCommand::Reference) => {
                print!("{}", validibot::config::reference::markdown());
                Ok(())
            }
            Command::Config(validibot::config::ConfigCommand::Check) => {
                unreachable!("handled before parsing")
            }
            Command::Verify { file, keys } => validibot::evidence::cli::run(file, keys),
            Command::Containers(cmd) => validibot::containers::cli::run(&cli.global, cmd).await,
            Command::License(cmd) => validibot::licensing::cli::run(&cli.global, cmd).await,
            Command::Bench(args) => validibot::bench::run(&cli.global, args).await,
            Command::Plugin(validibot::plugin_tools::PluginCommand::Install(args)) => {
                validibot::plugin_tools::install::run(&cli.global, args).await
            }
            Command::Plugin(cmd) => {
                let cmd = cmd.clone();
                tokio::task::spawn_blocking(move || validibot::plugin_tools::run(&cmd)).await?
            }
        }
    })
}
