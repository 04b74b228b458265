//! In-process wake-ups for requests waiting on a run launched here. A run
//! executed by another process is noticed by the waiter's periodic re-check.

use std::collections::HashMap;
use std::sync::Mutex;
use validibot_types::ids::RunId;

use tokio::sync::oneshot;

#[derive(Default)]
pub struct RunWaiters {
    waiting: Mutex<HashMap<RunId, Vec<oneshot::Sender<()>>>>,
}

impl RunWaiters {
    pub fn register(&self, run_id: &RunId) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(run_id.clone())
            .or_default()
            .push(tx);
        rx
    }

    pub fn finished(&self, run_id: &RunId) {
        let senders = self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(run_id);
        for tx in senders.into_iter().flatten() {
            let _ = tx.send(());
        }
    }

    /// Drops a registration whose request stopped waiting.
    pub fn forget(&self, run_id: &RunId) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = waiting.get_mut(run_id) {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                waiting.remove(run_id);
            }
        }
    }
}
