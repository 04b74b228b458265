//! The REST API under `/api/v1`: one handler module per resource; the route table
//! (`openapi`) documents and mounts them. Errors are `{"detail", "code"}` JSON.

pub(crate) mod account;
mod api_keys;
mod audit;
mod availability;
pub mod callbacks;
mod files;
pub(crate) mod invitations;
mod launch_input;
mod license;
pub mod openapi;
mod runs;
mod teams;
mod two_factor;
mod validators;
mod webhooks;
mod workflows;
mod workspaces;

use std::sync::Arc;

use axum::Router;

use crate::{ApiError, AppState};

/// The API's routes, from the route table.
pub fn router() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for (op, handler) in openapi::routes::routes() {
        // Routes on the same path merge their methods.
        router = router.route(op.path, handler);
    }
    router
}

/// What an unknown path under the API answers.
pub async fn not_found() -> ApiError {
    ApiError::not_found("NOT_FOUND", "no such endpoint")
}
