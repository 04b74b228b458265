//! Files for workflow steps: uploaded to a workspace, then named by a step's `files`
//! (`{"name": "common.xsd", "sha256": "…"}`). Their bytes are blobs by sha256.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::launch_input::read_limited;
use crate::auth::{member, Caller};
use crate::{ApiError, AppState};
use validibot_services::workflows::step_files;
use validibot_store::accounts::Permission;
use validibot_store::workflows::files::{self, WorkspaceFile};

#[derive(Deserialize)]
pub struct UploadQuery {
    /// The file's name (a step may give it another).
    name: String,
}

/// `POST …/files?name=weather.epw` with the raw bytes (Content-Type: the file's media
/// type): 201 with its sha256. Uploading the same bytes again answers the first record.
pub async fn upload(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowEdit).await?;
    step_files::check_name(&q.name).map_err(|e| ApiError::bad_request("INVALID_FILE", e))?;
    let bytes = read_limited(&headers, body, state.settings.max_file_bytes).await?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(validibot_types::media_types::essence)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let file = step_files::upload(
        &state.db,
        &state.blobs,
        &workspace.id,
        &q.name,
        &media_type,
        bytes,
        Some(&caller.0.id),
    )
    .await?;
    let used_by = files::used_by(&state.db, &workspace.id, &file.sha256).await?;
    Ok((StatusCode::CREATED, Json(with_usage(file, used_by))))
}

/// `GET …/files`: the workspace's uploads, newest first, with the workflows using each.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowView).await?;
    let mut results = Vec::new();
    for f in files::list(&state.db, &workspace.id).await? {
        let used_by = files::used_by(&state.db, &workspace.id, &f.sha256).await?;
        results.push(with_usage(f, used_by));
    }
    Ok(Json(serde_json::json!({ "results": results })))
}

/// `GET …/files/{sha256}`: the bytes.
pub async fn download(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, sha256)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowView).await?;
    let file = files::get(&state.db, &workspace.id, &sha256)
        .await?
        .ok_or_else(|| not_found(&sha256))?;
    let bytes = state.blobs.read(&file.sha256).await?;
    let disposition = format!("attachment; filename=\"{}\"", file.name);
    Ok((
        [
            (header::CONTENT_TYPE, file.media_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// `DELETE …/files/{sha256}`: 409 `FILE_IN_USE` while a step of any version names it.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, sha256)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowEdit).await?;
    files::get(&state.db, &workspace.id, &sha256)
        .await?
        .ok_or_else(|| not_found(&sha256))?;
    let used_by = files::used_by(&state.db, &workspace.id, &sha256).await?;
    if !used_by.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "FILE_IN_USE",
            format!("the file is used by workflows {used_by:?} (delete those, or remove it from their steps)"),
        )
        .with_extra(serde_json::json!({ "used_by": used_by })));
    }
    files::delete(&state.db, &workspace.id, &sha256).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn with_usage(file: WorkspaceFile, used_by: Vec<String>) -> serde_json::Value {
    let mut v = serde_json::to_value(file).unwrap_or_default();
    v["used_by"] = serde_json::json!(used_by);
    v
}

fn not_found(sha256: &str) -> ApiError {
    ApiError::not_found(
        "FILE_NOT_FOUND",
        format!(
            "no file {:?} in this workspace",
            sha256.chars().take(80).collect::<String>()
        ),
    )
}
