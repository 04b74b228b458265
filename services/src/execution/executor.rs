//! Runs one leased job: the workflow's steps through the step loop, with results
//! written to the database. Each write is a transaction fenced by the lease, so a
//! step's result is recorded exactly once even when a worker dies and another takes
//! over (the new worker resumes after the last recorded step).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use validibot_types::ids::{RunId, WorkflowId, WorkspaceId};

use anyhow::Result;
use tracing::Instrument;
use validibot_types::Finding;

use super::assertions::Submitted;
use super::container_step;
use super::progress::Progress;
use super::remote_step;
use super::step_loop::{self, RunSink, StepRunner};
use super::step_outcome;
use crate::validators::availability;
use crate::workflows::context::{RunContext, StepFacts};
use crate::Services;
use validibot_engines::plugins::{Document, Plugin};
use validibot_store::queue::{self, Lease};
use validibot_store::runs::record;
use validibot_store::workflows::Step;
use validibot_types::clock::now_us;
use validibot_types::{Final, StepResult};

/// What a launch in this process already knows about its run, so the
/// executor need not read it back (or read the submission from storage).
pub struct Prefetched {
    pub started_at: i64,
    pub timeout_seconds: i64,
    pub workflow_id: WorkflowId,
    pub workspace_id: WorkspaceId,
    pub content_type: String,
    pub document: Document,
    /// The submission's metadata (assertions read it as `meta`).
    pub metadata: serde_json::Value,
}

/// Executes a leased job; `known` comes from a launch in this process, else the run is read from the database.
pub async fn execute(ctx: &Services, lease: Lease, known: Option<Prefetched>) {
    let lost = Arc::new(AtomicBool::new(false));
    // A cancel raises the same flag a lost lease does.
    let _running = ctx.running.register(&lease.run_id, lost.clone());
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
    ctx: &Services,
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
    ctx: &Services,
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
            let share = ctx.memory.acquire(k.document.len()).await;
            (k, share)
        }
        None => match load_run(ctx, &lease.run_id).await? {
            Some(loaded) => loaded,
            None => {
                let detail = "the submission was never stored (the workflow's store_submission is false) and the process that held it stopped before the run finished".to_owned();
                return fail_system(ctx, lease, detail).await;
            }
        },
    };
    let deadline_us = facts.started_at + facts.timeout_seconds * 1_000_000;
    let plan =
        validibot_store::workflows::versions::frozen_plan(&ctx.db, &facts.workflow_id).await?;
    // Only a job claimed before (retried, or resumed after waiting on a container) can
    // have steps recorded, or containers launched, by an earlier attempt.
    let (recorded, launched) = if lease.token > 1 {
        (
            record::recorded_steps(&ctx.db, &lease.run_id).await?,
            validibot_store::remote::launched_steps(&ctx.db, &lease.run_id).await?,
        )
    } else {
        (vec![], vec![])
    };
    let done: Vec<i64> = recorded.iter().map(|r| r.position).collect();
    let run_ctx = RunContext {
        steps: recorded
            .into_iter()
            .filter_map(|r| {
                let step = plan.steps.iter().find(|s| s.position == r.position)?;
                Some(StepFacts {
                    key: step.key.clone(),
                    status: r.status,
                    outputs: r.outputs,
                })
            })
            .collect(),
        meta: facts.metadata,
        consts: plan.constants.clone(),
    };
    let progress = Progress::default();
    let runner = WorkerSteps {
        ctx,
        lease,
        lost,
        document: facts.document,
        progress: progress.clone(),
        memory_bytes: mib_to_bytes(plan.validator_memory_mib),
        content_type: facts.content_type,
        workspace_id: facts.workspace_id,
        launched,
    };
    let mut sink = Recorder { ctx, lease };
    let _writer = progress.spawn_writer(ctx.db.clone(), lease.clone());
    step_loop::run(
        &plan.steps,
        &done,
        run_ctx,
        deadline_us,
        &runner,
        &mut sink,
        lost,
    )
    .await
}

/// A workflow's `validator_memory_mib` in bytes.
pub fn mib_to_bytes(mib: Option<i64>) -> Option<usize> {
    mib.and_then(|m| usize::try_from(m).ok()).map(|m| m << 20)
}

/// What a worker that did not launch the run reads: the run row and the submission from
/// storage — the latter only once the run's share of the memory budget is granted.
/// `None`: the submission's bytes were never stored, so only its launcher could run it.
async fn load_run(
    ctx: &Services,
    run_id: &RunId,
) -> Result<Option<(Prefetched, tokio::sync::OwnedSemaphorePermit)>> {
    let run = record::run_facts(&ctx.db, run_id).await?;
    if run.stored == Some(0) {
        return Ok(None);
    }
    let share = ctx.memory.acquire(run.size.max(0) as u64).await;
    let facts = Prefetched {
        started_at: run.started_at.unwrap_or_else(now_us),
        timeout_seconds: run.timeout_seconds,
        workflow_id: run.workflow_id,
        workspace_id: run.workspace_id,
        document: Document::from_file(ctx.blobs.open_verified(&run.submission_sha256).await?)?,
        content_type: run.content_type,
        metadata: serde_json::from_str(&run.metadata).unwrap_or_default(),
    };
    Ok(Some((facts, share)))
}

/// The worker's steps: built-in and installed WASM components, and registered container images.
struct WorkerSteps<'a> {
    ctx: &'a Services,
    lease: &'a Lease,
    lost: &'a Arc<AtomicBool>,
    document: Document,
    progress: Progress,
    /// The workflow's base memory cap for WASM calls.
    memory_bytes: Option<usize>,
    content_type: String,
    workspace_id: WorkspaceId,
    /// Positions of steps whose containers an earlier attempt launched.
    launched: Vec<i64>,
}

