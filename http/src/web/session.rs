//! Signing in and out. The session cookie is HttpOnly and SameSite=Lax, and Secure as
//! `--secure-cookies` says; forms that change state carry the session's CSRF token.
//! Failed sign-ins are throttled per account and per client address (`throttle`).
//! A user with a second factor gives its code on a second page (`second_factor`).

use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::layout;
use super::WebUser;
use crate::audit;
use crate::auth::{cookie, session_cookie, SESSION_COOKIE};
use crate::{ApiError, AppState};
use validibot_store::accounts::{directory, mfa, passwords, sessions, throttle};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
    /// Set after a password reset: the page says it worked.
    reset: Option<String>,
}

/// Only same-site paths, so `?next=` cannot send a user elsewhere.
pub(super) fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with("/ui") && !n.starts_with("//"))
        .unwrap_or("/ui")
}

fn login_form(state: &AppState, next: &str, error: Option<&str>, username: &str) -> String {
    login_page_with(state, next, error, None, username)
}

/// The sign-in page: the password form, and a button for each OpenID provider.
pub(super) fn login_page_with(
    state: &AppState,
    next: &str,
    error: Option<&str>,
    notice: Option<&str>,
    username: &str,
) -> String {
    let mail = state.mailer.is_some();
    let providers = sso_buttons(state);
    layout::page(
        "Sign in",
        None,
        None,
        html! {
            section.card.narrow {
                h1 { "Sign in" }
                @if let Some(e) = error { p.error role="alert" id="login-error" { (e) } }
                @if let Some(n) = notice { p.notice role="status" id="login-notice" { (n) } }
                form method="post" action="/ui/login" {
                    input type="hidden" name="next" value=(next);
                    label for="username" { "Username" }
                    input id="username" name="username" autocomplete="username" required value=(username);
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                    button.primary type="submit" { "Sign in" }
                }
                @if !providers.is_empty() {
                    div.sso {
                        p.hint { "Or sign in with" }
                        @for (id, name) in &providers {
                            a.button id={"sso-" (id)} href={"/ui/sso/" (id) "/start?next=" (super::url_encode(next))} { (name) }
                        }
                    }
                }
                @if mail {
                    p { a href="/ui/password-reset" id="forgot-password" { "Forgot your password?" } }
                } @else {
                    p.hint { "An administrator sets passwords with " code { "validibot admin set-password" } "." }
                }
            }
        },
    )
    .into_string()
}

pub async fn login_page(State(state): State<Arc<AppState>>, Query(q): Query<Next>) -> Html<String> {
    let notice = q
        .reset
        .is_some()
        .then_some("Your password was changed. Sign in with the new one.");
    Html(login_page_with(
        &state,
        safe_next(q.next.as_deref()),
        None,
        notice,
        "",
    ))
}

/// `(id, name)` of each OpenID provider, for the sign-in page's buttons.
fn sso_buttons(state: &AppState) -> Vec<(&str, &str)> {
    state
        .sso
        .as_deref()
        .map(validibot_services::accounts::sso::Sso::buttons)
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    same_site(&headers)?;
    let client =
        crate::auth::client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
    let account = throttle::Subject::account(&form.username);
    let subjects = [account.clone(), throttle::Subject::client(&client)];
    // A throttled subject is answered before any password hash is computed. What was
    // typed is never logged: a password typed into the username field would be.
    let wait = throttle::wait_seconds(&state.db, &subjects).await?;
    if wait > 0 {
        tracing::info!(%client, wait, "web sign-in throttled");
        let page = login_form(
            &state,
            &next,
            Some(&format!("Too many failed sign-ins. Try again in {wait} s.")),
            "",
        );
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.to_string())],
            Html(page),
        )
            .into_response());
    }
    let Some(user) = passwords::check(&state.db, form.username.trim(), &form.password).await?
    else {
        throttle::failed(&state.db, &subjects).await?;
        tracing::info!(%client, "web sign-in refused");
        // The account is named only when it exists: a password typed into the username
        // field is never recorded.
        let known = directory::find_user(&state.db, form.username.trim()).await?;
        let known = known.as_ref().map(|u| (u.id.as_str(), u.username.as_str()));
        let event = audit::web_event(
            "signInFailed",
            "anonymous",
            known,
            client,
            json!({"step": "password"}),
        );
        audit::record(&state, event).await;
        let page = login_form(
            &state,
            &next,
            Some("Wrong username or password."),
            &form.username,
        );
        return Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response());
    };
    if mfa::enabled(&state.db, &user.id).await? {
        // The account's failures are cleared only once the code is right too: a known
        // password must not reset the count of guessed codes.
        let token = mfa::challenge(&state.db, &user.id).await?;
        let cookie = set_cookie(
            MFA_COOKIE,
            &token,
            "/ui/login",
            mfa::CHALLENGE_LIFETIME_US / 1_000_000,
            secure(&state, &headers),
        );
        return Ok(([(header::SET_COOKIE, cookie)], Html(code_form(&next, None))).into_response());
    }
    throttle::succeeded(&state.db, &account).await?;
    let who = Some((user.id.as_str(), user.username.as_str()));
    let event = audit::web_event(
        "signIn",
        "session",
        who,
        client,
        json!({"second_factor": false}),
    );
    audit::record(&state, event).await;
    signed_in(
        &state,
        &headers,
        &user.id,
        &next,
        &sessions::Origin::Password,
    )
    .await
}

