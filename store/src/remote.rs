//! Asynchronous container steps' rows: each launch (`remote_executions`, keyed by its
//! `callback_id`), the job parked `waiting` while its containers run, a callback's
//! delivery (the receipt that makes a repeated one a replay), the reconciler's verdicts,
//! and the key callback tokens are signed with. A job waiting holds no lease: a
//! delivery or the reconciler makes it due again, and any worker resumes the run.

use anyhow::Result;
use validibot_types::ids::RunId;

use crate::args;
use crate::db::batch::Stmt;
use crate::db::Db;
use crate::queue::{self, Lease};
use validibot_types::clock::now_us;

/// One launch of a step's container.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Execution {
    pub callback_id: String,
    #[sqlx(try_from = "String")]
    pub run_id: RunId,
    pub step_position: i64,
    pub step_key: String,
    pub launcher: String,
    pub execution_name: String,
    /// `launched`, `delivered`, `reconciled` or `abandoned` (ended by a host failure; a retry launches anew).
    pub state: String,
    pub deadline_at: i64,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub exit_code: Option<i64>,
    pub output: Option<String>,
    pub outcome: Option<String>,
    pub detail: Option<String>,
}

const COLUMNS: &str = "callback_id, run_id, step_position, step_key, launcher, execution_name, state, deadline_at, created_at, ended_at, exit_code, output, outcome, detail";

/// A launch to record.
pub struct Launched<'a> {
    pub callback_id: &'a str,
    pub step_position: i64,
    pub step_key: &'a str,
    pub launcher: &'a str,
    pub execution_name: &'a str,
    pub deadline_at: i64,
}

/// Records a launch while the lease is ours; `false`: the lease was lost (the caller
/// stops the container it started).
pub async fn launched(db: &Db, lease: &Lease, l: &Launched<'_>) -> Result<bool> {
    let stmt = Stmt::new(
        "INSERT INTO remote_executions (callback_id, run_id, step_position, step_key, launcher, execution_name, state, deadline_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'launched', $7, $8)",
        args![
            l.callback_id,
            &lease.run_id,
            l.step_position,
            l.step_key,
            l.launcher,
            l.execution_name,
            l.deadline_at,
            now_us()
        ],
    );
    Ok(db
        .write_tx(Some(queue::still_held(lease)), vec![stmt])
        .await?)
}

/// Parks the job: `waiting`, no lease, due at the earliest deadline of the run's
/// launched executions — or now, when a delivery already arrived that no step has
/// consumed (it came before the park, so it found no waiting job to wake). The attempt
/// the claim counted is given back: waking up is not a retry.
///
/// The job's row is locked first (the lease fence), and a delivery or ruling locks it
/// first too ([`deliver`], [`reconcile`]): one of the two commits first and the other
/// sees it — a delivery that committed is visible to the park's next statement (on
/// PostgreSQL each statement reads afresh), one that waited finds the job `waiting`.
pub async fn park(db: &Db, lease: &Lease) -> Result<bool> {
    let now = now_us();
    let park = Stmt::new(
        "UPDATE jobs SET state = 'waiting', lease_owner = NULL, lease_expires_at = NULL, progress = NULL,
             attempts = attempts - 1,
             available_at = CASE
                 WHEN EXISTS (SELECT 1 FROM remote_executions r WHERE r.run_id = $1 AND r.state IN ('delivered', 'reconciled')
                              AND NOT EXISTS (SELECT 1 FROM step_runs s WHERE s.run_id = r.run_id AND s.position = r.step_position))
                 THEN $2
                 ELSE COALESCE((SELECT MIN(deadline_at) FROM remote_executions WHERE run_id = $1 AND state = 'launched'), $2)
             END
         WHERE id = $3 AND lease_token = $4 AND state = 'leased'",
        args![&lease.run_id, now, &lease.job_id, lease.token],
    );
    Ok(db
        .write_tx(Some(queue::still_held(lease)), vec![park])
        .await?)
}

/// Locks the job of an execution's run (when it has one) before anything else is read
/// or written: see [`park`].
fn lock_job(callback_id: &str) -> Stmt {
    Stmt::new(
        "UPDATE jobs SET lease_owner = lease_owner
         WHERE run_id = (SELECT run_id FROM remote_executions WHERE callback_id = $1)",
        args![callback_id],
    )
}

/// Wakes the job of an execution's run if it is waiting and the execution ended at `at`
/// (in this transaction).
fn wake(callback_id: &str, at: i64) -> Stmt {
    Stmt::new(
        "UPDATE jobs SET state = 'queued', available_at = $1
         WHERE state = 'waiting'
           AND run_id = (SELECT run_id FROM remote_executions WHERE callback_id = $2 AND ended_at = $1)",
        args![at, callback_id],
    )
}

/// Ends an execution with `record` (setting `ended_at` to `at` and the state to `state`,
/// only from `launched`) in one transaction that locks its run's job first and wakes it
/// if waiting; `true` when this call ended it.
async fn end(db: &Db, callback_id: &str, at: i64, record: Stmt, state: &str) -> Result<bool> {
    let stmts = vec![lock_job(callback_id), record, wake(callback_id, at)];
    db.write_tx(None, stmts).await?;
    ended_at(db, callback_id, at, state).await
}

/// Whether the execution ended in this transaction (its `ended_at` is ours).
async fn ended_at(db: &Db, callback_id: &str, at: i64, state: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM remote_executions WHERE callback_id = $1 AND ended_at = $2 AND state = $3",
    )
    .bind(callback_id)
    .bind(at)
    .bind(state)
    .fetch_one(&db.write)
    .await?;
    Ok(n == 1)
}

