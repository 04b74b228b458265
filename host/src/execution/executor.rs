//! Runs one leased job: the workflow's steps in order, stopping at the first
//! failed step. Each step's result is written in a transaction fenced by the
//! lease, so a step's result is recorded exactly once even when a worker dies
//! and another takes over (the new worker resumes after the last recorded step).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::Row;
use tracing::Instrument;

use super::{container_step, ExecContext};
use crate::args;
use crate::clock::now_us;
use crate::db::batch::Stmt;
use crate::findings::{Finding, Output, Severity};
use crate::plugins::{CallError, CallInput};
use crate::queue::{self, Lease};
use crate::runs::{ErrorCategory, RunStatus};
use crate::workflows::Step;

pub(super) struct StepResult {
    pub status: &'static str,
    pub started_at: i64,
    pub finished_at: i64,
    pub outputs: Vec<Output>,
    pub findings: Vec<Finding>,
    pub error: Option<String>,
    /// sha256 of the component (or the image ID) that ran, for the evidence manifest.
    pub digest: Option<String>,
    /// Files the host collected from a container's output directory (never anything a
    /// validator's outputs name).
    pub artifacts: Vec<crate::containers::artifacts::StoredArtifact>,
}

pub(super) struct Final {
    pub status: RunStatus,
    pub category: Option<ErrorCategory>,
    pub detail: Option<String>,
}

/// Executes a leased job to completion (or hands it back for a retry).
/// What a launch in this process already knows about its run, so the
/// executor need not read it back (or read the submission from storage).
pub struct Prefetched {
    pub started_at: i64,
    pub timeout_seconds: i64,
    pub workflow_id: String,
    pub content_type: String,
    pub content: Arc<Vec<u8>>,
}

/// Executes a leased job; `known` comes from a launch in this process, else the run is read from the database.
pub async fn execute(ctx: &ExecContext, lease: Lease, known: Option<Prefetched>) {
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = spawn_heartbeat(ctx, &lease, lost.clone());
    // Every log line of the run (JSON logs list spans) carries its id and attempt.
    let span = tracing::info_span!("run", run_id = %lease.run_id, attempt = lease.attempts);
    let outcome = run_steps(ctx, &lease, &lost, known).instrument(span).await;
    heartbeat.abort();
    if let Err(e) = outcome {
        tracing::warn!(run_id = %lease.run_id, attempt = lease.attempts, "system error: {e:#}");
        if let Err(e2) = retry_or_fail(ctx, &lease, &format!("{e:#}")).await {
            tracing::error!(run_id = %lease.run_id, "could not reschedule: {e2:#}");
        }
    }
    ctx.waiters.finished(&lease.run_id);
}

fn spawn_heartbeat(
    ctx: &ExecContext,
    lease: &Lease,
    lost: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let db = ctx.db.clone();
    let lease = lease.clone();
    let period = (ctx.lease / 3).max(Duration::from_millis(100));
    let lease_us = ctx.lease.as_micros() as i64;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            match queue::heartbeat(&db, &lease, lease_us).await {
                Ok(true) => {}
                Ok(false) => {
                    lost.store(true, Ordering::SeqCst);
                    return;
                }
                Err(e) => tracing::warn!(run_id = %lease.run_id, "heartbeat failed: {e:#}"),
            }
        }
    })
}

async fn run_steps(
    ctx: &ExecContext,
    lease: &Lease,
    lost: &Arc<AtomicBool>,
    known: Option<Prefetched>,
) -> Result<()> {
    if lease.attempts > lease.max_attempts {
        let detail = format!(
            "gave up after {} attempts (worker lost or system errors)",
            lease.max_attempts
        );
        return fail_system(ctx, lease, detail).await;
    }
    // The run's share of the memory budget is held until the run ends.
    let (facts, _memory) = match known {
        Some(k) => {
            let share = ctx.memory.acquire(k.content.len() as u64).await;
            (k, share)
        }
        None => load_run(ctx, &lease.run_id).await?,
    };
    let deadline_us = facts.started_at + facts.timeout_seconds * 1_000_000;
    let content_type = facts.content_type;
    let content = facts.content;
    let steps = crate::workflows::store::frozen_steps(&ctx.db, &facts.workflow_id).await?;
    // Only a retried job can have steps recorded by an earlier attempt.
    let done: Vec<i64> = if lease.attempts > 1 {
        sqlx::query("SELECT position FROM step_runs WHERE run_id = $1")
            .bind(&lease.run_id)
            .fetch_all(&ctx.db.read)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
    } else {
        vec![]
    };

    for (i, step) in steps.iter().enumerate() {
        if done.contains(&step.position) {
            continue; // recorded by an earlier attempt
        }
        if lost.load(Ordering::SeqCst) {
            return Ok(()); // another worker owns the job now
        }
        let remaining_us = deadline_us - now_us();
        if remaining_us <= 0 {
            let detail = "the run exceeded its workflow's time limit".to_string();
            return finish(
                ctx,
                lease,
                Some((&steps[i..], None)),
                Final {
                    status: RunStatus::TimedOut,
                    category: Some(ErrorCategory::Timeout),
                    detail: Some(detail),
                },
            )
            .await;
        }
        let span = tracing::info_span!("step", key = %step.key, validator = %step.validator);
        let (result, failure) = run_step(
            ctx,
            step,
            container_step::Attempt {
                run_id: &lease.run_id,
                attempt: lease.attempts,
                lost,
            },
            content.clone(),
            &content_type,
            Duration::from_micros(remaining_us as u64),
        )
        .instrument(span)
        .await?;
        let last = i + 1 == steps.len();
        if let Some(fin) = failure {
            return finish(ctx, lease, Some((&steps[i..], Some(&result))), fin).await;
        }
        if last {
            return finish(
                ctx,
                lease,
                Some((&steps[i..], Some(&result))),
                Final {
                    status: RunStatus::Succeeded,
                    category: None,
                    detail: None,
                },
            )
            .await;
        }
        if !ctx
            .db
            .write_tx(
                Some(queue::still_held(lease)),
                step_stmts(&lease.run_id, step, &result)?,
            )
            .await?
        {
            return Ok(()); // the lease moved to another worker
        }
    }
    Ok(())
}

