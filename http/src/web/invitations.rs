//! An invitation link's page: who invited whom into which workspace, then either a
//! new account (username and password; the invited address becomes its email) or, for
//! a signed-in user, one button to join. Works without script.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout;
use super::session::{optional_user, same_site, signed_in};
use crate::api::invitations::{join, sign_up, Signup};
use crate::audit;
use crate::{ApiError, AppState};
use validibot_store::accounts::invitations::{self, Invitation, State as InvitationState};
use validibot_store::accounts::passwords::MIN_LENGTH;

pub async fn page(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(invitation) = invitations::by_token(&state.db, &token).await? else {
        return Ok(not_good(None));
    };
    if invitation.state != InvitationState::Pending {
        return Ok(not_good(Some(&invitation)));
    }
    let user = optional_user(&state, &headers).await?;
    Ok(Html(form(&token, &invitation, user.as_ref(), None, "").into_string()).into_response())
}

/// The page of a link found used up while it was being used (its state read again).
async fn gone(state: &AppState, token: &str) -> Result<Response, ApiError> {
    Ok(not_good(
        invitations::by_token(&state.db, token).await?.as_ref(),
    ))
}

/// A link that cannot be used (any more), and why.
fn not_good(invitation: Option<&Invitation>) -> Response {
    let why = match invitation.map(|i| i.state) {
        None => "This invitation link is not valid. Check that it was copied whole.",
        Some(InvitationState::Accepted) => "This invitation was accepted already. Sign in to reach the workspace.",
        Some(InvitationState::Revoked) => "This invitation was withdrawn, or replaced by a newer one: use the link in the newest mail, or ask for a new invitation.",
        Some(_) => "This invitation has expired. Ask whoever invited you for a new one.",
    };
    let status = if invitation.is_some() {
        StatusCode::GONE
    } else {
        StatusCode::NOT_FOUND
    };
    let body = html! {
        section.card.narrow {
            h1 { "Invitation" }
            p.error role="alert" id="invitation-error" { (why) }
            p { a href="/ui/login" { "Sign in" } }
        }
    };
    (
        status,
        Html(layout::page("Invitation", None, None, body).into_string()),
    )
        .into_response()
}

fn form(
    token: &str,
    i: &Invitation,
    user: Option<&(validibot_store::accounts::directory::User, String)>,
    error: Option<&str>,
    username: &str,
) -> Markup {
    let action = format!("/ui/invitations/{token}");
    let suggested = if username.is_empty() {
        i.email.split('@').next().unwrap_or_default()
    } else {
        username
    };
    let body = html! {
        section.card.narrow id="invitation" {
            h1 { "Join " (i.workspace_name) }
            p {
                (i.invited_by.as_deref().unwrap_or("An administrator")) " invited "
                strong { (i.email) } " to the workspace " strong { (i.workspace_name) }
                " as " strong { (i.role.as_str()) } "."
            }
            p.muted { (i.role.summary()) }
            @if let Some(e) = error { p.error role="alert" id="invitation-error" { (e) } }
            @if let Some((user, csrf)) = user {
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    button.primary type="submit" id="accept-invitation" { "Join as " (user.username) }
                }
                p.hint { "Not " (user.username) "? Sign out, then open the link again." }
            } @else {
                h2 { "Create your account" }
                form method="post" action=(action) id="signup-form" {
                    label for="username" { "Username" }
                    input id="username" name="username" required autocomplete="username" value=(suggested) maxlength="150" pattern="[A-Za-z0-9._@\\-]+";
                    label for="password" { "Password (at least " (MIN_LENGTH) " characters)" }
                    input id="password" name="password" type="password" required autocomplete="new-password" minlength=(MIN_LENGTH);
                    label for="repeat" { "Password again" }
                    input id="repeat" name="repeat" type="password" required autocomplete="new-password";
                    button.primary type="submit" { "Create account and join" }
                }
                p { "Have an account already? "
                    a href={"/ui/login?next=" (action)} id="sign-in-to-accept" { "Sign in to accept" } }
            }
        }
    };
    layout::page("Invitation", None, None, body)
}

#[derive(Deserialize)]
pub struct AcceptForm {
    csrf: Option<String>,
    username: Option<String>,
    password: Option<String>,
    repeat: Option<String>,
}

pub async fn submit(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<AcceptForm>,
) -> Result<Response, ApiError> {
    same_site(&headers)?;
    let client =
        crate::auth::client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
    // The same events as the API's operations (the audit middleware records those).
    let joined = |action: &str, user: &validibot_store::accounts::directory::User, ws: &str| {
        let mut event = audit::web_event(
            action,
            "session",
            Some((user.id.as_str(), user.username.as_str())),
            client.clone(),
            serde_json::json!({"route": "/ui/invitations/{token}"}),
        );
        event.workspace = Some(ws.to_owned());
        event.status = Some(200);
        event
    };
    let Some(invitation) = invitations::by_token(&state.db, &token).await? else {
        return Ok(not_good(None));
    };
    if let Some((user, csrf)) = optional_user(&state, &headers).await? {
        use subtle::ConstantTimeEq;
        let given = f.csrf.unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(csrf.as_bytes())) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "CSRF_FAILED",
                "stale form; reload the page",
            ));
        }
        return Ok(match join(&state, &user, &token).await {
            Ok(i) => {
                audit::record(&state, joined("acceptInvitation", &user, &i.workspace_slug)).await;
                Redirect::to(&format!("/ui/w/{}", i.workspace_slug)).into_response()
            }
            Err(e) if e.status == StatusCode::GONE => gone(&state, &token).await?,
            Err(e) => return Err(e),
        });
    }
    let signup = Signup {
        username: f.username.unwrap_or_default(),
        password: f.password.unwrap_or_default(),
    };
    let again = |status: StatusCode, detail: &str| {
        let page = form(&token, &invitation, None, Some(detail), &signup.username);
        (status, Html(page.into_string())).into_response()
    };
    if f.repeat.as_deref() != Some(signup.password.as_str()) {
        return Ok(again(StatusCode::BAD_REQUEST, "The passwords differ."));
    }
    match sign_up(&state, &token, &signup).await {
        Ok((user, i)) => {
            audit::record(
                &state,
                joined("signUpWithInvitation", &user, &i.workspace_slug),
            )
            .await;
            signed_in(
                &state,
                &headers,
                &user.id,
                &format!("/ui/w/{}", i.workspace_slug),
                &validibot_store::accounts::sessions::Origin::Password,
            )
            .await
        }
        Err(e) if e.status == StatusCode::GONE => gone(&state, &token).await,
        Err(e) if e.status.is_client_error() => Ok(again(e.status, &e.detail)),
        Err(e) => Err(e),
    }
}
