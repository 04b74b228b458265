//! A container step run asynchronously: the first attempt launches the container
//! (inputs as presigned URLs, a callback with a signed token) and answers `WAITING`, so
//! the worker lets the job wait and moves on; the attempt that resumes the run once the
//! container called back (or the reconciler ruled) collects the execution into a
//! verdict through the same `step_outcome` as a synchronous step. A resumed attempt
//! that finds its container still running within its time waits again.

use std::time::Duration;

use anyhow::{Context, Result};

use super::container_step::{conclude, unlicensed, Input};
use super::step_outcome;
use crate::remote::{self, reconciler, token, Remote};
use crate::validators::images::{self, ContainerValidator};
use crate::Services;
use validibot_engines::containers::envelope::{
    self, InputEnvelope, InputFile, OutputEnvelope, INPUT_SCHEMA,
};
use validibot_engines::containers::launcher::{
    ContainerLauncher, Pointers, RemoteJob, RemoteState,
};
use validibot_engines::containers::logs::CapturedLog;
use validibot_engines::containers::{artifacts, Outcome, Report};
use validibot_store::queue::Lease;
use validibot_store::remote::{self as store, Execution, Launched};
use validibot_store::workflows::Step;
use validibot_types::clock::now_us;
use validibot_types::{Final, StepResult};

/// Launches the step's container, or collects what an earlier launch came to.
pub(super) async fn run(
    ctx: &Services,
    remote: &Remote,
    validator: ContainerValidator,
    step: &Step,
    lease: &Lease,
    input: Input<'_>,
    remaining: Duration,
) -> Result<(StepResult, Option<Final>)> {
    if let Some(refused) = unlicensed(ctx, &validator, step, now_us()).await? {
        return Ok(refused);
    }
    let launcher = remote.launcher.as_ref();
    let Some(e) = store::for_step(&ctx.db, &lease.run_id, step.position).await? else {
        return launch(ctx, remote, &validator, step, lease, input, remaining).await;
    };
    let e = if e.state == "launched" {
        let Some((outcome, code, detail)) = reconciler::judge(launcher, &e).await? else {
            return Ok(step_outcome::waiting(e.created_at));
        };
        // A callback that arrived meanwhile wins; either way the row says what happened.
        store::reconcile(&ctx.db, &e.callback_id, outcome, code, &detail).await?;
        store::get(&ctx.db, &e.callback_id)
            .await?
            .context("the execution's row vanished")?
    } else {
        e
    };
    collect(ctx, launcher, &validator, step, e).await
}

/// Starts the container and records the execution; the step is `WAITING`.
async fn launch(
    ctx: &Services,
    remote: &Remote,
    validator: &ContainerValidator,
    step: &Step,
    lease: &Lease,
    input: Input<'_>,
    remaining: Duration,
) -> Result<(StepResult, Option<Final>)> {
    let started_at = now_us();
    let exchange = ctx.blobs.exchange()?;
    let limits = images::limits_for_run(&validator.limits, remaining);
    // The pointers outlive the step's time by a margin: a slow start still reads them.
    let ttl = limits.timeout + limits.grace + Duration::from_secs(600);
    let callback_id = {
        use rand::RngCore;
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        hex::encode(id)
    };
    // The document as a blob (content-addressed: a stored submission is already there).
    let whole = input.document.clone();
    let content = tokio::task::spawn_blocking(move || whole.load()).await??;
    let stored = ctx.blobs.put_bytes(content).await?;
    let files = vec![InputFile {
        name: images::input_name(input.content_type),
        mime_type: input.content_type.to_owned(),
        size: stored.size as u64,
        uri: exchange.get_blob_url(&stored.sha256, ttl).await?,
        sha256: stored.sha256,
    }];
    let mut step_files = Vec::with_capacity(input.files.len());
    for f in input.files {
        step_files.push(InputFile {
            uri: exchange.get_blob_url(&f.sha256, ttl).await?,
            size: f.content.len() as u64,
            name: f.name,
            mime_type: f.media_type,
            sha256: f.sha256,
        });
    }
    let input_bytes = files.iter().chain(&step_files).map(|f| f.size).sum();
    let envelope = InputEnvelope {
        schema_version: INPUT_SCHEMA.into(),
        run_id: lease.run_id.to_string(),
        validator: validator.slug.clone(),
        files,
        config: step.config.clone(),
        step_files,
    };
    let input_name = remote::input_name(&callback_id);
    let output_name = remote::output_name(&callback_id);
    exchange
        .put(&input_name, serde_json::to_vec(&envelope)?)
        .await?;
    let mut artifact_uris = Vec::with_capacity(artifacts::MAX_ARTIFACTS);
    for n in 0..artifacts::MAX_ARTIFACTS {
        let slot = artifacts::slot(&callback_id, n);
        artifact_uris.push(exchange.put_url(&slot, ttl).await?);
    }
    let callback_url = remote.callback_url(&callback_id);
    let expires = now_us() / 1_000_000 + ttl.as_secs() as i64;
    let key = remote.key(&ctx.db).await?;
    let job = RemoteJob {
        run_id: lease.run_id.to_string(),
        validator: validator.slug.clone(),
        image: validator.image_id.clone(),
        image_ref: validator.image_ref.clone(),
        command: validator.command.clone(),
        env: validator.env.clone().into_iter().collect(),
        pointers: Pointers {
            input_uri: exchange.get_url(&input_name, ttl).await?,
            output_uri: exchange.put_url(&output_name, ttl).await?,
            callback_token: token::sign(key, &callback_id, &callback_url, expires),
            callback_url,
            artifact_uris,
        },
        input_bytes,
        limits: limits.clone(),
    };
    // Recorded before it starts: whatever happens next, the reconciler knows of it.
    let launcher = remote.launcher.as_ref();
    let name = launcher.execution_name(&validator.slug);
    let launched = Launched {
        callback_id: &callback_id,
        step_position: step.position,
        step_key: &step.key,
        launcher: launcher.kind(),
        execution_name: &name,
        deadline_at: started_at + limits.timeout.as_micros() as i64,
    };
    if !store::launched(&ctx.db, lease, &launched).await? {
        // Not ours any more: nothing may run on our account.
        remote::forget(ctx, &callback_id).await;
        return Ok(step_outcome::waiting(started_at));
    }
    let launched = launcher.launch(&job, &name).await;
    if let Ok(Some(named)) = &launched {
        store::rename(&ctx.db, &callback_id, named).await?;
    }
    if let Err(e) = launched {
        let reason = format!("{e:#}");
        store::reconcile(&ctx.db, &callback_id, "runner_error", None, &reason).await?;
        store::abandon(&ctx.db, &callback_id).await?;
        remote::forget(ctx, &callback_id).await;
        let report = report(Outcome::RunnerError { reason });
        return conclude(validator, step, started_at, report, None);
    }
    tracing::info!(run_id = %lease.run_id, validator = validator.slug, container = name, "container step launched; waiting for its callback");
    Ok(step_outcome::waiting(started_at))
}

