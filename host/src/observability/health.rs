//! `/healthz` (the process answers) and `/readyz` (it can do its job: the
//! database answers, blob storage takes a write, and the Docker engine answers
//! when one is configured). A load balancer stops sending traffic on 503.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::containers::service::ContainerService;
use crate::licensing::Licensing;
use validibot_blobs::BlobStore;
use validibot_store::db::Db;

/// No check may hold a probe longer than this.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What `/readyz` and the worker's probe server check.
#[derive(Clone)]
pub struct Dependencies {
    pub db: Db,
    pub blobs: BlobStore,
    pub containers: Arc<ContainerService>,
}

impl Dependencies {
    /// Every check's outcome (`"ok"` or the error), and whether all passed.
    pub async fn check(&self) -> (bool, Value) {
        let mut checks = Map::new();
        let mut ready = true;
        let db = timed(self.db.ping());
        let storage = timed(self.blobs.probe_writable());
        let (db, storage) = tokio::join!(db, storage);
        for (name, outcome) in [("database", db), ("storage", storage)] {
            ready &= outcome.is_ok();
            checks.insert(name.into(), report(name, outcome));
        }
        if self.containers.configured() {
            let engine = timed(self.containers.ping()).await;
            ready &= engine.is_ok();
            checks.insert("docker".into(), report("docker", engine));
        }
        (ready, Value::Object(checks))
    }
}

async fn timed(f: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<u64> {
    let started = Instant::now();
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(())) => Ok(started.elapsed().as_micros() as u64),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(anyhow::anyhow!("no answer within {CHECK_TIMEOUT:?}")),
    }
}

/// A check's answer. The probe needs no authentication, so a failure's error text
/// (paths, addresses, engine messages) goes to the log, never into the answer.
fn report(name: &str, outcome: anyhow::Result<u64>) -> Value {
    match outcome {
        Ok(us) => json!({"status": "ok", "latency_us": us}),
        Err(e) => {
            tracing::warn!(check = name, "readiness check failed: {e:#}");
            json!({"status": "failed"})
        }
    }
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// 200 `{"status": "ready", "checks": …}`, or 503 naming the failed checks (their
/// errors are in the log).
pub async fn readyz(deps: &Dependencies) -> (StatusCode, Json<Value>) {
    let (ready, checks) = deps.check().await;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let status = if ready { "ready" } else { "unavailable" };
    (code, Json(json!({"status": status, "checks": checks})))
}

/// The Prometheus text exposition, or 503 when the database cannot be read.
pub async fn metrics(db: &Db, licensing: &Licensing) -> Response {
    let rendered = match licensing.status().await {
        Ok(license) => super::metrics::metrics().render(db, &license).await,
        Err(e) => Err(e),
    };
    match rendered {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("# metrics unavailable: {e:#}\n"),
        )
            .into_response(),
    }
}

/// What a `worker` process serves when given `--metrics-bind`: the same probes
/// and metrics as the API, so its validator histograms can be scraped.
pub fn probe_router(deps: Dependencies, licensing: Arc<Licensing>) -> Router {
    let ready = deps.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/readyz",
            get(move || {
                let deps = ready.clone();
                async move { readyz(&deps).await }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let (db, licensing) = (deps.db.clone(), licensing.clone());
                async move { metrics(&db, &licensing).await }
            }),
        )
        .layer(axum::middleware::from_fn(super::metrics::track_http))
}
