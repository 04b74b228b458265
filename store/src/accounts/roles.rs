//! Roles are cumulative (`owner > admin > author > executor > viewer`); each
//! permission names the least role that holds it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Executor,
    Author,
    Admin,
    Owner,
}

/// A stored `role` column's rank in SQL, so a statement can compare it with an actor's
/// [`rank`] and guard a change in the same statement that makes it.
pub(crate) const ROLE_RANK: &str = "CASE role WHEN 'owner' THEN 5 WHEN 'admin' THEN 4 WHEN 'author' THEN 3 WHEN 'executor' THEN 2 ELSE 1 END";

/// The rank [`ROLE_RANK`] gives `role`.
pub(crate) fn rank(role: Role) -> i64 {
    match role {
        Role::Owner => 5,
        Role::Admin => 4,
        Role::Author => 3,
        Role::Executor => 2,
        Role::Viewer => 1,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    WorkflowLaunch,
    WorkflowView,
    WorkflowEdit,
    ResultsViewAll,
    ValidatorEdit,
    WorkspaceManage,
}

impl Permission {
    pub fn name(self) -> &'static str {
        match self {
            Permission::WorkflowLaunch => "workflow.launch",
            Permission::WorkflowView => "workflow.view",
            Permission::WorkflowEdit => "workflow.edit",
            Permission::ResultsViewAll => "results.view_all",
            Permission::ValidatorEdit => "validator.edit",
            Permission::WorkspaceManage => "workspace.manage",
        }
    }

    /// Whether the permission changes data (read-only workspaces refuse these).
    pub fn writes(self) -> bool {
        !matches!(self, Permission::WorkflowView | Permission::ResultsViewAll)
    }

    fn least_role(self) -> Role {
        match self {
            Permission::WorkflowView => Role::Viewer,
            Permission::WorkflowLaunch => Role::Executor,
            Permission::WorkflowEdit | Permission::ResultsViewAll | Permission::ValidatorEdit => {
                Role::Author
            }
            Permission::WorkspaceManage => Role::Admin,
        }
    }
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Executor,
        Role::Author,
        Role::Admin,
        Role::Owner,
    ];

    /// What the role may do, in a line (the role pickers and `admin create-user --help`
    /// show it; roles are cumulative, so each line adds to the one before).
    pub fn summary(self) -> &'static str {
        match self {
            Role::Viewer => "sees the workspace's workflows; launches nothing",
            Role::Executor => "also launches runs and sees the results of their own runs",
            Role::Author => "also edits workflows, installs validators and sees every run",
            Role::Admin => "also manages members and the workspace's settings",
            Role::Owner => "also appoints owners and manages the license",
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        self >= permission.least_role()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Executor => "executor",
            Role::Author => "author",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "executor" => Role::Executor,
            "author" => Role::Author,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_cumulative() {
        assert!(Role::Executor.allows(Permission::WorkflowLaunch));
        assert!(!Role::Viewer.allows(Permission::WorkflowLaunch));
        assert!(Role::Viewer.allows(Permission::WorkflowView));
        assert!(!Role::Executor.allows(Permission::ResultsViewAll));
        assert!(Role::Author.allows(Permission::WorkflowEdit));
        assert!(!Role::Author.allows(Permission::WorkspaceManage));
        assert!(Role::Owner.allows(Permission::WorkspaceManage));
        for r in ["viewer", "executor", "author", "admin", "owner"] {
            assert_eq!(Role::parse(r).unwrap().as_str(), r);
        }
    }
}
