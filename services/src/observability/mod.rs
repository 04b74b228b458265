//! What operators watch: Prometheus metrics (recorded by the engine loop and the HTTP
//! layer, shared figures read at scrape time) and the readiness checks.

pub mod health;
pub mod metrics;
