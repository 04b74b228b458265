//! Accepting a submission: submission row, run row and queue job in one
//! transaction, so nothing is lost between "accepted" and "queued".

use anyhow::Result;
use validibot_types::ids::{JobId, RunId, UserId, WorkspaceId};
use validibot_types::RunStatus;

use crate::args;
use crate::db::batch::Stmt;
use crate::db::{is_unique_violation, Backend, Db};
use crate::queue;
use crate::workflows::Workflow;
use validibot_blobs::StoredBlob;
use validibot_types::clock::now_us;
use validibot_types::ids::new_id;

pub struct NewSubmission {
    pub blob: StoredBlob,
    pub filename: Option<String>,
    pub content_type: String,
    pub metadata: serde_json::Value,
    /// False when the bytes were never written (the workflow's `store_submission`).
    pub stored: bool,
}

pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

pub enum Launched {
    /// A new run and its job; `lease` when the job was taken at enqueue.
    New {
        run_id: RunId,
        job_id: JobId,
        lease: Option<queue::Lease>,
        created_at: i64,
    },
    /// The idempotency key was used before for the same request.
    Replay {
        run_id: RunId,
        response: Option<(u16, String)>,
    },
    /// The idempotency key was used before for a different request.
    KeyReused,
}

pub async fn launch(
    db: &Db,
    workflow: &Workflow,
    user_id: &UserId,
    submission: &NewSubmission,
    idempotency: Option<&Idempotency>,
    max_attempts: i64,
    taker: Option<&queue::Taker<'_>>,
) -> Result<Launched> {
    let now = now_us();
    let submission_id = new_id();
    let run_id = RunId::new();
    let mut stmts = vec![Stmt::new(
        "INSERT INTO submissions (id, workspace_id, sha256, size, filename, content_type, metadata, created_by, created_at, stored)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        args![
            &submission_id,
            &workflow.workspace_id,
            &submission.blob.sha256,
            submission.blob.size,
            submission.filename.clone(),
            &submission.content_type,
            submission.metadata.to_string(),
            user_id,
            now,
            (!submission.stored).then_some(0i64)
        ],
    )];
    if db.backend == Backend::Postgres {
        // Conflicts with an in-place workflow edit, which must not change a version that has runs.
        stmts.push(Stmt::new(
            "SELECT id FROM workflows WHERE id = $1 FOR SHARE",
            args![&workflow.id],
        ));
    }
    stmts.push(Stmt::new(
        "INSERT INTO runs (id, workspace_id, workflow_id, submission_id, status, created_by, created_at, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            &run_id,
            &workflow.workspace_id,
            &workflow.id,
            &submission_id,
            if taker.is_some() {
                RunStatus::Running
            } else {
                RunStatus::Pending
            }
            .as_str(),
            user_id,
            now,
            taker.map(|_| now)
        ],
    ));
    if let Some(idem) = idempotency {
        stmts.push(Stmt::new(
            "INSERT INTO idempotency_keys (workspace_id, user_id, key, request_hash, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            args![&workflow.workspace_id, user_id, &idem.key, &idem.request_hash, &run_id, now],
        ));
    }
    let (job_id, enqueue, lease) = queue::enqueue(&run_id, max_attempts, taker);
    stmts.push(enqueue);
    match db.write_tx(None, stmts).await {
        Ok(_) => Ok(Launched::New {
            run_id,
            job_id,
            lease,
            created_at: now,
        }),
        Err(e) if idempotency.is_some() && is_unique_violation(&e) => {
            previous(
                db,
                &workflow.workspace_id,
                user_id,
                idempotency.expect("checked"),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn previous(
    db: &Db,
    workspace_id: &WorkspaceId,
    user_id: &UserId,
    idem: &Idempotency,
) -> Result<Launched> {
    let (request_hash, run_id, status, body): (String, String, Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT request_hash, run_id, response_status, response_body FROM idempotency_keys WHERE workspace_id = $1 AND user_id = $2 AND key = $3",
    )
    .bind(workspace_id.as_str())
    .bind(user_id.as_str())
    .bind(&idem.key)
    .fetch_one(&db.write)
    .await?;
    if request_hash != idem.request_hash {
        return Ok(Launched::KeyReused);
    }
    Ok(Launched::Replay {
        run_id: run_id.into(),
        response: status.zip(body).map(|(s, b)| (s as u16, b)),
    })
}

/// Remembers the first response for an idempotency key so replays answer the same.
pub async fn remember_response(
    db: &Db,
    workspace_id: &WorkspaceId,
    user_id: &UserId,
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
    .bind(workspace_id.as_str())
    .bind(user_id.as_str())
    .bind(key)
    .execute(&db.write)
    .await?;
    Ok(())
}
