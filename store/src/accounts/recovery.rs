//! Password resets: a single-use link mailed to the account's address. Only the sha256
//! of its token is stored; using it sets the password, ends every session of the user
//! and voids the user's other reset links, in one transaction.

use anyhow::Result;
use validibot_types::clock::now_us;
use validibot_types::ids::{random_token, UserId};

use super::directory::User;
use super::sessions::digest;
use crate::db::Db;

/// An account a reset link can be sent for: the user and the address on file.
pub struct Recipient {
    pub user: User,
    pub email: String,
}

/// The active accounts a reset request names: the account with that username, or every
/// account with that address (any case). Accounts without an address cannot be reset
/// by mail.
pub async fn recipients(db: &Db, username_or_email: &str) -> Result<Vec<Recipient>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, username, email FROM users
         WHERE (username = $1 OR lower(email) = lower($1)) AND email IS NOT NULL AND email <> ''
           AND is_active = 1
         ORDER BY username LIMIT 10",
    )
    .bind(username_or_email)
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, email)| Recipient {
            user: User {
                id: id.into(),
                username,
            },
            email,
        })
        .collect())
}

/// Issues a reset link token for the user, good for `lifetime_us`.
pub async fn issue(db: &Db, user_id: &UserId, lifetime_us: i64) -> Result<String> {
    let token = format!("vbr_{}", random_token(43));
    let now = now_us();
    sqlx::query("DELETE FROM password_resets WHERE expires_at <= $1")
        .bind(now)
        .execute(&db.write)
        .await?;
    sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(digest(&token))
    .bind(user_id.as_str())
    .bind(now)
    .bind(now + lifetime_us)
    .execute(&db.write)
    .await?;
    Ok(token)
}

/// The user a reset token is good for (unused, unexpired, user active).
pub async fn holder(db: &Db, token: &str) -> Result<Option<User>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.username FROM password_resets r JOIN users u ON u.id = r.user_id
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 AND u.is_active = 1",
    )
    .bind(digest(token))
    .bind(now_us())
    .fetch_optional(&db.read)
    .await?)
}

/// Sets the password with a reset token: `None` when the token is not good (any more).
/// `password_phc` is the new password's hash. The token's use is the fence: two uses of
/// one link cannot both succeed.
pub async fn redeem(db: &Db, token: &str, password_phc: &str) -> Result<Option<User>> {
    let now = now_us();
    let hash = digest(token);
    let mut tx = db.write.begin().await?;
    let used = sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL
           AND expires_at > $1
           AND user_id IN (SELECT id FROM users WHERE is_active = 1)",
    )
    .bind(now)
    .bind(&hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if used != 1 {
        return Ok(None);
    }
    let user: User = sqlx::query_as(
        "SELECT u.id, u.username FROM password_resets r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
    )
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_phc)
        .bind(user.id.as_str())
        .execute(&mut *tx)
        .await?;
    // Whoever may have had the old password is signed out, and older links die with it.
    sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
        .bind(user.id.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user.id.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(user))
}
