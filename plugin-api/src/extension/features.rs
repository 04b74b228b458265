//! Pro feature names: stable dotted strings, part of the API (`feature` in a 402,
//! `features` in `GET /api/v1/license`). Shared by the host and the Pro crate.

pub const ADVANCED_VALIDATORS: &str = "validators.advanced";
pub const USER_IMAGES: &str = "validators.user_images";
pub const MULTIPLE_WORKSPACES: &str = "workspaces.multiple";
pub const TEAMS: &str = "workspaces.teams";
/// Reading and exporting the audit log (it is recorded in every edition).
pub const AUDIT_LOG: &str = "audit.log";

pub const ALL: &[&str] = &[
    ADVANCED_VALIDATORS,
    USER_IMAGES,
    MULTIPLE_WORKSPACES,
    TEAMS,
    AUDIT_LOG,
];
