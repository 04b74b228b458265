//! `/api/v1/account/password`: a signed-in user changes their own password. The current
//! password is asked for (a stolen session or key alone cannot take the account over),
//! wrong answers are throttled like sign-ins, and every other session ends.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use crate::auth::{client_address, session_cookie, Caller};
use crate::{ApiError, AppState};
use validibot_store::accounts::{passwords, throttle};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Json<PasswordChange>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(change) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    if let Some(why) = passwords::refusal(&change.new_password) {
        return Err(ApiError::bad_request("WEAK_PASSWORD", why));
    }
    if change.new_password == change.current_password {
        return Err(ApiError::bad_request(
            "WEAK_PASSWORD",
            "the new password is the current one",
        ));
    }
    let username = caller.0.username.clone();
    let client = client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
    let account = throttle::Subject::account(&username);
    let subjects = [account.clone(), throttle::Subject::client(&client)];
    let wait = throttle::wait_seconds(&state.db, &subjects).await?;
    if wait > 0 {
        return Ok(ApiError::rate_limited(wait, "too many wrong passwords"));
    }
    if passwords::check(&state.db, &username, &change.current_password)
        .await?
        .is_none()
    {
        throttle::failed(&state.db, &subjects).await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "WRONG_PASSWORD",
            "the current password is wrong (an account without one gets its first from an operator: validibot admin set-password)",
        ));
    }
    throttle::succeeded(&state.db, &account).await?;
    passwords::replace(
        &state.db,
        &caller.0.id,
        &change.new_password,
        session_cookie(&headers),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// A username or an email address.
    pub account: String,
}

/// `POST /password-reset`: mails a reset link to the account named, if there is one.
/// The answer is the same either way (202), and comes before any mail is sent, so
/// neither its content nor its timing tells whether the account exists. Requests are
/// throttled per account and per client address (a mailbox cannot be flooded).
pub async fn request_reset(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Json<ResetRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let client = client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
    Ok(match ask_for_reset(&state, &client, &req.account).await? {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"detail": RESET_ANSWER})),
        )
            .into_response(),
        Err(wait) => ApiError::rate_limited(wait, "too many password-reset requests"),
    })
}

/// What a reset request is answered, whether or not an account matched.
pub const RESET_ANSWER: &str =
    "if an account with that username or address exists, a reset link was mailed to it";

/// Starts a reset (the API's and the web page's one path): `Err(seconds)` when throttled.
pub(crate) async fn ask_for_reset(
    state: &AppState,
    client: &str,
    account: &str,
) -> Result<Result<(), u64>, ApiError> {
    let mailer = super::invitations::mailer(state)?;
    let subjects = [
        throttle::Subject::password_reset(account),
        throttle::Subject::password_reset_client(client),
    ];
    let wait = throttle::wait_seconds(&state.db, &subjects).await?;
    if wait > 0 {
        return Ok(Err(wait));
    }
    throttle::failed(&state.db, &subjects).await?;
    let (db, account, lifetimes) = (
        state.db.clone(),
        account.to_owned(),
        state.settings.link_lifetimes,
    );
    tokio::spawn(async move {
        if let Err(e) =
            validibot_services::accounts::recovery::send_links(&db, &mailer, &account, lifetimes)
                .await
        {
            tracing::error!("password reset: {e:#}");
        }
    });
    Ok(Ok(()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub new_password: String,
}

/// `POST /password-reset/{token}`: sets the password; every session of the account ends.
pub async fn reset(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(token): axum::extract::Path<String>,
    body: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let username = redeem(&state, &token, &req.new_password).await?;
    Ok(Json(serde_json::json!({"username": username})))
}

/// Redeems a reset link (the API's and the web page's one path).
pub(crate) async fn redeem(
    state: &AppState,
    token: &str,
    password: &str,
) -> Result<String, ApiError> {
    use validibot_services::accounts::recovery::{self, Refusal};
    recovery::reset(&state.db, token, password)
        .await?
        .map_err(|r| match r {
            Refusal::Weak(_) => ApiError::bad_request("WEAK_PASSWORD", r.to_string()),
            Refusal::LinkNotGood => {
                ApiError::new(StatusCode::GONE, "RESET_LINK_NOT_GOOD", r.to_string())
            }
        })
}
