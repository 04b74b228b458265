//! Runs: the list, and one run with its findings grouped by step and severity, live
//! while it runs (the script polls the API and swaps in the finished page).

use std::sync::Arc;
use validibot_types::ids::RunId;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, badge, utc_time};
use super::{error_page, workspace_for, WebUser};
use crate::AppState;
use validibot_store::accounts::directory::Workspace;
use validibot_store::accounts::{Permission, Role};
use validibot_store::runs::view::{self, ListFilter, RunView, StepView};
use validibot_store::workflows::versions;
use validibot_types::{RunStatus, Severity, StepStatus};

/// The runs table; `role` words the empty state (a viewer cannot launch, and sees only
/// runs they launched, so "upload a file" would be wrong advice).
pub fn run_table(ws: &str, runs: &[RunView], role: Role) -> Markup {
    html! {
        @if runs.is_empty() {
            @if role.allows(Permission::WorkflowLaunch) {
                p.empty { "No runs yet. " a href={"/ui/w/" (ws) "/workflows"} { "Open a workflow" } " and validate a file." }
            } @else {
                p.empty { "No runs to show. As a " (role.as_str()) " you see the workspace's workflows; runs are visible to whoever launched them and to the workspace's authors, admins and owners. Ask an admin for the executor role to validate files, or author to see every run." }
            }
        } @else {
            table.runs {
                thead { tr { th { "Result" } th { "Workflow" } th { "File" } th { "Findings" } th { "Started (UTC)" } } }
                tbody {
                    @for r in runs {
                        @let href = format!("/ui/w/{ws}/runs/{}", r.id);
                        tr {
                            td { a href=(href) { (badge(if r.result == "UNKNOWN" { r.status } else { r.result })) } }
                            td { a href={"/ui/w/" (ws) "/workflows/" (r.workflow.slug)} { (r.workflow.slug) } " v" (r.workflow.version) }
                            td { a href=(href) { (r.submission.filename.as_deref().unwrap_or("(unnamed)")) } }
                            td { (r.summary.errors) " errors, " (r.summary.warnings) " warnings" }
                            td { (utc_time(r.created_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// Which runs a page lists: the filters and the page's place and size.
#[derive(Default)]
pub struct Wanted<'a> {
    pub workflow: Option<&'a str>,
    pub status: Option<&'a str>,
    pub before: Option<&'a str>,
    pub limit: i64,
}

/// The runs `user` may see (executors: only their own), newest first.
pub async fn visible_runs(
    state: &AppState,
    user: &WebUser,
    workspace: &Workspace,
    role: Role,
    wanted: Wanted<'_>,
) -> Result<Vec<RunView>, Response> {
    let own_only = !role.allows(Permission::ResultsViewAll);
    view::list(
        &state.db,
        &ListFilter {
            workspace_id: &workspace.id,
            created_by: own_only.then_some(&user.user.id),
            workflow_slug: wanted.workflow,
            status: wanted.status,
            before: wanted.before,
            limit: wanted.limit,
        },
    )
    .await
    .map_err(|e| error_page(user, e.into()))
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    workflow: Option<String>,
    status: Option<String>,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Response> {
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let workflow = q.workflow.as_deref().filter(|w| !w.is_empty());
    let status = q
        .status
        .as_deref()
        .and_then(RunStatus::parse)
        .map(RunStatus::as_str);
    let runs = visible_runs(
        &state,
        &user,
        &workspace,
        role,
        Wanted {
            workflow,
            status,
            before: q.cursor.as_deref(),
            limit: 50,
        },
    )
    .await?;
    let workflows = versions::list(&state.db, &workspace.id)
        .await
        .map_err(|e| error_page(&user, e.into()))?;
    let next = (runs.len() == 50)
        .then(|| runs.last().map(|r| r.id.clone()))
        .flatten();
    let filters = format!(
        "&workflow={}&status={}",
        workflow.unwrap_or(""),
        status.unwrap_or("")
    );
    let body = html! {
        h1 { "Runs" }
        form.filters method="get" aria-label="Filter runs" {
            label for="filter-workflow" { "Workflow" }
            select id="filter-workflow" name="workflow" {
                option value="" { "All workflows" }
                @for w in &workflows { option value=(w.slug) selected[Some(w.slug.as_str()) == workflow] { (w.name) " (" (w.slug) ")" } }
            }
            label for="filter-status" { "Status" }
            select id="filter-status" name="status" {
                option value="" { "Any status" }
                @for st in RunStatus::ALL { option value=(st.as_str()) selected[Some(st.as_str()) == status] { (st.as_str()) } }
            }
            button type="submit" { "Show" }
        }
        (run_table(&ws, &runs, role))
        @if let Some(n) = next { p { a href={"?cursor=" (n) (filters)} { "Older runs" } } }
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

/// A finding's path as a reader takes it: `3:7` (CSV, XML) is a line and column.
fn location(path: &str) -> Markup {
    let line_col = path.split_once(':').filter(|(l, c)| {
        !l.is_empty() && !c.is_empty() && (l.chars().chain(c.chars())).all(|ch| ch.is_ascii_digit())
    });
    html! {
        @if let Some((line, col)) = line_col {
            span title=(path) { "line " (line) ", column " (col) }
        } @else if path.is_empty() {
            span.muted { "the document" }
        } @else {
            code { (path) }
        }
    }
}

/// How far a running step's validator has read the document (`size` bytes): filled in
/// by the live update once the worker reports it (documents of 1 MiB or more).
fn reading(step: &StepView, size: i64) -> Markup {
    let read = step.read_bytes.unwrap_or(0);
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64);
    html! {
        p.reading hidden[step.read_bytes.is_none()] data-step-progress=(step.key) {
            progress max=(size.max(0)) value=(read) {}
            " read " span.read { (mib(read)) } " of " (mib(size.max(0) as u64))
        }
    }
}

fn step_section(step: &StepView, size: i64) -> Markup {
    let mut findings: Vec<_> = step.findings.iter().collect();
    findings.sort_by_key(|f| severity_order(f.severity));
    html! {
        section.step id={"step-" (step.key)} {
            h3 { (badge(step.status.as_str())) " " (step.name) span.muted { " · " a href={"/ui/validators/" (step.validator)} title="What this validator checks, and its finding codes" { (step.validator) } " " (step.validator_version) }
                 @if let Some(ms) = step.duration_ms { span.muted { " · " (format!("{ms:.1}")) " ms" } } }
            @if matches!(step.status, StepStatus::Running | StepStatus::Pending) { (reading(step, size)) }
            @if let Some(e) = &step.error { p.error { (e) } }
            @else if step.status == StepStatus::Skipped {
                p.muted { "Not run: a step it waits for did not pass (and stops the steps after it on failure), its " code { "when" } " condition was false, or the run ended first." }
            }
            @for sev in [Severity::Error, Severity::Warning, Severity::Info, Severity::Success] {
                @let group: Vec<_> = findings.iter().filter(|f| f.severity == sev).collect();
                @if !group.is_empty() {
                    details open[sev != Severity::Success] {
                        summary { (badge(sev.as_str())) " " (group.len()) }
                        table.findings {
                            thead { tr { th { "Code" } th { "Path" } th { "Message" } } }
                            tbody {
                                @for f in &group {
                                    tr { td { code { (f.code) } } td { (location(&f.path)) } td { (f.message) } }
                                }
                            }
                        }
                    }
                }
            }
            @if !step.outputs.is_empty() {
                dl.outputs {
                    @for o in &step.outputs {
                        dt title=(o.name) { (o.name.replace('_', " ")) } dd { (o.value.to_string().trim_matches('"')) @if let Some(u) = &o.unit { " " (u) } }
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
            @for step in run.steps.iter().flatten() { (step_section(step, run.submission.size)) }
        }
    }
}

/// A run link that leads nowhere for this user: say why instead of an error code. (The
/// same page whether the run does not exist or is someone else's, so a link reveals
/// nothing about runs the user may not see.)
fn not_visible(user: &WebUser, ws: &str, role: Role) -> Response {
    let body = html! {
        h1 { "This run is not available to you" }
        p { "Either it does not exist in this workspace, or it is someone else's run: runs are visible to whoever launched them and to the workspace's authors, admins and owners. You are " (role.as_str()) " here." }
        p { "Ask a workspace admin for the author role to see every run, or the person who shared the link for its report (they can download it as JSON, SARIF or JUnit)." }
        p { a href={"/ui/w/" (ws) "/runs"} { "Your runs" } }
    };
    (
        axum::http::StatusCode::NOT_FOUND,
        Html(layout::page("Run not available", Some(user), Some(ws), body).into_string()),
    )
        .into_response()
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
    let run = view::load(&state.db, &workspace.id, &id)
        .await
        .map_err(|e| error_page(&user, e.into()))?
        .filter(|r| r.visible_to(role, &user.user.id));
    let Some(run) = run else {
        return Err(not_visible(&user, &ws, role));
    };
    if q.fragment == Some(1) {
        return Ok(Html(run_body(&ws, &run).into_string()).into_response());
    }
    let title = format!(
        "{} · {} v{}",
        run.submission.filename.as_deref().unwrap_or("Run"),
        run.workflow.slug,
        run.workflow.version
    );
    let body = html! {
        h1 { (title) }
        p.run-meta.muted {
            "Run " code { (run.id) } " · started "
            (utc_time(run.created_at)) " UTC"
            @if let Some(by) = &run.created_by { " by " (by) }
            " · workflow " a href={"/ui/w/" (ws) "/workflows/" (run.workflow.slug)} { (run.workflow.slug) " v" (run.workflow.version) }
            @if role.allows(Permission::WorkflowLaunch) {
                " · " a href={"/ui/w/" (ws) "/workflows/" (run.workflow.slug) "#upload-form"} { "Validate another file" }
            }
        }
        (run_body(&ws, &run))
    };
    Ok(Html(layout::page(&title, Some(&user), Some(&ws), body).into_string()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_step_shows_how_far_it_has_read() {
        let mut step = StepView {
            key: "read".into(),
            name: "Read".into(),
            validator: "csv".into(),
            validator_version: "1".into(),
            validator_digest: None,
            status: StepStatus::Running,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            outputs: vec![],
            error: None,
            findings: vec![],
            read_bytes: Some(2 << 20),
            artifacts: vec![],
        };
        let html = reading(&step, 4 << 20).into_string();
        assert!(
            html.contains(r#"<progress max="4194304" value="2097152">"#),
            "{html}"
        );
        assert!(
            html.contains("2.0 MiB") && html.contains("4.0 MiB"),
            "{html}"
        );
        step.read_bytes = None;
        assert!(reading(&step, 4 << 20).into_string().contains("hidden"));
    }
}
