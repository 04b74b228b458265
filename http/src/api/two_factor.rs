//! `/api/v1/account/two-factor`: the caller's second factor for password sign-ins.
//! Turning it on asks for the password, then a code from the new secret (a mistyped
//! scan cannot lock anyone out); turning it off asks for the password and a code. Wrong
//! passwords and codes are throttled like sign-ins.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{request_client, Caller};
use crate::{ApiError, AppState};
use validibot_store::accounts::{mfa, passwords, throttle};

fn status_json(status: mfa::Status) -> serde_json::Value {
    json!({"enabled": status.enabled, "recovery_codes_left": status.recovery_codes_left})
}

/// `GET`: whether it is on, and how many recovery codes are left.
pub async fn status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(status_json(
        mfa::status(&state.db, &caller.0.id).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Begin {
    password: String,
}

/// `POST`: a new pending secret, as base32, an `otpauth://` URI and its QR code (SVG).
pub async fn begin(
    State(state): State<Arc<AppState>>,
    guard: Guard,
    body: Result<Json<Begin>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    guard.password(&state, &req.password).await?;
    let Some(enrolment) = mfa::begin(&state.db, &guard.caller.0).await? else {
        return Err(already_on());
    };
    Ok(Json(json!({
        "secret": enrolment.secret,
        "otpauth_uri": enrolment.otpauth_uri,
        "qr_svg": qr_svg(&enrolment.otpauth_uri),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

/// `POST /confirm`: a code from the pending secret turns it on; the recovery codes,
/// shown this once.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    guard: Guard,
    body: Result<Json<Code>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let user = &guard.caller.0;
    if mfa::enabled(&state.db, &user.id).await? {
        return Err(already_on());
    }
    match mfa::confirm(&state.db, user, &req.code).await? {
        Some(codes) => Ok(Json(json!({"recovery_codes": codes})).into_response()),
        None => {
            guard.failed(&state).await?;
            Err(wrong_code(
                "wrong code, or no set-up pending (start it again)",
            ))
        }
    }
}

/// `POST /recovery-codes`: new recovery codes for a code (the old ones stop working).
pub async fn recovery_codes(
    State(state): State<Arc<AppState>>,
    guard: Guard,
    body: Result<Json<Code>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    guard.code(&state, &req.code).await?;
    let codes = mfa::regenerate_recovery_codes(&state.db, &guard.caller.0.id).await?;
    Ok(Json(json!({"recovery_codes": codes})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disable {
    password: String,
    code: String,
}

/// `POST /disable`: turns it off with the password and a code (or a recovery code).
pub async fn disable(
    State(state): State<Arc<AppState>>,
    guard: Guard,
    body: Result<Json<Disable>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    guard.password(&state, &req.password).await?;
    guard.code(&state, &req.code).await?;
    mfa::disable(&state.db, &guard.caller.0.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The caller of a request that checks a password or a code, answered 429 before any
/// check while their account or client address is throttled (as at sign-in).
pub struct Guard {
    caller: Caller,
    subjects: [throttle::Subject; 2],
}

impl FromRequestParts<Arc<AppState>> for Guard {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let client = request_client(state, &parts.headers, &parts.extensions);
        let subjects = [
            throttle::Subject::account(&caller.0.username),
            throttle::Subject::client(&client),
        ];
        let wait = throttle::wait_seconds(&state.db, &subjects)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        if wait > 0 {
            return Err(ApiError::rate_limited(
                wait,
                "too many wrong passwords or codes",
            ));
        }
        Ok(Guard { caller, subjects })
    }
}

impl Guard {
    async fn failed(&self, state: &AppState) -> Result<(), ApiError> {
        Ok(throttle::failed(&state.db, &self.subjects).await?)
    }

    async fn password(&self, state: &AppState, password: &str) -> Result<(), ApiError> {
        let user = &self.caller.0;
        if passwords::check(&state.db, &user.username, password)
            .await?
            .is_none()
        {
            self.failed(state).await?;
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "WRONG_PASSWORD",
                "the password is wrong (two-factor authentication guards password sign-ins, so the account needs one)",
            ));
        }
        Ok(())
    }

    async fn code(&self, state: &AppState, code: &str) -> Result<(), ApiError> {
        let user = &self.caller.0;
        if !mfa::enabled(&state.db, &user.id).await? {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "MFA_NOT_ENABLED",
                "two-factor authentication is not on",
            ));
        }
        if mfa::verify(&state.db, user, code).await?.is_none() {
            self.failed(state).await?;
            return Err(wrong_code("wrong or already used code"));
        }
        Ok(())
    }
}

fn already_on() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "MFA_ALREADY_ENABLED",
        "two-factor authentication is already on; turn it off first to use a new device",
    )
}

fn wrong_code(detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "WRONG_CODE", detail)
}

/// The QR code of an `otpauth://` URI, as an SVG document for the page to show.
fn qr_svg(uri: &str) -> String {
    use qrcode::render::svg;
    qrcode::QrCode::new(uri.as_bytes())
        .map(|qr| {
            qr.render::<svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}
