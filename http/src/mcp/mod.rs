//! The MCP server at `/mcp` (Model Context Protocol, Streamable HTTP, the `rmcp` crate):
//! agents list workflows, read what a workflow checks, validate a document and read a
//! run's findings and reports, authenticated with an API key like any API client.
//!
//! Each tool call is one or more REST API operations made for the caller (`dispatch`):
//! permissions, limits, errors and answers are the API's own, decided in one place.
//! The server is stateless (no `Mcp-Session-Id`): any API process answers any request,
//! so several processes behind a load balancer need no sticky routing.

mod dispatch;
mod resources;
mod server;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower::ServiceExt;

use crate::{ApiError, AppState};

/// `POST /mcp`: the caller's API key is checked here, before any MCP message is read;
/// then the request goes to a stateless rmcp service whose tools reach the state and the
/// caller's credentials through the request's extensions.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        // Cookies are not accepted here: an MCP client holds an API key.
        return ApiError::unauthorized("authentication required: send Authorization: Bearer vbk_…")
            .into_response();
    }
    if let Err(refusal) =
        <crate::auth::Caller as axum::extract::FromRequestParts<_>>::from_request_parts(
            &mut parts, &state,
        )
        .await
    {
        return refusal.into_response();
    }
    parts.extensions.insert(state.clone());
    // The body holds a document in base64 at most: the inline limit, grown by a third.
    let max_body = usize::try_from(state.settings.max_inline_bytes)
        .unwrap_or(usize::MAX)
        .saturating_mul(4)
        / 3
        + 64 * 1024;
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        // Only API keys authenticate here, never cookies: a page that rebinds a name to
        // this server has no credential to send, so any Host is accepted (proxies).
        .disable_allowed_hosts()
        .with_max_request_body_bytes(max_body);
    let service = StreamableHttpService::new(
        || Ok(server::Validibot::new()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    match service.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}
