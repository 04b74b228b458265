//! The API's route table and the OpenAPI 3.1 description generated from it.
//!
//! Every route is declared once, as an `Op` (`document`) next to its handler (`routes`); the router is built
//! from that table and so is `/api/v1/openapi.json`, so a route cannot exist without
//! being documented. `tests/openapi.rs` checks the served document against the live
//! server (every documented operation answers, every other method is 405).

mod document;
pub mod routes;
mod schemas;
