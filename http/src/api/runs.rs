//! Launching, polling and listing runs.

use std::sync::Arc;
use std::time::Duration;
use validibot_types::ids::RunId;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::launch_input;
use super::workflows::workflow_not_found;
use crate::auth::{member, Caller};
use crate::{ApiError, AppState};
use validibot_services::launcher::{LaunchAnswer, LaunchRequest};
use validibot_store::accounts::Permission;
use validibot_store::runs::launch::NewSubmission;
use validibot_store::runs::view::{self, ListFilter, RunView};
use validibot_store::workflows::versions as workflows;
use validibot_types::RunStatus;

/// The longest a client may ask a launch to wait.
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
pub struct LaunchQuery {
    /// Seconds to wait for completion before answering 202 (default: the server's budget).
    wait: Option<f64>,
    filename: Option<String>,
    /// Launch a specific workflow version instead of the latest.
    version: Option<i64>,
}

pub async fn launch(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, slug)): Path<(String, String)>,
    Query(q): Query<LaunchQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowLaunch).await?;
    let workflow = workflows::get_meta(&state.db, &workspace.id, &slug, q.version)
        .await?
        .ok_or_else(|| workflow_not_found(&slug))?;
    super::workflows::refuse_archived(&workflow)?;
    if let Some(refusal) = state.launcher.refusal(&workflow, &workspace.id).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            refusal.code,
            refusal.detail,
        ));
    }
    let headers = request.headers().clone();
    let idempotency_key = idempotency_key(&headers)?;
    let wait = wait_budget(&headers, q.wait, state.settings.launch_wait);
    let input = launch_input::read(&state, &workflow, q.filename, request).await?;
    let answer = state
        .launcher
        .launch(LaunchRequest {
            workflow: &workflow,
            workspace_id: &workspace.id,
            user_id: &caller.0.id,
            submission: NewSubmission {
                blob: input.blob,
                filename: input.filename,
                content_type: input.content_type,
                metadata: input.metadata,
                stored: workflow.store_submission,
            },
            content: input.bytes,
            idempotency_key,
            wait,
        })
        .await?;
    match answer {
        LaunchAnswer::Run { run, status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok(run_response(status, &run.url, body))
        }
        LaunchAnswer::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let url = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["url"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let mut resp = run_response(status, &url, body);
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(resp)
        }
        LaunchAnswer::Unrunnable(detail) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NO_LOCAL_WORKER",
            detail,
        )),
        LaunchAnswer::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_IN_PROGRESS",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )),
        LaunchAnswer::KeyReused => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different request",
        )),
    }
}

fn run_response(status: StatusCode, url: &str, body: String) -> Response {
    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if status == StatusCode::ACCEPTED {
        if let Ok(loc) = HeaderValue::from_str(url) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().map_err(|_| {
        ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be visible ASCII",
        )
    })?;
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1-255 characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// `Prefer: respond-async` means don't wait; `?wait=` overrides the server default.
fn wait_budget(headers: &HeaderMap, asked: Option<f64>, default: Duration) -> Duration {
    let prefer_async = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
        });
    if prefer_async {
        return Duration::ZERO;
    }
    match asked {
        Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s).min(MAX_WAIT),
        _ => default,
    }
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, RunId)>,
) -> Result<Json<RunView>, ApiError> {
    Ok(Json(visible_run(&state, &caller, &ws, &id).await?.1))
}

/// The run as the caller may see it (404 when it may not), and the caller's role.
async fn visible_run(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    id: &RunId,
) -> Result<(validibot_store::accounts::Role, RunView), ApiError> {
    let (workspace, role) = member(state, caller, ws, Permission::WorkflowView).await?;
    let run = view::load(&state.db, &workspace.id, id)
        .await?
        .filter(|run| run.visible_to(role, &caller.0.id))
        .ok_or_else(|| run_not_found(id))?;
    Ok((role, run))
}

/// `GET …/runs/{id}/evidence`: the signed manifest of a finished run (409 before).
pub async fn evidence(
    state: State<Arc<AppState>>,
    caller: Caller,
    path: Path<(String, RunId)>,
) -> Result<Response, ApiError> {
    let Json(run) = get(State(state.0.clone()), caller, path).await?;
    if !run.is_terminal() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "RUN_NOT_FINISHED",
            format!(
                "run {} is {}; evidence exists once it has finished",
                run.id, run.status
            ),
        ));
    }
    let steps =
        validibot_store::workflows::versions::load_steps(&state.db, &run.workflow_id).await?;
    let doc = validibot_services::evidence::manifest::sign(
        validibot_services::evidence::manifest::build(&run, &steps),
        &state.evidence_key,
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"run-{}.evidence.json\"", run.id),
            ),
        ],
        doc,
    )
        .into_response())
}

