//! Webhooks (`/ui/w/{ws}/webhooks`, the workspace's admins): endpoints with their events
//! and state, adding one (its secret shown once), a test message, secret rotation,
//! disabling and enabling, and an endpoint's delivery log with redelivery.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, badge};
use super::{error_page, workspace_for, WebUser};
use crate::AppState;
use validibot_store::accounts::Permission;
use validibot_store::webhooks::deliveries::{self, Delivery};
use validibot_store::webhooks::endpoints::{self, Endpoint};
use validibot_types::clock::rfc3339;
use validibot_types::events::EventType;

#[derive(Deserialize)]
pub struct Selected {
    endpoint: Option<String>,
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
    Query(q): Query<Selected>,
) -> Result<Response, Response> {
    let (workspace, _) = workspace_for(&state, &user, &ws, Permission::WorkspaceManage).await?;
    let fail = |e: anyhow::Error| error_page(&user, e.into());
    let list = endpoints::list(&state.db, &workspace.id)
        .await
        .map_err(fail)?;
    let selected = q
        .endpoint
        .as_deref()
        .and_then(|id| list.iter().find(|e| e.id.as_str() == id))
        .or(list.first());
    let log = match selected {
        Some(e) => deliveries::log(&state.db, &workspace.id, &e.id, 50)
            .await
            .map_err(fail)?,
        None => Vec::new(),
    };
    let api = format!("/api/v1/workspaces/{ws}/webhooks");
    let body = html! {
        h1 { "Webhooks" }
        p.muted {
            "Endpoints here hear of this workspace's events as they happen: a signed POST per event ("
            a href="https://www.standardwebhooks.com/" { "Standard Webhooks" }
            "), retried with backoff for about a day, or a Slack-compatible message."
        }
        section.card id="webhook-list" {
            h2 { "Endpoints" }
            @if list.is_empty() {
                p.muted { "No endpoints yet. Add one below; CI systems, chat channels and your own services can listen." }
            } @else {
                table.webhooks {
                    thead { tr { th { "URL" } th { "Events" } th { "Format" } th { "State" } th { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for e in &list { (endpoint_row(e, &ws, &api)) }
                    }
                }
            }
            div id="webhook-secret" role="status" aria-live="polite" {}
            p id="webhook-status" role="status" {}
        }
        section.card id="webhook-new" {
            h2 { "Add an endpoint" }
            form id="webhook-form" data-url=(api) {
                label for="webhook-url" { "URL" }
                input id="webhook-url" name="url" type="url" required maxlength="2048" placeholder="https://ci.example.com/hooks/validibot";
                label for="webhook-description" { "Description" }
                input id="webhook-description" name="description" maxlength="200" placeholder="CI gate";
                label for="webhook-format" { "Body" }
                select id="webhook-format" name="format" {
                    option value="standard" { "Standard Webhooks (the event as JSON)" }
                    option value="slack" { "Slack-compatible message" }
                }
                fieldset {
                    legend { "Events" }
                    @for e in EventType::ALL.iter().filter(|e| e.subscribable()) {
                        label.check {
                            input type="checkbox" name="events" value=(e.as_str()) checked[matches!(e, EventType::RunCompleted)];
                            " " code { (e.as_str()) } " — " (e.summary())
                        }
                    }
                }
                button.primary type="submit" { "Add endpoint" }
            }
        }
        @if let Some(e) = selected {
            section.card id="webhook-log" {
                h2 { "Deliveries to " code { (e.url) } }
                @if log.is_empty() {
                    p.muted { "Nothing sent yet. " button.webhook-test type="button" data-url={(api) "/" (e.id) "/test"} { "Send a test message" } }
                } @else {
                    table.deliveries {
                        thead { tr { th { "Event" } th { "Created" } th { "State" } th { "Attempts" } th { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for d in &log { (delivery_rows(d, &api, e)) }
                        }
                    }
                }
            }
        }
    };
    Ok(Html(layout::page("Webhooks", Some(&user), Some(&ws), body).into_string()).into_response())
}

fn endpoint_row(e: &Endpoint, ws: &str, api: &str) -> Markup {
    let url = format!("{api}/{}", e.id);
    html! {
        tr data-url=(url) {
            td {
                a href={"/ui/w/" (ws) "/webhooks?endpoint=" (e.id)} { code { (e.url) } }
                @if !e.description.is_empty() { br; span.muted { (e.description) } }
            }
            td { @for ev in &e.events { code { (ev.as_str()) } " " } }
            td { (e.format) }
            td {
                @if e.enabled.0 { (badge("enabled")) } @else {
                    (badge("disabled"))
                    @if let Some(why) = &e.disabled_reason { br; span.muted.disabled-reason { (why) } }
                }
            }
            td.actions {
                button.webhook-test type="button" data-url={(url) "/test"} { "Send test" }
                button.webhook-rotate type="button" data-url={(url) "/rotate-secret"} { "Rotate secret" }
                @if e.enabled.0 {
                    button.webhook-enable type="button" data-url=(url) data-enabled="false" { "Disable" }
                } @else {
                    button.webhook-enable type="button" data-url=(url) data-enabled="true" { "Enable" }
                }
                button.webhook-delete type="button" data-url=(url) { "Delete" }
            }
        }
    }
}

fn delivery_rows(d: &Delivery, api: &str, e: &Endpoint) -> Markup {
    html! {
        tr.delivery {
            td { code { (d.event_type) } br; span.muted { (d.event_id) } }
            td { (rfc3339(d.created_at)) }
            td {
                (badge(&d.state))
                @if let Some(next) = d.next_attempt_at { @if d.state == "pending" { br; span.muted { "next try " (rfc3339(next)) } } }
            }
            td {
                ol.attempts {
                    @for a in &d.log {
                        li {
                            @if let Some(code) = a.status_code { "HTTP " (code) } @else { "no answer" }
                            " · " (a.duration_ms) " ms"
                            @if let Some(err) = &a.error { " · " span.error { (err) } }
                            @if let Some(resp) = &a.response { @if !resp.is_empty() { details { summary { "response" } pre { (resp) } } } }
                        }
                    }
                }
            }
            td {
                @if d.state != "pending" {
                    button.webhook-redeliver type="button" data-url={(api) "/" (e.id) "/deliveries/" (d.event_id) "/redeliver"} { "Redeliver" }
                }
                @if let Some(p) = &d.payload { details { summary { "body" } pre { (p) } } }
            }
        }
    }
}
