//! The license: edition, state, dates, each feature on or off, usage against the
//! limits, the loaded extensions, an online license's standing with its license
//! server; instance admins upload a new license file here (the API's
//! `PUT /api/v1/license`) and ask the license server now. Others see the state and
//! the features.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};

use super::layout::{self, badge};
use super::settings::feature_list;
use super::{error_page, workspace_for, WebUser};
use crate::auth::{instance_admin, Caller};
use crate::AppState;
use validibot_engines::extensions::hooks::OnlineStatus;
use validibot_store::accounts::Permission;
use validibot_types::clock::rfc3339;

/// `used of limit` with a bar; `limit` none means unlimited.
fn usage(used: u64, limit: Option<u64>) -> Markup {
    match limit {
        Some(limit) => html! {
            (used) " of " (limit) " "
            // A native gauge: no inline style (the CSP forbids it), read out by screen readers.
            meter min="0" max=(limit) value=(used.min(limit)) high=(limit.saturating_sub(1).max(1)) optimum="0"
                aria-label={(used) " of " (limit)} {}
        },
        None => html! { (used) " (no limit)" },
    }
}

/// An online license's standing with its license server, and "Check now".
fn online_section(online: &OnlineStatus) -> Markup {
    let when = |t: Option<i64>| t.map_or_else(|| "never".to_owned(), |t| rfc3339(t * 1_000_000));
    html! {
        section.card id="license-online" {
            h2 { "License server" }
            dl.facts {
                dt { "Server" } dd { code { (online.server) } }
                dt { "Activation" } dd data-fact="activation" {
                    @if online.revoked { span.error { "revoked by the vendor" } }
                    @else if online.activated { "active" }
                    @else { "not activated" }
                }
                @if let (Some(used), Some(max)) = (online.instances_used, online.instances_max) {
                    dt { "Instances" } dd { (used) " of " (max) " activated" }
                }
                dt { "Last answer" } dd data-fact="checked_at" { (when(online.checked_at)) }
                dt { "Next check" } dd { (when(Some(online.next_check_at))) }
                @if let Some(until) = online.offline_until {
                    dt { "Works offline until" } dd data-fact="offline_until" { (when(Some(until))) }
                }
            }
            @if let Some(error) = &online.last_error {
                p.error id="license-online-error" { "Last attempt failed: " (error) }
            }
            button id="license-check" type="button" { "Check now" }
            p id="license-check-status" role="status" {}
        }
    }
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
) -> Result<Response, Response> {
    workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let fail = |e: crate::ApiError| error_page(&user, e);
    let status = state
        .licensing
        .refresh()
        .await
        .map_err(|e| fail(e.into()))?;
    let admin = instance_admin(&state, &Caller::from_user(user.user.clone(), user.via))
        .await
        .map_err(fail)?;
    let facts = status.license.clone().unwrap_or_default();
    // Dates to the day: the license's instants carry nanoseconds nobody reads.
    let fact = |k: &str| {
        facts[k]
            .as_str()
            .map(|v| match v.split_once('T') {
                Some((day, _)) if day.len() == 10 && day.as_bytes()[4] == b'-' => day.to_owned(),
                _ => v.to_owned(),
            })
            .or_else(|| facts[k].as_u64().map(|n| n.to_string()))
    };
    let body = html! {
        h1 { "License" }
        section.card id="license-state" {
            p { "Edition " strong { (status.edition) } " · state " (badge(&status.state)) }
            @if !status.message.is_empty() { p id="license-message" { (status.message) } }
            @if admin && status.license.is_some() {
                dl.facts {
                    @for (label, key) in [("Customer", "customer"), ("License", "license_id"), ("Serial", "serial"), ("Valid from", "not_before"), ("Expires", "expires_at"), ("Grace days", "grace_days")] {
                        @if let Some(v) = fact(key) { dt { (label) } dd data-fact=(key) { (v) } }
                    }
                }
            }
        }
        @if admin { @if let Some(online) = &status.online { (online_section(online)) } }
        section.card id="license-features" {
            h2 { "Features" }
            (feature_list(&status))
        }
        @if admin {
            section.card id="license-usage" {
                h2 { "Usage" }
                dl.facts {
                    dt { "Workspaces" } dd id="usage-workspaces" { (usage(status.usage.workspaces, status.limits.workspaces)) }
                    dt { "Seats (users with a membership)" } dd id="usage-seats" { (usage(status.usage.seats, status.limits.seats)) }
                }
            }
            section.card id="license-extensions" {
                h2 { "Extensions" }
                @let reports = &state.licensing.registry().reports;
                @if reports.is_empty() {
                    p.muted { "None loaded: this is the Community edition. Pro is a signed extension in the extensions directory (docs/pro.md)." }
                }
                ul.plain {
                    @for r in reports {
                        li {
                            code { (r.file) } @if let Some(n) = &r.name { " (" (n) " " (r.version.clone().unwrap_or_default()) ")" } " — "
                            @if r.loaded {
                                "loaded" @if let Some(kid) = &r.signed_by { ", signed by " code { (kid) } }
                            } @else {
                                span.error { "refused: " (r.error.clone().unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            section.card id="license-upload" {
                h2 { "Install a license file" }
                p.muted { "The file your vendor sent (" code { "*.lic" } "). It is checked before it replaces the installed one; a refused file changes nothing." }
                form id="license-form" {
                    label for="license-file" { "License file" }
                    input id="license-file" type="file" accept=".lic,.txt,text/plain";
                    button.primary type="submit" { "Install" }
                }
                p id="license-status" role="status" {}
            }
        }
    };
    Ok(Html(layout::page("License", Some(&user), Some(&ws), body).into_string()).into_response())
}