/// `GET …/runs/{id}/artifacts/{step}/{name}`: a file the host collected from a container
/// validator's output (listed in that step's `artifacts`), with the run's access rules.
pub async fn artifact(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id, step, name)): Path<(String, RunId, String, String)>,
) -> Result<Response, ApiError> {
    let Json(run) = get(State(state.clone()), caller, Path((ws, id.clone()))).await?;
    let found = run
        .steps
        .into_iter()
        .flatten()
        .filter(|s| s.key == step)
        .flat_map(|s| s.artifacts)
        .find(|a| a.name == name)
        .ok_or_else(|| {
            ApiError::not_found(
                "ARTIFACT_NOT_FOUND",
                format!("run {id} has no artifact {name:?} in step {step:?}"),
            )
        })?;
    let bytes = state.blobs.read(&found.sha256).await?;
    Ok((
        [
            (header::CONTENT_TYPE, found.mime_type),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", found.name.replace('"', "")),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /.well-known/validibot-keys.json`: every evidence key of this instance.
pub async fn published_keys(
    State(state): State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let keys: Vec<_> = validibot_services::evidence::key::published(&state.db)
        .await?
        .into_iter()
        .map(|(kid, public_key)| serde_json::json!({"kid": kid, "alg": "ed25519", "use": "validibot-evidence", "public_key": public_key}))
        .collect();
    Ok(Json(serde_json::json!({"keys": keys})))
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    workflow: Option<String>,
    status: Option<String>,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (workspace, role) = member(&state, &caller, &ws, Permission::WorkflowView).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request(
            "INVALID_LIMIT",
            "limit must be between 1 and 200",
        ));
    }
    if let Some(s) = &q.status {
        if RunStatus::parse(s).is_none() {
            return Err(ApiError::bad_request(
                "INVALID_STATUS",
                format!("unknown status {s:?}"),
            ));
        }
    }
    let own_only = (!role.allows(Permission::ResultsViewAll)).then_some(&caller.0.id);
    let filter = ListFilter {
        workspace_id: &workspace.id,
        created_by: own_only,
        workflow_slug: q.workflow.as_deref(),
        status: q.status.as_deref(),
        before: q.cursor.as_deref(),
        limit,
    };
    let results = view::list(&state.db, &filter).await?;
    let next = (results.len() as i64 == limit).then(|| {
        let mut url = format!(
            "/api/v1/workspaces/{}/runs?limit={limit}&cursor={}",
            workspace.slug,
            results.last().map(|r| r.id.as_str()).unwrap_or("")
        );
        if let Some(w) = &q.workflow {
            url.push_str(&format!("&workflow={w}"));
        }
        if let Some(s) = &q.status {
            url.push_str(&format!("&status={s}"));
        }
        url
    });
    Ok(Json(serde_json::json!({"results": results, "next": next})))
}

/// `POST …/runs/{id}/cancel`: executors cancel their own runs, authors and above any
/// run. A queued run ends at once; a running one is stopped (its WASM call interrupted,
/// its container stopped and removed). 409 `RUN_FINISHED` when it had already ended.
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, RunId)>,
) -> Result<Json<RunView>, ApiError> {
    let (role, run) = visible_run(&state, &caller, &ws, &id).await?;
    let own = run.created_by_id.as_ref() == Some(&caller.0.id);
    let allowed =
        role.allows(Permission::WorkflowEdit) || (own && role.allows(Permission::WorkflowLaunch));
    if !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "executors cancel their own runs; authors and above cancel any run",
        ));
    }
    use validibot_services::execution::cancel::{cancel, Cancelled};
    if cancel(&state, &id, &caller.0.username).await? == Cancelled::AlreadyFinished {
        let now = view::status(&state.db, &id).await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "RUN_FINISHED",
            format!(
                "run {id} has already finished ({})",
                now.map_or("gone", RunStatus::as_str)
            ),
        ));
    }
    Ok(Json(visible_run(&state, &caller, &ws, &id).await?.1))
}

fn run_not_found(id: &RunId) -> ApiError {
    ApiError::not_found("RUN_NOT_FOUND", format!("run {id:?} not found"))
}

#[derive(Deserialize)]
pub struct ReportQuery {
    format: Option<String>,
}

/// `GET …/runs/{id}/report?format=text|json|sarif|junit`: the run as a download for CI
/// systems (SARIF for code-scanning views, JUnit for test views). A run still in progress
/// is reported as it stands (its unfinished steps are skipped testcases).
pub async fn report(
    state: State<Arc<AppState>>,
    caller: Caller,
    path: Path<(String, RunId)>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    use validibot_services::reports::{self, Format, ReportRun};
    let name = q.format.as_deref().unwrap_or("json");
    let format = Format::parse(name).ok_or_else(|| {
        ApiError::bad_request(
            "INVALID_FORMAT",
            format!("unknown report format {name:?}: use text, json, sarif or junit"),
        )
    })?;
    let help_base = state
        .settings
        .public_url
        .as_ref()
        .map(|u| format!("{}/ui/validators", u.trim_end_matches('/')));
    let Json(run) = get(state, caller, path).await?;
    let raw = serde_json::to_value(&run).map_err(|e| ApiError::from(anyhow::Error::from(e)))?;
    let mut parsed: ReportRun =
        serde_json::from_value(raw.clone()).map_err(|e| ApiError::from(anyhow::Error::from(e)))?;
    parsed.help_base = help_base;
    let body = reports::render(format, &parsed, &raw);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"run-{}.{}\"",
                    run.id,
                    format.extension()
                ),
            ),
        ],
        body,
    )
        .into_response())
}
