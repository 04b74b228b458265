//! Cancelling a run. The database decides (one transaction ends the run `CANCELED` and
//! deletes its job, which fences out the worker); the worker notices through its lost
//! lease — at once when it runs in this process (its flag is registered here), else at
//! its next heartbeat — and stops: a WASM call is interrupted at its next epoch check,
//! a container is stopped and removed, no later step starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use validibot_types::ids::RunId;

use crate::Services;

/// The runs this process is executing, each with the flag its step loop and validator
/// calls watch (the executor's "lease lost" flag).
#[derive(Default)]
pub struct RunningRuns {
    flags: Mutex<HashMap<RunId, Arc<AtomicBool>>>,
}

impl RunningRuns {
    /// Registers a run's flag until the guard is dropped.
    pub fn register(self: &Arc<Self>, run_id: &RunId, flag: Arc<AtomicBool>) -> Registered {
        self.flags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run_id.clone(), flag);
        Registered {
            runs: self.clone(),
            run_id: run_id.clone(),
        }
    }

    /// Raises the run's flag if it runs here; whether it did.
    fn stop(&self, run_id: &RunId) -> bool {
        let flags = self.flags.lock().unwrap_or_else(|p| p.into_inner());
        flags
            .get(run_id)
            .map(|f| f.store(true, Ordering::SeqCst))
            .is_some()
    }
}

/// Removes a run's registration when its execution ends.
pub struct Registered {
    runs: Arc<RunningRuns>,
    run_id: RunId,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.runs
            .flags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.run_id);
    }
}

/// How a cancel request ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// The run is now `CANCELED`.
    Now,
    /// It had already finished; nothing changed.
    AlreadyFinished,
}

/// Cancels `run_id` on behalf of `by` (a username, recorded in the run's detail).
pub async fn cancel(svc: &Services, run_id: &RunId, by: &str) -> Result<Cancelled> {
    let detail = format!("cancelled by {by}");
    if !validibot_store::runs::record::cancel(&svc.db, run_id, &detail).await? {
        return Ok(Cancelled::AlreadyFinished);
    }
    let here = svc.running.stop(run_id);
    tracing::info!(run_id = %run_id, by, running_here = here, "run cancelled");
    crate::observability::metrics::metrics().run_finished(validibot_types::RunStatus::Canceled);
    svc.waiters.finished(run_id);
    Ok(Cancelled::Now)
}