/// What a worker that did not launch the run reads: the run row and the submission from
/// storage — the latter only once the run's share of the memory budget is granted.
async fn load_run(
    ctx: &ExecContext,
    run_id: &str,
) -> Result<(Prefetched, tokio::sync::OwnedSemaphorePermit)> {
    let run = sqlx::query(
        "SELECT r.started_at, w.timeout_seconds, r.workflow_id, s.sha256, s.content_type, s.size
         FROM runs r JOIN workflows w ON w.id = r.workflow_id JOIN submissions s ON s.id = r.submission_id WHERE r.id = $1",
    )
    .bind(run_id)
    .fetch_one(&ctx.db.read)
    .await
    .context("loading run")?;
    let share = ctx.memory.acquire(run.get::<i64, _>(5).max(0) as u64).await;
    let facts = Prefetched {
        started_at: run.get::<Option<i64>, _>(0).unwrap_or_else(now_us),
        timeout_seconds: run.get(1),
        workflow_id: run.get(2),
        content: Arc::new(ctx.blobs.read(&run.get::<String, _>(3)).await?),
        content_type: run.get(4),
    };
    Ok((facts, share))
}

/// Calls the step's validator; `Err` only for host/system failures worth a retry.
async fn run_step(
    ctx: &ExecContext,
    step: &Step,
    at: container_step::Attempt<'_>,
    content: Arc<Vec<u8>>,
    content_type: &str,
    remaining: Duration,
) -> Result<(StepResult, Option<Final>)> {
    let started_at = now_us();
    let mut plugin = ctx
        .plugins
        .get_version(&step.validator, &step.validator_version);
    if plugin.is_none() {
        // Perhaps installed by another process since this one started.
        crate::plugins::installed::sync(&ctx.db, &ctx.blobs, &ctx.plugins).await?;
        plugin = ctx
            .plugins
            .get_version(&step.validator, &step.validator_version);
    }
    if plugin.is_none() {
        let container = crate::containers::registry::get(
            &ctx.db,
            &step.validator,
            Some(&step.validator_version),
        )
        .await?;
        if let Some(v) = container {
            return container_step::run(ctx, v, step, at, content, content_type, remaining).await;
        }
    }
    let Some(plugin) = plugin else {
        let f = Finding::error(
            "validator.unknown",
            format!(
                "validator {:?} version {} is not installed on this worker",
                step.validator, step.validator_version
            ),
        );
        return Ok(failed(
            started_at,
            vec![f],
            Some("unknown validator".into()),
            ErrorCategory::RuntimeError,
            RunStatus::Failed,
        ));
    };
    let digest = Some(plugin.meta.sha256.clone());
    let config = step.config_text.clone();
    let ruleset = step.ruleset.as_ref().map(|r| r.to_string());
    let ct = content_type.to_owned();
    let call = tokio::task::spawn_blocking(move || {
        let input = CallInput {
            content: &content,
            content_type: &ct,
            config: &config,
            ruleset: ruleset.as_deref(),
        };
        plugin.validate(&input, remaining)
    })
    .await
    .context("validator call panicked")?;
    let finished_at = now_us();
    crate::observability::metrics::metrics().validator_call(
        &step.validator,
        "wasm",
        (finished_at - started_at).max(0) as u64,
    );
    Ok(match call {
        Ok(outcome) => {
            let failed_step = outcome
                .findings
                .iter()
                .any(|f| f.severity == Severity::Error);
            let result = StepResult {
                status: if failed_step { "FAILED" } else { "PASSED" },
                started_at,
                finished_at,
                outputs: outcome.outputs,
                findings: outcome.findings,
                error: None,
                digest,
                artifacts: vec![],
            };
            let fin = failed_step.then(|| Final {
                status: RunStatus::Failed,
                category: Some(ErrorCategory::ValidationFailed),
                detail: Some(format!("step {:?} reported errors", step.key)),
            });
            (result, fin)
        }
        Err(CallError::Host(msg)) => {
            anyhow::bail!("plugin host failure in step {:?}: {msg}", step.key)
        }
        Err(e) => {
            let (category, status) = match e {
                CallError::DeadlineExceeded(_) => (ErrorCategory::Timeout, RunStatus::TimedOut),
                CallError::MemoryExceeded(_) => (ErrorCategory::Oom, RunStatus::Failed),
                _ => (ErrorCategory::RuntimeError, RunStatus::Failed),
            };
            let f = Finding::error(
                e.code(),
                format!("validator {:?} failed: {e}", step.validator),
            );
            let (mut r, fin) = failed(started_at, vec![f], Some(e.to_string()), category, status);
            r.finished_at = finished_at;
            r.digest = digest;
            (r, fin)
        }
    })
}

