//! Executing runs: workers claim queued jobs and run a workflow's steps in order.

pub mod container_step;
pub mod executor;
pub mod memory_budget;
pub mod step_loop;
pub mod step_outcome;
pub mod waiters;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use validibot_blobs::BlobStore;
use validibot_engines::plugins::PluginRegistry;
use validibot_store::db::Db;

/// Everything a worker needs to execute runs.
#[derive(Clone)]
pub struct ExecContext {
    pub db: Db,
    pub blobs: BlobStore,
    pub plugins: PluginRegistry,
    pub lease: Duration,
    pub waiters: Arc<waiters::RunWaiters>,
    /// Pro features are checked when a step runs, not only when it was saved.
    pub licensing: Arc<crate::licensing::Licensing>,
    pub containers: Arc<validibot_engines::containers::service::ContainerService>,
    /// Submission bytes this process's runs may hold at once.
    pub memory: memory_budget::MemoryBudget,
}
