//! Workflows: the list, one workflow with its steps and an upload form, and the editor
//! (new or edit). The editor's script sends the definition to the API, which checks every
//! step's config with its validator before anything is saved; refusals show per step.

use std::sync::Arc;
use validibot_types::ids::WorkspaceId;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};

use super::layout;
use super::runs::{run_table, visible_runs, Wanted};
use super::{error_page, workspace_for, WebUser};
use crate::{ApiError, AppState};
use validibot_store::accounts::Permission;
use validibot_store::workflows::{versions, Workflow};

fn html_page(user: &WebUser, ws: &str, title: &str, body: Markup) -> Response {
    Html(layout::page(title, Some(user), Some(ws), body).into_string()).into_response()
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
) -> Result<Response, Response> {
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let workflows = versions::list(&state.db, &workspace.id)
        .await
        .map_err(|e| error_page(&user, e.into()))?;
    let body = html! {
        div.title-row {
            h1 { "Workflows" }
            @if role.allows(Permission::WorkflowEdit) { a.button.primary href={"/ui/w/" (ws) "/workflows/new"} { "New workflow" } }
        }
        @if workflows.is_empty() { p.empty { "No workflows yet." } }
        ul.cards {
            @for w in &workflows {
                li.card {
                    h2 { a href={"/ui/w/" (ws) "/workflows/" (w.slug)} { (w.name) } @if w.archived_at.is_some() { " " span.badge { "archived" } } }
                    p.muted { (w.slug) " v" (w.version) " · " (w.steps.len()) " steps · " (w.content_types.join(", ")) }
                    @if !w.description.is_empty() { p { (w.description) } }
                }
            }
        }
    };
    Ok(html_page(&user, &ws, "Workflows", body))
}

