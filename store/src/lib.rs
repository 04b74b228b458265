//! Validibot's persistence: every SQL statement the product runs lives in this crate,
//! as repositories per concept over SQLite (the embedded default) and PostgreSQL.
//! Layers above call these functions; none of them depends on sqlx.

pub mod accounts;
pub mod api_processes;
pub mod audit;
pub mod containers;
pub mod db;
pub mod evidence;
pub mod licensing;
pub mod plugins;
pub mod queue;
pub mod remote;
pub mod retention;
pub mod runs;
pub mod webhooks;
pub mod workflows;