impl StepRunner for WorkerSteps<'_> {
    async fn run(&self, step: &Step, remaining: Duration) -> Result<(StepResult, Option<Final>)> {
        let span = tracing::info_span!("step", key = %step.key, validator = %step.validator);
        self.run_step(step, remaining).instrument(span).await
    }

    fn submitted(&self) -> Submitted<'_> {
        Submitted {
            document: &self.document,
            content_type: &self.content_type,
        }
    }

    fn evaluator(&self) -> Option<Arc<Plugin>> {
        self.ctx
            .plugins
            .get(crate::workflows::assertions::EVALUATOR)
    }

    fn launched(&self, step: &Step) -> bool {
        self.launched.contains(&step.position)
    }
}

impl WorkerSteps<'_> {
    async fn run_step(
        &self,
        step: &Step,
        remaining: Duration,
    ) -> Result<(StepResult, Option<Final>)> {
        let ctx = self.ctx;
        let started_at = now_us();
        let mut plugin = ctx
            .plugins
            .get_version(&step.validator, &step.validator_version);
        if plugin.is_none() {
            // Perhaps installed by another process since this one started.
            crate::validators::installed::sync(&ctx.db, &ctx.blobs, &ctx.plugins).await?;
            plugin = ctx
                .plugins
                .get_version(&step.validator, &step.validator_version);
        }
        let files = match crate::workflows::step_files::load(&ctx.blobs, &step.files).await {
            Ok(files) => files,
            Err(e) => {
                let detail = format!("{e:#}");
                let finding = Finding::error("step_file.unavailable", detail.clone());
                return Ok(step_outcome::refused(step, started_at, finding, detail)?);
            }
        };
        if let Some(plugin) = plugin {
            // Disabled (or not enabled here) after the run was launched.
            let refused =
                availability::refusal(&ctx.db, &ctx.plugins, &step.validator, &self.workspace_id)
                    .await?;
            if let Some(refusal) = refused {
                let finding = Finding::error(refusal.finding_code(), refusal.detail.clone());
                return Ok(step_outcome::refused(
                    step,
                    started_at,
                    finding,
                    refusal.detail,
                )?);
            }
            let cancel = Some(self.lost.clone());
            let reading = self.progress.start(&step.key, &self.document);
            return step_loop::wasm_step(
                plugin,
                step,
                reading.document.clone(),
                &self.content_type,
                files,
                self.memory_bytes,
                remaining,
                cancel,
            )
            .await;
        }
        let container =
            crate::validators::images::get(&ctx.db, &step.validator, Some(&step.validator_version))
                .await?;
        if let Some(v) = container {
            let at = container_step::Attempt {
                lease: self.lease,
                lost: self.lost,
            };
            let input = container_step::Input {
                document: &self.document,
                content_type: &self.content_type,
                files,
            };
            return match &ctx.remote {
                Some(remote) => {
                    remote_step::run(ctx, remote, v, step, self.lease, input, remaining).await
                }
                None => container_step::run(ctx, v, step, at, input, remaining).await,
            };
        }
        let finding = Finding::error(
            "validator.unknown",
            format!(
                "validator {:?} version {} is not installed on this worker",
                step.validator, step.validator_version
            ),
        );
        let error = "unknown validator".to_owned();
        Ok(step_outcome::refused(step, started_at, finding, error)?)
    }
}

/// Writes the loop's results, each write fenced by the lease.
struct Recorder<'a> {
    ctx: &'a Services,
    lease: &'a Lease,
}

impl RunSink for Recorder<'_> {
    async fn step(&mut self, step: &Step, result: &StepResult) -> Result<bool> {
        record::record_step(&self.ctx.db, self.lease, step, result).await
    }

    async fn finish(&mut self, last: Vec<(&Step, StepResult)>, fin: Final) -> Result<()> {
        let (ctx, lease) = (self.ctx, self.lease);
        if record::finish_run(&ctx.db, lease, &last, &fin).await? {
            crate::observability::metrics::metrics().run_finished(fin.status);
            tracing::debug!(status = fin.status.as_str(), "run finished");
        } else {
            tracing::warn!(run_id = %lease.run_id, "lease lost before the result was recorded; another worker owns the run");
        }
        Ok(())
    }

    async fn park(&mut self) -> Result<()> {
        let lease = self.lease;
        if validibot_store::remote::park(&self.ctx.db, lease).await? {
            tracing::debug!("waiting for container steps; the job holds no slot");
        } else {
            tracing::warn!(run_id = %lease.run_id, "lease lost before the run was parked; another worker owns the run");
        }
        Ok(())
    }
}

async fn retry_or_fail(ctx: &Services, lease: &Lease, error: &str) -> Result<()> {
    if lease.attempts >= lease.max_attempts {
        let detail = format!("system error after {} attempts: {error}", lease.attempts);
        return fail_system(ctx, lease, detail).await;
    }
    queue::retry_later(&ctx.db, lease, queue::backoff_us(lease.attempts), error).await?;
    Ok(())
}

/// Closes the run as `FAILED` / `SYSTEM_ERROR` (attempts exhausted).
async fn fail_system(ctx: &Services, lease: &Lease, detail: String) -> Result<()> {
    Recorder { ctx, lease }
        .finish(vec![], Final::system_error(detail))
        .await
}