/// The verdict on an execution that ended (delivered or ruled on); its container and
/// exchange objects are removed.
async fn collect(
    ctx: &Services,
    launcher: &dyn ContainerLauncher,
    validator: &ContainerValidator,
    step: &Step,
    e: Execution,
) -> Result<(StepResult, Option<Final>)> {
    let (outcome, output) = outcome_of(&e);
    let mut report = report(outcome);
    report.output = output;
    // The engine alone knows whether the validator was killed for memory.
    if e.state == "delivered" && !matches!(report.outcome, Outcome::Succeeded) {
        if let Ok(RemoteState::Exited { oom: true, .. }) = launcher.state(&e.execution_name).await {
            report.outcome = Outcome::Oom;
        }
    }
    report.exit_code = e.exit_code;
    // The files the envelope lists, from the slots the agent uploaded them to.
    let kept = match (&report.outcome, &report.output, ctx.blobs.exchange()) {
        (Outcome::Succeeded, Some(out), Ok(exchange)) if !out.artifacts.is_empty() => {
            let source = artifacts::Source::Exchange(&exchange, &e.callback_id);
            Some(artifacts::collect(source, &out.artifacts, &ctx.blobs).await)
        }
        _ => None,
    };
    report.elapsed =
        Duration::from_micros((e.ended_at.unwrap_or_else(now_us) - e.created_at).max(0) as u64);
    if let Err(err) = launcher
        .stop_and_remove(&e.execution_name, Duration::ZERO)
        .await
    {
        tracing::warn!(
            container = e.execution_name,
            "removing the container (the sweeper will retry): {err:#}"
        );
    }
    remote::forget(ctx, &e.callback_id).await;
    if matches!(report.outcome, Outcome::RunnerError { .. }) {
        // A host failure is retried; the retry launches anew.
        store::abandon(&ctx.db, &e.callback_id).await?;
    }
    tracing::info!(run_id = %e.run_id, validator = validator.slug, outcome = report.outcome.name(), "container step collected");
    conclude(validator, step, e.created_at, report, kept)
}

/// The typed outcome of an ended execution, with its output envelope when it succeeded.
fn outcome_of(e: &Execution) -> (Outcome, Option<OutputEnvelope>) {
    let detail = || e.detail.clone().unwrap_or_default();
    if e.state == "delivered" {
        let outcome = match (e.exit_code, &e.output) {
            (Some(0), Some(text)) => match envelope::parse_output(text.as_bytes()) {
                Ok(output) => return (Outcome::Succeeded, Some(output)),
                Err(reason) => Outcome::ValidatorFailed {
                    exit_code: 0,
                    reason,
                },
            },
            (Some(0), None) => Outcome::ValidatorFailed {
                exit_code: 0,
                reason: e
                    .detail
                    .clone()
                    .unwrap_or_else(|| "the validator exited 0 without an output envelope".into()),
            },
            (Some(code), _) => Outcome::ValidatorFailed {
                exit_code: code,
                reason: format!("the validator exited with code {code}"),
            },
            // The agent could not run it (its inputs unreadable, say): a host failure.
            (None, _) if e.detail.is_some() => Outcome::RunnerError { reason: detail() },
            (None, _) => Outcome::ValidatorFailed {
                exit_code: -1,
                reason: "the validator was killed by a signal".into(),
            },
        };
        return (outcome, None);
    }
    let outcome = match e.outcome.as_deref() {
        Some("timed_out") => Outcome::TimedOut,
        Some("oom") => Outcome::Oom,
        Some("cancelled") => Outcome::Cancelled,
        Some("validator_failed") => Outcome::ValidatorFailed {
            exit_code: e.exit_code.unwrap_or(-1),
            reason: detail(),
        },
        _ => Outcome::RunnerError { reason: detail() },
    };
    (outcome, None)
}

fn report(outcome: Outcome) -> Report {
    Report {
        outcome,
        output: None,
        logs: CapturedLog::default(),
        exit_code: None,
        elapsed: Duration::ZERO,
    }
}
