//! `/api/v1/audit` (Pro, `audit.log`; instance admins): the audit log, newest first,
//! filtered and paged, and all of a filter's events as JSON lines.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use validibot_plugin_api::extension::features;
use validibot_store::audit::{self, Event, Filter};
use validibot_types::clock::parse_rfc3339;

use crate::auth::{require_feature, require_instance_admin, Caller};
use crate::{ApiError, AppState};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    workspace: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Events read per statement by the export.
const EXPORT_PAGE: i64 = 1000;

async fn allowed(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    require_feature(state, features::AUDIT_LOG).await?;
    require_instance_admin(state, caller, "reading the audit log").await
}

fn time(name: &str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    value
        .as_deref()
        .map(|v| {
            parse_rfc3339(v).ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_TIME",
                    format!("{name} is an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"),
                )
            })
        })
        .transpose()
}

fn filter(q: &AuditQuery) -> Result<Filter, ApiError> {
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| {
                    ApiError::bad_request("INVALID_CURSOR", "cursor is the `next` link's")
                })
        })
        .transpose()?;
    Ok(Filter {
        actor: q.actor.clone(),
        action: q.action.clone(),
        workspace: q.workspace.clone(),
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
        before,
    })
}

/// The query string of `q` without limit and cursor.
fn filter_query(q: &AuditQuery) -> String {
    [
        ("actor", &q.actor),
        ("action", &q.action),
        ("workspace", &q.workspace),
        ("since", &q.since),
        ("until", &q.until),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .map(|v| format!("&{k}={}", crate::uri::escape(v)))
    })
    .collect()
}

/// `GET /api/v1/audit`: a page of events, newest first, and the next page's link.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("INVALID_QUERY", e.body_text()))?;
    allowed(&state, &caller).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "INVALID_LIMIT",
            "limit must be between 1 and 1000",
        ));
    }
    let results = audit::list(&state.db, &filter(&q)?, limit).await?;
    let next = (results.len() as i64 == limit).then(|| {
        let last = results.last().expect("a full page");
        format!(
            "/api/v1/audit?limit={limit}&cursor={}.{}{}",
            last.at,
            last.id,
            filter_query(&q)
        )
    });
    Ok(Json(json!({"results": results, "next": next})))
}

/// `GET /api/v1/audit/export`: every event the filter matches, newest first, one JSON
/// object per line (`application/x-ndjson`), streamed page by page.
pub async fn export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("INVALID_QUERY", e.body_text()))?;
    allowed(&state, &caller).await?;
    let first = filter(&q)?;
    let stream = futures_util::stream::unfold(Some(first), move |filter| {
        let state = state.clone();
        async move {
            let mut filter = filter?;
            match audit::list(&state.db, &filter, EXPORT_PAGE).await {
                Ok(page) => {
                    if page.is_empty() {
                        return None;
                    }
                    let more = page.len() as i64 == EXPORT_PAGE;
                    filter.before = page.last().map(|e: &Event| (e.at, e.id.clone()));
                    let mut lines = String::new();
                    for event in &page {
                        lines.push_str(&serde_json::to_string(event).unwrap_or_default());
                        lines.push('\n');
                    }
                    Some((Ok::<_, std::io::Error>(lines), more.then_some(filter)))
                }
                Err(e) => {
                    tracing::error!("audit export: {e:#}");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"validibot-audit.jsonl\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
