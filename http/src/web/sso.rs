//! Signing in through an OpenID provider: `/ui/sso/{provider}/start` sends the browser
//! to the provider with a state that a short-lived cookie also carries; the provider
//! sends it back to `/ui/sso/{provider}/callback`, where the sign-in is verified and
//! becomes a session (`validibot_services::accounts::sso` decides which account).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use validibot_services::accounts::sso::{Answer, Refusal};
use validibot_store::accounts::sessions::Origin;
use validibot_store::accounts::sso::{MembershipChange, LOGIN_LIFETIME_US};

use super::session::{clear_cookie, login_page_with, safe_next, secure, set_cookie, signed_in};
use crate::audit;
use crate::auth::cookie;
use crate::{ApiError, AppState};

/// Carries the state from the start to the callback: HttpOnly, SameSite=Lax (the
/// provider's redirect back is a top-level GET, which Lax lets through).
const STATE_COOKIE: &str = "validibot_sso";
/// Sent only to the sign-in's own two pages.
const STATE_PATH: &str = "/ui/sso";

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /ui/sso/{provider}/start`: on to the provider.
pub async fn start(
    State(state): State<Arc<AppState>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Result<Response, ApiError> {
    let next = safe_next(q.next.as_deref()).to_owned();
    let Some(sso) = &state.sso else {
        return Ok(refused(
            &state,
            StatusCode::NOT_FOUND,
            "single sign-on is not configured",
        ));
    };
    match sso.start(&state.db, &provider, &next).await? {
        Ok(started) => {
            let cookie = set_cookie(
                STATE_COOKIE,
                &started.state,
                STATE_PATH,
                LOGIN_LIFETIME_US / 1_000_000,
                secure(&state, &headers),
            );
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&started.url)).into_response())
        }
        Err(refusal) => {
            tracing::warn!(provider, error = %refusal, "single sign-on could not start");
            Ok(refused(&state, status_of(&refusal), &refusal.to_string()))
        }
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

/// `GET /ui/sso/{provider}/callback`: the provider's answer.
pub async fn callback(
    State(state): State<Arc<AppState>>,
    Path(provider): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let client =
        crate::auth::client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
    let Some(sso) = &state.sso else {
        return Ok(refused(
            &state,
            StatusCode::NOT_FOUND,
            "single sign-on is not configured",
        ));
    };
    let error = q.error.as_deref().map(|e| match &q.error_description {
        Some(d) => format!("{e} ({d})"),
        None => e.to_owned(),
    });
    let answer = Answer {
        state: q.state.as_deref().unwrap_or_default(),
        cookie_state: cookie(&headers, STATE_COOKIE),
        code: q.code.as_deref(),
        error: error.as_deref(),
        issuer: q.iss.as_deref(),
    };
    let outcome = sso.finish(&state.db, &provider, answer).await?;
    let signed = match outcome {
        Ok(s) => s,
        Err(refusal) => {
            tracing::info!(provider, %client, error = %refusal, "single sign-on refused");
            let event = audit::web_event(
                "signInFailed",
                "anonymous",
                None,
                client,
                json!({"step": "sso", "provider": provider, "reason": refusal.to_string()}),
            );
            audit::record(&state, event).await;
            let mut page = refused(&state, status_of(&refusal), &refusal.to_string());
            page.headers_mut().append(header::SET_COOKIE, clear_state());
            return Ok(page);
        }
    };
    let memberships: Vec<_> = signed
        .memberships
        .iter()
        .map(|(ws, change)| json!({"workspace": ws, "change": describe(*change)}))
        .collect();
    let who = Some((signed.user.id.as_str(), signed.user.username.as_str()));
    let event = audit::web_event(
        "signIn",
        "sso",
        who,
        client,
        json!({
            "provider": signed.provider,
            "second_factor": signed.second_factor,
            "account": signed.linked.as_str(),
            "memberships": memberships,
        }),
    );
    audit::record(&state, event).await;
    let origin = Origin::Sso {
        provider: signed.provider.clone(),
        second_factor: signed.second_factor,
    };
    let mut response = signed_in(&state, &headers, &signed.user.id, &signed.next, &origin).await?;
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_state());
    Ok(response)
}

fn clear_state() -> header::HeaderValue {
    clear_cookie(STATE_COOKIE, STATE_PATH)
}

fn describe(change: MembershipChange) -> String {
    match change {
        MembershipChange::Added(r) => format!("added as {}", r.as_str()),
        MembershipChange::Changed { from, to } => {
            format!("{} → {}", from.as_str(), to.as_str())
        }
        MembershipChange::Removed(r) => format!("removed (was {})", r.as_str()),
        MembershipChange::KeptLastOwner => "kept: last owner".into(),
    }
}

fn status_of(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::UnknownProvider(_) => StatusCode::NOT_FOUND,
        Refusal::Protocol(_) => StatusCode::BAD_GATEWAY,
        Refusal::Expired | Refusal::ProviderRefused(_) => StatusCode::UNAUTHORIZED,
        Refusal::Disabled | Refusal::NoAccount(_) | Refusal::Ambiguous(_) => StatusCode::FORBIDDEN,
    }
}

/// The sign-in page again, saying why.
fn refused(state: &AppState, status: StatusCode, why: &str) -> Response {
    let page = login_page_with(
        state,
        "/ui",
        Some(&format!("Single sign-on failed: {why}.")),
        None,
        "",
    );
    (status, Html(page)).into_response()
}