/// The cookie that carries a sign-in between a right password and its code.
const MFA_COOKIE: &str = "validibot_mfa";

fn code_form(next: &str, error: Option<&str>) -> String {
    layout::page(
        "Two-factor authentication",
        None,
        None,
        html! {
            section.card.narrow {
                h1 { "Two-factor authentication" }
                @if let Some(e) = error { p.error role="alert" id="login-error" { (e) } }
                form method="post" action="/ui/login/code" {
                    input type="hidden" name="next" value=(next);
                    label for="code" { "Code from your authenticator app" }
                    input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus;
                    p.hint { "Lost your device? Type one of your recovery codes instead." }
                    button.primary type="submit" { "Verify" }
                }
                p { a href="/ui/login" { "Start again" } }
            }
        },
    )
    .into_string()
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    next: Option<String>,
}

/// `POST /ui/login/code`: the second step of a password sign-in. Wrong codes count
/// against the account and the client address like wrong passwords, and a challenge
/// takes only a few before the password must be typed again.
pub async fn second_factor(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, ApiError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    same_site(&headers)?;
    let expired = || {
        let page = login_form(
            &state,
            &next,
            Some("That sign-in expired. Sign in again."),
            "",
        );
        Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response())
    };
    let Some(token) = cookie(&headers, MFA_COOKIE) else {
        return expired();
    };
    let Some(user) = mfa::challenged(&state.db, token).await? else {
        return expired();
    };
    let client =
        crate::auth::client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
    let account = throttle::Subject::account(&user.username);
    let subjects = [account.clone(), throttle::Subject::client(&client)];
    let wait = throttle::wait_seconds(&state.db, &subjects).await?;
    if wait > 0 {
        tracing::info!(%client, wait, "second factor throttled");
        let page = code_form(
            &next,
            Some(&format!("Too many wrong codes. Try again in {wait} s.")),
        );
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.to_string())],
            Html(page),
        )
            .into_response());
    }
    if mfa::verify(&state.db, &user, &form.code).await?.is_none() {
        mfa::challenge_failed(&state.db, token).await?;
        throttle::failed(&state.db, &subjects).await?;
        tracing::info!(%client, "second factor refused");
        let who = Some((user.id.as_str(), user.username.as_str()));
        let event = audit::web_event(
            "signInFailed",
            "anonymous",
            who,
            client,
            json!({"step": "second_factor"}),
        );
        audit::record(&state, event).await;
        let page = code_form(&next, Some("Wrong or already used code."));
        return Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response());
    }
    if !mfa::challenge_passed(&state.db, token).await? {
        return expired();
    }
    throttle::succeeded(&state.db, &account).await?;
    let who = Some((user.id.as_str(), user.username.as_str()));
    let event = audit::web_event(
        "signIn",
        "session",
        who,
        client,
        json!({"second_factor": true}),
    );
    audit::record(&state, event).await;
    let mut response = signed_in(
        &state,
        &headers,
        &user.id,
        &next,
        &sessions::Origin::Password,
    )
    .await?;
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(MFA_COOKIE, "/ui/login"));
    Ok(response)
}

