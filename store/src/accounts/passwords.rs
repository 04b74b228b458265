//! Passwords for the web UI: argon2id PHC strings. API clients use keys, not passwords.

use anyhow::{bail, Result};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use super::directory::User;
use crate::db::Db;
use validibot_types::ids::UserId;

pub const MIN_LENGTH: usize = 10;

pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

fn matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Sets a user's password (`admin set-password`); every session of theirs ends.
pub async fn set(db: &Db, username: &str, password: &str) -> Result<()> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.read)
        .await?;
    let Some(id) = id else {
        bail!("user {username:?} not found");
    };
    replace(db, &id.into(), password, None).await
}

/// Why a new password is refused (the text says what is needed).
pub fn refusal(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Some(format!("a password needs at least {MIN_LENGTH} characters"));
    }
    if n > MAX_LENGTH {
        return Some(format!("a password has at most {MAX_LENGTH} characters"));
    }
    None
}

/// Most characters a password may have (hashing time grows with it).
pub const MAX_LENGTH: usize = 1024;

/// Stores a new password hash. A new password ends every session signed in with the old
/// one, except `keep` (the token of the session that changed it, when it was one).
pub async fn replace(db: &Db, user_id: &UserId, password: &str, keep: Option<&str>) -> Result<()> {
    if let Some(why) = refusal(password) {
        bail!("{why}");
    }
    let phc = hash(password)?;
    let mut tx = db.write.begin().await?;
    let res = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(phc)
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
    if res.rows_affected() != 1 {
        bail!("user {user_id} not found");
    }
    sqlx::query("DELETE FROM web_sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id.as_str())
        .bind(keep.map(super::sessions::digest).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The active user with this username and password. A wrong username costs the same
/// hashing time as a wrong password, so timing does not tell which usernames exist.
pub async fn check(db: &Db, username: &str, password: &str) -> Result<Option<User>> {
    let row: Option<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, username, password_hash, is_active FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&db.read)
    .await?;
    let password = password.to_owned();
    let stored = row
        .as_ref()
        .and_then(|(_, _, hash, _)| hash.clone())
        .unwrap_or_else(|| DUMMY.to_owned());
    let ok = tokio::task::spawn_blocking(move || matches(&password, &stored)).await?;
    Ok(match row {
        Some((id, username, Some(_), 1)) if ok => Some(User {
            id: id.into(),
            username,
        }),
        _ => None,
    })
}

/// A valid hash of a random password, checked against when the user does not exist.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0TbQ1TfMIJL6G1Jq5rbOx9m0u0S2W3JYQ2W9iJc1i1A";

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_only_the_same_password() {
        let h = super::hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::matches("correct horse battery", &h));
        assert!(!super::matches("correct horse batterz", &h));
        assert!(!super::matches("x", "not a phc string"));
        assert!(!super::matches("x", super::DUMMY));
    }
}
