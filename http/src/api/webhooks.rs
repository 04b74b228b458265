//! `/api/v1/workspaces/{ws}/webhooks`: a workspace's webhook endpoints (its admins'),
//! their secrets (shown when made: at creation and rotation), a test message, and the
//! delivery log with manual redelivery.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{member, Caller};
use crate::{ApiError, AppState};
use validibot_services::webhooks::{signature, ROTATION_OVERLAP};
use validibot_store::accounts::directory::Workspace;
use validibot_store::accounts::Permission;
use validibot_store::webhooks::{deliveries, endpoints};
use validibot_types::clock::{now_us, rfc3339};
use validibot_types::events::EventType;
use validibot_types::ids::WebhookId;

/// Endpoints one workspace may have.
const MAX_ENDPOINTS: usize = 50;

async fn admin(state: &AppState, caller: &Caller, ws: &str) -> Result<Workspace, ApiError> {
    Ok(member(state, caller, ws, Permission::WorkspaceManage)
        .await?
        .0)
}

fn not_found(id: &WebhookId) -> ApiError {
    ApiError::not_found(
        "WEBHOOK_NOT_FOUND",
        format!("no webhook endpoint {id} in this workspace"),
    )
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    let list = endpoints::list(&state.db, &workspace.id).await?;
    Ok(Json(json!({"results": list, "events": event_catalog()})))
}

/// Every event an endpoint may subscribe to, with what it means.
pub fn event_catalog() -> Vec<Value> {
    EventType::ALL
        .iter()
        .filter(|e| e.subscribable())
        .map(|e| json!({"type": e, "summary": e.summary()}))
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: String,
    format: Option<String>,
}

fn parse_events(events: &[String]) -> Result<Vec<EventType>, ApiError> {
    let mut out = Vec::new();
    for e in events {
        match EventType::parse(e) {
            Some(t) if t.subscribable() => {
                if !out.contains(&t) {
                    out.push(t)
                }
            }
            _ => {
                return Err(ApiError::bad_request(
                    "INVALID_EVENT",
                    format!(
                        "unknown event {e:?}; endpoints subscribe to {}",
                        EventType::ALL
                            .iter()
                            .filter(|e| e.subscribable())
                            .map(|e| e.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_EVENT",
            "an endpoint subscribes to at least one event",
        ));
    }
    Ok(out)
}

fn parse_format(format: Option<&str>) -> Result<&'static str, ApiError> {
    match format.unwrap_or("standard") {
        "standard" => Ok("standard"),
        "slack" => Ok("slack"),
        other => Err(ApiError::bad_request(
            "INVALID_FORMAT",
            format!("unknown format {other:?}: standard (the event as JSON) or slack (a Slack-compatible message)"),
        )),
    }
}

fn check_description(d: &str) -> Result<(), ApiError> {
    if d.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "INVALID_DESCRIPTION",
            "a description is at most 200 characters",
        ));
    }
    Ok(())
}

/// The URL after the address policy (422 with the refusal's code).
async fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    state
        .settings
        .webhook_policy
        .check(url)
        .await
        .map(|u| u.to_string())
        .map_err(|r| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, r.code, r.detail))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    body: Result<Json<NewEndpoint>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    let Json(new) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let events = parse_events(&new.events)?;
    let format = parse_format(new.format.as_deref())?;
    check_description(&new.description)?;
    let url = checked_url(&state, &new.url).await?;
    if endpoints::list(&state.db, &workspace.id).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "WEBHOOK_LIMIT",
            format!("a workspace has at most {MAX_ENDPOINTS} webhook endpoints"),
        ));
    }
    let secret = signature::new_secret();
    let endpoint = endpoints::create(
        &state.db,
        &workspace.id,
        &endpoints::NewEndpoint {
            url: &url,
            description: new.description.trim(),
            format,
            events: &events,
            secret: &secret,
        },
        &caller.0.id,
    )
    .await?;
    let mut body = serde_json::to_value(&endpoint).map_err(anyhow::Error::from)?;
    body["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, WebhookId)>,
) -> Result<Json<endpoints::Endpoint>, ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    endpoints::get(&state.db, &workspace.id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointChange {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    format: Option<String>,
    enabled: Option<bool>,
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, WebhookId)>,
    body: Result<Json<EndpointChange>, JsonRejection>,
) -> Result<Json<endpoints::Endpoint>, ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    let Json(change) = body.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let events = change.events.as_deref().map(parse_events).transpose()?;
    let format = change
        .format
        .as_deref()
        .map(|f| parse_format(Some(f)))
        .transpose()?;
    if let Some(d) = &change.description {
        check_description(d)?;
    }
    let url = match &change.url {
        Some(u) => Some(checked_url(&state, u).await?),
        None => None,
    };
    let done = endpoints::update(
        &state.db,
        &workspace.id,
        &id,
        &endpoints::Change {
            url: url.as_deref(),
            description: change.description.as_deref().map(str::trim),
            format,
            events: events.as_deref(),
            enabled: change.enabled,
        },
    )
    .await?;
    if !done {
        return Err(not_found(&id));
    }
    endpoints::get(&state.db, &workspace.id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, WebhookId)>,
) -> Result<StatusCode, ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    if endpoints::delete(&state.db, &workspace.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

/// `POST …/rotate-secret`: a new secret; the old one also signs for 24 hours.
pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, WebhookId)>,
) -> Result<Json<Value>, ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    let secret = signature::new_secret();
    let until = now_us() + ROTATION_OVERLAP.as_micros() as i64;
    if !endpoints::rotate_secret(&state.db, &workspace.id, &id, &secret, until).await? {
        return Err(not_found(&id));
    }
    Ok(Json(
        json!({"secret": secret, "previous_secret_until": rfc3339(until)}),
    ))
}

/// `POST …/test`: queues a `webhook.test` message (sent even to a disabled endpoint).
pub async fn test(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, WebhookId)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    let data = json!({"message": format!("A test message from Validibot, sent by {}.", caller.0.username)});
    let event_id = deliveries::enqueue_test(&state.db, &workspace.id, &id, &data)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok((StatusCode::ACCEPTED, Json(json!({"event_id": event_id}))))
}

#[derive(Deserialize)]
pub struct LogQuery {
    limit: Option<i64>,
}

pub async fn log(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, WebhookId)>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Value>, ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    if endpoints::get(&state.db, &workspace.id, &id)
        .await?
        .is_none()
    {
        return Err(not_found(&id));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let results = deliveries::log(&state.db, &workspace.id, &id, limit).await?;
    Ok(Json(json!({"results": results})))
}

/// `POST …/deliveries/{event_id}/redeliver`: the same message (id and body) once more.
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id, event_id)): Path<(String, WebhookId, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let workspace = admin(&state, &caller, &ws).await?;
    match deliveries::redeliver(&state.db, &workspace.id, &id, &event_id).await? {
        None => Err(ApiError::not_found(
            "DELIVERY_NOT_FOUND",
            format!("endpoint {id} has no delivery {event_id:?}"),
        )),
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "DELIVERY_PENDING",
            "the delivery is still being tried; redeliver it once it has finished",
        )),
        Some(true) => Ok((StatusCode::ACCEPTED, Json(json!({"event_id": event_id})))),
    }
}
