//! The audit log (table `audit_events`): who did what, when, from where. Append-only:
//! this module inserts and reads events, and deletes them only when retention says they
//! are old enough; a trigger refuses any UPDATE on both databases.

use anyhow::Result;
use serde::Serialize;
use validibot_types::clock::{now_us, serialize_us};
use validibot_types::ids::new_id;

use crate::db::Db;

/// One event to record.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub actor_id: Option<String>,
    pub actor: Option<String>,
    /// `session`, `api_key`, `cli` or `anonymous`.
    pub via: &'static str,
    pub client: Option<String>,
    pub action: String,
    pub workspace: Option<String>,
    pub target: Option<String>,
    pub status: Option<u16>,
    /// A JSON object with what else there is to say (never a secret).
    pub detail: serde_json::Value,
}

/// A recorded event, as the API and the export show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Event {
    pub id: String,
    #[serde(serialize_with = "serialize_us")]
    pub at: i64,
    pub actor: Option<String>,
    pub via: String,
    pub client: Option<String>,
    pub action: String,
    pub workspace: Option<String>,
    pub target: Option<String>,
    pub status: Option<i64>,
    #[serde(serialize_with = "as_json")]
    pub detail: String,
}

fn as_json<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    value.serialize(s)
}

pub async fn record(db: &Db, event: &NewEvent) -> Result<()> {
    let detail = if event.detail.is_object() {
        event.detail.to_string()
    } else {
        "{}".to_owned()
    };
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_id, actor, via, client, action, workspace, target, status, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new_id())
    .bind(now_us())
    .bind(event.actor_id.as_deref())
    .bind(event.actor.as_deref())
    .bind(event.via)
    .bind(event.client.as_deref())
    .bind(&event.action)
    .bind(event.workspace.as_deref())
    .bind(event.target.as_deref())
    .bind(event.status.map(i64::from))
    .bind(detail)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    /// An exact action, or a prefix ending in `*` (`sign*`).
    pub action: Option<String>,
    pub workspace: Option<String>,
    /// Microseconds since the epoch, inclusive.
    pub since: Option<i64>,
    /// Microseconds since the epoch, exclusive.
    pub until: Option<i64>,
    /// Events older than this one (`at`, `id`): the previous page's last.
    pub before: Option<(i64, String)>,
}

/// A bind value of a statement built from a filter.
enum Bind {
    Text(String),
    Int(i64),
}

/// Adds `value` to `binds` and answers its placeholder.
fn placeholder(binds: &mut Vec<Bind>, value: Bind) -> String {
    binds.push(value);
    format!("${}", binds.len())
}

/// Events matching `filter`, newest first, at most `limit`.
pub async fn list(db: &Db, filter: &Filter, limit: i64) -> Result<Vec<Event>> {
    let mut binds = Vec::new();
    let mut clauses = Vec::new();
    if let Some(actor) = &filter.actor {
        clauses.push(format!(
            "actor = {}",
            placeholder(&mut binds, Bind::Text(actor.clone()))
        ));
    }
    match filter
        .action
        .as_deref()
        .map(|a| a.strip_suffix('*').ok_or(a))
    {
        Some(Ok(prefix)) => {
            let escaped = prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let p = placeholder(&mut binds, Bind::Text(format!("{escaped}%")));
            clauses.push(format!("action LIKE {p} ESCAPE '\\'"));
        }
        Some(Err(exact)) => {
            clauses.push(format!(
                "action = {}",
                placeholder(&mut binds, Bind::Text(exact.to_owned()))
            ));
        }
        None => {}
    }
    if let Some(ws) = &filter.workspace {
        clauses.push(format!(
            "workspace = {}",
            placeholder(&mut binds, Bind::Text(ws.clone()))
        ));
    }
    if let Some(since) = filter.since {
        clauses.push(format!(
            "at >= {}",
            placeholder(&mut binds, Bind::Int(since))
        ));
    }
    if let Some(until) = filter.until {
        clauses.push(format!(
            "at < {}",
            placeholder(&mut binds, Bind::Int(until))
        ));
    }
    if let Some((at, id)) = &filter.before {
        let at = placeholder(&mut binds, Bind::Int(*at));
        let id = placeholder(&mut binds, Bind::Text(id.clone()));
        clauses.push(format!("(at < {at} OR (at = {at} AND id < {id}))"));
    }
    let limit_at = placeholder(&mut binds, Bind::Int(limit));
    let sql = format!(
        "SELECT id, at, actor, via, client, action, workspace, target, status, detail
         FROM audit_events {} ORDER BY at DESC, id DESC LIMIT {limit_at}",
        if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        }
    );
    // Built from the constant clauses above; every value is bound.
    let mut query = sqlx::query_as::<_, Event>(sqlx::AssertSqlSafe(sql));
    for bind in binds {
        query = match bind {
            Bind::Text(t) => query.bind(t),
            Bind::Int(n) => query.bind(n),
        };
    }
    Ok(query.fetch_all(&db.read).await?)
}

