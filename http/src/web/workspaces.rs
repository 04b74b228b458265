//! Workspaces: the ones the user sees, with their role, and creating one (Pro:
//! `workspaces.multiple`; the page says why when the license does not allow it).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use super::layout;
use super::{error_page, workspace_for, WebUser};
use crate::AppState;
use validibot_store::accounts::Permission;

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
) -> Result<Response, Response> {
    workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    // Loaded with the signed-in user (the header's switcher lists the same).
    let list = &user.workspaces;
    let decision = state
        .licensing
        .workspace_decision("create", false)
        .await
        .map_err(|e| error_page(&user, e.into()))?;
    let body = html! {
        h1 { "Workspaces" }
        section.card {
            table id="workspace-list" {
                thead { tr { th { "Workspace" } th { "Slug" } th { "Your role" } } }
                tbody {
                    @for (w, role) in list {
                        tr {
                            td { a href={"/ui/w/" (w.slug)} { (w.name) } @if w.is_default { " " span.muted { "(default)" } } }
                            td { code { (w.slug) } }
                            td { (role.as_str()) }
                        }
                    }
                }
            }
        }
        section.card id="new-workspace" {
            h2 { "New workspace" }
            @if !decision.allowed {
                p.muted id="workspace-limit" {
                    (decision.detail.clone().unwrap_or_else(|| "Creating workspaces needs Validibot Pro.".into()))
                }
            }
            form id="workspace-form" {
                label for="workspace-slug" { "Slug (lower-case letters, digits, dashes)" }
                input id="workspace-slug" name="slug" required maxlength="50" pattern="[a-z0-9][a-z0-9\\-]*" title="lower-case letters, digits and -";
                label for="workspace-name" { "Name" }
                input id="workspace-name" name="name" maxlength="100";
                button.primary type="submit" { "Create workspace" }
            }
            p id="workspace-status" role="status" {}
        }
    };
    Ok(
        Html(layout::page("Workspaces", Some(&user), Some(&ws), body).into_string())
            .into_response(),
    )
}
