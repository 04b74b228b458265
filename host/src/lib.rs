#![recursion_limit = "256"]
//! Validibot host: API, workflow engine, job queue and workers, WASM plugin host, CLI.
//! See ARCHITECTURE.md for the map.

pub mod admin;
pub mod api;
pub mod backup;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod containers;
pub mod evidence;
pub mod execution;
pub mod extensions;
pub mod http;
pub mod licensing;
pub mod observability;
pub mod plugin_tools;
pub mod plugins;
pub mod reports;
pub mod retention;
pub mod server;
pub mod web;
pub mod workflows;