async fn workflow(
    state: &AppState,
    user: &WebUser,
    workspace_id: &WorkspaceId,
    slug: &str,
) -> Result<Workflow, Response> {
    versions::get(&state.db, workspace_id, slug, None)
        .await
        .map_err(|e| error_page(user, e.into()))?
        .ok_or_else(|| {
            error_page(
                user,
                ApiError::not_found("WORKFLOW_NOT_FOUND", format!("workflow {slug:?} not found")),
            )
        })
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path((ws, slug)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let wf = workflow(&state, &user, &workspace.id, &slug).await?;
    let runs = visible_runs(
        &state,
        &user,
        &workspace,
        role,
        Wanted {
            workflow: Some(&slug),
            limit: 10,
            ..Wanted::default()
        },
    )
    .await?;
    let launch = format!("/api/v1/workspaces/{ws}/workflows/{slug}/runs");
    let body = html! {
        div.title-row {
            h1 { (wf.name) }
            @if role.allows(Permission::WorkflowEdit) {
                div {
                    @let api = format!("/api/v1/workspaces/{ws}/workflows/{slug}");
                    @if wf.archived_at.is_none() {
                        a.button href={"/ui/w/" (ws) "/workflows/" (slug) "/edit"} { "Edit" }
                        " "
                        button.workflow-action id="archive-workflow" type="button" data-method="POST" data-url={(api) "/archive"} { "Archive" }
                    } @else {
                        button.workflow-action id="unarchive-workflow" type="button" data-method="POST" data-url={(api) "/unarchive"} { "Unarchive" }
                    }
                    " "
                    button.workflow-action id="delete-workflow" type="button" data-method="DELETE" data-url=(api)
                        data-confirm="Delete this workflow and all its versions? Only possible while it has no runs." data-then={"/ui/w/" (ws) "/workflows"} { "Delete" }
                    span id="workflow-action-error" role="alert" {}
                }
            }
        }
        p.muted { (wf.slug) " v" (wf.version) " · time limit " (wf.timeout_seconds) " s · accepts " (wf.content_types.join(", "))
            @if let Some(days) = wf.retention_days { " · runs kept " (days) " days" }
            @if let Some(mib) = wf.validator_memory_mib { " · validator memory " (mib) " MiB" } }
        @if let Some(at) = wf.archived_at { p.notice id="archived-notice" { "Archived " (validibot_types::clock::rfc3339(at)) ": no new runs or edits; its runs are kept." } }
        @if !wf.description.is_empty() { p { (wf.description) } }
        @if role.allows(Permission::WorkflowLaunch) && wf.archived_at.is_none() {
            section.card {
                h2 { "Validate a file" }
                form id="upload-form" data-launch-url=(launch) data-runs-url={"/ui/w/" (ws) "/runs/"} {
                    label for="upload-file" { "File" }
                    input id="upload-file" name="file" type="file";
                    details id="paste-box" {
                        summary { "…or paste the document" }
                        label for="upload-text" { "Document text" }
                        textarea id="upload-text" rows="8" spellcheck="false" {}
                    }
                    label for="upload-type" { "Content type" }
                    select id="upload-type" {
                        option value="" { "Detect from the file name" }
                        @for t in wf.content_types.iter().filter(|t| !t.contains('*')) {
                            option value=(t) { (t) }
                        }
                    }
                    p.hint { "Accepts " (wf.content_types.join(", ")) ". Choose the type when the browser labels the file wrongly." }
                    button.primary type="submit" { "Upload and validate" }
                    progress id="upload-progress" max="100" value="0" hidden {}
                    p id="upload-status" role="status" aria-live="polite" {}
                }
            }
        }
        section.card {
            h2 { "Steps" }
            @if let Some(drawing) = graph_drawing(&wf.steps) { (drawing) }
            ol.steps {
                @for s in &wf.steps {
                    li {
                        strong { (s.name) } span.muted { " · " (s.validator) " " (s.validator_version) }
                        @if let Some(deps) = &s.depends_on {
                            span.muted { " · waits for " (if deps.is_empty() { "nothing".to_owned() } else { deps.join(", ") }) }
                        }
                        @if !s.on_failure.is_stop() { span.muted { " · on failure: " (s.on_failure.as_str()) } }
                        @if let Some(when) = &s.run_when { span.muted { " · when " code { (when) } } }
                        @if !s.assertions.is_empty() { span.muted { " · " (s.assertions.len()) " assertion(s)" } }
                    }
                }
            }
        }
        section.card {
            h2 { "Recent runs" }
            (run_table(&ws, &runs, role))
        }
    };
    Ok(html_page(&user, &ws, &wf.name, body))
}

/// The step graph as an inline SVG, for workflows whose steps do not simply follow one
/// another: one column per depth (steps that can run together share a column).
fn graph_drawing(steps: &[validibot_store::workflows::Step]) -> Option<Markup> {
    use validibot_services::workflows::graph::Graph;
    let keys: Vec<&str> = steps.iter().map(|s| s.key.as_str()).collect();
    let named: Vec<Option<&[String]>> = steps.iter().map(|s| s.depends_on.as_deref()).collect();
    let graph = Graph::new(&keys, &named).ok()?;
    if graph.is_linear() {
        return None;
    }
    let (w, h, gap_x, gap_y) = (150, 34, 60, 18);
    let mut depth = vec![0usize; steps.len()];
    let mut row = vec![0usize; steps.len()];
    let mut per_depth: Vec<usize> = Vec::new();
    for i in 0..steps.len() {
        depth[i] = graph.deps[i]
            .iter()
            .map(|&d| depth[d] + 1)
            .max()
            .unwrap_or(0);
        if per_depth.len() <= depth[i] {
            per_depth.resize(depth[i] + 1, 0);
        }
        row[i] = per_depth[depth[i]];
        per_depth[depth[i]] += 1;
    }
    let at = |i: usize| (depth[i] * (w + gap_x), row[i] * (h + gap_y));
    let width = per_depth.len() * (w + gap_x) - gap_x;
    let height = per_depth.iter().max().copied().unwrap_or(1) * (h + gap_y) - gap_y;
    Some(html! {
        svg.step-graph role="img" aria-label="Step graph" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)} {
            @for (i, deps) in graph.deps.iter().enumerate() {
                @for &d in deps {
                    line x1=(at(d).0 + w) y1=(at(d).1 + h / 2) x2=(at(i).0) y2=(at(i).1 + h / 2) stroke="currentColor" stroke-opacity="0.5" {}
                }
            }
            @for (i, s) in steps.iter().enumerate() {
                g data-step=(s.key) {
                    rect x=(at(i).0) y=(at(i).1) width=(w) height=(h) rx="6" fill="none" stroke="currentColor" {}
                    text x=(at(i).0 + 10) y=(at(i).1 + 22) font-size="13" fill="currentColor" { (s.key) }
                }
            }
        }
    })
}

