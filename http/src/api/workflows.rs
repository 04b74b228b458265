//! Workspace and workflow endpoints.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::auth::{member, require_feature, Caller};
use crate::{ApiError, AppState};
use validibot_services::validators::{availability, installed};
use validibot_services::workflows::definition::{Definition, DefinitionError, DefinitionInput};
use validibot_services::workflows::{bundle, step_files};
use validibot_store::accounts::Permission;
use validibot_store::workflows::versions::{self, CreateError};
use validibot_store::workflows::Workflow;
use validibot_types::ids::WorkspaceId;

#[derive(Deserialize)]
pub struct ListQuery {
    /// Include archived workflows.
    #[serde(default)]
    archived: bool,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowView).await?;
    let mut results = versions::list(&state.db, &workspace.id).await?;
    results.retain(|w| q.archived || w.archived_at.is_none());
    Ok(Json(serde_json::json!({"results": results})))
}

/// `POST …/workflows/{slug}/archive`: no new runs or edits; runs and versions stay.
pub async fn archive(
    state: State<Arc<AppState>>,
    caller: Caller,
    path: Path<(String, String)>,
) -> Result<Json<Workflow>, ApiError> {
    set_archived(state, caller, path, true).await
}

/// `POST …/workflows/{slug}/unarchive`: usable again.
pub async fn unarchive(
    state: State<Arc<AppState>>,
    caller: Caller,
    path: Path<(String, String)>,
) -> Result<Json<Workflow>, ApiError> {
    set_archived(state, caller, path, false).await
}

async fn set_archived(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, slug)): Path<(String, String)>,
    archived: bool,
) -> Result<Json<Workflow>, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowEdit).await?;
    let at = archived.then(validibot_types::clock::now_us);
    if !versions::set_archived(&state.db, &workspace.id, &slug, at).await? {
        return Err(workflow_not_found(&slug));
    }
    let wf = versions::get(&state.db, &workspace.id, &slug, None)
        .await?
        .ok_or_else(|| workflow_not_found(&slug))?;
    Ok(Json(wf))
}

/// `DELETE …/workflows/{slug}`: every version, only while none has runs (409
/// `WORKFLOW_HAS_RUNS`: archive it instead, which keeps the history).
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, slug)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowEdit).await?;
    versions::get_meta(&state.db, &workspace.id, &slug, None)
        .await?
        .ok_or_else(|| workflow_not_found(&slug))?;
    if !versions::delete_unused(&state.db, &workspace.id, &slug).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "WORKFLOW_HAS_RUNS",
            format!("workflow {slug:?} has runs; archive it to stop new runs and keep its history"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// 409 for an archived workflow (no runs, no edits).
pub fn refuse_archived(wf: &Workflow) -> Result<(), ApiError> {
    match wf.archived_at {
        Some(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "WORKFLOW_ARCHIVED",
            format!(
                "workflow {:?} is archived; POST …/workflows/{}/unarchive to use it again",
                wf.slug, wf.slug
            ),
        )),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
pub struct VersionQuery {
    version: Option<i64>,
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, slug)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<Workflow>, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowView).await?;
    let wf = versions::get(&state.db, &workspace.id, &slug, q.version)
        .await?
        .ok_or_else(|| workflow_not_found(&slug))?;
    Ok(Json(wf))
}

#[derive(Deserialize)]
pub struct CreateQuery {
    /// Check the definition as a save would (every step, assertion, binding, `when`),
    /// answer 200 with its digest, save nothing (the editor's live check).
    #[serde(default)]
    dry_run: bool,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    Query(q): Query<CreateQuery>,
    body: Result<Json<DefinitionInput>, axum::extract::rejection::JsonRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowEdit).await?;
    let input = json_body(body)?;
    let def = checked(&state, &workspace.id, input, None).await?;
    if q.dry_run {
        let answer = serde_json::json!({"valid": true, "slug": def.slug, "digest": def.digest, "steps": def.steps.len()});
        return Ok(Json(answer).into_response());
    }
    Ok(save_new(&state, &workspace.id, &def, &caller)
        .await?
        .into_response())
}

/// Edits in place while the latest version has no runs; otherwise creates the next version.
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, slug)): Path<(String, String)>,
    body: Result<Json<DefinitionInput>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowEdit).await?;
    let current = versions::get(&state.db, &workspace.id, &slug, None)
        .await?
        .ok_or_else(|| workflow_not_found(&slug))?;
    refuse_archived(&current)?;
    let def = checked(&state, &workspace.id, json_body(body)?, Some(&slug)).await?;
    Ok(Json(
        versions::update(&state.db, &workspace.id, &current, &def, &caller.0.id).await?,
    ))
}

