//! Password resets by mail. A request is answered the same way whether or not an
//! account matched (the caller cannot learn which usernames or addresses exist), so
//! the work — finding accounts, issuing links, mailing — runs after the answer.

use anyhow::Result;
use validibot_store::accounts::{passwords, recovery};
use validibot_store::db::Db;

use super::{micros, LinkLifetimes};
use crate::mail::{letters, Mailer};

/// The path of a reset link's page.
pub fn reset_path(token: &str) -> String {
    format!("/ui/password-reset/{token}")
}

/// Mails a reset link to every active account the username or address names (at most
/// one per account). Returns how many were sent (for logs and tests, never the caller).
pub async fn send_links(
    db: &Db,
    mailer: &Mailer,
    username_or_email: &str,
    lifetimes: LinkLifetimes,
) -> Result<usize> {
    let wanted = username_or_email.trim();
    if wanted.is_empty() || wanted.len() > 254 {
        return Ok(0);
    }
    let mut sent = 0;
    for r in recovery::recipients(db, wanted).await? {
        let token = recovery::issue(db, &r.user.id, micros(lifetimes.password_reset)).await?;
        let minutes = i64::try_from(lifetimes.password_reset.as_secs() / 60).unwrap_or(i64::MAX);
        let letter =
            letters::password_reset(&r.user.username, &mailer.link(&reset_path(&token)), minutes);
        match mailer.send(&r.email, &letter).await {
            Ok(()) => sent += 1,
            Err(e) => {
                tracing::warn!(user = %r.user.username, error = %e, "password-reset mail not sent")
            }
        }
    }
    Ok(sent)
}

/// Why a reset did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Weak(String),
    #[error("this reset link was used already, has expired or is not valid; ask for a new one")]
    LinkNotGood,
}

/// Sets a new password with a reset link's token. Every session of the account ends.
pub async fn reset(db: &Db, token: &str, new_password: &str) -> Result<Result<String, Refusal>> {
    if let Some(why) = passwords::refusal(new_password) {
        return Ok(Err(Refusal::Weak(why)));
    }
    if recovery::holder(db, token).await?.is_none() {
        return Ok(Err(Refusal::LinkNotGood));
    }
    let password = new_password.to_owned();
    let phc = tokio::task::spawn_blocking(move || passwords::hash(&password)).await??;
    Ok(match recovery::redeem(db, token, &phc).await? {
        Some(user) => Ok(user.username),
        None => Err(Refusal::LinkNotGood),
    })
}
