//! `validibot config reference`: every setting as a Markdown table, generated from
//! the flags themselves so the documentation cannot drift from the code
//! (`docs/self-hosting/configuration.md` embeds it; a test compares them).

pub fn markdown(root: &clap::Command) -> String {
    let mut out = String::from(
        "| Variable | `validibot.toml` key | Default | Meaning |\n|---|---|---|---|\n",
    );
    for (var, (help, default)) in super::file::known_settings(root) {
        let key = var[super::file::PREFIX.len()..].to_ascii_lowercase();
        let help = help.replace('\n', " ").replace('|', "\\|");
        let default = default.map_or_else(|| "—".to_owned(), |d| format!("`{d}`"));
        out.push_str(&format!("| `{var}` | `{key}` | {default} | {help} |\n"));
    }
    out
}
