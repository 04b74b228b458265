//! Runs: one submission through one workflow version, with step runs and findings.

pub mod launch;
pub mod record;
pub mod stats;
pub mod view;
