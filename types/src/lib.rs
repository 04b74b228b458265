//! The vocabulary every layer of Validibot shares. Nothing here does I/O or knows a
//! database, an engine or HTTP: these are values and the rules that make them valid
//! (plus the clock and id generators every layer stamps them with).

/// An enum whose values travel as fixed upper-case strings: `as_str`, `parse`, `ALL`
/// and serde, all from one table.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), s
                    ))
                })
            }
        }
    };
}

pub mod clock;
pub mod events;
pub mod finding;
pub mod hooks;
pub mod ids;
pub mod license_server;
pub mod media_types;
pub mod slug;
pub mod status;
pub mod step;

pub use finding::{Finding, Output, Severity};
pub use slug::{Slug, SlugError, SlugKind, ValidatorSlug, WorkflowSlug, WorkspaceSlug};
pub use status::{ErrorCategory, RunStatus, StepStatus};
pub use step::{Final, StepResult, StoredArtifact};
