//! The REST API under `/api/v1`. Errors are `{"detail", "code"}` JSON.

mod auth;
mod error;
mod launch_input;
mod license;
mod runs;
mod teams;
mod validators;
mod workflows;
mod workspaces;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};

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

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route(
            "/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route("/license", get(license::show).put(license::install))
        .route("/teams", get(teams::list).post(teams::create))
        .route(
            "/teams/{team}/members/{username}",
            axum::routing::put(teams::add_member).delete(teams::remove_member),
        )
        .route(
            "/workspaces/{ws}/teams/{team}",
            axum::routing::put(teams::grant).delete(teams::revoke),
        )
        .route("/workspaces/{ws}/members", get(workspaces::members))
        .route(
            "/workspaces/{ws}/members/{username}",
            axum::routing::put(workspaces::set_member),
        )
        .route(
            "/validators",
            get(validators::list)
                .post(validators::install)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/validators/containers",
            axum::routing::post(validators::register_container),
        )
        .route(
            "/workspaces/{ws}/workflows",
            get(workflows::list).post(workflows::create),
        )
        .route(
            "/workspaces/{ws}/workflows/{slug}",
            get(workflows::get).put(workflows::update),
        )
        .route(
            "/workspaces/{ws}/workflows/{slug}/runs",
            axum::routing::post(runs::launch).layer(DefaultBodyLimit::disable()),
        )
        .route("/workspaces/{ws}/runs", get(runs::list))
        .route("/workspaces/{ws}/runs/{id}", get(runs::get))
        .route("/workspaces/{ws}/runs/{id}/evidence", get(runs::evidence))
        .route(
            "/workspaces/{ws}/runs/{id}/artifacts/{step}/{name}",
            get(runs::artifact),
        );
    Router::new()
        .nest("/api/v1", api)
        .route(
            "/.well-known/validibot-keys.json",
            get(runs::published_keys),
        )
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .fallback(|| async { ApiError::not_found("NOT_FOUND", "no such endpoint") })
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
