//! `validibot config check`: reads the file and the environment the way `serve`
//! would and reports every problem at once — unknown or misspelt settings, values
//! their flag would refuse, an unreachable database or Docker engine, a data dir
//! that cannot be written — instead of failing on the first at start-up.

use std::path::Path;

use clap::FromArgMatches;

use super::file::{self, Problem, PREFIX};
use super::InstanceArgs;

/// Settings whose values are never printed.
const SECRETS: &[&str] = &[
    "VALIDIBOT_SECRET_KEY",
    "VALIDIBOT_DATABASE_URL",
    "VALIDIBOT_SMTP_URL",
    "VALIDIBOT_S3_SECRET_ACCESS_KEY",
];

/// Whether the command line asks for `config check` (handled before normal parsing,
/// which would stop at the first bad value).
pub fn requested(args: &[String]) -> bool {
    args.windows(2).any(|w| w[0] == "config" && w[1] == "check")
}

/// `root` builds the program's command tree; it is built again after the file's values
/// are in the environment, because clap reads an argument's variable when it is built.
pub async fn run(args: &[String], root: fn() -> clap::Command) -> anyhow::Result<i32> {
    let mut problems = Vec::new();
    file::unset_empty();
    let source = file::locate(args);
    if let Some(path) = &source {
        let (vars, file_problems) = file::read(path, &root());
        problems.extend(file_problems);
        file::export(vars);
    }
    let tree = root();
    problems.extend(unknown_variables(&tree));
    let invalid = invalid_values(&tree);
    // Reported; the rest is checked as if they were unset.
    for p in &invalid {
        std::env::remove_var(&p.setting);
    }
    problems.extend(invalid);
    let global =
        root()
            .try_get_matches_from(args)
            .and_then(|m| match m.subcommand_matches("config") {
                Some(config) => InstanceArgs::from_arg_matches(config),
                None => InstanceArgs::from_arg_matches(&m),
            });
    match global {
        Ok(global) => problems.extend(reachability(&global).await),
        Err(e) => problems.push(Problem {
            setting: "command line".into(),
            detail: e.to_string().lines().next().unwrap_or("").to_owned(),
        }),
    }

    match &source {
        Some(p) => println!("configuration file: {}", p.display()),
        None => println!("configuration file: none (environment and defaults only)"),
    }
    for (var, (_, default)) in file::known_settings(&tree) {
        if let Ok(value) = std::env::var(&var) {
            let shown = if SECRETS.contains(&var.as_str()) {
                mask(&value)
            } else {
                value
            };
            println!("  {var} = {shown}");
        } else if let Some(d) = default {
            println!("  {var} = {d} (default)");
        }
    }
    if problems.is_empty() {
        println!("configuration OK");
        return Ok(0);
    }
    eprintln!("{} problem(s):", problems.len());
    for p in &problems {
        eprintln!("  ✗ {}: {}", p.setting, p.detail);
    }
    Ok(1)
}

fn mask(value: &str) -> String {
    match value.split_once("://") {
        // Keep the scheme and host, hide credentials.
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://***@{host}")
        }
        None => "***".into(),
    }
}

/// `VALIDIBOT_*` variables nothing reads: usually a typo that silently does nothing.
fn unknown_variables(root: &clap::Command) -> Vec<Problem> {
    let known = file::known_settings(root);
    std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with(PREFIX) && !known.contains_key(k))
        .filter(|k| !k.starts_with("VALIDIBOT_TEST_"))
        .map(|k| Problem {
            detail: format!(
                "unknown variable{}",
                file::closest(&k, known.keys().cloned())
            ),
            setting: k,
        })
        .collect()
}

/// Each set value through its own flag's parser, one at a time, so all are reported.
fn invalid_values(root: &clap::Command) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![root.clone()];
    while let Some(cmd) = stack.pop() {
        for arg in cmd.get_arguments() {
            let Some(var) = arg.get_env().and_then(|e| e.to_str()) else {
                continue;
            };
            let Ok(value) = std::env::var(var) else {
                continue;
            };
            if !seen.insert(var.to_owned()) {
                continue;
            }
            let single = clap::Command::new("check").arg(arg.clone().env(None::<&str>));
            let long = format!("--{}", arg.get_long().unwrap_or(arg.get_id().as_str()));
            let argv: Vec<String> = if arg.get_action().takes_values() {
                vec!["check".into(), long, value.clone()]
            } else {
                // Flags accept the usual spellings of true and false.
                match value.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => vec!["check".into(), long],
                    "0" | "false" | "no" | "off" | "" => vec!["check".into()],
                    _ => {
                        problems.push(Problem {
                            setting: var.to_owned(),
                            detail: format!("{value:?} is not true or false"),
                        });
                        continue;
                    }
                }
            };
            if let Err(e) = single.try_get_matches_from(argv) {
                let detail = e.to_string();
                let detail = detail
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                problems.push(Problem {
                    setting: var.to_owned(),
                    detail: detail.to_owned(),
                });
            }
        }
        stack.extend(cmd.get_subcommands().cloned());
    }
    problems
}