/// Deletes events recorded before `cutoff_us` (retention); how many.
pub async fn prune(db: &Db, cutoff_us: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
        .bind(cutoff_us)
        .execute(&db.write)
        .await?;
    Ok(done.rows_affected())
}

/// How many events were recorded before `cutoff_us` (a dry-run purge).
pub async fn count_before(db: &Db, cutoff_us: i64) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE at < $1")
        .bind(cutoff_us)
        .fetch_one(&db.read)
        .await?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        (dir, db)
    }

    fn event(actor: &str, action: &str, ws: Option<&str>) -> NewEvent {
        NewEvent {
            actor: Some(actor.into()),
            via: "api_key",
            action: action.into(),
            workspace: ws.map(Into::into),
            detail: serde_json::json!({"k": 1}),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn events_are_filtered_paged_and_never_changed() {
        let (_dir, db) = db().await;
        for (actor, action, ws) in [
            ("alice", "createWorkflow", Some("default")),
            ("bob", "signIn", None),
            ("alice", "signInFailed", None),
            ("alice", "deleteWorkflow", Some("other")),
            ("carol", "sign_in_like", None),
        ] {
            record(&db, &event(actor, action, ws)).await.unwrap();
        }
        let all = list(&db, &Filter::default(), 100).await.unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].action, "sign_in_like", "newest first");
        let by = |f: Filter| {
            let db = &db;
            async move {
                list(db, &f, 100)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.action)
                    .collect::<Vec<_>>()
            }
        };
        let alice = by(Filter {
            actor: Some("alice".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(alice, ["deleteWorkflow", "signInFailed", "createWorkflow"]);
        // A prefix; `_` in it is literal, not a wildcard.
        let sign = by(Filter {
            action: Some("signIn*".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(sign, ["signInFailed", "signIn"]);
        let ws = by(Filter {
            workspace: Some("default".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(ws, ["createWorkflow"]);
        // Pages of two, each after the previous page's last event.
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = list(
                &db,
                &Filter {
                    before: before.clone(),
                    ..Default::default()
                },
                2,
            )
            .await
            .unwrap();
            if page.is_empty() {
                break;
            }
            before = page.last().map(|e| (e.at, e.id.clone()));
            seen.extend(page.into_iter().map(|e| e.id));
        }
        assert_eq!(seen, all.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
        // Append-only: an UPDATE is refused by the database itself.
        let changed = sqlx::query("UPDATE audit_events SET actor = 'mallory'")
            .execute(&db.write)
            .await;
        assert!(format!("{:?}", changed.unwrap_err()).contains("append-only"));
        // Retention deletes what is old enough, nothing newer.
        assert_eq!(count_before(&db, all[2].at).await.unwrap(), 2);
        assert_eq!(prune(&db, all[2].at).await.unwrap(), 2);
        assert_eq!(list(&db, &Filter::default(), 100).await.unwrap().len(), 3);
    }
}
