//! Validibot host: API, workflow engine, job queue and workers, WASM plugin host, CLI.
//! See ARCHITECTURE.md for the map.

pub mod admin;
pub mod backup;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod plugin_tools;
pub mod server;