/// What `serve` needs to reach: the data dir, the database, the Docker engine (if named),
/// the bind address, the extension trust settings.
async fn reachability(global: &InstanceArgs) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |setting: &str, detail: String| {
        problems.push(Problem {
            setting: setting.to_owned(),
            detail,
        })
    };
    if let Err(e) = writable(&global.data_dir) {
        problem(
            "VALIDIBOT_DATA_DIR",
            format!("{}: {e}", global.data_dir.display()),
        );
    }
    let url = global.database_url();
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        problem(
            "VALIDIBOT_DATABASE_URL",
            "must start with sqlite: or postgres://".into(),
        );
    } else if !url.starts_with("sqlite:") || global.data_dir.exists() {
        match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            validibot_store::db::Db::connect(&url, 1),
        )
        .await
        {
            Ok(Ok(db)) => {
                if let Err(e) = db.ping().await {
                    problem(
                        "VALIDIBOT_DATABASE_URL",
                        format!("connected but cannot query: {e}"),
                    );
                }
            }
            Ok(Err(e)) => problem("VALIDIBOT_DATABASE_URL", format!("cannot connect: {e:#}")),
            Err(_) => problem("VALIDIBOT_DATABASE_URL", "no answer within 5 s".into()),
        }
    }
    if global.storage.bucket().is_some() {
        match global.blob_store() {
            Ok(store) => {
                let probe = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    store.probe_writable(),
                );
                match probe.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => problem(
                        "VALIDIBOT_STORAGE_URL",
                        format!("cannot write to {}: {e:#}", store.location()),
                    ),
                    Err(_) => problem(
                        "VALIDIBOT_STORAGE_URL",
                        format!("{} does not answer within 10 s", store.location()),
                    ),
                }
            }
            Err(e) => problem("VALIDIBOT_STORAGE_URL", format!("{e:#}")),
        }
    }
    if let Some(socket) = &global.docker_socket {
        let service = validibot_engines::containers::service::ContainerService::new(
            Some(socket.clone()),
            &global.data_dir,
        );
        if let Err(e) = service.ping().await {
            problem(
                "VALIDIBOT_DOCKER_SOCKET",
                format!("the engine does not answer: {e:#}"),
            );
        }
    }
    if let Err(e) = global.extension_settings() {
        problem("VALIDIBOT_EXTENSION_TRUSTED_KEYS", format!("{e:#}"));
    }
    if let Some(path) = global.license_file() {
        if let Err(e) = std::fs::read_to_string(path) {
            problem(
                "VALIDIBOT_LICENSE_FILE",
                format!("cannot read {}: {e}", path.display()),
            );
        }
    }
    if let Err(e) = global.plugin_trust() {
        problem("VALIDIBOT_PLUGIN_TRUSTED_KEYS", format!("{e:#}"));
    }
    if let Some(dir) = &global.extensions_dir {
        if !dir.is_dir() {
            problem(
                "VALIDIBOT_EXTENSIONS_DIR",
                format!("{} is not a directory", dir.display()),
            );
        }
    }
    if let Ok(bind) = std::env::var("VALIDIBOT_BIND") {
        if bind.parse::<std::net::SocketAddr>().is_err() && !bind.contains(':') {
            problem("VALIDIBOT_BIND", format!("{bind:?} is not HOST:PORT"));
        }
    }
    if let Some(smtp_url) = std::env::var("VALIDIBOT_SMTP_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let mail = crate::config::MailArgs {
            smtp_url: Some(smtp_url),
            mail_from: std::env::var("VALIDIBOT_MAIL_FROM").ok(),
            ..Default::default()
        };
        match mail.mailer(std::env::var("VALIDIBOT_PUBLIC_URL").ok().as_deref()) {
            Ok(Some(mailer)) => {
                if let Err(e) = mailer.check().await {
                    problem("VALIDIBOT_SMTP_URL", e.to_string());
                }
            }
            Ok(None) => {}
            Err(e) => problem("VALIDIBOT_SMTP_URL", format!("{e:#}")),
        }
    }
    if let Some(path) = std::env::var_os("VALIDIBOT_SSO_CONFIG").filter(|p| !p.is_empty()) {
        let sso = crate::config::SsoArgs {
            sso_config: Some(path.into()),
        };
        match sso.sso(std::env::var("VALIDIBOT_PUBLIC_URL").ok().as_deref()) {
            Ok(Some(sso)) => {
                for (id, e) in sso.check().await {
                    problem("VALIDIBOT_SSO_CONFIG", format!("provider {id:?}: {e}"));
                }
            }
            Ok(None) => {}
            Err(e) => problem("VALIDIBOT_SSO_CONFIG", format!("{e:#}")),
        }
    }
    if global.secret_key.as_ref().is_some_and(|k| k.len() < 32) {
        problem(
            "VALIDIBOT_SECRET_KEY",
            "must be at least 32 characters".into(),
        );
    }
    problems
}

/// The directory exists (or can be made) and takes a file.
fn writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".config-check-{}", std::process::id()));
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(probe)
}
