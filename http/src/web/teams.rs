//! Teams (Pro, `workspaces.teams`): create teams, add and remove members, grant a team a
//! role on the current workspace. Instance admins manage teams (as in the API); without
//! the feature the page says what is needed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use validibot_plugin_api::extension::features::TEAMS;

use super::layout::{self, badge};
use super::{error_page, workspace_for, WebUser};
use crate::auth::{instance_admin, Caller};
use crate::AppState;
use validibot_store::accounts::{teams, Permission};

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
) -> Result<Response, Response> {
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let fail = |e: crate::ApiError| error_page(&user, e);
    let status = state.licensing.status().await.map_err(|e| fail(e.into()))?;
    let admin = instance_admin(&state, &Caller::from_user(user.user.clone(), user.via))
        .await
        .map_err(fail)?;
    let can_grant = role.allows(Permission::WorkspaceManage);
    let body = if !status.has(TEAMS) {
        html! {
            h1 { "Teams" }
            section.card id="teams-off" {
                p { "Teams need Validibot Pro with " code { (TEAMS) } " (license state: " (badge(&status.state)) ")." }
                p.muted { "Teams group users; a team given a role on a workspace gives it to every member. Members already added keep their direct roles." }
            }
        }
    } else if !admin {
        html! {
            h1 { "Teams" }
            p.muted { "Managing teams needs the admin or owner role in the default workspace." }
        }
    } else {
        let list = teams::list(&state.db).await.map_err(|e| fail(e.into()))?;
        html! {
            h1 { "Teams" }
            section.card {
                table id="team-list" {
                    thead { tr { th { "Team" } th { "Members" } th { "Roles on workspaces" } } }
                    tbody {
                        @for t in &list {
                            tr data-team=(t.team.slug) {
                                td {
                                    strong { (t.team.name) } " " code { (t.team.slug) }
                                    " " button.delete-team type="button" data-url={"/api/v1/teams/" (t.team.slug)} aria-label={"Delete team " (t.team.slug)} { "Delete" }
                                }
                                td {
                                    ul.plain {
                                        @for m in &t.members {
                                            li { (m) " "
                                                button.remove-team-member type="button" data-url={"/api/v1/teams/" (t.team.slug) "/members/" (m)} aria-label={"Remove " (m) " from " (t.team.slug)} { "Remove" }
                                            }
                                        }
                                    }
                                    form.team-member-form data-url={"/api/v1/teams/" (t.team.slug) "/members/"} {
                                        label for={"add-" (t.team.slug)} { "Add a user" }
                                        input id={"add-" (t.team.slug)} required placeholder="username";
                                        button type="submit" { "Add" }
                                    }
                                }
                                td {
                                    ul.plain {
                                        @for g in &t.grants {
                                            li { code { (g.workspace) } ": " (g.role.as_str())
                                                // Revoking on the workspace shown here, which the grant form also targets.
                                                @if can_grant && g.workspace == workspace.slug {
                                                    " " button.revoke-team-grant type="button" data-url={"/api/v1/workspaces/" (workspace.slug) "/teams/" (t.team.slug)} aria-label={"Revoke " (t.team.slug) "'s role on " (g.workspace)} { "Revoke" }
                                                }
                                            }
                                        }
                                    }
                                    @if can_grant {
                                        form.team-grant-form data-url={"/api/v1/workspaces/" (workspace.slug) "/teams/" (t.team.slug)} {
                                            label for={"grant-" (t.team.slug)} { "Role on " (workspace.slug) }
                                            select id={"grant-" (t.team.slug)} {
                                                @for opt in ["viewer", "executor", "author", "admin"] { option value=(opt) { (opt) } }
                                            }
                                            button type="submit" { "Grant" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "New team" }
                form id="team-form" {
                    label for="team-slug" { "Slug" }
                    input id="team-slug" name="slug" required maxlength="50";
                    label for="team-name" { "Name" }
                    input id="team-name" name="name" maxlength="100";
                    button.primary type="submit" { "Create team" }
                }
            }
            p id="team-status" role="status" {}
        }
    };
    Ok(Html(layout::page("Teams", Some(&user), Some(&ws), body).into_string()).into_response())
}
