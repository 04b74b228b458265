//! Identifiers: UUIDv7 text, so ids sort by creation time (cursor pagination relies on it).
//!
//! Each kind of record has its own id type, so a user id cannot be passed where a
//! workspace id is expected (`set_membership(user, workspace)` swapped is a compile
//! error, not a silent wrong row). Ids are opaque: whatever text the database holds is
//! an id (a restored backup may carry ids minted by another version), so converting from
//! a `String` never fails; only `new` mints one.
//!
//! ```compile_fail
//! use validibot_types::ids::{UserId, WorkspaceId};
//! fn set_membership(_user: &UserId, _workspace: &WorkspaceId) {}
//! let (user, workspace) = (UserId::new(), WorkspaceId::new());
//! set_membership(&workspace, &user); // swapped: does not compile
//! ```

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Random alphanumeric token (API key parts, secrets).
pub fn random_token(len: usize) -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// `N` bytes from the operating system's random source (secret keys).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(new_id())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}

id_type! {
    /// A validation run.
    RunId;
    /// A workflow (one version of it: each saved version has its own id).
    WorkflowId;
    /// A workspace.
    WorkspaceId;
    /// A user.
    UserId;
    /// A queued job (one per run that waits for a worker).
    JobId;
    /// A webhook endpoint of a workspace.
    WebhookId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_travel_as_plain_strings() {
        let a = RunId::new();
        let b = RunId::new();
        assert!(a < b, "UUIDv7 sorts by creation");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, format!("\"{a}\""));
        assert_eq!(serde_json::from_str::<RunId>(&json).unwrap(), a);
        assert_eq!(RunId::from(a.as_str()), a);
    }
}
