//! `validibot login`: check a key against the server, then save it (0600).

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};

use super::credentials::{self, Credentials};
use super::rest::Client;

#[derive(Debug, Clone, clap::Args)]
pub struct LoginArgs {
    /// Server URL, e.g. `http://localhost:8080`.
    #[arg(long, env = "VALIDIBOT_SERVER")]
    pub server: String,
    /// The API key; default: `VALIDIBOT_API_KEY`, else asked for (hidden) or read from stdin.
    #[arg(long, env = "VALIDIBOT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Default workspace for the other commands.
    #[arg(long, default_value = "default")]
    pub workspace: String,
}

fn read_key() -> Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("API key: ").context("reading the API key");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line)
}

pub async fn run(args: &LoginArgs) -> Result<()> {
    let key = match &args.api_key {
        Some(k) => k.clone(),
        None => read_key()?,
    };
    let key = key.trim().to_owned();
    if !key.starts_with("vbk_") {
        bail!("that is not a Validibot API key (they start with vbk_); create one in the web UI or with `validibot admin create-api-key`");
    }
    let client = Client::new(&args.server, &key, &args.workspace)?;
    let workspaces = client
        .get("/api/v1/workspaces")
        .await
        .context("checking the key")?;
    let known = workspaces["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["slug"] == args.workspace.as_str());
    let Some(ws) = known else {
        bail!(
            "the key works, but its user is not a member of workspace {:?}",
            args.workspace
        );
    };
    let path = credentials::save(&Credentials {
        server: client.base().to_owned(),
        api_key: key,
        workspace: args.workspace.clone(),
    })?;
    eprintln!(
        "logged in to {} (workspace {}, role {}); key saved to {} (mode 0600)",
        client.base(),
        args.workspace,
        ws["role"].as_str().unwrap_or("?"),
        path.display()
    );
    Ok(())
}
