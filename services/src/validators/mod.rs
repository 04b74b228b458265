//! The validators this instance offers beyond the built-ins: `installed` WASM plugins
//! (checked, recorded, loaded by every process) and registered container `images`
//! (metadata from labels, the Pro feature each needs).

pub mod conformance;
pub mod images;
pub mod installed;
