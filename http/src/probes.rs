//! The probes and the metrics endpoint (the API serves them, and a `worker` given
//! `--metrics-bind`), and the middleware that counts every request by route template.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use validibot_services::licensing::Licensing;
use validibot_services::observability::health::Dependencies;
use validibot_services::observability::metrics::metrics as registry;
use validibot_store::db::Db;

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
        Ok(license) => registry().render(db, &license).await,
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
        .layer(axum::middleware::from_fn(track_http))
}

/// The method as a label: the standard ones by name, anything a client made up as
/// `other`, so no request can add label values (and memory) of its choosing.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        M::TRACE => "TRACE",
        M::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Axum middleware: counts and times every request by its route template.
pub async fn track_http(req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    registry().http_request(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_micros() as f64,
    );
    response
}
