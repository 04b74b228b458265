//! The delivery queue and its log: workers claim due deliveries with a lease (skipping
//! rows other workers hold on PostgreSQL), and record each attempt, the delivery's new
//! state and the endpoint's failure count in one transaction fenced by the claim.

use anyhow::Result;
use serde::Serialize;
use validibot_types::clock::{now_us, serialize_opt_us, serialize_us};
use validibot_types::ids::{WebhookId, WorkspaceId};

use crate::args;
use crate::db::batch::Stmt;
use crate::db::{Backend, Db};

/// A claimed delivery with what sending it needs.
#[derive(Debug, sqlx::FromRow)]
pub struct Due {
    #[sqlx(try_from = "String")]
    pub endpoint_id: WebhookId,
    pub event_id: String,
    pub event_type: String,
    pub data: String,
    /// The body an earlier attempt sent, if any.
    pub payload: Option<String>,
    /// This attempt's number (1 for the first).
    pub attempts: i64,
    pub final_attempt: Option<i64>,
    pub created_at: i64,
    pub url: String,
    pub format: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub workspace_slug: String,
}

/// Claims up to `limit` due deliveries of enabled endpoints (a test message goes to a
/// disabled one too, to check it before enabling it again) for `lease_us`.
pub async fn claim_due(db: &Db, limit: i64, lease_us: i64) -> Result<Vec<Due>> {
    let now = now_us();
    let lock = match db.backend {
        Backend::Postgres => "FOR UPDATE OF d SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut tx = db.write.begin().await?;
    let claimed: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1
         WHERE (endpoint_id, event_id) IN (
             SELECT d.endpoint_id, d.event_id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.state = 'pending' AND d.next_attempt_at <= $2 AND (d.lease_until IS NULL OR d.lease_until < $2)
               AND (e.enabled = 1 OR d.event_type = 'webhook.test')
             ORDER BY d.next_attempt_at LIMIT $3 {lock})
         RETURNING endpoint_id, event_id"
    )))
    .bind(now + lease_us)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut due = Vec::with_capacity(claimed.len());
    for (endpoint_id, event_id) in claimed {
        due.push(
            sqlx::query_as::<_, Due>(
                "SELECT d.endpoint_id, d.event_id, d.event_type, d.data, d.payload, d.attempts, d.final_attempt, d.created_at,
                        e.url, e.format, e.secret, e.previous_secret, e.previous_secret_until, w.slug AS workspace_slug
                 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN workspaces w ON w.id = e.workspace_id
                 WHERE d.endpoint_id = $1 AND d.event_id = $2",
            )
            .bind(endpoint_id)
            .bind(event_id)
            .fetch_one(&mut *tx)
            .await?,
        );
    }
    tx.commit().await?;
    Ok(due)
}

/// One attempt as the log keeps it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Attempt {
    #[serde(skip)]
    pub event_id: String,
    pub attempt: i64,
    #[serde(serialize_with = "serialize_us")]
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    /// The first 2 KiB of the response body.
    pub response: Option<String>,
    pub error: Option<String>,
}

/// What an attempt leaves the delivery as.
pub enum Outcome {
    Delivered,
    /// Failed; tried again at this time.
    RetryAt(i64),
    /// Failed for good: the endpoint's failures-in-a-row count grows and at
    /// `disable_after` the endpoint is disabled with `reason`.
    Failed {
        disable_after: i64,
        reason: String,
    },
}

/// Records an attempt of a claimed delivery and what follows from it; false when the
/// claim was lost (another worker took the delivery after the lease ran out), and then
/// nothing is written.
pub async fn record(
    db: &Db,
    due: &Due,
    payload: &str,
    attempt: &Attempt,
    outcome: &Outcome,
) -> Result<bool> {
    let now = now_us();
    let (state, next, finished) = match outcome {
        Outcome::Delivered => ("delivered", None, Some(now)),
        Outcome::RetryAt(at) => ("pending", Some(*at), None),
        Outcome::Failed { .. } => ("failed", None, Some(now)),
    };
    let fence = Stmt::new(
        "UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2, finished_at = $3, lease_until = NULL, payload = COALESCE(payload, $4)
         WHERE endpoint_id = $5 AND event_id = $6 AND attempts = $7 AND state = 'pending'",
        args![state, next, finished, payload, &due.endpoint_id, due.event_id.as_str(), attempt.attempt],
    );
    let mut stmts = vec![Stmt::new(
        "INSERT INTO webhook_attempts (endpoint_id, event_id, attempt, started_at, duration_ms, status_code, response, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            &due.endpoint_id,
            due.event_id.as_str(),
            attempt.attempt,
            attempt.started_at,
            attempt.duration_ms,
            attempt.status_code,
            attempt.response.clone(),
            attempt.error.clone()
        ],
    )];
    match outcome {
        Outcome::Delivered => stmts.push(Stmt::new(
            "UPDATE webhook_endpoints SET failed_in_a_row = 0 WHERE id = $1",
            args![&due.endpoint_id],
        )),
        Outcome::Failed { disable_after, reason } if due.event_type != "webhook.test" => {
            stmts.push(Stmt::new(
                "UPDATE webhook_endpoints SET failed_in_a_row = failed_in_a_row + 1,
                        disabled_reason = CASE WHEN enabled = 1 AND failed_in_a_row + 1 >= $1 THEN $2 ELSE disabled_reason END,
                        enabled = CASE WHEN failed_in_a_row + 1 >= $1 THEN 0 ELSE enabled END
                 WHERE id = $3",
                args![*disable_after, reason.as_str(), &due.endpoint_id],
            ))
        }
        _ => {}
    }
    Ok(db.write_tx(Some(fence), stmts).await?)
}

