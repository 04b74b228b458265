//! A bound on the submission bytes a worker process holds at once. A run holds its
//! document in memory while it runs, and a WASM validator gets a second copy in its
//! linear memory; with 1 GB uploads and dozens of worker slots, nothing else would stop
//! a handful of parallel large runs from asking for tens of gigabytes. Each run acquires
//! its share (twice its submission's size, in MiB) before it loads the document and
//! returns it when the run ends; a run larger than the whole budget waits until it can
//! have all of it, so it runs alone.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    mib: u32,
}

/// Copies of a submission a run may hold: the document, and a WASM validator's input.
const COPIES: u64 = 2;

impl MemoryBudget {
    pub fn new(mib: u32) -> MemoryBudget {
        let mib = mib.max(1);
        MemoryBudget {
            permits: Arc::new(Semaphore::new(mib as usize)),
            mib,
        }
    }

    /// The share of a run whose submission is `size` bytes.
    fn share(&self, size: u64) -> u32 {
        let need = (size.saturating_mul(COPIES)).div_ceil(1 << 20).max(1);
        need.min(u64::from(self.mib)) as u32
    }

    /// Waits for the run's share; dropping the permit gives it back.
    pub async fn acquire(&self, size: u64) -> OwnedSemaphorePermit {
        self.permits
            .clone()
            .acquire_many_owned(self.share(size))
            .await
            .expect("the budget's semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_wait_for_their_share_and_a_huge_one_runs_alone() {
        let budget = MemoryBudget::new(100);
        let a = budget.acquire(30 << 20).await; // 60 MiB
        assert!(tokio::time::timeout(
            std::time::Duration::from_millis(50),
            budget.acquire(30 << 20)
        )
        .await
        .is_err());
        let small = budget.acquire(10).await; // 1 MiB fits beside it
        drop(a);
        drop(small);
        let huge = budget.acquire(5 << 30).await; // capped at the whole budget
        assert_eq!(budget.permits.available_permits(), 0);
        drop(huge);
        assert_eq!(budget.permits.available_permits(), 100);
    }
}
