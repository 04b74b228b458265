//! Two-factor authentication for password sign-ins: TOTP (RFC 6238: SHA-1, 6 digits,
//! 30-second steps, one step of clock skew either way) and ten single-use recovery
//! codes. A code is good once: the last accepted step is stored and only later steps
//! pass, so a code read over a shoulder cannot be replayed within its window.
//!
//! Enrolment is two steps: `begin` stores a pending secret and shows it; `confirm` turns
//! it on only when a code from the authenticator matches, so a mistyped scan cannot lock
//! the user out. Between a right password and the code, the sign-in is a *challenge*
//! (a random token in a cookie, sha256 stored, 5 minutes, 5 wrong codes).

use anyhow::{Context, Result};
use totp_rs::{Algorithm, Secret, TOTP};
use validibot_types::clock::now_us;
use validibot_types::ids::{random_bytes, random_token, UserId};

use super::directory::User;
use super::sessions::digest;
use crate::db::Db;

/// The issuer authenticator apps show beside the account name.
pub const ISSUER: &str = "Validibot";
const STEP_SECONDS: u64 = 30;
const RECOVERY_CODES: usize = 10;
/// How long a right password waits for its code.
pub const CHALLENGE_LIFETIME_US: i64 = 5 * 60 * 1_000_000;
/// Wrong codes one challenge survives; then the password must be typed again.
const CHALLENGE_FAILURES: i64 = 5;

/// A pending enrolment: what the authenticator app needs.
pub struct Enrolment {
    /// Base32, for typing in by hand.
    pub secret: String,
    /// `otpauth://totp/…`, for the QR code.
    pub otpauth_uri: String,
}

/// Which factor a code turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    /// One of the recovery codes; it is used up.
    RecoveryCode,
}

/// The user's second-factor state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub enabled: bool,
    /// Unused recovery codes (0 when not enabled).
    pub recovery_codes_left: i64,
}

fn totp(secret_base32: &str, account: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|e| anyhow::anyhow!("stored TOTP secret is not base32: {e:?}"))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        bytes,
        Some(ISSUER.to_owned()),
        account.to_owned(),
    )
    .map_err(|e| anyhow::anyhow!("TOTP parameters: {e}"))
}

/// Whether the user has a confirmed second factor (sign-ins ask for a code). One
/// query: workspace access checks call it on every session request.
pub async fn enabled(db: &Db, user_id: &UserId) -> Result<bool> {
    let confirmed_at: Option<i64> = sqlx::query_scalar(
        "SELECT confirmed_at FROM user_mfa WHERE user_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(user_id.as_str())
    .fetch_optional(&db.read)
    .await?;
    Ok(confirmed_at.is_some())
}

pub async fn status(db: &Db, user_id: &UserId) -> Result<Status> {
    if !enabled(db, user_id).await? {
        return Ok(Status {
            enabled: false,
            recovery_codes_left: 0,
        });
    }
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id.as_str())
    .fetch_one(&db.read)
    .await?;
    Ok(Status {
        enabled: true,
        recovery_codes_left: left,
    })
}

/// Starts (or restarts) an enrolment with a fresh secret; `None` when a second factor
/// is already on (it must be turned off first, with a code).
pub async fn begin(db: &Db, user: &User) -> Result<Option<Enrolment>> {
    if enabled(db, &user.id).await? {
        return Ok(None);
    }
    // 160 bits, the HMAC-SHA-1 key size RFC 4226 recommends.
    let secret = match Secret::Raw(random_bytes::<20>().to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => unreachable!("to_encoded gives the encoded form"),
    };
    let otpauth_uri = totp(&secret, &user.username)?.get_url();
    // Only a pending row is replaced: a confirmed one written meanwhile stays.
    sqlx::query(
        "INSERT INTO user_mfa (user_id, totp_secret, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET totp_secret = excluded.totp_secret,
             created_at = excluded.created_at, last_step = 0
         WHERE user_mfa.confirmed_at IS NULL",
    )
    .bind(user.id.as_str())
    .bind(&secret)
    .bind(now_us())
    .execute(&db.write)
    .await?;
    Ok(Some(Enrolment {
        secret,
        otpauth_uri,
    }))
}

