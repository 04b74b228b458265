//! Inviting someone: the invitation is stored, then mailed. When the mail server does
//! not take the message, the invitation is revoked again, so no link exists that
//! nobody received.

use anyhow::Result;
use validibot_store::accounts::directory::{User, Workspace};
use validibot_store::accounts::{invitations, Role};
use validibot_store::db::Db;

use super::{micros, LinkLifetimes};
use crate::mail::{self, letters, Mailer};

/// An invitation made.
pub struct Invited {
    pub id: String,
    pub expires_at: i64,
    /// The acceptance link; only the caller who cannot mail (the operator's CLI, without
    /// SMTP) is given it to pass on.
    pub link: String,
    /// Whether the link went out by mail.
    pub mailed: bool,
}

/// Why nobody was invited.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0:?} is not an email address")]
    NotAnAddress(String),
    #[error("{email} already belongs to {username:?}, a member of this workspace")]
    AlreadyMember { email: String, username: String },
    #[error(transparent)]
    Mail(#[from] mail::SendError),
}

/// The path of an invitation's acceptance page.
pub fn accept_path(token: &str) -> String {
    format!("/ui/invitations/{token}")
}

/// How the link reaches the invitee.
#[derive(Clone, Copy)]
pub enum Delivery<'a> {
    Mail(&'a Mailer),
    /// Returned only (`validibot admin invite` on an instance without SMTP), with the
    /// public URL (or nothing: a relative path) in front.
    Print {
        public_url: Option<&'a str>,
    },
}

/// Invites `email` into `workspace` as `role`.
pub async fn invite(
    db: &Db,
    delivery: Delivery<'_>,
    workspace: &Workspace,
    email: &str,
    role: Role,
    inviter: Option<&User>,
    lifetimes: LinkLifetimes,
) -> Result<Result<Invited, Refusal>> {
    let email = email.trim();
    if !mail::is_address(email) {
        return Ok(Err(Refusal::NotAnAddress(email.to_owned())));
    }
    if let Some(username) = invitations::member_with_email(db, &workspace.id, email).await? {
        return Ok(Err(Refusal::AlreadyMember {
            email: email.to_owned(),
            username,
        }));
    }
    let issued = invitations::issue(
        db,
        &workspace.id,
        email,
        role,
        inviter.map(|u| &u.id),
        micros(lifetimes.invitation),
    )
    .await?;
    let path = accept_path(&issued.token);
    let mailer = match delivery {
        Delivery::Mail(mailer) => mailer,
        Delivery::Print { public_url } => {
            let base = public_url.unwrap_or_default().trim_end_matches('/');
            return Ok(Ok(Invited {
                id: issued.id,
                expires_at: issued.expires_at,
                link: format!("{base}{path}"),
                mailed: false,
            }));
        }
    };
    let link = mailer.link(&path);
    let letter = letters::invitation(
        &workspace.name,
        inviter.map(|u| u.username.as_str()),
        role,
        &link,
        issued.expires_at,
    );
    if let Err(e) = mailer.send(email, &letter).await {
        invitations::revoke(db, &workspace.id, &issued.id).await?;
        tracing::warn!(workspace = %workspace.slug, error = %e, "invitation not sent");
        return Ok(Err(e.into()));
    }
    tracing::info!(workspace = %workspace.slug, invitation = %issued.id, "invitation mailed");
    Ok(Ok(Invited {
        id: issued.id,
        expires_at: issued.expires_at,
        link,
        mailed: true,
    }))
}

/// Why an invitation was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptRefusal {
    #[error("this invitation was accepted already, was revoked or has expired; ask for a new one")]
    NotPending,
    #[error("{0}")]
    BadUsername(String),
    #[error("the username {0:?} is taken; choose another, or sign in if it is yours")]
    UsernameTaken(String),
    #[error("{0}")]
    WeakPassword(String),
}

/// Accepts with a new account named `username` with `password` (its address is the
/// invited one). The account, its membership and the invitation's use are one change.
pub async fn accept_new(
    db: &Db,
    token: &str,
    username: &str,
    password: &str,
) -> Result<Result<(User, invitations::Invitation), AcceptRefusal>> {
    let username = username.trim();
    if let Some(why) = validibot_store::accounts::directory::username_refusal(username) {
        return Ok(Err(AcceptRefusal::BadUsername(why)));
    }
    if let Some(why) = validibot_store::accounts::passwords::refusal(password) {
        return Ok(Err(AcceptRefusal::WeakPassword(why)));
    }
    let Some(pending) = pending(db, token).await? else {
        return Ok(Err(AcceptRefusal::NotPending));
    };
    let password = password.to_owned();
    let phc =
        tokio::task::spawn_blocking(move || validibot_store::accounts::passwords::hash(&password))
            .await??;
    Ok(
        match invitations::accept_as_new_user(db, token, username, &phc).await? {
            Ok((user, _)) => Ok((user, pending)),
            Err(invitations::Refusal::NotPending) => Err(AcceptRefusal::NotPending),
            Err(invitations::Refusal::UsernameTaken) => {
                Err(AcceptRefusal::UsernameTaken(username.to_owned()))
            }
        },
    )
}

/// Accepts for a signed-in user: they join the workspace (a higher role they hold
/// already stays).
pub async fn accept_existing(
    db: &Db,
    token: &str,
    user: &User,
) -> Result<Result<invitations::Invitation, AcceptRefusal>> {
    let Some(pending) = pending(db, token).await? else {
        return Ok(Err(AcceptRefusal::NotPending));
    };
    Ok(match invitations::accept_as(db, token, &user.id).await? {
        Ok(_) => Ok(pending),
        Err(_) => Err(AcceptRefusal::NotPending),
    })
}

/// The invitation a token opens, if it is pending.
async fn pending(db: &Db, token: &str) -> Result<Option<invitations::Invitation>> {
    Ok(invitations::by_token(db, token)
        .await?
        .filter(|i| i.state == invitations::State::Pending))
}
