//! The one step loop. A workflow's steps run in order; the run's time limit is checked
//! before each step; a step's config bindings are resolved before it runs and its
//! assertions evaluated after; the first step whose verdict ends the run ends it, and
//! the steps after it are SKIPPED. The worker runs this loop against the database (every
//! write fenced by its lease), `validibot check` against memory: the same steps,
//! statuses and run result either way.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::assertions::{self, Document};
use super::step_outcome::{self, Call, Ended};
use crate::workflows::bindings;
use crate::workflows::context::{RunContext, StepFacts};
use validibot_engines::plugins::{CallInput, Plugin};
use validibot_store::workflows::Step;
use validibot_types::clock::now_us;
use validibot_types::{Final, Finding, StepResult};

/// Runs one step's validator.
pub trait StepRunner {
    /// `Err` only for host failures worth a retry; a failing step is a verdict.
    fn run(
        &self,
        step: &Step,
        remaining: Duration,
    ) -> impl Future<Output = Result<(StepResult, Option<Final>)>> + Send;

    /// The submission (assertions may read it).
    fn document(&self) -> Document<'_>;

    /// The built-in validator that evaluates assertions.
    fn evaluator(&self) -> Option<Arc<Plugin>>;
}

/// Where the loop's results go.
pub trait RunSink {
    /// Records a step that did not end the run; `false` stops the loop (the run is no
    /// longer ours to write).
    fn step(
        &mut self,
        step: &Step,
        result: &StepResult,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Records the last results — the step that ended the run (none when the clock
    /// ended it), then the steps never reached, SKIPPED — and the run's end.
    fn finish(
        &mut self,
        last: Vec<(&Step, StepResult)>,
        fin: Final,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Runs `steps` from the first one not in `done` (positions an earlier attempt recorded;
/// their results are already in `ctx.steps`) until one ends the run or none is left.
/// `deadline_us` is the run's time limit; `lost` is set when the run stopped being ours.
#[allow(clippy::too_many_arguments)]
pub async fn run<R: StepRunner + Sync, S: RunSink + Send>(
    steps: &[Step],
    done: &[i64],
    mut ctx: RunContext,
    deadline_us: i64,
    runner: &R,
    sink: &mut S,
    lost: &AtomicBool,
) -> Result<()> {
    for (i, step) in steps.iter().enumerate() {
        if done.contains(&step.position) {
            continue; // recorded by an earlier attempt
        }
        if lost.load(Ordering::SeqCst) {
            return Ok(()); // another worker owns the run now
        }
        let remaining_us = deadline_us - now_us();
        if remaining_us <= 0 {
            let last = skipped(&steps[i..]);
            return sink.finish(last, Final::out_of_time()).await;
        }
        let remaining = Duration::from_micros(remaining_us as u64);
        let (result, ending) = run_step(step, &ctx, deadline_us, runner, remaining).await?;
        ctx.steps.push(StepFacts {
            key: step.key.clone(),
            status: result.status,
            outputs: result.outputs.clone(),
        });
        let rest = &steps[i + 1..];
        let fin = match ending {
            Some(fin) => fin,
            None if rest.is_empty() => Final::succeeded(),
            None => {
                if !sink.step(step, &result).await? {
                    return Ok(());
                }
                continue;
            }
        };
        let mut last = vec![(step, result)];
        last.extend(skipped(rest));
        return sink.finish(last, fin).await;
    }
    Ok(())
}

/// One step: its bindings resolved, its validator run, its assertions evaluated.
async fn run_step<R: StepRunner + Sync>(
    step: &Step,
    ctx: &RunContext,
    deadline_us: i64,
    runner: &R,
    remaining: Duration,
) -> Result<(StepResult, Option<Final>)> {
    let started_at = now_us();
    let bound = match bind(step, ctx) {
        Ok(bound) => bound,
        Err(detail) => {
            let finding = Finding::error("binding.unresolved", detail.clone());
            return Ok(step_outcome::refused(step, started_at, finding, detail)?);
        }
    };
    let step = bound.as_ref().unwrap_or(step);
    let verdict = runner.run(step, remaining).await?;
    if step.assertions.is_empty() || !step_outcome::validator_completed(&verdict.1) {
        return Ok(verdict);
    }
    let Some(evaluator) = runner.evaluator() else {
        let finding = Finding::error(
            "assertion.error",
            "the assertion evaluator (the built-in rules validator) is missing",
        );
        return Ok(step_outcome::refused(
            step,
            started_at,
            finding,
            "no assertion evaluator".into(),
        )?);
    };
    let left = Duration::from_micros((deadline_us - now_us()).max(1) as u64);
    let (ended, finished_at) = assertions::evaluate(
        evaluator,
        step,
        &verdict.0.outputs,
        ctx,
        runner.document(),
        left,
    )
    .await?;
    Ok(step_outcome::with_assertions(
        step,
        verdict,
        finished_at,
        ended,
    )?)
}

/// The step with its config bindings resolved (`None`: it has none).
fn bind(step: &Step, ctx: &RunContext) -> Result<Option<Step>, String> {
    if !step.config_text.contains("${") {
        return Ok(None);
    }
    let mut bound = step.clone();
    bound.config = bindings::resolve(&step.config, ctx)?;
    // `config_text` may carry what the workflow handed the step (a Table Schema).
    let prepared: serde_json::Value =
        serde_json::from_str(&step.config_text).map_err(|e| e.to_string())?;
    bound.config_text = bindings::resolve(&prepared, ctx)?.to_string();
    Ok(Some(bound))
}

/// Results for steps the run never reached.
fn skipped(steps: &[Step]) -> Vec<(&Step, StepResult)> {
    let now = now_us();
    steps
        .iter()
        .map(|s| (s, StepResult::skipped(now)))
        .collect()
}

/// A step on a WASM component: the call on a blocking thread, then the verdict.
/// `cancel`, when given, interrupts the call once it is raised (the run was cancelled
/// or is no longer ours).
pub async fn wasm_step(
    plugin: Arc<Plugin>,
    step: &Step,
    content: Arc<Vec<u8>>,
    content_type: &str,
    remaining: Duration,
    cancel: Option<Arc<AtomicBool>>,
) -> Result<(StepResult, Option<Final>)> {
    let started_at = now_us();
    let digest = Some(plugin.meta.sha256.clone());
    let config = step.config_text.clone();
    let ruleset = step.ruleset.as_ref().map(|r| r.to_string());
    let ct = content_type.to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let input = CallInput {
            content: &content,
            content_type: &ct,
            config: &config,
            ruleset: ruleset.as_deref(),
        };
        match cancel {
            Some(flag) => plugin.validate_cancellable(&input, remaining, flag),
            None => plugin.validate(&input, remaining),
        }
    })
    .await
    .context("validator call panicked")?;
    let finished_at = now_us();
    crate::observability::metrics::metrics().validator_call(
        &step.validator,
        "wasm",
        (finished_at - started_at).max(0) as u64,
    );
    let ended = match answer {
        Ok(found) => Ended::Reported {
            findings: found.findings,
            outputs: found.outputs,
        },
        Err(e) => Ended::Wasm(e),
    };
    let call = Call {
        started_at,
        finished_at,
        digest,
        ended,
    };
    Ok(step_outcome::decide(step, call)?)
}
