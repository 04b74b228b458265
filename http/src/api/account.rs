//! `/api/v1/account/password`: a signed-in user changes their own password. The current
//! password is asked for (a stolen session or key alone cannot take the account over),
//! wrong answers are throttled like sign-ins, and every other session ends.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
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
        let refusal = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("too many wrong passwords; try again in {wait} s"),
        );
        return Ok(([(header::RETRY_AFTER, wait.to_string())], refusal).into_response());
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
