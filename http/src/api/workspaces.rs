//! Workspaces: list the caller's; create one (Pro: `workspaces.multiple`, within
//! the license's workspace limit). The creator becomes its owner.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::auth::{
    member, require_instance_admin, require_workspace_decision, visible_workspaces, Caller,
};
use crate::{ApiError, AppState};
use validibot_store::accounts::directory::{self as accounts, Workspace};
use validibot_store::accounts::{mfa, Permission, Role};

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = visible_workspaces(&state, &caller.0.id).await?;
    let results: Vec<_> = list
        .into_iter()
        .map(|(w, role)| workspace_json(&w, role))
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
    require_workspace_decision(&state, "create", "creating workspaces needs Validibot Pro").await?;
    require_instance_admin(&state, &caller, "creating workspaces").await?;
    let Json(new) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    if let Err(e) = validibot_types::WorkspaceSlug::parse(&new.slug) {
        return Err(ApiError::bad_request("INVALID_SLUG", e.to_string()));
    }
    let name = new.name.unwrap_or_else(|| new.slug.clone());
    match accounts::create_workspace(&state.db, &new.slug, &name).await? {
        Some(ws) => {
            accounts::set_membership(&state.db, &caller.0.id, &ws.id, Role::Owner).await?;
            Ok((StatusCode::CREATED, Json(workspace_json(&ws, Role::Owner))))
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "WORKSPACE_EXISTS",
            format!("workspace {:?} already exists", new.slug),
        )),
    }
}

/// `PUT /workspaces/{ws}/members/{username}` `{"role"}`: direct membership, by the
/// workspace's admins (in an extra workspace this is a write, so Pro-only).
pub async fn set_member(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, username)): Path<(String, String)>,
    body: Result<Json<super::teams::RoleBody>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let (workspace, my_role) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    let role = super::teams::parse_role(body)?;
    if role > my_role {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            format!(
                "you cannot grant {:?}, which is above your own role",
                role.as_str()
            ),
        ));
    }
    let user = accounts::find_user(&state.db, &username)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "USER_NOT_FOUND",
                format!(
                    "there is no user {username:?} on this instance; an operator creates one (and adds them here) with `validibot admin create-user --username {username} --role {} --workspace {ws}`",
                    role.as_str()
                ),
            )
        })?;
    admit(&state, Some(&user.id)).await?;
    accounts::change_membership(&state.db, my_role, &user.id, &workspace.id, role)
        .await?
        .map_err(|r| refused(&username, r))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the license has a seat for the user (`None`: a new account); 402
/// `SEAT_LIMIT` naming the license's seat limit when not.
pub(super) async fn admit(
    state: &AppState,
    user: Option<&validibot_types::ids::UserId>,
) -> Result<(), ApiError> {
    match state.licensing.admit_member(user).await? {
        Ok(()) => Ok(()),
        Err((license_state, detail)) => Err(ApiError::pro_required(
            "SEAT_LIMIT",
            "limits.seats",
            &license_state,
            detail,
        )),
    }
}

/// The answer to a refused membership change.
fn refused(username: &str, why: accounts::MembershipRefusal) -> ApiError {
    match why {
        accounts::MembershipRefusal::AboveActor(role) => ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            format!("{username:?} is {}, above your own role", role.as_str()),
        ),
        accounts::MembershipRefusal::LastOwner => ApiError::new(
            StatusCode::CONFLICT,
            "LAST_OWNER",
            format!("{username:?} is the workspace's last owner; make someone else owner first"),
        ),
        accounts::MembershipRefusal::NotMember => {
            ApiError::not_found("MEMBER_NOT_FOUND", format!("{username:?} is not a member"))
        }
    }
}

/// `DELETE /workspaces/{ws}/members/{username}`: by the workspace's admins, for
/// members at or below their own role; the last owner stays.
pub async fn remove_member(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (workspace, my_role) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    let user = accounts::find_user(&state.db, &username)
        .await?
        .ok_or_else(|| refused(&username, accounts::MembershipRefusal::NotMember))?;
    accounts::remove_membership(&state.db, my_role, &user.id, &workspace.id)
        .await?
        .map_err(|r| refused(&username, r))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /workspaces/{ws}/members`: direct members and team grants.
pub async fn members(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkflowView).await?;
    let members = accounts::members_of(&state.db, &workspace.id).await?;
    let results: Vec<_> = members
        .into_iter()
        .map(|m| serde_json::json!({"username": m.username, "role": m.role, "mfa": m.mfa}))
        .collect();
    Ok(Json(serde_json::json!({"results": results})))
}

fn workspace_json(w: &Workspace, role: Role) -> serde_json::Value {
    serde_json::json!({
        "slug": w.slug,
        "name": w.name,
        "is_default": w.is_default,
        "require_mfa": w.require_mfa,
        "role": role,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    require_mfa: Option<bool>,
}

/// `PATCH /workspaces/{ws}`: the workspace's settings, by its owners. An owner without
/// a second factor cannot require one (their own next page would refuse them).
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    body: Result<Json<WorkspacePatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(patch) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let (mut workspace, role) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    if role != Role::Owner {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "only owners change a workspace's settings",
        ));
    }
    if let Some(require) = patch.require_mfa {
        if require && !mfa::enabled(&state.db, &caller.0.id).await? {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "MFA_NOT_ENABLED",
                "turn on two-factor authentication for your own account first",
            ));
        }
        accounts::set_require_mfa(&state.db, &workspace.id, require).await?;
        workspace.require_mfa = require;
    }
    Ok(Json(workspace_json(&workspace, role)))
}
