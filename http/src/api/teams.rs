//! Teams (Pro, `workspaces.teams`): create teams and manage their members
//! (instance admins), grant a team a role on a workspace (its admins).

use std::sync::Arc;
use validibot_types::ids::UserId;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use validibot_plugin_api::extension::features::TEAMS;

use crate::auth::{member, require_feature, require_instance_admin, Caller};
use crate::{ApiError, AppState};
use validibot_store::accounts::{directory as accounts, teams, Permission, Role};

async fn admin_with_teams(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    require_feature(state, TEAMS).await?;
    require_instance_admin(state, caller, "managing teams").await
}

async fn team(state: &AppState, slug: &str) -> Result<teams::Team, ApiError> {
    teams::find(&state.db, slug)
        .await?
        .ok_or_else(|| ApiError::not_found("TEAM_NOT_FOUND", format!("team {slug:?} not found")))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    admin_with_teams(&state, &caller).await?;
    Ok(Json(json!({"results": teams::list(&state.db).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    slug: String,
    name: Option<String>,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<NewTeam>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    admin_with_teams(&state, &caller).await?;
    let Json(new) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    if let Err(e) = validibot_types::WorkspaceSlug::parse(&new.slug) {
        return Err(ApiError::bad_request(
            "INVALID_SLUG",
            format!("invalid team slug {:?}: {}", e.given, e.rule),
        ));
    }
    let name = new.name.unwrap_or_else(|| new.slug.clone());
    match teams::create(&state.db, &new.slug, &name).await? {
        Some(t) => Ok((
            StatusCode::CREATED,
            Json(json!({"slug": t.slug, "name": t.name, "members": [], "grants": []})),
        )),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "TEAM_EXISTS",
            format!("team {:?} already exists", new.slug),
        )),
    }
}

async fn user_id(state: &AppState, username: &str) -> Result<UserId, ApiError> {
    Ok(accounts::find_user(&state.db, username)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("USER_NOT_FOUND", format!("user {username:?} not found"))
        })?
        .id)
}

pub async fn add_member(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((slug, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin_with_teams(&state, &caller).await?;
    let team = team(&state, &slug).await?;
    teams::add_member(&state.db, &team.id, &user_id(&state, &username).await?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/teams/{team}`: the team, its memberships and its grants go; members
/// keep their own (direct) roles.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin_with_teams(&state, &caller).await?;
    let team = team(&state, &slug).await?;
    if !teams::delete(&state.db, &team.id).await? {
        return Err(ApiError::not_found(
            "TEAM_NOT_FOUND",
            format!("team {slug:?} not found"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_member(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((slug, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin_with_teams(&state, &caller).await?;
    let team = team(&state, &slug).await?;
    if !teams::remove_member(&state.db, &team.id, &user_id(&state, &username).await?).await? {
        return Err(ApiError::not_found(
            "NOT_A_MEMBER",
            format!("{username:?} is not in team {slug:?}"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: String,
}

pub fn parse_role(
    body: Result<Json<RoleBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Role, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    Role::parse(&body.role).ok_or_else(|| {
        ApiError::bad_request(
            "INVALID_ROLE",
            "role is one of owner, admin, author, executor, viewer",
        )
    })
}

/// `PUT /workspaces/{ws}/teams/{team}` `{"role"}`: needs `workspace.manage` in `ws`.
pub async fn grant(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, slug)): Path<(String, String)>,
    body: Result<Json<RoleBody>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    require_feature(&state, TEAMS).await?;
    let (workspace, my_role) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    let role = parse_role(body)?;
    let team = team(&state, &slug).await?;
    teams::grant(&state.db, my_role, &team.id, &workspace.id, role)
        .await?
        .map_err(|r| grant_refused(&slug, &ws, r))?;
    Ok(StatusCode::NO_CONTENT)
}

fn grant_refused(team: &str, ws: &str, why: teams::GrantRefusal) -> ApiError {
    match why {
        teams::GrantRefusal::AboveActor(role) => ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            format!("a grant of {:?} is above your own role", role.as_str()),
        ),
        teams::GrantRefusal::NoGrant => ApiError::not_found(
            "GRANT_NOT_FOUND",
            format!("team {team:?} has no role in {ws:?}"),
        ),
    }
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, slug)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_feature(&state, TEAMS).await?;
    let (workspace, my_role) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    let team = team(&state, &slug).await?;
    teams::revoke(&state.db, my_role, &team.id, &workspace.id)
        .await?
        .map_err(|r| grant_refused(&slug, &ws, r))?;
    Ok(StatusCode::NO_CONTENT)
}
