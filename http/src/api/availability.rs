//! `PATCH /api/v1/validators/{slug}`: where an installed validator may be used.
//! `{"enabled": false}` switches it off without uninstalling it (true: on again);
//! `{"workspaces": ["lab"]}` (Pro, `workspaces.multiple`) makes it available in those
//! workspaces only, and `{"workspaces": null}` everywhere again. Instance-wide, so an
//! admin of the default workspace.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::{member, require_feature, Caller};
use crate::{ApiError, AppState};
use validibot_plugin_api::extension::features;
use validibot_services::validators::availability::{self, Availability, ChangeError};
use validibot_store::accounts::Permission;

/// The availability fields of a validator's JSON (built-ins are always available).
pub fn view(builtin: bool, a: Option<&Availability>) -> Value {
    match (builtin, a) {
        (true, _) | (false, None) => json!({"enabled": true, "workspaces": null}),
        (false, Some(a)) => json!({"enabled": !a.disabled, "workspaces": a.workspaces}),
    }
}

pub async fn change(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(slug): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    member(&state, &caller, "default", Permission::WorkspaceManage).await?;
    let Json(body) = body.map_err(|e| ApiError::bad_request("INVALID_JSON", e.body_text()))?;
    let bad = |detail: &str| ApiError::bad_request("INVALID_REQUEST", detail.to_owned());
    let fields = body.as_object().ok_or_else(|| {
        bad("expected {\"enabled\": bool} and/or {\"workspaces\": [slugs] | null}")
    })?;
    if let Some(k) = fields
        .keys()
        .find(|k| *k != "enabled" && *k != "workspaces")
    {
        return Err(bad(&format!(
            "unknown field {k:?}: expected enabled, workspaces"
        )));
    }
    let mut next = availability::all(&state.db)
        .await?
        .remove(&slug)
        .unwrap_or_default();
    if let Some(enabled) = fields.get("enabled") {
        next.disabled = !enabled
            .as_bool()
            .ok_or_else(|| bad("enabled must be true or false"))?;
    }
    match fields.get("workspaces") {
        None => {}
        Some(Value::Null) => next.workspaces = None,
        Some(list) => {
            let slugs: Vec<String> = serde_json::from_value(list.clone())
                .map_err(|_| bad("workspaces must be a list of workspace slugs, or null"))?;
            require_feature(&state, features::MULTIPLE_WORKSPACES).await?;
            next.workspaces = Some(slugs);
        }
    }
    match availability::set(&state.db, &state.plugins, &slug, &next).await {
        Ok(()) => {
            let mut out = view(false, Some(&next));
            out["slug"] = slug.into();
            Ok(Json(out))
        }
        Err(ChangeError::NotFound(detail)) => {
            Err(ApiError::not_found("VALIDATOR_NOT_FOUND", detail))
        }
        Err(ChangeError::Builtin(detail)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "VALIDATOR_BUILTIN",
            detail,
        )),
        Err(e @ ChangeError::UnknownWorkspace(_)) => {
            Err(ApiError::bad_request("WORKSPACE_NOT_FOUND", e.to_string()))
        }
        Err(ChangeError::Internal(e)) => Err(e.into()),
    }
}
