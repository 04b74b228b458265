//! Accepting a submission: submission row, run row and queue job in one
//! transaction, so nothing is lost between "accepted" and "queued".

use anyhow::Result;
use sqlx::Row;

use crate::clock::now_us;
use crate::db::{is_unique_violation, Backend, Db};
use crate::ids::new_id;
use crate::queue;
use crate::storage::StoredBlob;
use crate::workflows::Workflow;

pub struct NewSubmission {
    pub blob: StoredBlob,
    pub filename: Option<String>,
    pub content_type: String,
    pub metadata: serde_json::Value,
}

pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

pub enum Launched {
    /// A new run and its job.
    New { run_id: String, job_id: String },
    /// The idempotency key was used before for the same request.
    Replay {
        run_id: String,
        response: Option<(u16, String)>,
    },
    /// The idempotency key was used before for a different request.
    KeyReused,
}

pub async fn launch(
    db: &Db,
    workflow: &Workflow,
    user_id: &str,
    submission: &NewSubmission,
    idempotency: Option<&Idempotency>,
    max_attempts: i64,
) -> Result<Launched> {
    let now = now_us();
    let submission_id = new_id();
    let run_id = new_id();
    let mut tx = db.write.begin().await?;
    sqlx::query(
        "INSERT INTO submissions (id, workspace_id, sha256, size, filename, content_type, metadata, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&submission_id)
    .bind(&workflow.workspace_id)
    .bind(&submission.blob.sha256)
    .bind(submission.blob.size)
    .bind(&submission.filename)
    .bind(&submission.content_type)
    .bind(submission.metadata.to_string())
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if db.backend == Backend::Postgres {
        // Conflicts with an in-place workflow edit, which must not change a version that has runs.
        sqlx::query("SELECT id FROM workflows WHERE id = $1 FOR SHARE")
            .bind(&workflow.id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO runs (id, workspace_id, workflow_id, submission_id, status, created_by, created_at)
         VALUES ($1, $2, $3, $4, 'PENDING', $5, $6)",
    )
    .bind(&run_id)
    .bind(&workflow.workspace_id)
    .bind(&workflow.id)
    .bind(&submission_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if let Some(idem) = idempotency {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (workspace_id, user_id, key, request_hash, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&workflow.workspace_id)
        .bind(user_id)
        .bind(&idem.key)
        .bind(&idem.request_hash)
        .bind(&run_id)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                return previous(db, &workflow.workspace_id, user_id, idem).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let job_id = queue::enqueue(&mut tx, &run_id, max_attempts).await?;
    tx.commit().await?;
    Ok(Launched::New { run_id, job_id })
}

async fn previous(
    db: &Db,
    workspace_id: &str,
    user_id: &str,
    idem: &Idempotency,
) -> Result<Launched> {
    let row = sqlx::query(
        "SELECT request_hash, run_id, response_status, response_body FROM idempotency_keys WHERE workspace_id = $1 AND user_id = $2 AND key = $3",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(&idem.key)
    .fetch_one(&db.write)
    .await?;
    if row.get::<String, _>(0) != idem.request_hash {
        return Ok(Launched::KeyReused);
    }
    let status: Option<i64> = row.get(2);
    let body: Option<String> = row.get(3);
    Ok(Launched::Replay {
        run_id: row.get(1),
        response: status.zip(body).map(|(s, b)| (s as u16, b)),
    })
}

/// Remembers the first response for an idempotency key so replays answer the same.
pub async fn remember_response(
    db: &Db,
    workspace_id: &str,
    user_id: &str,
    key: &str,
    status: u16,
    body: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $1, response_body = $2
         WHERE workspace_id = $3 AND user_id = $4 AND key = $5 AND response_status IS NULL",
    )
    .bind(status as i64)
    .bind(body)
    .bind(workspace_id)
    .bind(user_id)
    .bind(key)
    .execute(&db.write)
    .await?;
    Ok(())
}
