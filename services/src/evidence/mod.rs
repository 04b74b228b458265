//! Signed evidence of finished runs: `manifest` (what ran on what, with digests),
//! `canonical` (one byte form per JSON value), `key` (the instance's ed25519 key,
//! published for offline verification), `cli` (`validibot verify`).

pub mod canonical;
pub mod key;
pub mod manifest;

pub use key::InstanceKey;
