//! The whole HTTP surface mounted: the API's routes, the web UI's, the MCP endpoint, and
//! the layers every answer passes (rate limits, the audit log, metrics, security headers,
//! tracing).

use std::sync::Arc;

use axum::Router;

use super::AppState;

/// The whole HTTP surface: the API, the web UI, and what wraps every answer.
pub fn router(state: Arc<AppState>) -> Router {
    crate::api::router()
        .merge(crate::web::router())
        // JSON-RPC, not REST: documented in docs/mcp.md rather than the OpenAPI document.
        .route("/mcp", axum::routing::post(crate::mcp::handle))
        .fallback(crate::api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::record_changes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::rate_limit::enforce,
        ))
        .layer(axum::middleware::from_fn(crate::probes::track_http))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(crate::request_span::make),
        )
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
