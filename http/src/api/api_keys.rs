//! `/api/v1/api-keys`: the caller's own API keys (list, create — the token is shown
//! once — and revoke).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::{ApiError, AppState};
use validibot_store::accounts::api_keys::MAX_EXPIRY_DAYS;
use validibot_store::accounts::directory;
use validibot_types::clock::now_us;

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let keys = directory::api_keys_of(&state.db, &caller.0.id).await?;
    Ok(Json(json!({"results": keys})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    name: String,
    expires_in_days: Option<u32>,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<NewKey>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(new) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request(
            "INVALID_NAME",
            "a key's name is 1 to 100 characters",
        ));
    }
    let expires_at = match new.expires_in_days {
        None => None,
        Some(days @ 1..=MAX_EXPIRY_DAYS) => Some(now_us() + i64::from(days) * 86_400_000_000),
        Some(_) => {
            return Err(ApiError::bad_request(
                "INVALID_EXPIRY",
                format!(
                    "expires_in_days is 1 to {MAX_EXPIRY_DAYS} (omit it for a key that does not expire)"
                ),
            ))
        }
    };
    // A key may not mint a key that outlives itself (a stolen short-lived key would
    // otherwise turn into a permanent one).
    if let Some(limit) = caller.2 {
        if expires_at.is_none_or(|e| e > limit) {
            return Err(ApiError::bad_request(
                "INVALID_EXPIRY",
                format!(
                    "this request's API key expires at {}; a key it creates must expire no later",
                    validibot_types::clock::rfc3339(limit)
                ),
            ));
        }
    }
    let key =
        directory::create_api_key(&state.db, &state.secret, &caller.0.id, name, expires_at).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"public_id": key.public_id, "name": name, "token": key.token,
                    "expires_at": expires_at.map(validibot_types::clock::rfc3339)}),
        ),
    ))
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(public_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if directory::revoke_own_api_key(&state.db, &caller.0.id, &public_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "API_KEY_NOT_FOUND",
            format!("no active API key {public_id:?} of yours"),
        ))
    }
}
