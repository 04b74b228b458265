//! Runs: the list, and one run with its findings grouped by step and severity, live
//! while it runs (the script polls the API and swaps in the finished page).

use std::sync::Arc;
use validibot_types::ids::RunId;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, badge};
use super::{error_page, workspace_for, WebUser};
use crate::{ApiError, AppState};
use validibot_store::accounts::directory::Workspace;
use validibot_store::accounts::{Permission, Role};
use validibot_store::runs::view::{self, ListFilter, RunView, StepView};
use validibot_types::Severity;

pub fn run_table(ws: &str, runs: &[RunView]) -> Markup {
    html! {
        @if runs.is_empty() {
            p.empty { "No runs yet. Open a workflow and upload a file." }
        } @else {
            table.runs {
                thead { tr { th { "Result" } th { "Workflow" } th { "File" } th { "Findings" } th { "Started" } } }
                tbody {
                    @for r in runs {
                        tr {
                            td { a href={"/ui/w/" (ws) "/runs/" (r.id)} { (badge(if r.result == "UNKNOWN" { r.status } else { r.result })) } }
                            td { (r.workflow.slug) " v" (r.workflow.version) }
                            td { (r.submission.filename.as_deref().unwrap_or("—")) }
                            td { (r.summary.errors) " errors, " (r.summary.warnings) " warnings" }
                            td { (validibot_types::clock::rfc3339(r.created_at)[..19].replace('T', " ")) }
                        }
                    }
                }
            }
        }
    }
}

/// The runs `user` may see (executors: only their own), newest first.
pub async fn visible_runs(
    state: &AppState,
    user: &WebUser,
    workspace: &Workspace,
    role: Role,
    workflow_slug: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<RunView>, Response> {
    let own_only = !role.allows(Permission::ResultsViewAll);
    view::list(
        &state.db,
        &ListFilter {
            workspace_id: &workspace.id,
            created_by: own_only.then_some(&user.user.id),
            workflow_slug,
            status: None,
            before,
            limit,
        },
    )
    .await
    .map_err(|e| error_page(user, e.into()))
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Response> {
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let runs = visible_runs(
        &state,
        &user,
        &workspace,
        role,
        None,
        q.cursor.as_deref(),
        50,
    )
    .await?;
    let next = (runs.len() == 50)
        .then(|| runs.last().map(|r| r.id.clone()))
        .flatten();
    let body = html! {
        h1 { "Runs" }
        (run_table(&ws, &runs))
        @if let Some(n) = next { p { a href={"?cursor=" (n)} { "Older runs" } } }
    };
    Ok(Html(layout::page("Runs", Some(&user), Some(&ws), body).into_string()).into_response())
}

fn severity_order(s: Severity) -> u8 {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
        Severity::Success => 3,
    }
}

fn step_section(step: &StepView) -> Markup {
    let mut findings: Vec<_> = step.findings.iter().collect();
    findings.sort_by_key(|f| severity_order(f.severity));
    html! {
        section.step id={"step-" (step.key)} {
            h3 { (badge(step.status.as_str())) " " (step.name) span.muted { " · " (step.validator) " " (step.validator_version) }
                 @if let Some(ms) = step.duration_ms { span.muted { " · " (format!("{ms:.1}")) " ms" } } }
            @if let Some(e) = &step.error { p.error { (e) } }
            @for sev in [Severity::Error, Severity::Warning, Severity::Info, Severity::Success] {
                @let group: Vec<_> = findings.iter().filter(|f| f.severity == sev).collect();
                @if !group.is_empty() {
                    details open[sev != Severity::Success] {
                        summary { (badge(sev.as_str())) " " (group.len()) }
                        table.findings {
                            thead { tr { th { "Code" } th { "Path" } th { "Message" } } }
                            tbody {
                                @for f in &group {
                                    tr { td { code { (f.code) } } td { code { (f.path) } } td { (f.message) } }
                                }
                            }
                        }
                    }
                }
            }
            @if !step.outputs.is_empty() {
                dl.outputs {
                    @for o in &step.outputs {
                        dt { (o.name) } dd { (o.value.to_string().trim_matches('"')) @if let Some(u) = &o.unit { " " (u) } }
                    }
                }
            }
        }
    }
}

/// Everything below the title; also served alone (`?fragment=1`) for the live update.
fn run_body(ws: &str, run: &RunView) -> Markup {
    let api = format!("/api/v1/workspaces/{ws}/runs/{}", run.id);
    html! {
        div id="run-body" data-run-url=(api) data-state=(run.state) {
            p.result aria-live="polite" {
                span id="run-result" { (badge(if run.result == "UNKNOWN" { run.status } else { run.result })) }
                " " (run.workflow.slug) " v" (run.workflow.version) " on " strong { (run.submission.filename.as_deref().unwrap_or("submission")) }
                " · " (run.summary.errors) " errors, " (run.summary.warnings) " warnings"
            }
            @if let Some(d) = &run.error_detail { p.muted { (d) } }
            @if run.is_terminal() {
                nav.downloads aria-label="Downloads" {
                    "Download: "
                    a href={(api) "/report?format=json"} download { "JSON" }
                    a href={(api) "/report?format=sarif"} download { "SARIF" }
                    a href={(api) "/report?format=junit"} download { "JUnit" }
                    a href={(api) "/evidence"} download { "Evidence manifest" }
                }
            } @else {
                p.muted { "This page updates by itself while the run goes on." }
                p {
                    button id="cancel-run" type="button" data-cancel-url={(api) "/cancel"} { "Cancel run" }
                    span id="cancel-error" role="alert" {}
                }
            }
            @for step in run.steps.iter().flatten() { (step_section(step)) }
        }
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    fragment: Option<u8>,
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path((ws, id)): Path<(String, RunId)>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, Response> {
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let not_found = || ApiError::not_found("RUN_NOT_FOUND", format!("run {id:?} not found"));
    let run = view::load(&state.db, &workspace.id, &id)
        .await
        .map_err(|e| error_page(&user, e.into()))?
        .filter(|r| r.visible_to(role, &user.user.id))
        .ok_or_else(|| error_page(&user, not_found()))?;
    if q.fragment == Some(1) {
        return Ok(Html(run_body(&ws, &run).into_string()).into_response());
    }
    let body = html! { h1 { "Run" } (run_body(&ws, &run)) };
    Ok(Html(layout::page("Run", Some(&user), Some(&ws), body).into_string()).into_response())
}
