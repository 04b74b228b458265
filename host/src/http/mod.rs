//! The HTTP surface: the REST API (`api`) and the web UI (`web`) mounted together,
//! with what both share — state, errors, and authentication — kept here so neither
//! reaches into the other.

pub mod auth;
mod error;
pub mod router;
mod state;

pub use error::ApiError;
pub use state::{ApiSettings, AppState};
