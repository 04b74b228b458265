//! `validibot admin …`: bootstrap users, invitations and API keys from the command line.

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
    /// Turn off a user's two-factor authentication (they lost their device and their
    /// recovery codes); their next password sign-in asks for no code.
    ResetTwoFactor {
        /// Whose second factor.
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
    /// Invite an email address into a workspace with a role. With SMTP set the link is
    /// mailed; either way it is printed, to pass on yourself when no mail goes out.
    #[command(after_help = roles_help())]
    Invite {
        /// The address invited; it becomes the new account's email.
        #[arg(long)]
        email: String,
        /// The role they get on accepting (below).
        #[arg(long)]
        role: String,
        /// The workspace they join.
        #[arg(long, default_value = "default")]
        workspace: String,
        #[arg(long, env = "VALIDIBOT_PUBLIC_URL", help = crate::config::PUBLIC_URL_HELP)]
        public_url: Option<String>,
        #[command(flatten)]
        mail: crate::config::MailArgs,
    },
    /// List a workspace's invitations with their state.
    Invitations {
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Revoke a pending invitation by its id (as `admin invitations` lists it).
    RevokeInvitation {
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Revoke an API key by its public id (the part after `vbk_`).
    RevokeApiKey {
        /// The key's public id, as key lists show it.
        #[arg(long)]
        public_id: String,
    },
}

impl AdminCommand {
    /// The audit log's record of a command that changed something: its action, workspace,
    /// target and the arguments worth keeping (never a secret); `None` for a listing.
    fn audit(&self) -> Option<(&'static str, Option<&str>, String, serde_json::Value)> {
        use serde_json::json;
        Some(match self {
            AdminCommand::CreateUser {
                username,
                role,
                workspace,
                ..
            } => (
                "adminCreateUser",
                Some(workspace),
                format!("username={username}"),
                json!({"role": role}),
            ),
            AdminCommand::SetPassword { username } => (
                "adminSetPassword",
                None,
                format!("username={username}"),
                json!({}),
            ),
            AdminCommand::ResetTwoFactor { username } => (
                "adminResetTwoFactor",
                None,
                format!("username={username}"),
                json!({}),
            ),
            AdminCommand::CreateApiKey {
                username,
                name,
                expires_in_days,
            } => (
                "adminCreateApiKey",
                None,
                format!("username={username}"),
                json!({"name": name, "expires_in_days": expires_in_days}),
            ),
            AdminCommand::Invite {
                email,
                role,
                workspace,
                ..
            } => (
                "adminInvite",
                Some(workspace),
                format!("email={email}"),
                json!({"role": role}),
            ),
            AdminCommand::RevokeInvitation { id, workspace } => (
                "adminRevokeInvitation",
                Some(workspace),
                format!("id={id}"),
                json!({}),
            ),
            AdminCommand::RevokeApiKey { public_id } => (
                "adminRevokeApiKey",
                None,
                format!("public_id={public_id}"),
                json!({}),
            ),
            AdminCommand::Invitations { .. } => return None,
        })
    }
}

/// Records a command that changed something: done by whoever runs the command line
/// (the operating system's user name), via `cli`.
async fn record(db: &Db, command: &AdminCommand) {
    let Some((action, workspace, target, detail)) = command.audit() else {
        return;
    };
    let operator = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "operator".into());
    let event = validibot_store::audit::NewEvent {
        actor: Some(operator),
        via: "cli",
        action: action.to_owned(),
        workspace: workspace.map(str::to_owned),
        target: Some(target),
        detail,
        ..Default::default()
    };
    if let Err(e) = validibot_store::audit::record(db, &event).await {
        eprintln!("warning: the audit log did not record this command: {e:#}");
    }
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
            let ws = find_workspace(&db, workspace).await?;
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
        AdminCommand::ResetTwoFactor { username } => {
            let user = accounts::find_user(&db, username)
                .await?
                .with_context(|| format!("user {username:?} not found"))?;
            if validibot_store::accounts::mfa::disable(&db, &user.id).await? {
                println!("two-factor authentication turned off for {username}");
            } else {
                println!("{username} had no two-factor authentication");
            }
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
        AdminCommand::Invite {
            email,
            role,
            workspace,
            public_url,
            mail,
        } => {
            let role = Role::parse(role).with_context(|| {
                format!("unknown role {role:?}: use owner, admin, author, executor or viewer")
            })?;
            let ws = find_workspace(&db, workspace).await?;
            let public_url = public_url.as_deref().filter(|u| !u.is_empty());
            let mailer = mail.mailer(public_url)?;
            use validibot_services::accounts::invitations::{invite, Delivery};
            let delivery = match &mailer {
                Some(m) => Delivery::Mail(m),
                None => Delivery::Print { public_url },
            };
            let invited = invite(&db, delivery, &ws, email, role, None, mail.lifetimes())
                .await?
                .map_err(|e| anyhow::anyhow!("nobody was invited: {e}"))?;
            eprintln!(
                "invited {email} to {} as {} until {}{}",
                ws.slug,
                role.as_str(),
                validibot_types::clock::rfc3339(invited.expires_at),
                if invited.mailed {
                    "; the link was mailed"
                } else {
                    "; no mail was sent (VALIDIBOT_SMTP_URL is not set): pass this link on"
                }
            );
            if !invited.mailed {
                println!("{}", invited.link);
            }
        }
        AdminCommand::Invitations { workspace } => {
            let ws = find_workspace(&db, workspace).await?;
            for i in validibot_store::accounts::invitations::of_workspace(&db, &ws.id).await? {
                println!(
                    "{}  {:<9} {:<8} {}  expires {}",
                    i.id,
                    serde_json::to_value(i.state)?.as_str().unwrap_or_default(),
                    i.role.as_str(),
                    i.email,
                    validibot_types::clock::rfc3339(i.expires_at)
                );
            }
        }
        AdminCommand::RevokeInvitation { id, workspace } => {
            let ws = find_workspace(&db, workspace).await?;
            if !validibot_store::accounts::invitations::revoke(&db, &ws.id, id).await? {
                bail!("no pending invitation {id:?} in workspace {workspace:?}");
            }
            println!("revoked invitation {id}");
        }
        AdminCommand::RevokeApiKey { public_id } => {
            if !accounts::revoke_api_key(&db, public_id).await? {
                bail!("no active API key with public id {public_id:?}");
            }
            println!("revoked {public_id}");
        }
    }
    record(&db, command).await;
    Ok(())
}

async fn find_workspace(db: &Db, slug: &str) -> Result<accounts::Workspace> {
    accounts::find_workspace(db, slug)
        .await?
        .with_context(|| format!("workspace {slug:?} not found"))
}
