//! Sign-in throttling: failed password sign-ins are counted per account and per client
//! address (table `sign_in_failures`); past a few free failures each subject waits an
//! exponentially growing time before the next attempt is even checked, so guessing costs
//! the attacker time and the server no argon2 hashes. A success clears the account's
//! count; quiet periods forget old failures.

use anyhow::Result;

use crate::db::Db;
use validibot_types::clock::now_us;

/// A subject whose failures are counted.
#[derive(Debug, Clone)]
pub struct Subject {
    key: String,
    free: i64,
}

impl Subject {
    /// One account (by the name typed, folded to lower case). 5 free failures.
    pub fn account(username: &str) -> Subject {
        Subject {
            key: format!("user:{}", username.trim().to_lowercase()),
            free: 5,
        }
    }

    /// Password-reset mail for one account (by the name or address typed, folded to
    /// lower case): a few links, then the mailbox is left alone for a while.
    pub fn password_reset(account: &str) -> Subject {
        Subject {
            key: format!("reset:{}", account.trim().to_lowercase()),
            free: 3,
        }
    }

    /// Password-reset requests from one client address.
    pub fn password_reset_client(address: &str) -> Subject {
        Subject {
            key: format!("reset-ip:{address}"),
            free: 20,
        }
    }

    /// One client address. More free failures: many people may share one address.
    pub fn client(address: &str) -> Subject {
        Subject {
            key: format!("ip:{address}"),
            free: 20,
        }
    }
}

/// Failures older than this are forgotten at the next failure.
const WINDOW_US: i64 = 15 * 60 * 1_000_000;
/// The longest wait.
const MAX_BLOCK_US: i64 = 15 * 60 * 1_000_000;

/// How long the subject must still wait, in whole seconds (0: may try now).
pub async fn wait_seconds(db: &Db, subjects: &[Subject]) -> Result<u64> {
    let now = now_us();
    let mut longest = 0i64;
    for s in subjects {
        let blocked_until: Option<i64> =
            sqlx::query_scalar("SELECT blocked_until FROM sign_in_failures WHERE subject = $1")
                .bind(&s.key)
                .fetch_optional(&db.read)
                .await?;
        if let Some(until) = blocked_until {
            longest = longest.max(until - now);
        }
    }
    Ok(if longest > 0 {
        (longest as u64).div_ceil(1_000_000)
    } else {
        0
    })
}

/// The wait after the `failures`-th failure of a subject allowed `free` of them.
fn block_after(failures: i64, free: i64) -> i64 {
    if failures <= free {
        return 0;
    }
    let doublings = (failures - free - 1).min(20) as u32;
    (1_000_000i64 << doublings).min(MAX_BLOCK_US)
}

/// Records a failed sign-in for every subject.
pub async fn failed(db: &Db, subjects: &[Subject]) -> Result<()> {
    let now = now_us();
    for s in subjects {
        let mut tx = db.write.begin().await?;
        let previous: Option<(i64, i64)> = sqlx::query_as(
            "SELECT failures, last_failure FROM sign_in_failures WHERE subject = $1",
        )
        .bind(&s.key)
        .fetch_optional(&mut *tx)
        .await?;
        let failures = match previous {
            Some((n, last)) if now - last < WINDOW_US => n + 1,
            _ => 1,
        };
        let blocked_until = now + block_after(failures, s.free);
        sqlx::query(
            "INSERT INTO sign_in_failures (subject, failures, last_failure, blocked_until) VALUES ($1, $2, $3, $4)
             ON CONFLICT (subject) DO UPDATE SET failures = excluded.failures,
                 last_failure = excluded.last_failure, blocked_until = excluded.blocked_until",
        )
        .bind(&s.key)
        .bind(failures)
        .bind(now)
        .bind(blocked_until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// A successful sign-in clears the account's failures (the address keeps its own).
pub async fn succeeded(db: &Db, account: &Subject) -> Result<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE subject = $1")
        .bind(&account.key)
        .execute(&db.write)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_failures_and_are_capped() {
        assert_eq!(block_after(5, 5), 0);
        assert_eq!(block_after(6, 5), 1_000_000);
        assert_eq!(block_after(7, 5), 2_000_000);
        assert_eq!(block_after(10, 5), 16_000_000);
        assert_eq!(block_after(1000, 5), MAX_BLOCK_US);
    }

    #[test]
    fn accounts_are_named_case_insensitively() {
        assert_eq!(
            Subject::account(" Alice ").key,
            Subject::account("alice").key
        );
    }
}
