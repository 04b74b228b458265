//! Invitations: a workspace's admins invite an address with a role; the link mailed
//! there opens the invitation (without signing in), creates an account with it
//! (`signup`) or adds a signed-in account (`accept`). Links work once and expire.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{member, Caller};
use crate::{ApiError, AppState};
use validibot_services::accounts::invitations::{self as invite, AcceptRefusal, Refusal};
use validibot_services::mail::Mailer;
use validibot_store::accounts::{invitations, Permission, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    email: String,
    role: Role,
}

/// The mailer, or why invitations cannot be sent from here.
pub(super) fn mailer(state: &AppState) -> Result<Arc<Mailer>, ApiError> {
    state.mailer.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "MAIL_NOT_CONFIGURED",
            "this instance sends no mail (VALIDIBOT_SMTP_URL is not set); an operator can invite with `validibot admin invite`, which prints the link",
        )
    })
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    let results = invitations::of_workspace(&state.db, &workspace.id).await?;
    Ok(Json(json!({"results": results})))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    body: Result<Json<InvitationRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (workspace, my_role) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    let Json(req) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    send(&state, &caller, &workspace, my_role, &req.email, req.role).await
}

/// `POST …/invitations/{id}/resend`: a new link for the same address and role (the old
/// link stops working).
pub async fn resend(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (workspace, my_role) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    let old = invitations::get(&state.db, &workspace.id, &id)
        .await?
        .filter(|i| {
            matches!(
                i.state,
                invitations::State::Pending | invitations::State::Expired
            )
        })
        .ok_or_else(|| not_found(&id))?;
    send(&state, &caller, &workspace, my_role, &old.email, old.role).await
}

async fn send(
    state: &AppState,
    caller: &Caller,
    workspace: &validibot_store::accounts::directory::Workspace,
    my_role: Role,
    email: &str,
    role: Role,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if role > my_role {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            format!(
                "you cannot invite as {:?}, which is above your own role",
                role.as_str()
            ),
        ));
    }
    let mailer = mailer(state)?;
    super::workspaces::admit(state, None).await?;
    let invited = invite::invite(
        &state.db,
        invite::Delivery::Mail(&mailer),
        workspace,
        email,
        role,
        Some(&caller.0),
        state.settings.link_lifetimes,
    )
    .await?
    .map_err(|r| match r {
        Refusal::NotAnAddress(_) => ApiError::bad_request("INVALID_EMAIL", r.to_string()),
        Refusal::AlreadyMember { .. } => {
            ApiError::new(StatusCode::CONFLICT, "ALREADY_MEMBER", r.to_string())
        }
        Refusal::Mail(_) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "MAIL_FAILED",
            format!("{r}; nobody was invited, try again"),
        ),
    })?;
    let made = invitations::get(&state.db, &workspace.id, &invited.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("invitation {} vanished", invited.id))?;
    Ok((StatusCode::CREATED, Json(json!(made))))
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (workspace, _) = member(&state, &caller, &ws, Permission::WorkspaceManage).await?;
    if invitations::revoke(&state.db, &workspace.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "INVITATION_NOT_FOUND",
        format!("no pending invitation {id:?} in this workspace"),
    )
}

/// What a link's holder sees: the workspace, the role, who invited, and its state.
pub(crate) fn preview(i: &invitations::Invitation) -> Value {
    json!({
        "workspace": {"slug": i.workspace_slug, "name": i.workspace_name},
        "email": i.email, "role": i.role, "state": i.state,
        "invited_by": i.invited_by,
        "expires_at": validibot_types::clock::rfc3339(i.expires_at),
    })
}

/// `GET /invitations/{token}` (no sign-in: the token is the credential).
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let i = invitations::by_token(&state.db, &token)
        .await?
        .ok_or_else(unknown_link)?;
    Ok(Json(preview(&i)))
}

fn unknown_link() -> ApiError {
    ApiError::not_found("INVITATION_NOT_FOUND", "this invitation link is not valid")
}

/// An acceptance refused, as the API answers it.
pub(crate) fn refused(r: AcceptRefusal) -> ApiError {
    match r {
        AcceptRefusal::NotPending => {
            ApiError::new(StatusCode::GONE, "INVITATION_NOT_PENDING", r.to_string())
        }
        AcceptRefusal::BadUsername(_) => ApiError::bad_request("INVALID_USERNAME", r.to_string()),
        AcceptRefusal::UsernameTaken(_) => {
            ApiError::new(StatusCode::CONFLICT, "USERNAME_TAKEN", r.to_string())
        }
        AcceptRefusal::WeakPassword(_) => ApiError::bad_request("WEAK_PASSWORD", r.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    pub username: String,
    pub password: String,
}

/// `POST /invitations/{token}/signup`: a new account with the invited address.
pub async fn signup(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    body: Result<Json<Signup>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let (user, i) = sign_up(&state, &token, &req).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"username": user.username, "workspace": {"slug": i.workspace_slug, "name": i.workspace_name}, "role": i.role}),
        ),
    ))
}

/// Creates the invitee's account (the API's and the web page's one path), within the
/// license's seats.
pub(crate) async fn sign_up(
    state: &AppState,
    token: &str,
    req: &Signup,
) -> Result<
    (
        validibot_store::accounts::directory::User,
        invitations::Invitation,
    ),
    ApiError,
> {
    super::workspaces::admit(state, None).await?;
    invite::accept_new(&state.db, token, &req.username, &req.password)
        .await?
        .map_err(refused)
}

/// `POST /invitations/{token}/accept`: the signed-in caller joins the workspace.
pub async fn accept(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let i = join(&state, &caller.0, &token).await?;
    Ok(Json(
        json!({"username": caller.0.username, "workspace": {"slug": i.workspace_slug, "name": i.workspace_name}, "role": i.role}),
    ))
}

/// Adds an existing account (the API's and the web page's one path).
pub(crate) async fn join(
    state: &AppState,
    user: &validibot_store::accounts::directory::User,
    token: &str,
) -> Result<invitations::Invitation, ApiError> {
    super::workspaces::admit(state, Some(&user.id)).await?;
    invite::accept_existing(&state.db, token, user)
        .await?
        .map_err(refused)
}
