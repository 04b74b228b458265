//! `/ui/account/two-factor`: turning the second factor on (scan, confirm, keep the
//! recovery codes) and off, and new recovery codes. The page belongs to no workspace,
//! so a workspace that requires a second factor can send its members here. Its forms
//! call `/api/v1/account/two-factor` from the page's script.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, Response};
use maud::html;

use super::{error_page, layout, WebUser};
use crate::AppState;
use validibot_store::accounts::mfa;

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
) -> Result<Html<String>, Response> {
    let status = mfa::status(&state.db, &user.user.id)
        .await
        .map_err(|e| error_page(&user, e.into()))?;
    let required: Vec<&str> = user
        .workspaces
        .iter()
        .filter(|(w, _)| w.require_mfa)
        .map(|(w, _)| w.name.as_str())
        .collect();
    let body = html! {
        h1 { "Two-factor authentication" }
        @if !required.is_empty() && !status.enabled {
            p.notice role="status" id="mfa-required" {
                "Required by " (required.join(", ")) ": set it up to open " @if required.len() == 1 { "that workspace" } @else { "those workspaces" } "."
            }
        }
        section.card.narrow id="two-factor-setup" {
            @if status.enabled {
                p id="mfa-state" { strong { "On." } " Password sign-ins ask for a code from your authenticator app. "
                    (status.recovery_codes_left) " unused recovery codes left." }
                form id="recovery-codes-form" {
                    h2 { "New recovery codes" }
                    p.muted { "The old ones stop working." }
                    label for="recovery-code" { "Current code" }
                    input id="recovery-code" name="code" autocomplete="one-time-code" inputmode="numeric" required;
                    button type="submit" { "Make new recovery codes" }
                }
                form id="mfa-disable-form" {
                    h2 { "Turn it off" }
                    label for="disable-password" { "Password" }
                    input id="disable-password" name="password" type="password" autocomplete="current-password" required;
                    label for="disable-code" { "Code or recovery code" }
                    input id="disable-code" name="code" autocomplete="one-time-code" required;
                    button.danger type="submit" { "Turn off two-factor authentication" }
                }
            } @else {
                p id="mfa-state" { strong { "Off." } " Password sign-ins ask for nothing but the password." }
                form id="mfa-begin-form" {
                    p { "Use an authenticator app (any TOTP app: 1Password, Google Authenticator, Aegis, …)." }
                    label for="mfa-password" { "Your password" }
                    input id="mfa-password" name="password" type="password" autocomplete="current-password" required;
                    button.primary type="submit" { "Set up" }
                }
                form id="mfa-confirm-form" hidden {
                    p { "Scan this with your authenticator app, or type the key by hand." }
                    div id="mfa-qr" {}
                    p { "Key: " code id="mfa-secret" {} }
                    label for="mfa-code" { "Code the app shows" }
                    input id="mfa-code" name="code" autocomplete="one-time-code" inputmode="numeric" required;
                    button.primary type="submit" { "Turn on" }
                }
            }
            p id="mfa-status" role="status" {}
            div id="recovery-codes" hidden {
                h2 { "Your recovery codes" }
                p { "Each works once, in place of a code, if you lose your device. Keep them somewhere safe: they are not shown again." }
                pre id="recovery-codes-list" {}
                p { a href="/ui/account/two-factor" { "Done" } }
            }
        }
    };
    // The header's navigation leads to the default workspace (else the first one).
    let home = user
        .workspaces
        .iter()
        .find(|(w, _)| w.is_default)
        .or(user.workspaces.first())
        .map(|(w, _)| w.slug.clone());
    Ok(Html(
        layout::page(
            "Two-factor authentication",
            Some(&user),
            home.as_deref(),
            body,
        )
        .into_string(),
    ))
}
