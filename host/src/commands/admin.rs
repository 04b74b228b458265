//! `validibot admin …`: bootstrap users and API keys from the command line.

use anyhow::{bail, Context, Result};

use super::serve::load_extensions;
use crate::config::InstanceArgs;
use validibot_services::licensing::Licensing;
use validibot_store::accounts::{directory as accounts, Role};
use validibot_store::db::Db;
use validibot_types::clock::now_us;

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create a user and make them a member of a workspace.
    #[command(after_help = roles_help())]
    CreateUser {
        /// The sign-in name: letters, digits and `. _ - @`.
        #[arg(long)]
        username: String,
        /// The user's email address.
        #[arg(long)]
        email: Option<String>,
        /// Their role in the workspace (below). The instance's first user becomes an
        /// owner; every later one needs a role.
        #[arg(long)]
        role: Option<String>,
        /// The workspace they join.
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Set a user's password for the web UI (read from stdin, or asked for on a terminal).
    SetPassword {
        /// Whose password.
        #[arg(long)]
        username: String,
    },
    /// Create an API key for a user; the key is printed once.
    CreateApiKey {
        /// The key's owner: it acts with their roles.
        #[arg(long)]
        username: String,
        /// A label for the key (shown in key lists, never secret).
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the key expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke an API key by its public id (the part after `vbk_`).
    RevokeApiKey {
        /// The key's public id, as key lists show it.
        #[arg(long)]
        public_id: String,
    },
}

/// Each role and what it may do, for `--help` and the refusal above.
fn roles_help() -> String {
    let mut text = String::from("Roles (each includes the ones above it):\n");
    for role in Role::ALL {
        text.push_str(&format!("  {:<9} {}\n", role.as_str(), role.summary()));
    }
    text
}

pub async fn run(global: &InstanceArgs, command: &AdminCommand) -> Result<()> {
    global.prepare_data_dir()?;
    let db = Db::connect(&global.database_url(), 2).await?;
    db.migrate().await?;
    accounts::ensure_default_workspace(&db).await?;
    match command {
        AdminCommand::CreateUser {
            username,
            email,
            role,
            workspace,
        } => {
            let role = match role {
                Some(role) => Role::parse(role).with_context(|| {
                    format!("unknown role {role:?}: use owner, admin, author, executor or viewer")
                })?,
                None if accounts::user_count(&db).await? == 0 => Role::Owner,
                None => bail!(
                    "--role is needed for every user after the first one:\n{}",
                    roles_help()
                ),
            };
            let ws = accounts::find_workspace(&db, workspace)
                .await?
                .with_context(|| format!("workspace {workspace:?} not found"))?;
            // The seat a new member takes counts against the license as in the API.
            let licensing = Licensing::new(db.clone(), load_extensions(global).await?);
            if let Err((_, detail)) = licensing.admit_member(None).await? {
                bail!("user {username:?} not created: {detail}");
            }
            let user = accounts::create_user(&db, username, email.as_deref()).await?;
            accounts::set_membership(&db, &user.id, &ws.id, role).await?;
            println!(
                "created user {} ({} of workspace {})",
                user.username,
                role.as_str(),
                ws.slug
            );
        }
        AdminCommand::CreateApiKey {
            username,
            name,
            expires_in_days,
        } => {
            let user = accounts::find_user(&db, username)
                .await?
                .with_context(|| format!("user {username:?} not found"))?;
            let secret = accounts::instance_secret(&db, global.secret_key.as_deref()).await?;
            let max = validibot_store::accounts::api_keys::MAX_EXPIRY_DAYS;
            if expires_in_days.is_some_and(|d| d == 0 || d > max) {
                bail!("--expires-in-days is 1 to {max} (omit it for a key that does not expire)");
            }
            let expires_at = expires_in_days.map(|d| now_us() + i64::from(d) * 86_400_000_000);
            let key = accounts::create_api_key(&db, &secret, &user.id, name, expires_at).await?;
            eprintln!("API key for {} (shown once; store it now):", user.username);
            println!("{}", key.token);
        }
        AdminCommand::SetPassword { username } => {
            use std::io::{BufRead, IsTerminal};
            let password = if std::io::stdin().is_terminal() {
                let first = rpassword::prompt_password("New password: ")?;
                if rpassword::prompt_password("Again: ")? != first {
                    bail!("the passwords differ");
                }
                first
            } else {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            };
            validibot_store::accounts::passwords::set(&db, username, &password).await?;
            println!("password set for {username}");
        }
        AdminCommand::RevokeApiKey { public_id } => {
            if !accounts::revoke_api_key(&db, public_id).await? {
                bail!("no active API key with public id {public_id:?}");
            }
            println!("revoked {public_id}");
        }
    }
    Ok(())
}
