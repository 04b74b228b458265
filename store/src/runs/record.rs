//! Writing a run's results: a step's row with its findings and artifacts, and the
//! run's end, each in one transaction fenced by the job's lease; and what a worker
//! reads back to run (or resume) a job.

use anyhow::{Context, Result};
use validibot_types::events::EventType;
use validibot_types::ids::{RunId, WorkflowId, WorkspaceId};
use validibot_types::{ErrorCategory, RunStatus, StepStatus};

use crate::args;
use crate::db::batch::Stmt;
use crate::db::Db;
use crate::queue::{self, Lease};
use crate::webhooks::outbox::{self, Audience};
use crate::workflows::Step;
use validibot_types::clock::now_us;
use validibot_types::{Final, StepResult};

/// Rows of findings per INSERT statement.
const FINDINGS_PER_INSERT: usize = 100;

fn step_stmts(run_id: &RunId, step: &Step, r: &StepResult) -> Result<Vec<Stmt>> {
    let (started_at, finished_at) = if r.status == StepStatus::Skipped {
        (None, None)
    } else {
        (Some(r.started_at), Some(r.finished_at))
    };
    let mut stmts = vec![Stmt::new(
        "INSERT INTO step_runs (id, run_id, position, key, validator, validator_version, status, started_at, finished_at, outputs, error, validator_digest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        args![
            validibot_types::ids::new_id(),
            run_id,
            step.position,
            &step.key,
            &step.validator,
            &step.validator_version,
            r.status.as_str(),
            started_at,
            finished_at,
            serde_json::to_string(&r.outputs)?,
            r.error.clone(),
            r.digest.clone()
        ],
    )];
    for a in &r.artifacts {
        stmts.push(Stmt::new(
            "INSERT INTO step_artifacts (run_id, step_position, name, mime_type, size, sha256) VALUES ($1, $2, $3, $4, $5, $6)",
            args![run_id, step.position, &a.name, &a.mime_type, a.size as i64, &a.sha256],
        ));
    }
    for (chunk_no, chunk) in r.findings.chunks(FINDINGS_PER_INSERT).enumerate() {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 8;
                format!(
                    "(${},${},${},${},${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                )
            })
            .collect();
        let mut values = Vec::with_capacity(chunk.len() * 8);
        for (i, f) in chunk.iter().enumerate() {
            values.extend(args![
                run_id,
                step.position,
                (chunk_no * FINDINGS_PER_INSERT + i) as i64,
                f.severity.as_str(),
                &f.code,
                &f.message,
                &f.path,
                f.meta.as_ref().map(|m| m.to_string())
            ]);
        }
        stmts.push(Stmt::new(
            format!("INSERT INTO findings (run_id, step_position, position, severity, code, message, path, meta) VALUES {}", rows.join(",")),
            values,
        ));
    }
    Ok(stmts)
}

/// Closes the run: status, error category and detail, finish time.
fn close_run(run_id: &RunId, fin: &Final) -> Stmt {
    Stmt::new(
        "UPDATE runs SET status = $1, error_category = $2, error_detail = $3, finished_at = $4, started_at = COALESCE(started_at, $4) WHERE id = $5",
        args![fin.status.as_str(), fin.category.map(ErrorCategory::as_str), fin.detail.clone(), now_us(), run_id],
    )
}

/// The webhook events of a run's end, queued in the transaction that ends it.
fn announce_end(run_id: &RunId, events: &[EventType]) -> Stmt {
    outbox::announce(
        Audience::RunOf(run_id),
        events,
        &serde_json::json!({"run_id": run_id}),
    )
}

