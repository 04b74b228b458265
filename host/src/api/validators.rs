//! Validator endpoints: list what can run here; install a third-party component.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;

use super::auth::{member, Caller};
use super::launch_input::read_limited;
use super::{ApiError, AppState};
use crate::accounts::Permission;
use crate::extensions::hooks::FeaturesQuery;
use crate::plugins::grants::Grants;
use crate::plugins::installed::{self, InstallError};

/// Largest component accepted.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

pub async fn list(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    installed::sync(&state.db, &state.blobs, &state.plugins).await?;
    let results: Vec<_> = state
        .plugins
        .all()
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(&p.meta).unwrap_or_default();
            v["builtin"] = state.plugins.is_builtin(&p.meta.slug).into();
            v
        })
        .collect();
    // Container validators an extension offers (Pro): listed with whether the
    // license turns them on; they run once the container runner is configured.
    let status = state.licensing.status().await?;
    let catalog = state
        .licensing
        .registry()
        .hooks
        .validators_catalog
        .call(&FeaturesQuery {
            features: status.features.clone(),
        });
    let advanced: Vec<_> = catalog
        .validators
        .into_iter()
        .map(|mut v| {
            v["available"] = false.into();
            v["reason"] = if v["enabled"].as_bool() == Some(true) {
                "no container runner is configured on this instance".into()
            } else {
                format!(
                    "needs Validibot Pro with {} (license state: {})",
                    v["feature"].as_str().unwrap_or("validators.advanced"),
                    status.state
                )
                .into()
            };
            v
        })
        .collect();
    Ok(Json(
        serde_json::json!({"results": results, "advanced": advanced}),
    ))
}

/// `POST /api/v1/validators` with the component as the body (`application/wasm`).
/// Instance-wide, so it takes an admin of the default workspace. 201 when installed,
/// 200 when this exact component was already, 409 for a version clash or a built-in
/// slug, 422 when the component fails the checks.
pub async fn install(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    // Read (bounded) before answering, so a refused upload still gets a clean response
    // instead of a connection reset; only authenticated callers get this far.
    let bytes = read_limited(&headers, body, MAX_COMPONENT_BYTES).await?;
    member(&state, &caller, "default", Permission::WorkspaceManage).await?;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = crate::media_types::essence(kind);
    if essence != "application/wasm" && essence != "application/octet-stream" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the component as application/wasm",
        ));
    }
    match installed::install(
        &state.db,
        &state.blobs,
        &state.plugins,
        bytes,
        &Grants::default(), // capabilities are granted only from the command line
        Some(&caller.0.id),
    )
    .await
    {
        Ok(done) => {
            let status = if done.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((
                status,
                Json(serde_json::to_value(&done.meta).unwrap_or_default()),
            ))
        }
        Err(InstallError::Invalid(detail)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_PLUGIN",
            detail,
        )),
        Err(InstallError::Conflict(detail)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "PLUGIN_CONFLICT",
            detail,
        )),
        Err(InstallError::Internal(e)) => Err(e.into()),
    }
}
