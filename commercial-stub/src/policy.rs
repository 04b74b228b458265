//! Pro policy: who may create workspaces, which workspaces are writable, and how
//! team grants combine with direct memberships.

use crate::features;
pub use validibot_types::hooks::{Decision, RoleAnswer, RoleQuery, WorkspaceQuery};

pub fn workspace(q: &WorkspaceQuery) -> Decision {
    let multiple = q
        .features
        .iter()
        .any(|f| f == features::MULTIPLE_WORKSPACES);
    match q.action.as_str() {
        "write" if q.is_default => Decision::allow(),
        "write" if multiple => Decision::allow(),
        "write" => Decision::deny(
            "PRO_FEATURE_REQUIRED",
            features::MULTIPLE_WORKSPACES,
            format!(
                "this workspace is read-only: extra workspaces need a valid Pro license (license state: {})",
                q.state
            ),
        ),
        "create" if !multiple => Decision::deny(
            "PRO_FEATURE_REQUIRED",
            features::MULTIPLE_WORKSPACES,
            "creating workspaces needs Validibot Pro with workspaces.multiple",
        ),
        "create" if q.limits.workspaces.is_some_and(|l| q.usage.workspaces >= l) => Decision::deny(
            "LICENSE_LIMIT_REACHED",
            features::MULTIPLE_WORKSPACES,
            format!(
                "the license allows {} workspaces and {} exist",
                q.limits.workspaces.unwrap_or_default(),
                q.usage.workspaces
            ),
        ),
        "create" => Decision::allow(),
        other => Decision::deny("UNKNOWN_ACTION", "", format!("unknown action {other:?}")),
    }
}

const ROLES: [&str; 5] = ["viewer", "executor", "author", "admin", "owner"];

/// The strongest of the direct role and, with `workspaces.teams`, the team grants.
pub fn effective_role(q: &RoleQuery) -> RoleAnswer {
    let rank = |r: &String| ROLES.iter().position(|x| x == r);
    let mut best = q.direct.as_ref().and_then(rank);
    if q.features.iter().any(|f| f == features::TEAMS) {
        for r in q.teams.iter().filter_map(rank) {
            best = best.max(Some(r));
        }
    }
    RoleAnswer {
        role: best.map(|i| ROLES[i].to_owned()),
    }
}
