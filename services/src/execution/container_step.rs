//! A step whose validator is a registered container image: the license is
//! checked at run time (an expired license stops Pro validators without touching
//! stored workflows), the submission goes in as the input envelope, and the
//! runner's report (typed outcome + output envelope) goes to `step_outcome`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use validibot_types::{Finding, Severity};

use super::step_outcome::{self, Call, Ended};
use crate::validators::images::ContainerValidator;
use crate::Services;
use validibot_engines::containers::artifacts;
use validibot_engines::containers::{Job, Outcome};
use validibot_engines::plugins::{CallFile, Document};
use validibot_store::queue::Lease;
use validibot_store::workflows::Step;
use validibot_types::clock::now_us;
use validibot_types::{Final, StepResult};

/// Where the step runs.
pub struct Attempt<'a> {
    pub lease: &'a Lease,
    /// Set when the lease moved to another worker: the container is stopped.
    pub lost: &'a Arc<AtomicBool>,
}

/// What the container reads: the submission and the step's files.
pub struct Input<'a> {
    pub document: &'a Document,
    pub content_type: &'a str,
    pub files: Vec<CallFile>,
}

pub(super) async fn run(
    ctx: &Services,
    validator: ContainerValidator,
    step: &Step,
    at: Attempt<'_>,
    input: Input<'_>,
    remaining: Duration,
) -> Result<(StepResult, Option<Final>)> {
    let Input {
        document,
        content_type,
        files,
    } = input;
    let started_at = now_us();
    if let Some(refused) = unlicensed(ctx, &validator, step, started_at).await? {
        return Ok(refused);
    }
    let runner = ctx.containers.runner().await?;
    // The container reads the document from its work directory, written from memory.
    let whole = document.clone();
    let content = tokio::task::spawn_blocking(move || whole.load()).await??;
    let run_id = &at.lease.run_id;
    let work_dir = ctx
        .containers
        .work_dir(run_id.as_str(), step.position, at.lease.attempts);
    let job = Job {
        run_id: run_id.to_string(),
        validator: validator.slug.clone(),
        image: validator.image_id.clone(),
        command: None,
        files: vec![(
            crate::validators::images::input_name(content_type),
            content_type.to_owned(),
            content,
        )],
        step_files: files
            .into_iter()
            .map(|f| (f.name, f.media_type, f.content))
            .collect(),
        env: validator.env.clone().into_iter().collect(),
        config: step.config.clone(),
        limits: crate::validators::images::limits_for_run(&validator.limits, remaining),
        work_dir: work_dir.clone(),
    };
    let (tx, cancel) = tokio::sync::watch::channel(false);
    let lost = at.lost.clone();
    let watcher = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if lost.load(Ordering::SeqCst) {
                let _ = tx.send(true);
                return;
            }
        }
    });
    let report = runner.run(job, cancel).await;
    watcher.abort();
    let artifacts = match (&report.outcome, &report.output) {
        (Outcome::Succeeded, Some(out)) if !out.artifacts.is_empty() => {
            let dir = work_dir.join("output");
            let source = artifacts::Source::Dir(&dir);
            Some(artifacts::collect(source, &out.artifacts, &ctx.blobs).await)
        }
        _ => None,
    };
    let _ = tokio::fs::remove_dir_all(&work_dir).await;
    tracing::info!(
        run_id = %run_id,
        validator = validator.slug,
        outcome = report.outcome.name(),
        elapsed_ms = report.elapsed.as_millis() as u64,
        "container step finished"
    );
    conclude(&validator, step, started_at, report, artifacts)
}

/// The refusal of a step whose validator's Pro feature the license does not cover (an
/// expired license stops Pro validators without touching stored workflows).
pub(super) async fn unlicensed(
    ctx: &Services,
    validator: &ContainerValidator,
    step: &Step,
    started_at: i64,
) -> Result<Option<(StepResult, Option<Final>)>> {
    let Err((state, detail)) = ctx.licensing.require(&validator.feature).await? else {
        return Ok(None);
    };
    let mut finding = Finding::error("validator.pro_required", detail);
    finding.meta = Some(serde_json::json!({"feature": validator.feature, "license_state": state}));
    let error = format!("{} needs Validibot Pro", validator.slug);
    Ok(Some(step_outcome::refused(
        step, started_at, finding, error,
    )?))
}

/// The verdict on a container step from the runner's report (synchronous, or an
/// asynchronous step's delivery or reconciliation), with the artifacts kept and refused.
pub(super) fn conclude(
    validator: &ContainerValidator,
    step: &Step,
    started_at: i64,
    report: validibot_engines::containers::Report,
    artifacts: Option<(Vec<validibot_types::StoredArtifact>, Vec<String>)>,
) -> Result<(StepResult, Option<Final>)> {
    let m = crate::observability::metrics::metrics();
    m.container_outcome(&validator.slug, report.outcome.name());
    m.validator_call(
        &validator.slug,
        "container",
        report.elapsed.as_micros() as u64,
    );
    let call = Call {
        started_at,
        finished_at: now_us(),
        digest: Some(validator.image_id.clone()),
        ended: Ended::Container(report),
    };
    let (mut result, fin) = step_outcome::decide(step, call)?;
    if let Some((kept, refused)) = artifacts {
        for reason in refused {
            let mut f = Finding::error("container.artifact_refused", reason);
            f.severity = Severity::Warning;
            result.findings.push(f);
        }
        result.artifacts = kept;
    }
    Ok((result, fin))
}