/// `GET …/workflows/{slug}/export[?version=N]`: the version as one bundle (definition
/// and the validators its steps pin), for `POST …/workflows/import` elsewhere.
pub async fn export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, slug)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowView).await?;
    let wf = versions::get(&state.db, &workspace.id, &slug, q.version)
        .await?
        .ok_or_else(|| workflow_not_found(&slug))?;
    let containers = validibot_services::validators::images::list(&state.db).await?;
    let bundle = bundle::export(&wf, &state.plugins, &containers, &state.blobs).await?;
    let disposition = format!(
        "attachment; filename=\"{}-v{}.workflow.json\"",
        wf.slug, wf.version
    );
    Ok((
        [(axum::http::header::CONTENT_DISPOSITION, disposition)],
        Json(bundle),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ImportQuery {
    /// Save under this slug instead of the bundle's.
    slug: Option<String>,
    /// Import even where this instance would run other validator versions or digests.
    #[serde(default)]
    accept_validators: bool,
}

/// `POST …/workflows/import`: recreates a bundle's workflow here (a new workflow;
/// 409 `WORKFLOW_EXISTS` if the slug is taken). Checked like any definition; where a
/// step would run another validator version or digest than the bundle pinned, 409
/// `VALIDATOR_MISMATCH` lists them, unless `accept_validators=true`.
pub async fn import(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Result<Json<bundle::Bundle>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Workflow>), ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowEdit).await?;
    let bundle = json_body(body)?;
    if bundle.format != bundle::FORMAT {
        return Err(ApiError::bad_request(
            "INVALID_BUNDLE",
            format!(
                "bundle format {:?}; this instance reads {:?}",
                bundle.format,
                bundle::FORMAT
            ),
        ));
    }
    let mut definition = bundle.definition.clone();
    if let Some(slug) = &q.slug {
        definition["slug"] = serde_json::json!(slug);
    }
    let input: DefinitionInput = serde_json::from_value(definition).map_err(|e| {
        ApiError::bad_request("INVALID_BUNDLE", format!("the bundle's definition: {e}"))
    })?;
    // The bundle's files count as uploaded while it is checked; they are stored only
    // once the definition passed.
    let mut carried = Vec::new();
    for f in &bundle.files {
        let bytes = f
            .bytes()
            .map_err(|e| ApiError::bad_request("INVALID_BUNDLE", e))?;
        carried.push((f, bytes));
    }
    let extra: step_files::Catalog = carried
        .iter()
        .map(|(f, b)| (f.sha256.clone(), (b.len() as i64, f.media_type.clone())))
        .collect();
    let def = checked_with(&state, &workspace.id, input, None, extra).await?;
    let containers = validibot_services::validators::images::list(&state.db).await?;
    let differ = bundle::mismatches(&bundle, &def.steps, &state.plugins, &containers);
    if !differ.is_empty() && !q.accept_validators {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "VALIDATOR_MISMATCH",
            "this instance would run other validator versions than the bundle pinned; import with accept_validators=true to use them",
        )
        .with_extra(serde_json::json!({"errors": differ})));
    }
    for (f, bytes) in carried {
        let named = def
            .steps
            .iter()
            .flat_map(|s| &s.files)
            .any(|s| s.sha256 == f.sha256);
        if named {
            step_files::upload(
                &state.db,
                &state.blobs,
                &workspace.id,
                &f.name,
                &f.media_type,
                bytes,
                Some(&caller.0.id),
            )
            .await?;
        }
    }
    save_new(&state, &workspace.id, &def, &caller).await
}

/// Saves a checked definition as a new workflow (201), or 409 when the slug is taken.
async fn save_new(
    state: &AppState,
    workspace: &WorkspaceId,
    def: &Definition,
    caller: &Caller,
) -> Result<(StatusCode, Json<Workflow>), ApiError> {
    match versions::create(&state.db, workspace, def, &caller.0.id).await {
        Ok(wf) => Ok((StatusCode::CREATED, Json(wf))),
        Err(CreateError::SlugTaken) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "WORKFLOW_EXISTS",
            format!(
                "workflow {:?} exists; PUT /workflows/{} to edit it",
                def.slug, def.slug
            ),
        )),
        Err(CreateError::Db(e)) => Err(e.into()),
    }
}

/// Validates a definition against every validator this instance has (WASM and
/// container) and may use in `workspace` (not disabled, enabled there); steps on a
/// Pro validator need the license feature (402).
async fn checked(
    state: &AppState,
    workspace: &WorkspaceId,
    input: DefinitionInput,
    slug: Option<&str>,
) -> Result<Definition, ApiError> {
    checked_with(state, workspace, input, slug, step_files::Catalog::new()).await
}

/// [`checked`], with files that count as uploaded besides the workspace's (an import's).
async fn checked_with(
    state: &AppState,
    workspace: &WorkspaceId,
    input: DefinitionInput,
    slug: Option<&str>,
    extra: step_files::Catalog,
) -> Result<Definition, ApiError> {
    installed::sync(&state.db, &state.blobs, &state.plugins).await?;
    let containers = validibot_services::validators::images::list(&state.db).await?;
    let mut catalog = step_files::catalog(&state.db, workspace, input.named_files()).await?;
    catalog.extend(extra);
    let def = input
        .validate(slug, &state.plugins, &containers, &catalog)
        .await
        .map_err(definition_error)?;
    let mut refused = Vec::new();
    for (i, step) in def.steps.iter().enumerate() {
        if let Some(r) =
            availability::refusal(&state.db, &state.plugins, &step.validator, workspace).await?
        {
            refused.push(
                serde_json::json!({"step": i, "key": step.key, "detail": r.detail, "code": r.code}),
            );
        }
    }
    if !refused.is_empty() {
        return Err(definition_error(DefinitionError {
            code: "INVALID_WORKFLOW",
            detail: "a step's validator may not be used in this workspace".into(),
            errors: refused,
        }));
    }
    for feature in &def.features {
        require_feature(state, feature).await?;
    }
    Ok(def)
}

fn json_body<T>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::bad_request("INVALID_JSON", e.body_text()))
}

fn definition_error(e: DefinitionError) -> ApiError {
    ApiError::bad_request(e.code, e.detail).with_extra(serde_json::json!({"errors": e.errors}))
}

pub fn workflow_not_found(slug: &str) -> ApiError {
    ApiError::not_found("WORKFLOW_NOT_FOUND", format!("workflow {slug:?} not found"))
}
