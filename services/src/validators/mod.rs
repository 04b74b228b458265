//! The validators this instance offers beyond the built-ins: `installed` WASM plugins
//! (checked, recorded, loaded by every process) and registered container `images`
//! (metadata from labels, the Pro feature each needs), and the `availability` of
//! installed ones (disabled, or enabled in chosen workspaces).

pub mod availability;
pub mod conformance;
pub mod images;
pub mod installed;