/// Turns the pending enrolment on when `code` is right for it: the new recovery codes
/// (shown once). `None`: nothing pending, or a wrong code.
pub async fn confirm(db: &Db, user: &User, code: &str) -> Result<Option<Vec<String>>> {
    let pending: Option<(String, i64)> = sqlx::query_as(
        "SELECT totp_secret, last_step FROM user_mfa WHERE user_id = $1 AND confirmed_at IS NULL",
    )
    .bind(user.id.as_str())
    .fetch_optional(&db.read)
    .await?;
    let Some((secret, last_step)) = pending else {
        return Ok(None);
    };
    let Some(step) = matching_step(&totp(&secret, &user.username)?, code, last_step) else {
        return Ok(None);
    };
    let mut tx = db.write.begin().await?;
    let confirmed = sqlx::query(
        "UPDATE user_mfa SET confirmed_at = $1, last_step = $2
         WHERE user_id = $3 AND confirmed_at IS NULL AND totp_secret = $4",
    )
    .bind(now_us())
    .bind(step)
    .bind(user.id.as_str())
    .bind(&secret)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if confirmed != 1 {
        return Ok(None);
    }
    let codes = replace_recovery_codes(&mut tx, &user.id).await?;
    tx.commit().await?;
    Ok(Some(codes))
}

/// Checks a code typed at sign-in (or to change the second factor): a TOTP code not used
/// before, or an unused recovery code (which is then spent). `None`: wrong, or reused.
pub async fn verify(db: &Db, user: &User, code: &str) -> Result<Option<Factor>> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT totp_secret, last_step FROM user_mfa WHERE user_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(user.id.as_str())
    .fetch_optional(&db.read)
    .await?;
    let Some((secret, last_step)) = row else {
        return Ok(None);
    };
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let Some(step) = matching_step(&totp(&secret, &user.username)?, &digits, last_step) else {
            return Ok(None);
        };
        // Two sign-ins racing with the same code: only one moves the step forward.
        let moved =
            sqlx::query("UPDATE user_mfa SET last_step = $1 WHERE user_id = $2 AND last_step < $1")
                .bind(step)
                .bind(user.id.as_str())
                .execute(&db.write)
                .await?
                .rows_affected();
        return Ok((moved == 1).then_some(Factor::Totp));
    }
    let spent = sqlx::query(
        "UPDATE mfa_recovery_codes SET used_at = $1
         WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now_us())
    .bind(user.id.as_str())
    .bind(digest(&normalise_recovery_code(code)))
    .execute(&db.write)
    .await?
    .rows_affected();
    Ok((spent == 1).then_some(Factor::RecoveryCode))
}

/// The step (within one of now) whose code is `code`, if later than `last_step`.
fn matching_step(totp: &TOTP, code: &str, last_step: i64) -> Option<i64> {
    let now = u64::try_from(now_us() / 1_000_000).ok()?;
    step_at(totp, code, last_step, now)
}

fn step_at(totp: &TOTP, code: &str, last_step: i64, now_s: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let current = now_s / STEP_SECONDS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .filter(|&step| step as i64 > last_step)
        .find(|&step| {
            use subtle::ConstantTimeEq;
            let expected = totp.generate(step * STEP_SECONDS);
            bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
        })
        .map(|step| step as i64)
}

/// New recovery codes; the old ones stop working.
pub async fn regenerate_recovery_codes(db: &Db, user_id: &UserId) -> Result<Vec<String>> {
    let mut tx = db.write.begin().await?;
    let codes = replace_recovery_codes(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(codes)
}

async fn replace_recovery_codes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &UserId,
) -> Result<Vec<String>> {
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id.as_str())
        .execute(&mut **tx)
        .await?;
    let now = now_us();
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let raw = random_token(10).to_lowercase();
        let code = format!("{}-{}", &raw[..5], &raw[5..]);
        sqlx::query(
            "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user_id.as_str())
        .bind(digest(&normalise_recovery_code(&code)))
        .bind(now)
        .execute(&mut **tx)
        .await
        .context("storing recovery codes")?;
        codes.push(code);
    }
    Ok(codes)
}

/// Recovery codes are compared without case, spaces or dashes.
fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Turns the second factor off (and ends pending challenges): `false` when it was off.
pub async fn disable(db: &Db, user_id: &UserId) -> Result<bool> {
    let mut tx = db.write.begin().await?;
    let removed = sqlx::query("DELETE FROM user_mfa WHERE user_id = $1")
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1")
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed == 1)
}

/// A right password for a user with a second factor: the challenge token for the cookie.
pub async fn challenge(db: &Db, user_id: &UserId) -> Result<String> {
    let token = random_token(43);
    let now = now_us();
    sqlx::query("DELETE FROM mfa_challenges WHERE expires_at <= $1")
        .bind(now)
        .execute(&db.write)
        .await?;
    sqlx::query(
        "INSERT INTO mfa_challenges (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(digest(&token))
    .bind(user_id.as_str())
    .bind(now)
    .bind(now + CHALLENGE_LIFETIME_US)
    .execute(&db.write)
    .await?;
    Ok(token)
}

/// The (active) user a live challenge is for.
pub async fn challenged(db: &Db, token: &str) -> Result<Option<User>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.username FROM mfa_challenges c JOIN users u ON u.id = c.user_id
         WHERE c.token_hash = $1 AND c.expires_at > $2 AND c.failures < $3 AND u.is_active = 1",
    )
    .bind(digest(token))
    .bind(now_us())
    .bind(CHALLENGE_FAILURES)
    .fetch_optional(&db.read)
    .await?)
}