/// A delivery as the log shows it, with its attempts.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i64,
    #[serde(serialize_with = "serialize_opt_us")]
    pub next_attempt_at: Option<i64>,
    #[serde(serialize_with = "serialize_us")]
    pub created_at: i64,
    #[serde(serialize_with = "serialize_opt_us")]
    pub finished_at: Option<i64>,
    /// The body as sent (absent before the first attempt).
    pub payload: Option<String>,
    #[sqlx(skip)]
    pub log: Vec<Attempt>,
}

/// An endpoint's newest deliveries (at most `limit`), newest first, each with its attempts.
pub async fn log(
    db: &Db,
    workspace_id: &WorkspaceId,
    endpoint: &WebhookId,
    limit: i64,
) -> Result<Vec<Delivery>> {
    let mut rows: Vec<Delivery> = sqlx::query_as(
        "SELECT d.event_id, d.event_type, d.state, d.attempts, d.next_attempt_at, d.created_at, d.finished_at, d.payload
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.endpoint_id = $1 AND e.workspace_id = $2 ORDER BY d.created_at DESC, d.event_id DESC LIMIT $3",
    )
    .bind(endpoint.as_str())
    .bind(workspace_id.as_str())
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    let Some(oldest) = rows.last().map(|d| d.created_at) else {
        return Ok(rows);
    };
    let attempts: Vec<Attempt> = sqlx::query_as(
        "SELECT a.event_id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.response, a.error
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.endpoint_id = a.endpoint_id AND d.event_id = a.event_id
         WHERE a.endpoint_id = $1 AND d.created_at >= $2 ORDER BY a.attempt",
    )
    .bind(endpoint.as_str())
    .bind(oldest)
    .fetch_all(&db.read)
    .await?;
    for d in &mut rows {
        d.log = attempts
            .iter()
            .filter(|a| a.event_id == d.event_id)
            .cloned()
            .collect();
    }
    Ok(rows)
}

/// Sends a finished delivery again now, with the same id and body, for one more
/// attempt. `None`: the endpoint has no such delivery; `Some(false)`: it is still being
/// tried (nothing changed).
pub async fn redeliver(
    db: &Db,
    workspace_id: &WorkspaceId,
    endpoint: &WebhookId,
    event_id: &str,
) -> Result<Option<bool>> {
    let state: Option<String> = sqlx::query_scalar(
        "SELECT d.state FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.endpoint_id = $1 AND d.event_id = $2 AND e.workspace_id = $3",
    )
    .bind(endpoint.as_str())
    .bind(event_id)
    .bind(workspace_id.as_str())
    .fetch_optional(&db.read)
    .await?;
    if state.is_none() {
        return Ok(None);
    }
    let stmt = Stmt::new(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, finished_at = NULL, lease_until = NULL, final_attempt = attempts + 1
         WHERE endpoint_id = $2 AND event_id = $3 AND state <> 'pending'",
        args![now_us(), endpoint, event_id],
    );
    Ok(Some(db.write_tx(Some(stmt), vec![]).await?))
}

/// Queues a `webhook.test` message for one endpoint; returns its event id.
pub async fn enqueue_test(
    db: &Db,
    workspace_id: &WorkspaceId,
    endpoint: &WebhookId,
    data: &serde_json::Value,
) -> Result<Option<String>> {
    let id = super::outbox::event_id();
    let now = now_us();
    let stmt = Stmt::new(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, data, state, attempts, next_attempt_at, final_attempt, created_at)
         SELECT id, $1, 'webhook.test', $2, 'pending', 0, $3, 1, $3 FROM webhook_endpoints WHERE id = $4 AND workspace_id = $5",
        args![id.as_str(), data.to_string(), now, endpoint, workspace_id],
    );
    Ok(db.write_tx(Some(stmt), vec![]).await?.then_some(id))
}

/// Deliveries still to be made, and when the oldest was queued (µs), for metrics.
#[derive(Debug, sqlx::FromRow)]
pub struct Backlog {
    pub pending: i64,
    pub oldest_created_at: Option<i64>,
}

pub async fn backlog(db: &Db) -> Result<Backlog> {
    Ok(sqlx::query_as(
        "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest_created_at FROM webhook_deliveries WHERE state = 'pending'",
    )
    .fetch_one(&db.read)
    .await?)
}

/// Forgets finished deliveries (and their attempts) that ended before `cutoff`.
pub async fn prune(db: &Db, cutoff: i64) -> Result<()> {
    let finished = "state <> 'pending' AND finished_at < $1";
    let stmts = vec![
        Stmt::new(
            format!("DELETE FROM webhook_attempts WHERE (endpoint_id, event_id) IN (SELECT endpoint_id, event_id FROM webhook_deliveries WHERE {finished})"),
            args![cutoff],
        ),
        Stmt::new(format!("DELETE FROM webhook_deliveries WHERE {finished}"), args![cutoff]),
    ];
    db.write_tx(None, stmts).await?;
    Ok(())
}