/// Cancels an unfinished run: it ends `CANCELED` and its job is deleted, in one
/// transaction. Deleting the job is what fences out a worker running it — every write
/// of a worker needs the job's lease — so no late write can bring the run back.
/// `false`: the run had already finished (nothing changed).
pub async fn cancel(db: &Db, run_id: &RunId, detail: &str) -> Result<bool> {
    let now = now_us();
    let fence = Stmt::new(
        "UPDATE runs SET status = 'CANCELED', error_category = NULL, error_detail = $1, finished_at = $2, started_at = COALESCE(started_at, $2)
         WHERE id = $3 AND status IN ('PENDING', 'RUNNING')",
        args![detail, now, run_id],
    );
    let stmts = vec![
        Stmt::new("DELETE FROM jobs WHERE run_id = $1", args![run_id]),
        announce_end(run_id, EventType::of_run_end(RunStatus::Canceled, None)),
    ];
    Ok(db.write_tx(Some(fence), stmts).await?)
}

/// Records one step's result; false when the lease was lost (nothing written).
pub async fn record_step(db: &Db, lease: &Lease, step: &Step, result: &StepResult) -> Result<bool> {
    let stmts = step_stmts(&lease.run_id, step, result)?;
    Ok(db.write_tx(Some(queue::still_held(lease)), stmts).await?)
}

/// Records the last steps' results and closes the run, deleting its job in the same
/// transaction; false when the lease was lost (nothing written).
pub async fn finish_run(
    db: &Db,
    lease: &Lease,
    last: &[(&Step, StepResult)],
    fin: &Final,
) -> Result<bool> {
    let mut stmts = Vec::new();
    for (step, result) in last {
        stmts.extend(step_stmts(&lease.run_id, step, result)?);
    }
    stmts.push(close_run(&lease.run_id, fin));
    stmts.push(announce_end(
        &lease.run_id,
        EventType::of_run_end(fin.status, fin.category),
    ));
    // Deleting the job is the fence: if our lease is gone, nothing is written.
    Ok(db.write_tx(Some(queue::complete(lease)), stmts).await?)
}

/// A step an earlier attempt recorded: where it is, how it ended and what it measured
/// (later steps' assertions and bindings read them).
pub struct Recorded {
    pub position: i64,
    pub status: validibot_types::StepStatus,
    pub outputs: Vec<validibot_types::Output>,
}

/// The steps of a run recorded so far.
pub async fn recorded_steps(db: &Db, run_id: &RunId) -> Result<Vec<Recorded>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT position, status, outputs FROM step_runs WHERE run_id = $1 ORDER BY position",
    )
    .bind(run_id.as_str())
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(position, status, outputs)| Recorded {
            position,
            status: validibot_types::StepStatus::parse(&status)
                .unwrap_or(validibot_types::StepStatus::Failed),
            outputs: serde_json::from_str(&outputs).unwrap_or_default(),
        })
        .collect())
}

/// What a worker needs to run a job it did not launch.
#[derive(sqlx::FromRow)]
pub struct RunFacts {
    /// When the run started, if it has.
    pub started_at: Option<i64>,
    pub timeout_seconds: i64,
    #[sqlx(try_from = "String")]
    pub workflow_id: WorkflowId,
    #[sqlx(try_from = "String")]
    pub workspace_id: WorkspaceId,
    pub submission_sha256: String,
    pub content_type: String,
    pub size: i64,
    /// The submission's metadata (JSON text).
    pub metadata: String,
    /// 0 when the submission's bytes were never stored (`store_submission: false`).
    pub stored: Option<i64>,
}

pub async fn run_facts(db: &Db, run_id: &RunId) -> Result<RunFacts> {
    sqlx::query_as(
        "SELECT r.started_at, w.timeout_seconds, r.workflow_id, w.workspace_id, s.sha256 AS submission_sha256,
                s.content_type, s.size, s.metadata, s.stored
         FROM runs r JOIN workflows w ON w.id = r.workflow_id JOIN submissions s ON s.id = r.submission_id WHERE r.id = $1",
    )
    .bind(run_id.as_str())
    .fetch_one(&db.read)
    .await
    .context("loading run")
}
