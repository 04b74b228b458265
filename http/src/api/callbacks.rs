//! `POST /api/v1/callbacks/{callback_id}`: where an asynchronous container step's agent
//! reports. Its bearer token (signed for this execution and this URL, short-lived) is its
//! only credential; `services::remote::callback` does the rest. Served by the API, and by
//! a worker's own listener ([`router`], `worker --callbacks-bind`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::AppState;
use crate::error::ApiError;
use validibot_services::remote::callback::{self, Answer, Body};
use validibot_services::remote::token::Refused;
use validibot_services::Services;

/// The route alone, on a worker's services: nothing else of the API is served there.
pub fn router(services: Services) -> Router {
    Router::new()
        .route(PATH, post(receive_on_worker))
        .with_state(services)
}

const PATH: &str = "/api/v1/callbacks/{callback_id}";

async fn receive_on_worker(
    State(services): State<Services>,
    Path(callback_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Body>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    answer(&services, callback_id, headers, body).await
}

pub async fn receive(
    State(state): State<Arc<AppState>>,
    Path(callback_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Body>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    answer(&state, callback_id, headers, body).await
}

async fn answer(
    state: &Services,
    callback_id: String,
    headers: HeaderMap,
    body: Result<Json<Body>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Json(body) = body.map_err(|e| ApiError::bad_request("INVALID_BODY", e.body_text()))?;
    let answer = callback::receive(state, &callback_id, bearer, body).await?;
    let accepted = |replay: bool| {
        let status = if replay {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        };
        Ok((
            status,
            Json(json!({"callback_id": callback_id, "replay": replay})),
        ))
    };
    match answer {
        Answer::Accepted => accepted(false),
        Answer::Replay => accepted(true),
        Answer::Late(why) => Err(ApiError::new(StatusCode::CONFLICT, "CALLBACK_LATE", why)),
        Answer::Unknown => Err(ApiError::not_found(
            "CALLBACK_UNKNOWN",
            "no execution has this callback id",
        )),
        Answer::NotConfigured => Err(ApiError::not_found(
            "CALLBACK_UNKNOWN",
            "this instance runs no asynchronous container steps",
        )),
        Answer::Refused(why) => Err(ApiError::unauthorized(match why {
            Refused::Malformed => "the callback token is missing or malformed",
            Refused::Expired => "the callback token has expired",
            Refused::BadSignature => "the callback token is not valid for this callback",
        })),
    }
}
