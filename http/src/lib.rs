#![recursion_limit = "256"]
//! Validibot's HTTP surface: the REST API (`api`) and the web UI (`web`) mounted
//! together, with what both share — state, errors, authentication, the probes — kept
//! at the crate root so neither reaches into the other. Handlers call services and
//! store repositories; this crate has no SQL (it does not depend on sqlx).

pub mod api;
pub mod audit;
pub mod auth;
mod error;
pub mod mcp;
pub mod probes;
pub mod rate_limit;
mod request_span;
pub mod router;
mod state;
mod uri;
pub mod web;

pub use error::ApiError;
pub use state::{ApiSettings, AppState};
