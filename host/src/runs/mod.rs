//! Runs: one submission through one workflow version, with step runs and findings.

pub mod launch;
pub mod status;
pub mod view;

pub use status::{ErrorCategory, RunStatus};
