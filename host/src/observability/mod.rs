//! What operators watch: liveness and readiness probes, Prometheus metrics and
//! logs (JSON on request, with the run and step spans on every line).

pub mod health;
pub mod logging;
pub mod metrics;
