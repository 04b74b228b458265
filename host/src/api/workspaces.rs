//! Workspaces: list the caller's; create one (Pro: `workspaces.multiple`, within
//! the license's workspace limit). The creator becomes its owner.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::auth::{instance_admin, Caller};
use super::{ApiError, AppState};
use crate::accounts::{store as accounts, Role};

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = accounts::workspaces_of(&state.db, &caller.0.id).await?;
    let results: Vec<_> = list
        .into_iter()
        .map(|(w, role)| serde_json::json!({"slug": w.slug, "name": w.name, "is_default": w.is_default, "role": role}))
        .collect();
    Ok(Json(serde_json::json!({"results": results})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    slug: String,
    name: Option<String>,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<NewWorkspace>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let decision = state.licensing.workspace_decision("create", false).await?;
    if !decision.allowed {
        let status = state.licensing.status().await?;
        return Err(ApiError::pro_required(
            if decision.code.as_deref() == Some("LICENSE_LIMIT_REACHED") {
                "LICENSE_LIMIT_REACHED"
            } else {
                "PRO_FEATURE_REQUIRED"
            },
            decision
                .feature
                .as_deref()
                .unwrap_or(crate::extensions::hooks::MULTIPLE_WORKSPACES),
            &status.state,
            decision
                .detail
                .unwrap_or_else(|| "creating workspaces needs Validibot Pro".into()),
        ));
    }
    if !instance_admin(&state, &caller).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "creating workspaces needs the admin or owner role in the default workspace",
        ));
    }
    let Json(new) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    if !accounts::valid_slug(&new.slug) {
        return Err(ApiError::bad_request(
            "INVALID_SLUG",
            "a workspace slug is 1-50 lowercase letters, digits or '-', starting with a letter or digit",
        ));
    }
    let name = new.name.unwrap_or_else(|| new.slug.clone());
    match accounts::create_workspace(&state.db, &new.slug, &name).await? {
        Some(ws) => {
            accounts::set_membership(&state.db, &caller.0.id, &ws.id, Role::Owner).await?;
            Ok((
                StatusCode::CREATED,
                Json(
                    serde_json::json!({"slug": ws.slug, "name": ws.name, "is_default": false, "role": Role::Owner}),
                ),
            ))
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "WORKSPACE_EXISTS",
            format!("workspace {:?} already exists", new.slug),
        )),
    }
}
