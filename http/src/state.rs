//! What every HTTP handler shares: the process's handles and the API's limits.

use std::sync::Arc;
use std::time::Duration;

use validibot_blobs::BlobStore;
use validibot_engines::plugins::PluginRegistry;
use validibot_services::execution::waiters::RunWaiters;
use validibot_services::execution::worker::Dispatch;
use validibot_services::licensing::Licensing;
use validibot_store::db::Db;

/// Limits and budgets of the API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Raw-body and envelope submissions.
    pub max_inline_bytes: u64,
    /// Multipart file uploads.
    pub max_file_bytes: u64,
    /// How long a launch waits for the run to finish before answering 202.
    pub launch_wait: Duration,
    pub max_attempts: i64,
    /// Session cookies are `Secure` always (`Some(true)`), never (`Some(false)`), or when
    /// the request came over https (`None`).
    pub secure_cookies: Option<bool>,
    /// Header a trusted proxy puts the client address in (lower case).
    pub client_ip_header: Option<String>,
}

pub struct AppState {
    pub db: Db,
    pub blobs: BlobStore,
    pub plugins: PluginRegistry,
    pub settings: ApiSettings,
    pub secret: Vec<u8>,
    pub waiters: Arc<RunWaiters>,
    /// The embedded worker, when this process runs one.
    pub dispatch: Option<Dispatch>,
    /// License state and the extension hooks (Community defaults without one).
    pub licensing: Arc<Licensing>,
    /// The container runner (connected on first use).
    pub containers: Arc<validibot_engines::containers::service::ContainerService>,
    /// Signs evidence manifests.
    pub evidence_key: Arc<validibot_services::evidence::InstanceKey>,
}

impl AppState {
    /// What `/readyz` checks.
    pub fn dependencies(&self) -> validibot_services::observability::health::Dependencies {
        validibot_services::observability::health::Dependencies {
            db: self.db.clone(),
            blobs: self.blobs.clone(),
            containers: self.containers.clone(),
        }
    }
}