/// Login CSRF: a form posted signed out (sign-in, sign-up, password reset) from another
/// site carries that site's Origin; an opaque origin (`null`: sandboxed frames, data:
/// URLs) is never this site.
pub(super) fn same_site(headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let origin_host = origin.split("://").nth(1);
        if origin == "null" || origin_host != host {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "CSRF_FAILED",
                "a form posted from another site",
            ));
        }
    }
    Ok(())
}

/// Starts a session for the user and sends them on to `next` with its cookie.
pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &validibot_types::ids::UserId,
    next: &str,
    origin: &sessions::Origin,
) -> Result<Response, ApiError> {
    let session = sessions::create(&state.db, user_id, origin).await?;
    let cookie = set_cookie(
        SESSION_COOKIE,
        &session.token,
        "/",
        sessions::LIFETIME_US / 1_000_000,
        secure(state, headers),
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response())
}

/// A `Set-Cookie` value for one of the UI's cookies: HttpOnly (no script reads it),
/// SameSite=Lax, and `Secure` when the site is served over HTTPS.
pub(super) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_seconds: i64,
    secure: bool,
) -> header::HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    header::HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}"
    ))
    .expect("cookie names and random tokens are ASCII")
}

/// The `Set-Cookie` value that removes one of the UI's cookies.
pub(super) fn clear_cookie(name: &str, path: &str) -> header::HeaderValue {
    header::HeaderValue::from_str(&format!(
        "{name}=; Path={path}; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .expect("cookie names are ASCII")
}

/// Whether cookies get `Secure`: as configured, else when the proxy says it was HTTPS.
pub(super) fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings.secure_cookies.unwrap_or_else(|| {
        headers
            .get("x-forwarded-proto")
            .is_some_and(|p| p.as_bytes() == b"https")
    })
}

/// The signed-in user of a page anyone may open, if a session is there.
pub(super) async fn optional_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(directory::User, String)>, ApiError> {
    let Some(token) = session_cookie(headers) else {
        return Ok(None);
    };
    Ok(sessions::authenticate(&state.db, token, None)
        .await?
        .map(|s| (s.auth.user, s.csrf)))
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

pub async fn logout(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, ApiError> {
    use subtle::ConstantTimeEq;
    if !bool::from(form.csrf.as_bytes().ct_eq(user.csrf.as_bytes())) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "CSRF_FAILED",
            "stale form; reload the page",
        ));
    }
    if let Some(token) = session_cookie(&headers) {
        sessions::end(&state.db, token).await?;
    }
    let client =
        crate::auth::client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
    let who = Some((user.user.id.as_str(), user.user.username.as_str()));
    audit::record(
        &state,
        audit::web_event("signOut", user.via.as_str(), who, client, json!({})),
    )
    .await;
    let clear = clear_cookie(SESSION_COOKIE, "/");
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/ui/login")).into_response())
}

/// `/ui`: the user's first workspace (the default one if they belong to it).
pub async fn home(State(state): State<Arc<AppState>>, user: WebUser) -> Result<Response, ApiError> {
    let workspaces = directory::workspaces_of(&state.db, &user.user.id).await?;
    let first = workspaces
        .iter()
        .find(|(w, _)| w.is_default)
        .or(workspaces.first());
    Ok(match first {
        Some((w, _)) => Redirect::to(&format!("/ui/w/{}", w.slug)).into_response(),
        None => Html(
            layout::page(
                "No workspace",
                Some(&user),
                None,
                html! { h1 { "No workspace yet" } p { "Ask an administrator to add you to a workspace." } },
            )
            .into_string(),
        )
        .into_response(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(super::safe_next(Some("/ui/w/default")), "/ui/w/default");
        assert_eq!(super::safe_next(Some("https://evil.example/ui")), "/ui");
        assert_eq!(super::safe_next(Some("//evil.example")), "/ui");
        assert_eq!(super::safe_next(None), "/ui");
    }
}
