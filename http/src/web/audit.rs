//! The audit log's page (Pro, `audit.log`; instance admins, as in the API): events newest
//! first, filtered by user, action and time, a page at a time, with a link that exports
//! the same filter as JSON lines. Works without script (a GET form).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use validibot_plugin_api::extension::features::AUDIT_LOG;
use validibot_store::accounts::Permission;
use validibot_store::audit::{self, Filter};
use validibot_types::clock::{parse_rfc3339, rfc3339};

use super::layout::{self, badge};
use super::{error_page, workspace_for, WebUser};
use crate::auth::{instance_admin, Caller};
use crate::AppState;

/// Events per page.
const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// A date (`2026-12-01`) or an RFC 3339 time: events at or after it.
    #[serde(default)]
    since: String,
    cursor: Option<String>,
}

/// `2026-12-01` as midnight UTC, or a full RFC 3339 time.
fn since(text: &str) -> Option<i64> {
    parse_rfc3339(text).or_else(|| parse_rfc3339(&format!("{text}T00:00:00Z")))
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
    Query(q): Query<AuditFilter>,
) -> Result<Response, Response> {
    workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let fail = |e: crate::ApiError| error_page(&user, e);
    let status = state.licensing.status().await.map_err(|e| fail(e.into()))?;
    let admin = instance_admin(&state, &Caller::from_user(user.user.clone(), user.via))
        .await
        .map_err(fail)?;
    let body = if !status.has(AUDIT_LOG) {
        html! {
            h1 { "Audit log" }
            section.card id="audit-off" {
                p { "Reading the audit log needs Validibot Pro with " code { (AUDIT_LOG) } " (license state: " (badge(&status.state)) ")." }
                p.muted { "Events are recorded in every edition — sign-ins, API keys, members and roles, workflows, validators, licenses, settings — and kept for the audit retention (VALIDIBOT_AUDIT_RETENTION_DAYS), so a license shows the history from before it too." }
            }
        }
    } else if !admin {
        html! {
            h1 { "Audit log" }
            p.muted { "Reading the audit log needs the admin or owner role in the default workspace." }
        }
    } else {
        let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let before = q.cursor.as_deref().and_then(|c| {
            let (at, id) = c.split_once('.')?;
            Some((at.parse().ok()?, id.to_owned()))
        });
        let filter = Filter {
            actor: nonempty(&q.actor),
            action: nonempty(&q.action),
            since: nonempty(&q.since).as_deref().and_then(since),
            before,
            ..Default::default()
        };
        let events = audit::list(&state.db, &filter, PAGE)
            .await
            .map_err(|e| fail(e.into()))?;
        let query: String = [
            ("actor", &q.actor),
            ("action", &q.action),
            ("since", &q.since),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("&{k}={}", crate::uri::escape(v.trim())))
        .collect();
        let export_params: Vec<String> = [
            ("actor", filter.actor.clone()),
            ("action", filter.action.clone()),
            ("since", filter.since.map(rfc3339)),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", crate::uri::escape(&v?))))
        .collect();
        let export = if export_params.is_empty() {
            "/api/v1/audit/export".to_owned()
        } else {
            format!("/api/v1/audit/export?{}", export_params.join("&"))
        };
        let older = (events.len() as i64 == PAGE).then(|| {
            let last = events.last().expect("a full page");
            format!("/ui/w/{ws}/audit?cursor={}.{}{query}", last.at, last.id)
        });
        html! {
            h1 { "Audit log" }
            form.filters id="audit-filter" method="get" aria-label="Filter events" action={"/ui/w/" (ws) "/audit"} {
                label for="audit-actor" { "User" }
                input id="audit-actor" name="actor" value=(q.actor) placeholder="username";
                label for="audit-action" { "Action" }
                input id="audit-action" name="action" value=(q.action) placeholder="e.g. signIn, create*";
                label for="audit-since" { "Since" }
                input id="audit-since" name="since" value=(q.since) placeholder="2026-12-01";
                button type="submit" { "Filter" }
                " "
                a id="audit-export" href=(export) download="validibot-audit.jsonl" { "Export as JSON lines" }
            }
            section.card {
                @if events.is_empty() {
                    p.muted id="audit-empty" { "No events match." }
                } @else {
                    table.audit id="audit-events" {
                        thead { tr { th { "When (UTC)" } th { "Who" } th { "Action" } th { "Workspace" } th { "Target" } th { "Status" } th { "From" } } }
                        tbody {
                            @for e in &events {
                                tr data-action=(e.action) {
                                    td { (rfc3339(e.at).get(..19).unwrap_or_default().replace('T', " ")) }
                                    td { (e.actor.as_deref().unwrap_or("—")) " " span.muted { "(" (e.via) ")" } }
                                    td { code { (e.action) } }
                                    td { (e.workspace.as_deref().unwrap_or("")) }
                                    td { (e.target.as_deref().unwrap_or("")) }
                                    td { @if let Some(s) = e.status { (s) } }
                                    td { (e.client.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
                @if let Some(href) = older { p { a id="audit-older" href=(href) { "Older events" } } }
            }
        }
    };
    Ok(Html(layout::page("Audit log", Some(&user), Some(&ws), body).into_string()).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_takes_a_date_or_a_time() {
        assert_eq!(super::since("1970-01-02"), Some(86_400_000_000));
        assert_eq!(super::since("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(super::since("soon"), None);
    }
}