/// The latest launch for a step of a run that was not abandoned.
pub async fn for_step(db: &Db, run_id: &RunId, position: i64) -> Result<Option<Execution>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM remote_executions WHERE run_id = $1 AND step_position = $2 AND state <> 'abandoned' ORDER BY created_at DESC LIMIT 1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(run_id.as_str())
        .bind(position)
        .fetch_optional(&db.write)
        .await?)
}

pub async fn get(db: &Db, callback_id: &str) -> Result<Option<Execution>> {
    let sql = format!("SELECT {COLUMNS} FROM remote_executions WHERE callback_id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(callback_id)
        .fetch_optional(&db.write)
        .await?)
}

/// Positions of a run's steps with an execution not abandoned (launched by an attempt).
pub async fn launched_steps(db: &Db, run_id: &RunId) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT step_position FROM remote_executions WHERE run_id = $1 AND state <> 'abandoned'",
    )
    .bind(run_id.as_str())
    .fetch_all(&db.write)
    .await?)
}

/// The step keys of a run whose containers are running now (the run view's `WAITING`).
pub async fn waiting_steps(db: &Db, run_id: &RunId) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT step_key FROM remote_executions WHERE run_id = $1 AND state = 'launched'",
    )
    .bind(run_id.as_str())
    .fetch_all(&db.read)
    .await?)
}

/// What a callback found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Recorded; the run's job is due again.
    Accepted,
    /// This execution was delivered before: nothing changed.
    Replay,
    /// Too late: the execution was reconciled (timed out, lost) or its run ended.
    Late(String),
    Unknown,
}

/// What the container reported.
pub struct Report<'a> {
    pub exit_code: Option<i64>,
    pub output: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// Records a callback, once: the execution becomes `delivered` (only from `launched`,
/// only while its run has a job) and the job is woken, in one transaction.
pub async fn deliver(db: &Db, callback_id: &str, report: &Report<'_>) -> Result<Delivery> {
    let now = now_us();
    let record = Stmt::new(
        "UPDATE remote_executions SET state = 'delivered', ended_at = $1, exit_code = $2, output = $3, detail = $4
         WHERE callback_id = $5 AND state = 'launched'
           AND EXISTS (SELECT 1 FROM jobs WHERE jobs.run_id = remote_executions.run_id)",
        args![now, report.exit_code, report.output, report.detail, callback_id],
    );
    if end(db, callback_id, now, record, "delivered").await? {
        return Ok(Delivery::Accepted);
    }
    Ok(match get(db, callback_id).await? {
        None => Delivery::Unknown,
        Some(e) if e.state == "delivered" => Delivery::Replay,
        Some(e) if e.state != "launched" => Delivery::Late(format!(
            "the step was already ended without this callback ({})",
            e.outcome.as_deref().unwrap_or("reconciled")
        )),
        Some(_) => Delivery::Late("the run has ended (canceled or finished)".into()),
    })
}

/// The reconciler's verdict on an execution whose callback never came; wakes the job
/// (a run that ended has none). `false`: it was delivered (or ruled on) meanwhile.
pub async fn reconcile(
    db: &Db,
    callback_id: &str,
    outcome: &str,
    exit_code: Option<i64>,
    detail: &str,
) -> Result<bool> {
    let now = now_us();
    let record = Stmt::new(
        "UPDATE remote_executions SET state = 'reconciled', ended_at = $1, outcome = $2, exit_code = $3, detail = $4
         WHERE callback_id = $5 AND state = 'launched'",
        args![now, outcome, exit_code, detail, callback_id],
    );
    end(db, callback_id, now, record, "reconciled").await
}

/// An ended execution whose result was a host failure: the retry launches anew.
pub async fn abandon(db: &Db, callback_id: &str) -> Result<()> {
    sqlx::query("UPDATE remote_executions SET state = 'abandoned' WHERE callback_id = $1")
        .bind(callback_id)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Records the name a launcher gave an execution when it started it (Cloud Run names
/// its executions), in place of the one chosen beforehand.
pub async fn rename(db: &Db, callback_id: &str, execution_name: &str) -> Result<()> {
    sqlx::query("UPDATE remote_executions SET execution_name = $1 WHERE callback_id = $2")
        .bind(execution_name)
        .bind(callback_id)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Launched executions the reconciler looks at: every one on `launcher`, with whether its
/// run still has a job (`false`: canceled or ended, the container is to be stopped).
pub async fn open(db: &Db, launcher: &str, limit: i64) -> Result<Vec<(Execution, bool)>> {
    let sql = format!(
        "SELECT {COLUMNS}, CASE WHEN EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.run_id) THEN 1 ELSE 0 END AS live
         FROM remote_executions r WHERE state = 'launched' AND launcher = $1 ORDER BY deadline_at LIMIT $2"
    );
    let rows: Vec<OpenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(launcher)
        .bind(limit)
        .fetch_all(&db.read)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.execution, r.live == 1))
        .collect())
}

#[derive(sqlx::FromRow)]
struct OpenRow {
    #[sqlx(flatten)]
    execution: Execution,
    live: i64,
}

/// The secret callback tokens are signed with: made once, shared by every process
/// through the database.
pub async fn callback_key(db: &Db, fresh: &str) -> Result<String> {
    const KEY: &str = "callbacks.hmac_key";
    sqlx::query(
        "INSERT INTO instance_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    )
    .bind(KEY)
    .bind(fresh)
    .execute(&db.write)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM instance_settings WHERE key = $1")
            .bind(KEY)
            .fetch_one(&db.write)
            .await?,
    )
}
