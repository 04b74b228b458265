//! Who may do what: workspaces, users, memberships with roles, API keys; how people
//! get in (invitations, a second factor, single sign-on) and back in (password resets).

pub mod api_keys;
pub mod directory;
pub mod invitations;
pub mod mfa;
pub mod passwords;
pub mod recovery;
pub mod roles;
pub mod sessions;
pub mod sso;
pub mod teams;
pub mod throttle;

pub use roles::{Permission, Role};
