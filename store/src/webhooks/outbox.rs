//! Announcing an event: one statement, run inside the transaction that makes the change,
//! queues a delivery for every enabled endpoint of the workspace subscribed to it. A
//! change that rolls back announces nothing; one that commits is never lost.

use validibot_types::clock::now_us;
use validibot_types::events::EventType;
use validibot_types::ids::{new_id, RunId, WorkspaceId};

use crate::db::batch::{Arg, Stmt};

/// Whose endpoints hear of the event.
pub enum Audience<'a> {
    Workspace(&'a WorkspaceId),
    /// The workspace of a run (its end is written without the workspace at hand).
    RunOf(&'a RunId),
}

/// A fresh event id, the `webhook-id` header every attempt of its deliveries carries.
pub fn event_id() -> String {
    format!("msg_{}", new_id().replace('-', ""))
}

/// Queues `events` (each gets its own id) with `data` — what the event is about, fixed
/// now — for the subscribed endpoints. Costs one indexed lookup when there are none.
pub fn announce(audience: Audience<'_>, events: &[EventType], data: &serde_json::Value) -> Stmt {
    let now = now_us();
    let mut args: Vec<Arg> = vec![data.to_string().into(), now.into()];
    let scope = match audience {
        Audience::Workspace(ws) => {
            args.push(ws.into());
            "$3".to_owned()
        }
        Audience::RunOf(run) => {
            args.push(run.into());
            "(SELECT workspace_id FROM runs WHERE id = $3)".to_owned()
        }
    };
    let mut ids = String::from("CASE s.event_type");
    let mut types = Vec::new();
    for e in events {
        let n = args.len();
        args.push(e.as_str().into());
        args.push(event_id().into());
        ids.push_str(&format!(" WHEN ${} THEN ${}", n + 1, n + 2));
        types.push(format!("${}", n + 1));
    }
    ids.push_str(" END");
    Stmt::new(
        format!(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, data, state, attempts, next_attempt_at, created_at)
             SELECT e.id, {ids}, s.event_type, $1, 'pending', 0, $2, $2
             FROM webhook_endpoints e JOIN webhook_subscriptions s ON s.endpoint_id = e.id
             WHERE e.workspace_id = {scope} AND e.enabled = 1 AND s.event_type IN ({})",
            types.join(", ")
        ),
        args,
    )
}
