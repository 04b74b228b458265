//! Counts over runs for monitoring and the dashboard.

use anyhow::Result;
use validibot_types::ids::{UserId, WorkspaceId};

use crate::db::Db;

/// Runs per stored status, across the instance (statuses with no runs are absent).
pub async fn count_by_status(db: &Db) -> Result<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as("SELECT status, COUNT(*) FROM runs GROUP BY status")
            .fetch_all(&db.read)
            .await?,
    )
}

/// One run as the dashboard's chart counts it.
#[derive(sqlx::FromRow)]
pub struct RunTally {
    pub created_at: i64,
    pub status: String,
    pub error_category: Option<String>,
}

/// A workspace's runs created since `since` (µs); only `own_by`'s when given.
pub async fn created_since(
    db: &Db,
    workspace_id: &WorkspaceId,
    since: i64,
    own_by: Option<&UserId>,
) -> Result<Vec<RunTally>> {
    Ok(sqlx::query_as(
        "SELECT created_at, status, error_category FROM runs
         WHERE workspace_id = $1 AND created_at >= $2 AND ($3 = 0 OR created_by = $4)",
    )
    .bind(workspace_id.as_str())
    .bind(since)
    .bind(i64::from(own_by.is_some()))
    .bind(own_by.map_or("", UserId::as_str))
    .fetch_all(&db.read)
    .await?)
}
