//! API processes present (table `api_processes`): each `serve` process writes its row
//! every few seconds, so each one can count the live ones and enforce its share of the
//! instance's rate limits without a database round trip per request.

use anyhow::Result;

use crate::db::Db;
use validibot_types::clock::now_us;

/// Rows not seen for this long are deleted by the next heartbeat of any process.
const FORGET_US: i64 = 3_600 * 1_000_000;

/// Marks process `id` present now, forgets long-gone ones, and answers how many were
/// seen within `live_us` (this one included).
pub async fn heartbeat(db: &Db, id: &str, live_us: i64) -> Result<u32> {
    let now = now_us();
    sqlx::query(
        "INSERT INTO api_processes (id, seen_at) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(id)
    .bind(now)
    .execute(&db.write)
    .await?;
    sqlx::query("DELETE FROM api_processes WHERE seen_at < $1")
        .bind(now - FORGET_US)
        .execute(&db.write)
        .await?;
    let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_processes WHERE seen_at >= $1")
        .bind(now - live_us)
        .fetch_one(&db.write)
        .await?;
    Ok(live.max(1) as u32)
}

/// Process `id` is going away (graceful shutdown): the others stop counting it at once.
pub async fn leave(db: &Db, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM api_processes WHERE id = $1")
        .bind(id)
        .execute(&db.write)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn live_processes_are_counted_and_leaving_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        assert_eq!(heartbeat(&db, "a", 30_000_000).await.unwrap(), 1);
        assert_eq!(heartbeat(&db, "b", 30_000_000).await.unwrap(), 2);
        assert_eq!(heartbeat(&db, "a", 30_000_000).await.unwrap(), 2);
        // A process not seen within the window is not counted.
        sqlx::query("UPDATE api_processes SET seen_at = seen_at - 60000000 WHERE id = 'b'")
            .execute(&db.write)
            .await
            .unwrap();
        assert_eq!(heartbeat(&db, "a", 30_000_000).await.unwrap(), 1);
        heartbeat(&db, "b", 30_000_000).await.unwrap();
        leave(&db, "b").await.unwrap();
        assert_eq!(heartbeat(&db, "a", 30_000_000).await.unwrap(), 1);
    }
}
