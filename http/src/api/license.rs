//! `GET /api/v1/license` (everyone: state and feature booleans; instance admins:
//! everything, with the extension load reports) and `PUT /api/v1/license`
//! (instance admins; reachable in every license state, so an expired or invalid
//! license can always be replaced); `POST /api/v1/license/check` asks an online
//! license's server now.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};
use validibot_plugin_api::extension::features;

use crate::auth::{instance_admin, require_instance_admin, Caller};
use crate::{ApiError, AppState};
use validibot_engines::extensions::LicenseStatus;
use validibot_services::licensing::online::Check;

fn public_view(status: &LicenseStatus) -> Value {
    let flags: serde_json::Map<String, Value> = features::ALL
        .iter()
        .map(|f| (f.to_string(), Value::Bool(status.has(f))))
        .collect();
    json!({"edition": status.edition, "state": status.state, "features": flags})
}

fn admin_view(state: &AppState, status: &LicenseStatus) -> Value {
    let mut view = public_view(status);
    let registry = state.licensing.registry();
    view["active_features"] = json!(status.features);
    view["limits"] = json!(status.limits);
    view["usage"] = json!(status.usage);
    view["message"] = json!(status.message);
    view["license"] = status.license.clone().unwrap_or(Value::Null);
    view["online"] = json!(status.online);
    view["extensions"] = json!(registry.reports);
    view["extended_hooks"] = json!(registry.hooks.extended());
    view
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let status = state.licensing.status().await?;
    if instance_admin(&state, &caller).await? {
        Ok(Json(admin_view(&state, &status)))
    } else {
        Ok(Json(public_view(&status)))
    }
}

/// `POST /api/v1/license/check`: ask the license server now (online licenses).
pub async fn check(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    require_instance_admin(&state, &caller, "checking the license").await?;
    let status = state.licensing.check_online(Check::Now).await?;
    if status.online.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "LICENSE_NOT_ONLINE",
            "the installed license is not an online license: there is no license server to ask",
        ));
    }
    Ok(Json(admin_view(&state, &status)))
}

/// The body is the license file itself (`text/plain`, or any type) or
/// `{"license": "<file text>"}` as JSON.
pub async fn install(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_instance_admin(&state, &caller, "installing a license").await?;
    if !state
        .licensing
        .registry()
        .hooks
        .license_verify
        .is_extended()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "PRO_EXTENSION_MISSING",
            "license files are read by the Pro extension: put libvalidibot_commercial.so in the extensions directory and restart",
        ));
    }
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let text = if is_json {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("INVALID_JSON", format!("body is not JSON: {e}")))?;
        v["license"]
            .as_str()
            .ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_REQUEST",
                    "expected {\"license\": \"<license file text>\"}",
                )
            })?
            .to_owned()
    } else {
        String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::bad_request("LICENSE_INVALID", "a license file is ASCII text"))?
    };
    match state.licensing.install(&text).await? {
        Ok(status) => Ok(Json(admin_view(&state, &status))),
        Err(reason) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "LICENSE_INVALID",
            format!("{reason}; the installed license is unchanged"),
        )),
    }
}
