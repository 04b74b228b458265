//! `validibot.toml`: the same settings as the `VALIDIBOT_*` environment variables,
//! keyed by the variable's name without the prefix, in lower case
//! (`database_url = "postgres://…"` is `VALIDIBOT_DATABASE_URL`).
//! Precedence: command-line flag, then environment, then the file, then the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const PREFIX: &str = "VALIDIBOT_";

/// Which file to read: `--config-file PATH` / `VALIDIBOT_CONFIG`, else `./validibot.toml`
/// if present. (Not `--config`: `plugin bench` has its own `--config`, a step config.)
pub fn locate(args: &[String]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(p) = a.strip_prefix("--config-file=") {
            return Some(p.into());
        }
        if a == "--config-file" {
            return it.next().map(PathBuf::from);
        }
    }
    if let Some(p) = std::env::var_os("VALIDIBOT_CONFIG") {
        return Some(p.into());
    }
    let local = Path::new("validibot.toml");
    local.exists().then(|| local.to_path_buf())
}

/// Every setting: env var name → (help, default), from the command definitions
/// (`root` is the program's whole command tree).
pub fn known_settings(root: &clap::Command) -> BTreeMap<String, (String, Option<String>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(cmd) = stack.pop() {
        for arg in cmd.get_arguments() {
            let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
                continue;
            };
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let default = arg
                .get_default_values()
                .first()
                .map(|v| v.to_string_lossy().into_owned());
            // The same variable on several commands: keep the documented one.
            let entry = out.entry(env.to_owned()).or_insert((String::new(), None));
            if entry.0.is_empty() {
                *entry = (help, default);
            }
        }
        stack.extend(cmd.get_subcommands().cloned());
    }
    // Read by the log setup, not by a flag.
    for (var, help, default) in LOG_SETTINGS {
        out.insert(var.to_owned(), (help.to_owned(), Some(default.to_owned())));
    }
    out
}

/// The logging settings (`observability::logging`), listed with the flags' settings.
const LOG_SETTINGS: [(&str, &str, &str); 2] = [
    (
        "VALIDIBOT_LOG",
        "Log filter (tracing EnvFilter syntax, e.g. `info,validibot=debug`)",
        "info,sqlx=warn,tower_http=warn",
    ),
    (
        "VALIDIBOT_LOG_FORMAT",
        "`json` for one JSON object per line (with the run and step spans), else text",
        "text",
    ),
];

/// A problem with a setting, named by its key (file) or variable (environment).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub setting: String,
    pub detail: String,
}

/// The file's settings as `VALIDIBOT_*` variables, and what was wrong with it.
pub fn read(path: &Path, root: &clap::Command) -> (Vec<(String, String)>, Vec<Problem>) {
    let problem = |setting: &str, detail: String| Problem {
        setting: setting.to_owned(),
        detail,
    };
    let whole = |detail: String| (vec![], vec![problem(&path.display().to_string(), detail)]);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return whole(format!("cannot read: {e}")),
    };
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => return whole(format!("not valid TOML: {e}")),
    };
    let known = known_settings(root);
    let mut vars = vec![];
    let mut problems = vec![];
    for (key, value) in table {
        let var = format!("{PREFIX}{}", key.to_ascii_uppercase());
        if key.chars().any(|c| c.is_ascii_uppercase()) || !known.contains_key(&var) {
            let hint = closest(
                &key,
                known.keys().map(|k| k[PREFIX.len()..].to_ascii_lowercase()),
            );
            problems.push(problem(&key, format!("unknown setting{hint}")));
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                problems.push(problem(
                    &key,
                    format!(
                        "must be a string, number or boolean, not {}",
                        other.type_str()
                    ),
                ));
                continue;
            }
        };
        vars.push((var, text));
    }
    (vars, problems)
}

/// Loads the file into the environment (where a variable is not set already), before
/// the command line is parsed. A broken file stops the program with every problem listed.
pub fn apply(args: &[String], root: &clap::Command) -> anyhow::Result<()> {
    unset_empty();
    let Some(path) = locate(args) else {
        return Ok(());
    };
    let (vars, problems) = read(&path, root);
    if !problems.is_empty() {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("  {}: {}", p.setting, p.detail))
            .collect();
        anyhow::bail!(
            "{}:\n{}\n(run `validibot config check` for every problem)",
            path.display(),
            lines.join("\n")
        );
    }
    export(vars);
    Ok(())
}

/// Sets each variable the environment does not already set (the environment wins).
pub fn export(vars: Vec<(String, String)>) {
    for (var, value) in vars {
        if std::env::var_os(&var).is_none() {
            std::env::set_var(var, value);
        }
    }
}

/// An empty `VALIDIBOT_*` variable means "not set" (compose files and .env templates
/// leave optional settings empty), not an empty value for the flag to refuse.
pub fn unset_empty() {
    for (k, v) in std::env::vars_os() {
        if v.is_empty() && k.to_string_lossy().starts_with(PREFIX) {
            std::env::remove_var(k);
        }
    }
}

/// ` (did you mean "x"?)` when a known name is one or two edits away.
pub fn closest(name: &str, candidates: impl Iterator<Item = String>) -> String {
    candidates
        .map(|c| (edit_distance(name, &c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
