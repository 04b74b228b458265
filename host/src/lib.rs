//! The `validibot` binary's library: the command tree (`commands`, every subcommand
//! operator and client alike) and the settings it reads (`config`). The product itself
//! lives in the layer crates below; see ARCHITECTURE.md for the map.

pub mod commands;
pub mod config;
