//! The statements of the data lifecycle: which finished runs are past a cutoff, deleting
//! a batch of them with everything they own, and which blobs something still needs.

use std::collections::HashSet;

use anyhow::Result;

use crate::args;
use crate::db::batch::Stmt;
use crate::db::Db;

const FINISHED: &str = "status NOT IN ('PENDING', 'RUNNING')";

/// The runs past their retention at `now` (µs): a workflow's own `retention_days`, else
/// the instance's `cutoff` (`None`: kept forever).
fn past_retention(count: bool) -> String {
    let what = if count {
        "COUNT(*)"
    } else {
        "r.id, r.submission_id"
    };
    format!(
        "SELECT {what} FROM runs r JOIN workflows w ON w.id = r.workflow_id
         WHERE r.{FINISHED} AND r.finished_at < (CASE WHEN w.retention_days IS NOT NULL
             THEN $1 - w.retention_days * 86400000000 ELSE $2 END)"
    )
}

/// Up to `limit` finished runs past their retention, oldest first, as (run id,
/// submission id).
pub async fn finished_before(
    db: &Db,
    now: i64,
    cutoff: Option<i64>,
    limit: usize,
) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} ORDER BY r.finished_at LIMIT {limit}",
        past_retention(false)
    )))
    .bind(now)
    .bind(cutoff.unwrap_or(i64::MIN))
    .fetch_all(&db.read)
    .await?)
}

/// How many finished runs are past their retention.
pub async fn count_finished_before(db: &Db, now: i64, cutoff: Option<i64>) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(&past_retention(true)[..]))
        .bind(now)
        .bind(cutoff.unwrap_or(i64::MIN))
        .fetch_one(&db.read)
        .await?;
    Ok(n as u64)
}

/// Whether any workflow keeps its runs for its own number of days (workers purge then
/// even when the instance keeps runs forever).
pub async fn any_workflow_retention(db: &Db) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM workflows WHERE retention_days IS NOT NULL")
            .fetch_one(&db.read)
            .await?;
    Ok(n > 0)
}

/// Deletes these runs with their steps, findings, artifacts, idempotency keys, jobs and
/// asynchronous steps' executions,
/// and each submission no other run uses, in one transaction.
pub async fn delete_runs(db: &Db, runs: &[(String, String)]) -> Result<()> {
    let mut stmts = Vec::new();
    for (run, submission) in runs {
        for table in [
            "findings",
            "step_artifacts",
            "step_runs",
            "idempotency_keys",
            "jobs",
            "remote_executions",
        ] {
            stmts.push(Stmt::new(
                format!("DELETE FROM {table} WHERE run_id = $1"),
                args![run.as_str()],
            ));
        }
        stmts.push(Stmt::new(
            "DELETE FROM runs WHERE id = $1".to_string(),
            args![run.as_str()],
        ));
        stmts.push(Stmt::new(
            "DELETE FROM submissions WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM runs WHERE submission_id = $1)".to_string(),
            args![submission.as_str()],
        ));
    }
    db.write_tx(None, stmts).await?;
    Ok(())
}

/// Every blob something still needs: submissions (but not the files of runs that
/// finished before `submissions_before`), artifacts, installed plugins, step files.
pub async fn referenced_blobs(db: &Db, submissions_before: Option<i64>) -> Result<HashSet<String>> {
    let mut keep = HashSet::new();
    let submissions: Vec<String> = match submissions_before {
        None => sqlx::query_scalar("SELECT sha256 FROM submissions").fetch_all(&db.read).await?,
        Some(cutoff) => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT s.sha256 FROM submissions s WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.submission_id = s.id)
                OR EXISTS (SELECT 1 FROM runs r WHERE r.submission_id = s.id AND NOT (r.{FINISHED} AND r.finished_at < $1))"
        )))
        .bind(cutoff)
        .fetch_all(&db.read)
        .await?,
    };
    keep.extend(submissions);
    for sql in [
        "SELECT sha256 FROM plugins",
        "SELECT DISTINCT sha256 FROM step_artifacts",
    ] {
        let shas: Vec<String> = sqlx::query_scalar(sql).fetch_all(&db.read).await?;
        keep.extend(shas);
    }
    keep.extend(crate::workflows::files::referenced(db).await?);
    Ok(keep)
}
