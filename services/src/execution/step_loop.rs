//! The one step loop. A workflow's steps run as their graph allows (by default in order,
//! each after the previous; independent steps at once); the run's time limit is checked
//! before each step starts; a step's `when` and config bindings are decided before it
//! runs and its assertions after; a failed step SKIPS the steps that depend on it
//! (unless its `on_failure` is `continue`). The worker runs this loop against the database (every
//! write fenced by its lease), `validibot check` against memory: the same steps,
//! statuses and run result either way.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::assertions::{self, Submitted, When};
use super::step_outcome::{self, Call, Ended};
use crate::workflows::bindings;
use crate::workflows::context::{RunContext, StepFacts};
use crate::workflows::graph::Graph;
use validibot_engines::plugins::{CallFile, CallInput, Document, Plugin};
use validibot_store::workflows::{OnFailure, Step};
use validibot_types::clock::now_us;
use validibot_types::{ErrorCategory, Final, Finding, StepResult, StepStatus};

/// Runs one step's validator.
pub trait StepRunner {
    /// `Err` only for host failures worth a retry; a failing step is a verdict.
    fn run(
        &self,
        step: &Step,
        remaining: Duration,
    ) -> impl Future<Output = Result<(StepResult, Option<Final>)>> + Send;

    /// The submission (assertions may read it).
    fn submitted(&self) -> Submitted<'_>;

    /// The built-in validator that evaluates assertions.
    fn evaluator(&self) -> Option<Arc<Plugin>>;

    /// Whether an earlier attempt launched this step's container (it is collected even
    /// when the run's time is up: its verdict — a timeout, say — is the step's).
    fn launched(&self, _step: &Step) -> bool {
        false
    }
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

    /// Nothing more can run until a `WAITING` step's container reports: the run is put
    /// aside (the worker lets its job wait, holding no slot), to be resumed later.
    fn park(&mut self) -> impl Future<Output = Result<()>> + Send;
}

