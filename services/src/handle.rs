//! The one handle on a process's shared resources. The HTTP layer, the worker and the
//! one-shot commands all hold a `Services`; every field is cheap to clone.

use std::sync::Arc;
use std::time::Duration;

use validibot_blobs::BlobStore;
use validibot_engines::containers::service::ContainerService;
use validibot_engines::plugins::PluginRegistry;
use validibot_store::db::Db;

use crate::execution::cancel::RunningRuns;
use crate::execution::memory_budget::MemoryBudget;
use crate::execution::waiters::RunWaiters;
use crate::licensing::Licensing;
use crate::observability::health::Dependencies;

#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub blobs: BlobStore,
    /// Built-in and installed WASM validators.
    pub plugins: PluginRegistry,
    /// License state and the extension hooks (Community defaults without one). Pro
    /// features are checked when a step runs, not only when it was saved.
    pub licensing: Arc<Licensing>,
    /// The container runner (connected on first use).
    pub containers: Arc<ContainerService>,
    /// Wakes a launch waiting for a run this process executes.
    pub waiters: Arc<RunWaiters>,
    /// The runs this process executes, so a cancel can stop one at once.
    pub running: Arc<RunningRuns>,
    /// Submission bytes this process's runs may hold at once.
    pub memory: MemoryBudget,
    /// Asynchronous container steps (`None`: container steps hold their worker slot).
    pub remote: Option<Arc<crate::remote::Remote>>,
    /// How long a job's lease lasts without a heartbeat before another worker may take
    /// the run over.
    pub lease: Duration,
}

impl Services {
    /// What readiness checks.
    pub fn dependencies(&self) -> Dependencies {
        Dependencies {
            db: self.db.clone(),
            blobs: self.blobs.clone(),
            containers: self.containers.clone(),
        }
    }
}
