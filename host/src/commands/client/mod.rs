//! The client side of the `validibot` binary: `login`, `workflows`, `runs`, `validate` talk to
//! a server over the REST API; `check` runs a workflow locally with the embedded
//! validators. All of them share the exit codes of [`exit`] so CI pipelines can gate on
//! them.

pub mod check;
pub mod credentials;
pub mod document;
pub mod exit;
pub mod login;
pub mod output;
pub mod rest;
pub mod runs;
pub mod validate;
pub mod wait;
pub mod workflow_file;
pub mod workflows;