/// Runs the steps not in `done` (positions an earlier attempt recorded; their results
/// are already in `ctx.steps`) as the graph allows: a step starts once every step it
/// depends on has PASSED (or FAILED with `on_failure: continue`), steps that are ready
/// together run at once, and a step with a dependency that failed (or was SKIPPED) is
/// SKIPPED. The run's time limit is checked before each step starts; `lost` is set when
/// the run stopped being ours (lost lease, cancelled): nothing more starts or is written.
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
    let keys: Vec<&str> = steps.iter().map(|s| s.key.as_str()).collect();
    let named: Vec<Option<&[String]>> = steps.iter().map(|s| s.depends_on.as_deref()).collect();
    let graph =
        Graph::new(&keys, &named).map_err(|(i, e)| anyhow::anyhow!("step {:?}: {e}", keys[i]))?;
    let mut state: Vec<Slot> = steps
        .iter()
        .map(|s| match done.contains(&s.position) {
            true => Slot::Ended(unblocks(s, ctx.step(&s.key).map(|f| f.status))),
            false => Slot::Waiting,
        })
        .collect();
    let mut ends: Vec<(usize, Final)> = Vec::new();
    let mut out_of_time = false;
    let mut running = FuturesUnordered::new();
    loop {
        if lost.load(Ordering::SeqCst) {
            drain(&mut running).await;
            return Ok(()); // another worker owns the run now, or it was cancelled
        }
        // Skip what can no longer run; start what is ready (while there is time).
        loop {
            let mut changed = false;
            for i in 0..steps.len() {
                if state[i] != Slot::Waiting {
                    continue;
                }
                let deps = &graph.deps[i];
                if deps
                    .iter()
                    .any(|&d| state[d] == Slot::Ended(false) || state[d] == Slot::Skipped)
                {
                    state[i] = Slot::Skipped;
                    changed = true;
                } else if deps.iter().all(|&d| state[d] == Slot::Ended(true)) {
                    let remaining_us = deadline_us - now_us();
                    if (out_of_time || remaining_us <= 0) && !runner.launched(&steps[i]) {
                        out_of_time = true;
                        state[i] = Slot::Skipped;
                    } else {
                        state[i] = Slot::Running;
                        let remaining = Duration::from_micros(remaining_us.max(0) as u64);
                        let step = &steps[i];
                        // What it may read of others is done by now: a snapshot will do.
                        let ctx = ctx.clone();
                        running.push(async move {
                            (
                                i,
                                run_step(step, &ctx, deadline_us, runner, remaining).await,
                            )
                        });
                    }
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // Nothing runs any more: the run ends (normally with the last step's result),
        // or waits for the steps whose containers run elsewhere.
        let Some((i, verdict)) = running.next().await else {
            if state.contains(&Slot::Parked) {
                return sink.park().await;
            }
            let last = skipped(steps, &state, &[]);
            return sink.finish(last, final_of(&ends, out_of_time)).await;
        };
        let (result, ending) = match verdict {
            Ok(v) => v,
            Err(e) => {
                drain(&mut running).await;
                return Err(e);
            }
        };
        if result.status == StepStatus::Waiting {
            state[i] = Slot::Parked;
            continue;
        }
        ctx.steps.push(StepFacts {
            key: steps[i].key.clone(),
            status: result.status,
            outputs: result.outputs.clone(),
        });
        state[i] = Slot::Ended(unblocks(&steps[i], Some(result.status)));
        if let Some(fin) = ending {
            ends.push((i, fin));
        }
        if running.is_empty() && !any_can_start(&graph, &state) && !state.contains(&Slot::Parked) {
            let mut last = vec![(&steps[i], result)];
            last.extend(skipped(steps, &state, &[i]));
            return sink.finish(last, final_of(&ends, out_of_time)).await;
        }
        if !sink.step(&steps[i], &result).await? {
            lost.store(true, Ordering::SeqCst);
        }
    }
}

/// Where a step is in this attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Waiting,
    Running,
    /// Its container runs elsewhere (`WAITING`): its dependents wait for a later attempt.
    Parked,
    /// Finished; `true` when its dependents may run.
    Ended(bool),
    /// Will not run (a dependency failed or was skipped, or the time ran out).
    Skipped,
}

/// Whether a finished step lets its dependents run: it PASSED, or FAILED with
/// `on_failure: continue`. A SKIPPED step (its `when` was false) does not.
fn unblocks(step: &Step, status: Option<StepStatus>) -> bool {
    match status {
        Some(StepStatus::Passed) => true,
        Some(StepStatus::Failed) => step.on_failure == OnFailure::Continue,
        _ => false,
    }
}

/// Whether a waiting step could still start (all its dependencies let it).
fn any_can_start(graph: &Graph, state: &[Slot]) -> bool {
    state.iter().enumerate().any(|(i, s)| {
        *s == Slot::Waiting
            && graph.deps[i]
                .iter()
                .all(|&d| matches!(state[d], Slot::Ended(true) | Slot::Running | Slot::Waiting))
    })
}

/// How the run ends: a step's error (timeout, crash, cancel) first, then the clock,
/// then a failed validation — the earliest step of each kind — else success.
fn final_of(ends: &[(usize, Final)], out_of_time: bool) -> Final {
    let first = |validation: bool| {
        ends.iter()
            .filter(|(_, f)| (f.category == Some(ErrorCategory::ValidationFailed)) == validation)
            .min_by_key(|(i, _)| *i)
            .map(|(_, f)| f.clone())
    };
    first(false)
        .or_else(|| out_of_time.then(Final::out_of_time))
        .or_else(|| first(true))
        .unwrap_or_else(Final::succeeded)
}

/// Waits for the steps still running (they stop quickly once `lost` is set), so none
/// is abandoned mid-call.
async fn drain<F: Future>(running: &mut FuturesUnordered<F>) {
    while running.next().await.is_some() {}
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
    if let Some(when) = &step.run_when {
        let Some(evaluator) = runner.evaluator() else {
            let finding = Finding::error(
                "when.error",
                "the `when` evaluator (the built-in rules validator) is missing",
            );
            return Ok(step_outcome::refused(
                step,
                started_at,
                finding,
                "no evaluator".into(),
            )?);
        };
        match assertions::when(evaluator, when, ctx, runner.submitted(), remaining).await? {
            Ok(When::Run) => {}
            Ok(When::Skip(reason)) => return Ok(step_outcome::skipped_by_when(started_at, reason)),
            Err(e) => return Ok(step_outcome::when_failed(step, started_at, e)?),
        }
    }
    let bound = match bind(step, ctx) {
        Ok(bound) => bound,
        Err(detail) => {
            let finding = Finding::error("binding.unresolved", detail.clone());
            return Ok(step_outcome::refused(step, started_at, finding, detail)?);
        }
    };
    let step = bound.as_ref().unwrap_or(step);
    let verdict = runner.run(step, remaining).await?;
    let waiting = verdict.0.status == StepStatus::Waiting;
    if waiting || step.assertions.is_empty() || !step_outcome::validator_completed(&verdict.1) {
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
        runner.submitted(),
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

/// Results for the steps that will not run (`Waiting` ones cannot start either), all
/// but `except`.
fn skipped<'a>(steps: &'a [Step], state: &[Slot], except: &[usize]) -> Vec<(&'a Step, StepResult)> {
    let now = now_us();
    steps
        .iter()
        .enumerate()
        .filter(|(i, _)| matches!(state[*i], Slot::Skipped | Slot::Waiting) && !except.contains(i))
        .map(|(_, s)| (s, StepResult::skipped(now)))
        .collect()
}

/// A step on a WASM component: the call on a blocking thread, then the verdict.
/// `memory_bytes`: the workflow's base memory cap, when it sets one.
/// `cancel`, when given, interrupts the call once it is raised (the run was cancelled
/// or is no longer ours).
#[allow(clippy::too_many_arguments)]
pub async fn wasm_step(
    plugin: Arc<Plugin>,
    step: &Step,
    document: Document,
    content_type: &str,
    files: Vec<CallFile>,
    memory_bytes: Option<usize>,
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
            document: &document,
            content_type: &ct,
            config: &config,
            ruleset: ruleset.as_deref(),
            files: &files,
            memory_bytes,
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
