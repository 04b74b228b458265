//! Pro policy: who may create workspaces, which workspaces are writable, and how
//! team grants combine with direct memberships.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::features;
use crate::license::{Limits, Usage};

#[derive(Deserialize)]
pub struct WorkspaceQuery {
    /// `create` (a new workspace) or `write` (change anything in an existing one).
    pub action: String,
    #[serde(default)]
    pub is_default: bool,
    pub state: String,
    pub features: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub usage: Usage,
}

fn deny(code: &str, feature: &str, detail: String) -> Value {
    json!({"allowed": false, "code": code, "feature": feature, "detail": detail})
}

pub fn workspace(q: &WorkspaceQuery) -> Value {
    let multiple = q
        .features
        .iter()
        .any(|f| f == features::MULTIPLE_WORKSPACES);
    match q.action.as_str() {
        "write" if q.is_default => json!({"allowed": true}),
        "write" if multiple => json!({"allowed": true}),
        "write" => deny(
            "PRO_FEATURE_REQUIRED",
            features::MULTIPLE_WORKSPACES,
            format!(
                "this workspace is read-only: extra workspaces need a valid Pro license (license state: {})",
                q.state
            ),
        ),
        "create" if !multiple => deny(
            "PRO_FEATURE_REQUIRED",
            features::MULTIPLE_WORKSPACES,
            "creating workspaces needs Validibot Pro with workspaces.multiple".into(),
        ),
        "create" if q.limits.workspaces.is_some_and(|l| q.usage.workspaces >= l) => deny(
            "LICENSE_LIMIT_REACHED",
            features::MULTIPLE_WORKSPACES,
            format!(
                "the license allows {} workspaces and {} exist",
                q.limits.workspaces.unwrap_or_default(),
                q.usage.workspaces
            ),
        ),
        "create" => json!({"allowed": true}),
        other => deny("UNKNOWN_ACTION", "", format!("unknown action {other:?}")),
    }
}

const ROLES: [&str; 5] = ["viewer", "executor", "author", "admin", "owner"];

#[derive(Deserialize)]
pub struct RoleQuery {
    pub direct: Option<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    pub features: Vec<String>,
}

/// The strongest of the direct role and, with `workspaces.teams`, the team grants.
pub fn effective_role(q: &RoleQuery) -> Value {
    let rank = |r: &String| ROLES.iter().position(|x| x == r);
    let mut best = q.direct.as_ref().and_then(rank);
    if q.features.iter().any(|f| f == features::TEAMS) {
        for r in q.teams.iter().filter_map(rank) {
            best = best.max(Some(r));
        }
    }
    json!({"role": best.map(|i| ROLES[i])})
}