/// A wrong code for the challenge; after a few it is void.
pub async fn challenge_failed(db: &Db, token: &str) -> Result<()> {
    sqlx::query("UPDATE mfa_challenges SET failures = failures + 1 WHERE token_hash = $1")
        .bind(digest(token))
        .execute(&db.write)
        .await?;
    Ok(())
}

/// The challenge was met: it cannot be met again. `false` if it was already used.
pub async fn challenge_passed(db: &Db, token: &str) -> Result<bool> {
    Ok(
        sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1")
            .bind(digest(token))
            .execute(&db.write)
            .await?
            .rows_affected()
            == 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        (dir, db)
    }

    /// RFC 6238 appendix B (SHA-1 seed "12345678901234567890"), last 6 of the 8 digits.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = match Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!(),
        };
        let t = totp(&secret, "alice").unwrap();
        for (time, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(t.generate(time), code, "t={time}");
            let step = time / STEP_SECONDS;
            assert_eq!(step_at(&t, code, 0, time), Some(step as i64));
            // One step of skew either way, not two; never a step already used.
            assert_eq!(step_at(&t, code, 0, time + 30), Some(step as i64));
            assert_eq!(step_at(&t, code, 0, time - 30), Some(step as i64));
            assert_eq!(step_at(&t, code, 0, time + 90), None);
            assert_eq!(step_at(&t, code, step as i64, time), None);
        }
        assert!(t
            .get_url()
            .starts_with("otpauth://totp/Validibot:alice?secret="));
    }

    #[tokio::test]
    async fn enrolment_codes_and_recovery_codes_are_good_once() {
        let (_dir, db) = db().await;
        let user = super::super::directory::create_user(&db, "alice", None)
            .await
            .unwrap();
        let e = begin(&db, &user).await.unwrap().unwrap();
        assert!(!enabled(&db, &user.id).await.unwrap(), "pending is not on");
        assert!(confirm(&db, &user, "000000").await.unwrap().is_none());
        let t = totp(&e.secret, "alice").unwrap();
        let now = (now_us() / 1_000_000) as u64;
        let codes = confirm(&db, &user, &t.generate(now))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            status(&db, &user.id).await.unwrap(),
            Status {
                enabled: true,
                recovery_codes_left: 10
            }
        );
        assert!(begin(&db, &user).await.unwrap().is_none(), "already on");
        // The confirming code was used; the next step's code works once.
        assert_eq!(verify(&db, &user, &t.generate(now)).await.unwrap(), None);
        let next = t.generate(now + 30);
        assert_eq!(verify(&db, &user, &next).await.unwrap(), Some(Factor::Totp));
        assert_eq!(verify(&db, &user, &next).await.unwrap(), None);
        // A recovery code, typed in capitals without its dash: once.
        let typed = codes[3].replace('-', "").to_uppercase();
        assert_eq!(
            verify(&db, &user, &typed).await.unwrap(),
            Some(Factor::RecoveryCode)
        );
        assert_eq!(verify(&db, &user, &codes[3]).await.unwrap(), None);
        assert_eq!(status(&db, &user.id).await.unwrap().recovery_codes_left, 9);
        let fresh = regenerate_recovery_codes(&db, &user.id).await.unwrap();
        assert_eq!(verify(&db, &user, &codes[4]).await.unwrap(), None);
        assert_eq!(
            verify(&db, &user, &fresh[0]).await.unwrap(),
            Some(Factor::RecoveryCode)
        );
        assert!(disable(&db, &user.id).await.unwrap());
        assert!(!enabled(&db, &user.id).await.unwrap());
    }

    #[tokio::test]
    async fn a_challenge_dies_after_five_wrong_codes_or_one_right_one() {
        let (_dir, db) = db().await;
        let user = super::super::directory::create_user(&db, "bob", None)
            .await
            .unwrap();
        let token = challenge(&db, &user.id).await.unwrap();
        assert_eq!(challenged(&db, &token).await.unwrap().unwrap().id, user.id);
        for _ in 0..5 {
            assert!(challenged(&db, &token).await.unwrap().is_some());
            challenge_failed(&db, &token).await.unwrap();
        }
        assert!(challenged(&db, &token).await.unwrap().is_none());
        let token = challenge(&db, &user.id).await.unwrap();
        assert!(challenge_passed(&db, &token).await.unwrap());
        assert!(!challenge_passed(&db, &token).await.unwrap());
        assert!(challenged(&db, &token).await.unwrap().is_none());
    }
}