/// The validators a step can use: installed WASM validators and registered containers.
async fn validator_options(state: &AppState) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = state
        .plugins
        .all()
        .iter()
        .map(|p| {
            (
                p.meta.slug.clone(),
                format!("{} — {}", p.meta.slug, p.meta.name),
            )
        })
        .collect();
    if let Ok(containers) = validibot_services::validators::images::list(&state.db).await {
        for c in containers {
            if !options.iter().any(|(s, _)| *s == c.slug) {
                options.push((
                    c.slug.clone(),
                    format!("{} — {} (container)", c.slug, c.name),
                ));
            }
        }
    }
    options
}

fn editor(ws: &str, wf: Option<&Workflow>, validators: &[(String, String)]) -> Markup {
    let (method, url) = match wf {
        Some(w) => (
            "PUT",
            format!("/api/v1/workspaces/{ws}/workflows/{}", w.slug),
        ),
        None => ("POST", format!("/api/v1/workspaces/{ws}/workflows")),
    };
    let steps: Vec<serde_json::Value> = match wf {
        Some(w) => w
            .steps
            .iter()
            .map(|s| serde_json::json!({"key": s.key, "name": s.name, "validator": s.validator, "config": s.config, "ruleset": s.ruleset, "assertions": s.assertions, "depends_on": s.depends_on, "on_failure": s.on_failure, "when": s.run_when, "files": s.files}))
            .collect(),
        None => vec![serde_json::json!({"key": "", "name": "", "validator": "", "config": {}})],
    };
    html! {
        form id="workflow-form" data-method=(method) data-url=(url) data-ws=(ws)
            data-files-url={"/api/v1/workspaces/" (ws) "/files"}
            data-check-url={"/api/v1/workspaces/" (ws) "/workflows?dry_run=true"} {
            div.grid2 {
                div { label for="wf-name" { "Name" } input id="wf-name" name="name" required value=(wf.map(|w| w.name.as_str()).unwrap_or("")); }
                div { label for="wf-slug" { "Slug" }
                      input id="wf-slug" name="slug" required pattern="[a-z0-9][a-z0-9_\\-]{0,62}" title="lower-case letters, digits, _ and -; starting with a letter or digit" value=(wf.map(|w| w.slug.as_str()).unwrap_or("")) readonly[wf.is_some()]; }
            }
            label for="wf-description" { "Description" }
            textarea id="wf-description" name="description" rows="2" { (wf.map(|w| w.description.as_str()).unwrap_or("")) }
            div.grid2 {
                div { label for="wf-types" { "Accepted media types (comma-separated; empty: the first validator's)" }
                      input id="wf-types" name="content_types" value=(wf.map(|w| w.content_types.join(", ")).unwrap_or_default()); }
                div { label for="wf-timeout" { "Time limit (seconds)" }
                      input id="wf-timeout" name="timeout_seconds" type="number" min="1" max="86400" value=(wf.map(|w| w.timeout_seconds).unwrap_or(300)); }
            }
            label for="wf-memory" { "Validator memory (MiB, optional; empty: the instance's cap, raised for large documents)" }
            input id="wf-memory" name="validator_memory_mib" type="number" min="16" value=[wf.and_then(|w| w.validator_memory_mib)];
            div.grid2 {
                div { label for="wf-retention" { "Keep runs (days, optional; empty: the instance's retention)" }
                      input id="wf-retention" name="retention_days" type="number" min="1" max="36500" value=[wf.and_then(|w| w.retention_days)]; }
                div { label for="wf-store" {
                          input id="wf-store" name="store_submission" type="checkbox" checked[wf.is_none_or(|w| w.store_submission)];
                          " Keep submitted documents (off: runs keep each document's hash and findings, never its bytes)" } }
            }
            label for="wf-constants" { "Constants (JSON object, optional; assertions read them as " code { "consts.<name>" } ", configs as " code { "${consts.<name>}" } ")" }
            textarea id="wf-constants" name="constants" rows="2" spellcheck="false" {
                (wf.filter(|w| !w.constants.is_empty()).map(|w| serde_json::to_string_pretty(&w.constants).unwrap_or_default()).unwrap_or_default())
            }
            h2 { "Steps" }
            div id="steps" data-initial=(serde_json::Value::Array(steps).to_string()) {}
            template id="step-template" {
                fieldset.step-editor {
                    legend { "Step" }
                    div.grid3 {
                        div { label { "Key" input.step-key required pattern="[a-z0-9][a-z0-9_\\-]{0,62}" title="lower-case letters, digits, _ and -; starting with a letter or digit"; } }
                        div { label { "Name" input.step-name; } }
                        div { label { "Validator" select.step-validator required {
                            option value="" { "Choose a validator…" }
                            @for (slug, label) in validators { option value=(slug) { (label) } }
                        } }
                        a.step-guide href="/ui/validators" target="_blank" rel="noopener" { "What each validator checks" } }
                    }
                    div.grid3 {
                        div { label { "Waits for (step keys, comma-separated; empty: the previous step; " code { "-" } ": nothing)" input.step-depends; } }
                        div { label { "On failure" select.step-on-failure { option value="stop" { "stop: skip the steps that wait for it" } option value="continue" { "continue: they run anyway" } } } }
                        div { label { "When (CEL, optional)" input.step-when spellcheck="false"; } }
                    }
                    div.step-config-form {}
                    label { "Config (JSON)" textarea.step-config rows="8" spellcheck="false" {} }
                    fieldset.step-assertions {
                        legend { "Assertions" }
                        p.hint { "Checked after the validator, whatever it is. CEL over " code { "doc" } ", " code { "outputs" } ", " code { "steps.<key>" } ", " code { "meta" } " and " code { "consts" } "; each is compiled as you type." }
                        div.assertion-rows {}
                        button.add-assertion type="button" { "Add assertion" }
                    }
                    fieldset.step-files {
                        legend { "Files" }
                        p.hint { "Handed to the validator with the document: an XSD and its includes, a weather file, a reference table." }
                        ul.step-file-list {}
                        label { "Attach a file" input.step-file-input type="file"; }
                        p.step-file-status role="status" {}
                    }
                    p.step-errors role="alert" {}
                    button.remove-step type="button" { "Remove step" }
                }
            }
            template id="assertion-template" {
                div.assertion-row {
                    div.grid2 {
                        label { "Expression (CEL; must be true)" input.assertion-expr spellcheck="false" placeholder="outputs.site_energy_gj < consts.max_gj"; }
                        label { "Message (" code { "{{ <CEL> }}" } " placeholders)" input.assertion-message placeholder="site energy {{ outputs.site_energy_gj }} GJ"; }
                    }
                    div.grid3 {
                        label { "Code" input.assertion-code placeholder="assertion.failed"; }
                        label { "Severity" select.assertion-severity { option value="ERROR" { "ERROR" } option value="WARNING" { "WARNING" } option value="INFO" { "INFO" } } }
                        label { "Only when (CEL, optional)" input.assertion-when spellcheck="false"; }
                    }
                    p.assertion-errors role="alert" {}
                    button.remove-assertion type="button" { "Remove assertion" }
                }
            }
            button id="add-step" type="button" { "Add step" }
            div id="form-errors" role="alert" {}
            p id="check-status" role="status" aria-live="polite" {}
            button.primary type="submit" { "Save workflow" }
        }
    }
}

pub async fn new(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
) -> Result<Response, Response> {
    workspace_for(&state, &user, &ws, Permission::WorkflowEdit).await?;
    let validators = validator_options(&state).await;
    let body = html! { h1 { "New workflow" } (editor(&ws, None, &validators)) };
    Ok(html_page(&user, &ws, "New workflow", body))
}

pub async fn edit(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path((ws, slug)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (workspace, _) = workspace_for(&state, &user, &ws, Permission::WorkflowEdit).await?;
    let wf = workflow(&state, &user, &workspace.id, &slug).await?;
    let validators = validator_options(&state).await;
    let body = html! {
        h1 { "Edit " (wf.name) }
        p.muted { "Saving a version that has runs creates version " (wf.version + 1) "; runs keep the version they ran." }
        (editor(&ws, Some(&wf), &validators))
    };
    Ok(html_page(&user, &ws, "Edit workflow", body))
}
