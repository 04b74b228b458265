//! The worker loop: take jobs handed over in-process (runs launched by this
//! server) and poll the queue for the rest (other processes, retries, leases
//! of dead workers), running at most `concurrency` at once.

use std::sync::Arc;
use std::time::Duration;
use validibot_types::ids::JobId;

use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::executor::{execute, Prefetched};
use crate::Services;
use validibot_store::queue::{self, Lease};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub concurrency: usize,
    pub poll_interval: Duration,
}

/// The API's handle on the embedded worker.
#[derive(Clone)]
pub struct Dispatch {
    offers: mpsc::Sender<JobId>,
    slots: Arc<Semaphore>,
    ctx: Arc<Services>,
    pub owner: Arc<str>,
}

/// A free worker slot, held from launch until the run's execution ends.
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl Dispatch {
    /// Hands a queued job to the local worker; a dropped hand-off is found by polling.
    pub fn offer(&self, job_id: JobId) {
        let _ = self.offers.try_send(job_id);
    }

    /// A free slot, if any: the launch may then create its job already leased to us.
    pub fn reserve(&self) -> Option<Reservation> {
        self.slots
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|p| Reservation { _permit: p })
    }

    /// A slot within `wait`, if one frees up.
    pub async fn reserve_within(&self, wait: std::time::Duration) -> Option<Reservation> {
        tokio::time::timeout(wait, self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()
            .map(|p| Reservation { _permit: p })
    }

    pub fn lease_us(&self) -> i64 {
        self.ctx.lease.as_micros() as i64
    }

    /// Executes a job that was leased to this worker at enqueue time.
    pub fn run(&self, reservation: Reservation, lease: Lease, known: Option<Prefetched>) {
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            execute(&ctx, lease, known).await;
            drop(reservation);
        });
    }
}

/// Starts a worker; it stops claiming when `shutdown` turns true and returns
/// after its in-flight jobs finish.
pub fn spawn(
    ctx: Services,
    config: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> (Dispatch, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<JobId>(4096);
    let owner = format!(
        "{}:{}:{}",
        hostname(),
        std::process::id(),
        validibot_types::ids::new_id()
    );
    let ctx = Arc::new(ctx);
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let dispatch = Dispatch {
        offers: tx,
        slots: slots.clone(),
        ctx: ctx.clone(),
        owner: owner.clone().into(),
    };
    let handle = tokio::spawn(async move {
        let lease_us = ctx.lease.as_micros() as i64;
        tracing::info!(%owner, concurrency = config.concurrency, "worker started");
        let mut poll = tokio::time::interval(config.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                Some(job_id) = rx.recv() => {
                    let Ok(permit) = slots.clone().acquire_owned().await else { break };
                    let (ctx, owner) = (ctx.clone(), owner.clone());
                    tokio::spawn(async move {
                        match queue::claim_job(&ctx.db, &job_id, &owner, lease_us).await {
                            Ok(Some(lease)) => execute(&ctx, lease, None).await,
                            Ok(None) => {}
                            Err(e) => tracing::warn!(%job_id, "claim failed: {e:#}"),
                        }
                        drop(permit);
                    });
                }
                _ = poll.tick() => {
                    let free = slots.available_permits();
                    if free == 0 { continue; }
                    match queue::claim_due(&ctx.db, &owner, lease_us, free as i64).await {
                        Ok(leases) => {
                            let full = leases.len() == free;
                            for lease in leases {
                                let Ok(permit) = slots.clone().acquire_owned().await else { break };
                                let ctx = ctx.clone();
                                tokio::spawn(async move {
                                    execute(&ctx, lease, None).await;
                                    drop(permit);
                                });
                            }
                            if full { poll.reset_immediately(); }
                        }
                        Err(e) => tracing::warn!("polling the queue failed: {e:#}"),
                    }
                }
            }
        }
        // Wait for in-flight jobs: every slot free again.
        let _ = slots.acquire_many(config.concurrency as u32).await;
        tracing::info!(%owner, "worker stopped");
    });
    (dispatch, handle)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}
