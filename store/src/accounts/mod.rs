//! Who may do what: workspaces, users, memberships with roles, API keys.

pub mod api_keys;
pub mod directory;
pub mod passwords;
pub mod roles;
pub mod sessions;
pub mod teams;
pub mod throttle;

pub use roles::{Permission, Role};
