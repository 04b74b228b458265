//! Rules on asynchronous steps whose callback never came: the container exited without
//! calling back (crashed, network lost: `validator_failed`, or `oom` where the engine
//! says so), is gone (`runner_error`), or still runs past the step's deadline (stopped:
//! `timed_out`). Each verdict is recorded once (fenced on the execution still being
//! `launched`, so a callback that wins the race wins) and wakes the run's job. Containers
//! of runs that ended (canceled) are stopped. Every worker process runs the loop.

use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use crate::Services;
use validibot_engines::containers::launcher::{ContainerLauncher, RemoteState};
use validibot_store::remote::{self as store, Execution};
use validibot_types::clock::now_us;

/// Between SIGTERM and SIGKILL when a step's deadline passed.
const GRACE: Duration = Duration::from_secs(5);

/// How long an execution may have no container: it is recorded before it is created.
const LAUNCH_GRACE_US: i64 = 60_000_000;

/// A verdict on an execution without a callback: (outcome, exit code, detail).
pub type Ruling = (&'static str, Option<i64>, String);

/// What the launcher's state of the container says, if anything yet; stops a
/// container past its deadline.
pub async fn judge(launcher: &dyn ContainerLauncher, e: &Execution) -> Result<Option<Ruling>> {
    Ok(match launcher.state(&e.execution_name).await? {
        RemoteState::Running if now_us() <= e.deadline_at => None,
        RemoteState::Running => {
            launcher.stop_and_remove(&e.execution_name, GRACE).await?;
            Some((
                "timed_out",
                None,
                "still running at the step's deadline; stopped".into(),
            ))
        }
        RemoteState::Exited {
            exit_code,
            oom: true,
        } => Some((
            "oom",
            exit_code,
            "killed by the engine: out of memory".into(),
        )),
        RemoteState::Exited { exit_code, .. } => Some((
            "validator_failed",
            exit_code,
            format!(
                "the container exited (code {}) without calling back",
                exit_code.map_or("none".into(), |c| c.to_string())
            ),
        )),
        RemoteState::DeadlineExceeded => Some((
            "timed_out",
            None,
            "the launcher stopped it at the step's deadline".into(),
        )),
        RemoteState::Failed { reason } => Some(("runner_error", None, reason)),
        // Recorded a moment before its container is created: not lost yet.
        RemoteState::Missing if now_us() - e.created_at < LAUNCH_GRACE_US => None,
        RemoteState::Missing => Some((
            "runner_error",
            None,
            "the container is gone and never called back".into(),
        )),
    })
}

/// One pass over the open executions.
pub async fn tick(svc: &Services) -> Result<usize> {
    let Some(remote) = svc.remote.as_ref() else {
        return Ok(0);
    };
    let launcher = remote.launcher.as_ref();
    let mut ruled = 0;
    for (e, live) in store::open(&svc.db, launcher.kind(), 500).await? {
        if !live {
            launcher
                .stop_and_remove(&e.execution_name, Duration::ZERO)
                .await?;
            let detail = "the run ended before the container reported";
            if store::reconcile(&svc.db, &e.callback_id, "cancelled", None, detail).await? {
                super::forget(svc, &e.callback_id).await;
                ruled += 1;
            }
            continue;
        }
        if let Some((outcome, code, detail)) = judge(launcher, &e).await? {
            if store::reconcile(&svc.db, &e.callback_id, outcome, code, &detail).await? {
                tracing::info!(run_id = %e.run_id, step = e.step_key, outcome, "asynchronous step ruled without a callback");
                ruled += 1;
            }
        }
    }
    Ok(ruled)
}

/// Runs [`tick`] every `period` until `stop`.
pub fn spawn(svc: Services, period: Duration, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = tick(&svc).await {
                tracing::warn!("reconciling asynchronous steps: {e:#}");
            }
        }
    });
}
