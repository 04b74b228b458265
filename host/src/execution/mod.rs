//! Executing runs: workers claim queued jobs and run a workflow's steps in order.

pub mod executor;
pub mod waiters;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use crate::plugins::PluginRegistry;
use crate::storage::BlobStore;

/// Everything a worker needs to execute runs.
#[derive(Clone)]
pub struct ExecContext {
    pub db: Db,
    pub blobs: BlobStore,
    pub plugins: PluginRegistry,
    pub lease: Duration,
    pub waiters: Arc<waiters::RunWaiters>,
}
