//! The REST API under `/api/v1`. Errors are `{"detail", "code"}` JSON.

mod api_keys;
pub(crate) mod auth;
mod error;
mod launch_input;
mod license;
pub mod openapi;
mod runs;
mod teams;
mod validators;
mod workflows;
mod workspaces;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

pub use error::ApiError;

use crate::db::Db;
use crate::execution::waiters::RunWaiters;
use crate::execution::worker::Dispatch;
use crate::licensing::Licensing;
use crate::plugins::PluginRegistry;
use crate::storage::BlobStore;

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
    pub containers: Arc<crate::containers::service::ContainerService>,
    /// Signs evidence manifests.
    pub evidence_key: Arc<crate::evidence::InstanceKey>,
}

impl AppState {
    /// What `/readyz` checks.
    pub fn dependencies(&self) -> crate::observability::health::Dependencies {
        crate::observability::health::Dependencies {
            db: self.db.clone(),
            blobs: self.blobs.clone(),
            containers: self.containers.clone(),
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for (op, handler) in openapi::routes() {
        // Routes on the same path merge their methods.
        router = router.route(op.path, handler);
    }
    router
        .merge(crate::web::router())
        .fallback(|| async { ApiError::not_found("NOT_FOUND", "no such endpoint") })
        .layer(axum::middleware::from_fn(
            crate::observability::metrics::track_http,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Headers every answer carries: the UI loads only its own script and stylesheet (no
/// inline code, so an injected tag cannot run), is never framed (clickjacking), types
/// are never sniffed, and URLs do not leak to other sites in `Referer`.
async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
