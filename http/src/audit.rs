//! What goes into the audit log from HTTP: every API request that changes something
//! (any method but GET/HEAD/OPTIONS, launches aside) is recorded by [`record_changes`]
//! after it is answered — the operation's id as the action, its path parameters as the
//! target (tokens left out), the answer's status, who and from where — and the web's
//! own forms (sign-in, sign-out, invitation and reset links) record theirs through
//! [`record`]. Events are written in every edition; reading them needs Pro
//! (`audit.log`, `api::audit`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Value};
use validibot_store::audit::NewEvent;

use crate::auth::ActorSlot;
use crate::AppState;

/// Path parameters whose values are credentials: never recorded.
pub(crate) const SECRET_PARAMS: &[&str] = &["token"];

/// The operation id of each documented API route.
fn operation_ids() -> &'static HashMap<(Method, &'static str), &'static str> {
    static IDS: OnceLock<HashMap<(Method, &'static str), &'static str>> = OnceLock::new();
    IDS.get_or_init(|| {
        crate::api::openapi::routes::ops()
            .into_iter()
            .map(|op| ((op.method, op.path), op.id))
            .collect()
    })
}

/// The launch operation: runs are their own record.
const NOT_RECORDED: &[&str] = &["launchRun"];

/// The middleware: records the API requests that change something.
pub async fn record_changes(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        || !req.uri().path().starts_with("/api/")
    {
        return next.run(req).await;
    }
    let Some(template) = req.extensions().get::<MatchedPath>().cloned() else {
        return next.run(req).await;
    };
    let Some(action) = operation_ids()
        .get(&(method.clone(), template.as_str()))
        .copied()
    else {
        return next.run(req).await;
    };
    if NOT_RECORDED.contains(&action) {
        return next.run(req).await;
    }
    let slot = ActorSlot::default();
    req.extensions_mut().insert(slot.clone());
    let client = crate::auth::request_client(&state, req.headers(), req.extensions());
    let params = path_params(template.as_str(), req.uri().path());
    let query = req.uri().query().map(str::to_owned);
    let response = next.run(req).await;
    let status = response.status().as_u16();
    // Refusals before authentication (401, 429) say nothing about anyone: not recorded.
    if status == 401 || status == 429 {
        return response;
    }
    let actor = slot.take();
    let workspace = params
        .iter()
        .find(|(k, _)| k == "ws")
        .map(|(_, v)| v.clone());
    let target = params
        .iter()
        .filter(|(k, _)| *k != "ws" && !SECRET_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    record(
        &state,
        NewEvent {
            actor_id: actor.as_ref().map(|a| a.id.clone()),
            actor: actor.as_ref().map(|a| a.name.clone()),
            via: actor.as_ref().map_or("anonymous", |a| a.via.as_str()),
            client: Some(client),
            action: action.to_owned(),
            workspace,
            target: (!target.is_empty()).then_some(target),
            status: Some(status),
            detail: json!({"method": method.as_str(), "route": template.as_str(), "query": query}),
        },
    )
    .await;
    response
}

/// A route's path parameters from the request path (`{name}` segments of the template).
fn path_params(template: &str, path: &str) -> Vec<(String, String)> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, p)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_owned(), crate::uri::unescape(p)))
        })
        .collect()
}

/// Writes one event. A failure is logged, not returned: the change it records has
/// already happened and its answer must not turn into an error.
pub async fn record(state: &AppState, event: NewEvent) {
    if let Err(e) = validibot_store::audit::record(&state.db, &event).await {
        tracing::error!(action = %event.action, "audit log: {e:#}");
    }
}

/// An event of the web's own forms (sign-in and the like), by a known user or not;
/// `via` is `session` for a signed-in user's action, else `anonymous`.
pub fn web_event(
    action: &str,
    via: &'static str,
    user: Option<(&str, &str)>,
    client: String,
    detail: Value,
) -> NewEvent {
    NewEvent {
        actor_id: user.map(|(id, _)| id.to_owned()),
        actor: user.map(|(_, name)| name.to_owned()),
        via,
        client: Some(client),
        action: action.to_owned(),
        detail,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_come_from_the_template() {
        let p = path_params(
            "/api/v1/workspaces/{ws}/workflows/{slug}",
            "/api/v1/workspaces/default/workflows/my%20flow",
        );
        assert_eq!(
            p,
            [
                ("ws".to_owned(), "default".to_owned()),
                ("slug".to_owned(), "my flow".to_owned())
            ]
        );
    }

    #[test]
    fn every_operation_has_an_id() {
        let ids = operation_ids();
        assert_eq!(
            ids.get(&(Method::POST, "/api/v1/api-keys")).copied(),
            Some("createApiKey")
        );
    }
}
