//! A workspace's webhook endpoints: where events go, which ones, in which body format,
//! signed with which secret.

use anyhow::Result;
use serde::Serialize;
use validibot_types::clock::{now_us, serialize_opt_us, serialize_us};
use validibot_types::events::EventType;
use validibot_types::ids::{UserId, WebhookId, WorkspaceId};

use crate::args;
use crate::db::batch::Stmt;
use crate::db::Db;

/// An endpoint as the API shows it (never its secrets).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Endpoint {
    #[sqlx(try_from = "String")]
    pub id: WebhookId,
    pub url: String,
    pub description: String,
    /// `standard` (the event as JSON) or `slack` (a Slack-compatible `{"text"}` body).
    pub format: String,
    #[sqlx(try_from = "i64")]
    pub enabled: Flag,
    pub disabled_reason: Option<String>,
    /// Deliveries in a row that failed every attempt.
    pub failed_in_a_row: i64,
    #[serde(serialize_with = "serialize_us")]
    pub created_at: i64,
    #[serde(serialize_with = "serialize_us")]
    pub updated_at: i64,
    /// Until when the secret before the last rotation also signs.
    #[serde(serialize_with = "serialize_opt_us")]
    pub previous_secret_until: Option<i64>,
    #[sqlx(skip)]
    pub events: Vec<EventType>,
}

/// A 0/1 column read as a bool (both databases store flags as integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl From<i64> for Flag {
    fn from(v: i64) -> Self {
        Flag(v != 0)
    }
}

const COLUMNS: &str = "id, url, description, format, enabled, disabled_reason, failed_in_a_row, created_at, updated_at, previous_secret_until";

/// What a new endpoint is.
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub format: &'a str,
    pub events: &'a [EventType],
    pub secret: &'a str,
}

fn subscribe(id: &WebhookId, events: &[EventType]) -> Vec<Stmt> {
    let mut stmts = vec![Stmt::new(
        "DELETE FROM webhook_subscriptions WHERE endpoint_id = $1",
        args![id],
    )];
    for e in events {
        stmts.push(Stmt::new(
            "INSERT INTO webhook_subscriptions (endpoint_id, event_type) VALUES ($1, $2)",
            args![id, e.as_str()],
        ));
    }
    stmts
}

pub async fn create(
    db: &Db,
    workspace_id: &WorkspaceId,
    new: &NewEndpoint<'_>,
    by: &UserId,
) -> Result<Endpoint> {
    let id = WebhookId::new();
    let now = now_us();
    let mut stmts = vec![Stmt::new(
        "INSERT INTO webhook_endpoints (id, workspace_id, url, description, format, secret, enabled, failed_in_a_row, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, 0, $7, $8, $8)",
        args![&id, workspace_id, new.url, new.description, new.format, new.secret, by, now],
    )];
    stmts.extend(subscribe(&id, new.events));
    db.write_tx(None, stmts).await?;
    get(db, workspace_id, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("webhook endpoint {id} vanished after its creation"))
}

pub async fn list(db: &Db, workspace_id: &WorkspaceId) -> Result<Vec<Endpoint>> {
    let mut rows: Vec<Endpoint> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY created_at, id"
    )))
    .bind(workspace_id.as_str())
    .fetch_all(&db.read)
    .await?;
    let subs: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.endpoint_id, s.event_type FROM webhook_subscriptions s JOIN webhook_endpoints e ON e.id = s.endpoint_id
         WHERE e.workspace_id = $1 ORDER BY s.event_type",
    )
    .bind(workspace_id.as_str())
    .fetch_all(&db.read)
    .await?;
    for row in &mut rows {
        row.events = subs
            .iter()
            .filter(|(id, _)| id == row.id.as_str())
            .filter_map(|(_, e)| EventType::parse(e))
            .collect();
    }
    Ok(rows)
}

pub async fn get(db: &Db, workspace_id: &WorkspaceId, id: &WebhookId) -> Result<Option<Endpoint>> {
    Ok(list(db, workspace_id)
        .await?
        .into_iter()
        .find(|e| &e.id == id))
}

/// What an edit changes; `None` keeps the field.
#[derive(Default)]
pub struct Change<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub format: Option<&'a str>,
    pub events: Option<&'a [EventType]>,
    /// Enabling clears the failure count and the reason it was disabled.
    pub enabled: Option<bool>,
}

/// Edits an endpoint; false when the workspace has no such endpoint.
pub async fn update(
    db: &Db,
    workspace_id: &WorkspaceId,
    id: &WebhookId,
    change: &Change<'_>,
) -> Result<bool> {
    let fence = Stmt::new(
        "UPDATE webhook_endpoints SET updated_at = $1 WHERE id = $2 AND workspace_id = $3",
        args![now_us(), id, workspace_id],
    );
    let mut stmts = Vec::new();
    for (column, value) in [
        ("url", change.url),
        ("description", change.description),
        ("format", change.format),
    ] {
        if let Some(v) = value {
            stmts.push(Stmt::new(
                format!("UPDATE webhook_endpoints SET {column} = $1 WHERE id = $2"),
                args![v, id],
            ));
        }
    }
    match change.enabled {
        Some(true) => stmts.push(Stmt::new(
            "UPDATE webhook_endpoints SET enabled = 1, disabled_reason = NULL, failed_in_a_row = 0 WHERE id = $1",
            args![id],
        )),
        Some(false) => stmts.push(Stmt::new(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1 WHERE id = $2",
            args!["disabled by a member", id],
        )),
        None => {}
    }
    if let Some(events) = change.events {
        stmts.extend(subscribe(id, events));
    }
    Ok(db.write_tx(Some(fence), stmts).await?)
}

/// Replaces the signing secret; the old one keeps signing (a second signature) until
/// `overlap_until`, so receivers can switch without losing a message.
pub async fn rotate_secret(
    db: &Db,
    workspace_id: &WorkspaceId,
    id: &WebhookId,
    secret: &str,
    overlap_until: i64,
) -> Result<bool> {
    let stmt = Stmt::new(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $1, secret = $2, updated_at = $3
         WHERE id = $4 AND workspace_id = $5",
        args![overlap_until, secret, now_us(), id, workspace_id],
    );
    Ok(db.write_tx(Some(stmt), vec![]).await?)
}

/// Deletes an endpoint with its subscriptions, queue and log.
pub async fn delete(db: &Db, workspace_id: &WorkspaceId, id: &WebhookId) -> Result<bool> {
    let fence = Stmt::new(
        "UPDATE webhook_endpoints SET enabled = 0 WHERE id = $1 AND workspace_id = $2",
        args![id, workspace_id],
    );
    let stmts = [
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_subscriptions",
    ]
    .into_iter()
    .map(|table| {
        Stmt::new(
            format!("DELETE FROM {table} WHERE endpoint_id = $1"),
            args![id],
        )
    })
    .chain([Stmt::new(
        "DELETE FROM webhook_endpoints WHERE id = $1",
        args![id],
    )])
    .collect();
    Ok(db.write_tx(Some(fence), stmts).await?)
}
