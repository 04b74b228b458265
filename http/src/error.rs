//! The API's error shape: `{"detail": "...", "code": "UPPER_SNAKE"}` plus optional extras.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub extra: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            extra: None,
        }
    }
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED", detail)
    }
    /// 402: a Pro feature the license does not (or no longer) turn on.
    pub fn pro_required(
        code: &'static str,
        feature: &str,
        license_state: &str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, code, detail)
            .with_extra(serde_json::json!({"feature": feature, "license_state": license_state}))
    }
    /// 429 `RATE_LIMITED` with `Retry-After` (whole seconds, at least 1).
    pub fn rate_limited(wait: u64, what: &str) -> Response {
        let wait = wait.max(1);
        let refusal = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("{what}; try again in {wait} s"),
        );
        ([(header::RETRY_AFTER, wait.to_string())], refusal).into_response()
    }
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!("internal error: {e:#}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"detail": self.detail, "code": self.code});
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) =
            (self.extra, body.as_object_mut())
        {
            obj.extend(extra);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
