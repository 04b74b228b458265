//! A tool's REST API operations, made for the MCP caller: the request carries the caller's
//! own API key and client address, and goes through the API router in this process, so
//! it is checked and answered exactly as the same call over HTTP would be.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, Method, Request, StatusCode};
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::rate_limit::Spend;
use crate::AppState;

/// One URL path segment (slugs and ids are plain, but an agent may send anything).
pub use crate::uri::escape as segment;

/// The API as the MCP caller sees it.
pub struct Api {
    state: Arc<AppState>,
    /// The API's routes, built once per tool call (a call may make several requests).
    router: axum::Router,
    /// The MCP request's HTTP parts: its key, client address and proxy headers.
    parts: Parts,
}

/// One API answer.
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Api {
    /// The caller of the MCP request being served.
    pub fn of(context: &RequestContext<RoleServer>) -> Result<Api, ErrorData> {
        let parts = context
            .extensions
            .get::<Parts>()
            .ok_or_else(|| ErrorData::internal_error("no HTTP request", None))?;
        let state = parts
            .extensions
            .get::<Arc<AppState>>()
            .ok_or_else(|| ErrorData::internal_error("no server state", None))?
            .clone();
        Ok(Api {
            router: crate::api::router().with_state(state.clone()),
            state,
            parts: parts.clone(),
        })
    }

    /// Spends a launch of the caller's rate-limit budgets (the MCP request itself paid a
    /// call when it came in); a refusal is the API's 429 answer.
    pub fn spend_launch(&self) -> Result<(), Answer> {
        let key = crate::rate_limit::bearer_fingerprint(&self.parts.headers);
        let client =
            crate::auth::request_client(&self.state, &self.parts.headers, &self.parts.extensions);
        self.state
            .rate_limits
            .check(Spend::Launch, key.as_deref(), &client)
            .map_err(|refusal| Answer {
                status: StatusCode::TOO_MANY_REQUESTS,
                body: json!({
                    "detail": format!("{}; try again in {} s",
                        refusal.what(), refusal.retry_after_seconds),
                    "code": "RATE_LIMITED",
                    "retry_after_seconds": refusal.retry_after_seconds,
                })
                .to_string()
                .into_bytes(),
            })
    }

    pub async fn get(&self, path: &str) -> Result<Answer, ErrorData> {
        self.send(Method::GET, path, None, Vec::new()).await
    }

    /// `method path` with `body` of `content_type`, as the caller.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Answer, ErrorData> {
        let mut request = Request::builder().method(method).uri(path);
        for name in [header::AUTHORIZATION, header::USER_AGENT] {
            if let Some(value) = self.parts.headers.get(&name) {
                request = request.header(name, value);
            }
        }
        if let Some(name) = &self.state.settings.client_ip_header {
            if let Some(value) = self.parts.headers.get(name.as_str()) {
                request = request.header(name.as_str(), value);
            }
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let mut request = request
            .body(Body::from(body))
            .map_err(|e| ErrorData::invalid_params(format!("bad request: {e}"), None))?;
        if let Some(peer) = self
            .parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
        {
            request.extensions_mut().insert(*peer);
        }
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| ErrorData::internal_error(format!("reading the answer: {e}"), None))?;
        Ok(Answer {
            status,
            body: body.to_vec(),
        })
    }
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The body as JSON (`null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A tool's result: the API's JSON answer as structured content; an error answer
    /// (`{detail, code}` with the HTTP status added) as a tool error the agent reads.
    pub fn into_result(self) -> CallToolResult {
        let mut value = self.json();
        if self.ok() {
            return CallToolResult::structured(value);
        }
        if let Value::Object(map) = &mut value {
            map.insert("status".into(), json!(self.status.as_u16()));
        } else {
            value = json!({
                "status": self.status.as_u16(),
                "detail": String::from_utf8_lossy(&self.body),
            });
        }
        CallToolResult::structured_error(value)
    }

    /// A tool's result for a text answer (a report): the text itself.
    pub fn into_text_result(self) -> CallToolResult {
        if !self.ok() {
            return self.into_result();
        }
        CallToolResult::success(vec![ContentBlock::text(
            String::from_utf8_lossy(&self.body).into_owned(),
        )])
    }
}
