#![recursion_limit = "256"]
//! Validibot host: API, workflow engine, job queue and workers, WASM plugin host, CLI.
//! See ARCHITECTURE.md for the map.

pub mod accounts;
pub mod admin;
pub mod api;
pub mod backup;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod containers;
pub mod db;
pub mod evidence;
pub mod execution;
pub mod extensions;
pub mod http;
pub mod ids;
pub mod licensing;
pub mod media_types;
pub mod observability;
pub mod plugin_tools;
pub mod plugins;
pub mod queue;
pub mod reports;
pub mod retention;
pub mod runs;
pub mod server;
pub mod storage;
pub mod web;
pub mod workflows;
