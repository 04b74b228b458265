//! Files uploaded to a workspace for its workflow steps. The bytes are a blob (by
//! sha256); the row is the workspace's claim on it: a step may only name a file its
//! workspace uploaded, so no workflow can reach another workspace's blob by its hash.

use anyhow::Result;
use serde::Serialize;

use validibot_types::clock::now_us;
use validibot_types::ids::{UserId, WorkspaceId};

use crate::db::Db;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WorkspaceFile {
    pub sha256: String,
    /// The name it was uploaded under (a step may give it another).
    pub name: String,
    pub media_type: String,
    pub size: i64,
    #[serde(serialize_with = "validibot_types::clock::serialize_us")]
    pub created_at: i64,
}

/// Records an upload; uploading the same bytes again keeps the first record.
pub async fn insert(
    db: &Db,
    workspace_id: &WorkspaceId,
    file: &WorkspaceFile,
    created_by: Option<&UserId>,
) -> Result<WorkspaceFile> {
    sqlx::query(
        "INSERT INTO workspace_files (workspace_id, sha256, name, media_type, size, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, sha256) DO NOTHING",
    )
    .bind(workspace_id.as_str())
    .bind(&file.sha256)
    .bind(&file.name)
    .bind(&file.media_type)
    .bind(file.size)
    .bind(created_by.map(UserId::as_str))
    .bind(now_us())
    .execute(&db.write)
    .await?;
    Ok(get(db, workspace_id, &file.sha256)
        .await?
        .unwrap_or_else(|| file.clone()))
}

pub async fn get(
    db: &Db,
    workspace_id: &WorkspaceId,
    sha256: &str,
) -> Result<Option<WorkspaceFile>> {
    Ok(sqlx::query_as(
        "SELECT sha256, name, media_type, size, created_at FROM workspace_files WHERE workspace_id = $1 AND sha256 = $2",
    )
    .bind(workspace_id.as_str())
    .bind(sha256)
    .fetch_optional(&db.read)
    .await?)
}

/// Newest first.
pub async fn list(db: &Db, workspace_id: &WorkspaceId) -> Result<Vec<WorkspaceFile>> {
    Ok(sqlx::query_as(
        "SELECT sha256, name, media_type, size, created_at FROM workspace_files WHERE workspace_id = $1 ORDER BY created_at DESC, sha256",
    )
    .bind(workspace_id.as_str())
    .fetch_all(&db.read)
    .await?)
}

/// The slugs of the workspace's workflows with a step (of any version) that names the file.
pub async fn used_by(db: &Db, workspace_id: &WorkspaceId, sha256: &str) -> Result<Vec<String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT w.slug, s.files FROM workflow_steps s JOIN workflows w ON w.id = s.workflow_id
         WHERE w.workspace_id = $1 AND s.files LIKE $2",
    )
    .bind(workspace_id.as_str())
    .bind(format!("%{sha256}%"))
    .fetch_all(&db.read)
    .await?;
    let mut slugs: Vec<String> = rows
        .into_iter()
        .filter(|(_, files)| {
            serde_json::from_str::<Vec<super::StepFile>>(files)
                .is_ok_and(|fs| fs.iter().any(|f| f.sha256 == sha256))
        })
        .map(|(slug, _)| slug)
        .collect();
    slugs.sort();
    slugs.dedup();
    Ok(slugs)
}

/// Forgets an upload (the blob goes with the next retention sweep unless something
/// else holds it); false when there was none.
pub async fn delete(db: &Db, workspace_id: &WorkspaceId, sha256: &str) -> Result<bool> {
    Ok(
        sqlx::query("DELETE FROM workspace_files WHERE workspace_id = $1 AND sha256 = $2")
            .bind(workspace_id.as_str())
            .bind(sha256)
            .execute(&db.write)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Every blob a step file or an upload holds (for the retention sweep).
pub async fn referenced(db: &Db) -> Result<Vec<String>> {
    let mut shas: Vec<String> = sqlx::query_scalar("SELECT sha256 FROM workspace_files")
        .fetch_all(&db.read)
        .await?;
    let lists: Vec<String> =
        sqlx::query_scalar("SELECT files FROM workflow_steps WHERE files IS NOT NULL")
            .fetch_all(&db.read)
            .await?;
    for list in lists {
        if let Ok(files) = serde_json::from_str::<Vec<super::StepFile>>(&list) {
            shas.extend(files.into_iter().map(|f| f.sha256));
        }
    }
    Ok(shas)
}
