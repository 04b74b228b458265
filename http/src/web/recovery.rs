//! Forgotten passwords: ask for a reset link by username or address, then set a new
//! password on the link's page. Both pages work signed out and without script.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout;
use super::session::same_site;
use crate::api::account::{ask_for_reset, redeem, RESET_ANSWER};
use crate::auth::client_address;
use crate::{ApiError, AppState};
use validibot_store::accounts::passwords::MIN_LENGTH;
use validibot_store::accounts::recovery;

fn card(title: &str, body: Markup) -> String {
    layout::page(title, None, None, html! { section.card.narrow { (body) } }).into_string()
}

fn request_form(message: Option<(&str, bool)>) -> String {
    card(
        "Reset your password",
        html! {
            h1 { "Reset your password" }
            @match message {
                Some((m, true)) => p.error role="alert" id="reset-error" { (m) },
                Some((m, false)) => p.notice role="status" id="reset-sent" { (m) },
                None => p { "Give your username or your email address: a link to choose a new password is mailed to the address on the account." },
            }
            form method="post" action="/ui/password-reset" {
                label for="account" { "Username or email address" }
                input id="account" name="account" required autocomplete="username" maxlength="254";
                button.primary type="submit" { "Mail me a link" }
            }
            p { a href="/ui/login" { "Back to sign in" } }
        },
    )
}

pub async fn request_page(State(state): State<Arc<AppState>>) -> Response {
    if state.mailer.is_none() {
        return no_mail();
    }
    Html(request_form(None)).into_response()
}

/// Without SMTP, only an operator can set a password.
fn no_mail() -> Response {
    let page = card(
        "Reset your password",
        html! {
            h1 { "Reset your password" }
            p id="reset-off" { "This instance sends no mail, so passwords cannot be reset by mail. Ask an administrator: they set passwords with " code { "validibot admin set-password" } "." }
            p { a href="/ui/login" { "Back to sign in" } }
        },
    );
    (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
}

#[derive(Deserialize)]
pub struct RequestForm {
    account: String,
}

pub async fn request(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<RequestForm>,
) -> Result<Response, ApiError> {
    same_site(&headers)?;
    if state.mailer.is_none() {
        return Ok(no_mail());
    }
    let client = client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
    Ok(match ask_for_reset(&state, &client, &f.account).await? {
        Ok(()) => {
            // Who asked is not known (and the answer does not say whether the account
            // exists); the address is what there is.
            let event = crate::audit::web_event(
                "requestPasswordReset",
                "anonymous",
                None,
                client.clone(),
                serde_json::json!({"route": "/ui/password-reset"}),
            );
            crate::audit::record(&state, event).await;
            let sent = format!(
                "{}{}.",
                RESET_ANSWER[..1].to_uppercase(),
                &RESET_ANSWER[1..]
            );
            Html(request_form(Some((&sent, false)))).into_response()
        }
        Err(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.to_string())],
            Html(request_form(Some((
                &format!("Too many requests. Try again in {wait} s."),
                true,
            )))),
        )
            .into_response(),
    })
}

fn reset_form(token: &str, username: &str, error: Option<&str>) -> String {
    card(
        "Choose a new password",
        html! {
            h1 { "Choose a new password" }
            p { "For the account " strong { (username) } ". Every session of the account ends when it is set." }
            @if let Some(e) = error { p.error role="alert" id="reset-error" { (e) } }
            form method="post" action={"/ui/password-reset/" (token)} {
                input type="text" name="username" value=(username) autocomplete="username" hidden;
                label for="new-password" { "New password (at least " (MIN_LENGTH) " characters)" }
                input id="new-password" name="password" type="password" required autocomplete="new-password" minlength=(MIN_LENGTH);
                label for="repeat-password" { "New password again" }
                input id="repeat-password" name="repeat" type="password" required autocomplete="new-password";
                button.primary type="submit" { "Set password" }
            }
        },
    )
}

fn link_not_good() -> Response {
    let page = card(
        "Reset link",
        html! {
            h1 { "Reset link" }
            p.error role="alert" id="reset-error" { "This reset link was used already, has expired or is not valid." }
            p { a href="/ui/password-reset" { "Ask for a new link" } }
        },
    );
    (StatusCode::GONE, Html(page)).into_response()
}

pub async fn reset_page(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    Ok(match recovery::holder(&state.db, &token).await? {
        Some(user) => Html(reset_form(&token, &user.username, None)).into_response(),
        None => link_not_good(),
    })
}

#[derive(Deserialize)]
pub struct ResetForm {
    password: String,
    repeat: String,
}

pub async fn reset(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<ResetForm>,
) -> Result<Response, ApiError> {
    same_site(&headers)?;
    let Some(user) = recovery::holder(&state.db, &token).await? else {
        return Ok(link_not_good());
    };
    if f.password != f.repeat {
        let page = reset_form(&token, &user.username, Some("The passwords differ."));
        return Ok((StatusCode::BAD_REQUEST, Html(page)).into_response());
    }
    Ok(match redeem(&state, &token, &f.password).await {
        Ok(_) => {
            let client = client_address(&state, &headers, peer.map(|Extension(ConnectInfo(a))| a));
            let who = Some((user.id.as_str(), user.username.as_str()));
            let event = crate::audit::web_event(
                "resetPassword",
                "anonymous",
                who,
                client,
                serde_json::json!({"route": "/ui/password-reset/{token}"}),
            );
            crate::audit::record(&state, event).await;
            Redirect::to("/ui/login?reset=1").into_response()
        }
        Err(e) if e.status == StatusCode::GONE => link_not_good(),
        Err(e) if e.status.is_client_error() => {
            let page = reset_form(&token, &user.username, Some(&e.detail));
            (e.status, Html(page)).into_response()
        }
        Err(e) => return Err(e),
    })
}