pub(super) fn failed(
    started_at: i64,
    findings: Vec<Finding>,
    error: Option<String>,
    category: ErrorCategory,
    status: RunStatus,
) -> (StepResult, Option<Final>) {
    let detail = error.clone();
    (
        StepResult {
            status: "FAILED",
            started_at,
            finished_at: now_us(),
            outputs: vec![],
            findings,
            error,
            digest: None,
            artifacts: vec![],
        },
        Some(Final {
            status,
            category: Some(category),
            detail,
        }),
    )
}

/// Records the current step (if any), marks the rest SKIPPED, and closes the run and its job.
async fn finish(
    ctx: &ExecContext,
    lease: &Lease,
    steps: Option<(&[Step], Option<&StepResult>)>,
    fin: Final,
) -> Result<()> {
    let mut stmts = Vec::new();
    if let Some((rest, current)) = steps {
        let mut rest = rest.iter();
        if let Some(result) = current {
            let step = rest.next().expect("the current step is first");
            stmts.extend(step_stmts(&lease.run_id, step, result)?);
        }
        let now = now_us();
        for step in rest {
            let skipped = StepResult {
                status: "SKIPPED",
                started_at: now,
                finished_at: now,
                outputs: vec![],
                findings: vec![],
                error: None,
                digest: None,
                artifacts: vec![],
            };
            stmts.extend(step_stmts(&lease.run_id, step, &skipped)?);
        }
    }
    stmts.push(Stmt::new(
        "UPDATE runs SET status = $1, error_category = $2, error_detail = $3, finished_at = $4, started_at = COALESCE(started_at, $4) WHERE id = $5",
        args![fin.status.as_str(), fin.category.map(ErrorCategory::as_str), fin.detail, now_us(), &lease.run_id],
    ));
    // Deleting the job is the fence: if our lease is gone, nothing is written.
    if ctx.db.write_tx(Some(queue::complete(lease)), stmts).await? {
        crate::observability::metrics::metrics().run_finished(fin.status);
        tracing::debug!(status = fin.status.as_str(), "run finished");
    } else {
        tracing::warn!(run_id = %lease.run_id, "lease lost before the result was recorded; another worker owns the run");
    }
    Ok(())
}

/// Rows of findings per INSERT statement.
const FINDINGS_PER_INSERT: usize = 100;

fn step_stmts(run_id: &str, step: &Step, r: &StepResult) -> Result<Vec<Stmt>> {
    let (started_at, finished_at) = if r.status == "SKIPPED" {
        (None, None)
    } else {
        (Some(r.started_at), Some(r.finished_at))
    };
    let mut stmts = vec![Stmt::new(
        "INSERT INTO step_runs (id, run_id, position, key, validator, validator_version, status, started_at, finished_at, outputs, error, validator_digest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        args![
            crate::ids::new_id(),
            run_id,
            step.position,
            &step.key,
            &step.validator,
            &step.validator_version,
            r.status,
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

async fn retry_or_fail(ctx: &ExecContext, lease: &Lease, error: &str) -> Result<()> {
    if lease.attempts >= lease.max_attempts {
        let detail = format!("system error after {} attempts: {error}", lease.attempts);
        return fail_system(ctx, lease, detail).await;
    }
    queue::retry_later(&ctx.db, lease, queue::backoff_us(lease.attempts), error).await?;
    Ok(())
}

/// Closes the run as `FAILED` / `SYSTEM_ERROR` (attempts exhausted).
async fn fail_system(ctx: &ExecContext, lease: &Lease, detail: String) -> Result<()> {
    let fin = Final {
        status: RunStatus::Failed,
        category: Some(ErrorCategory::SystemError),
        detail: Some(detail),
    };
    finish(ctx, lease, None, fin).await
}
