//! `validibot plugin …`: tools for plugin authors — scaffold a crate, run it
//! against fixture documents, measure per-call latency, sign it — and the operator's
//! install, list and uninstall.

pub mod availability;
mod bench;
mod fixtures;
pub mod install;
mod scaffold;
mod signing;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;

use validibot_engines::plugins::{Limits, Plugin, PluginRegistry, Runtime};

#[derive(Debug, Clone, Subcommand)]
pub enum PluginCommand {
    /// Create a validator crate with a passing test, ready for `cargo build --target wasm32-wasip2`.
    New(scaffold::NewArgs),
    /// Run a component against fixture documents and compare findings with `<case>.expected.json`.
    Test(fixtures::TestArgs),
    /// Measure per-call latency of a component (warm instance and fresh instance per call).
    Bench(bench::BenchArgs),
    /// Check a component's signature and the component, and install it on this instance
    /// (same as `POST /api/v1/validators`).
    Install(install::InstallArgs),
    /// Installed components: every version, its signer and grants.
    List {
        #[command(flatten)]
        instance: crate::config::InstanceArgs,
    },
    /// Remove an installed component (refused while a workflow needs it).
    Uninstall(install::UninstallArgs),
    /// Switch an installed validator off without uninstalling it.
    Disable(availability::DisableArgs),
    /// Switch an installed validator on again, or (Pro) make it available in chosen
    /// workspaces only.
    Enable(availability::EnableArgs),
    /// Make a signing key pair; prints the public key for operators' trusted keys.
    Keygen(signing::KeygenArgs),
    /// Sign a component with your key: writes `<file>.sig`.
    Sign(signing::SignArgs),
}

/// The tools that need no database (`install` is async: see `main`).
pub fn run(command: &PluginCommand) -> Result<()> {
    match command {
        PluginCommand::New(args) => scaffold::run(args),
        PluginCommand::Test(args) => fixtures::run(args),
        PluginCommand::Bench(args) => bench::run(args),
        PluginCommand::Keygen(args) => signing::keygen(args),
        PluginCommand::Sign(args) => signing::sign(args),
        PluginCommand::Install(_)
        | PluginCommand::List { .. }
        | PluginCommand::Uninstall(_)
        | PluginCommand::Disable(_)
        | PluginCommand::Enable(_) => {
            anyhow::bail!("this plugin command runs on the async runtime")
        }
    }
}

/// Loads a component file, or a built-in validator by slug (e.g. `json-schema`).
fn load(runtime: &Runtime, plugin: &Path, limits: Limits) -> Result<Arc<Plugin>> {
    if !plugin.exists() {
        if let Some(slug) = plugin.to_str() {
            if let Some(p) = PluginRegistry::builtin(runtime, limits)?.get(slug) {
                return Ok(p.clone());
            }
        }
    }
    let bytes = std::fs::read(plugin).with_context(|| format!("reading {}", plugin.display()))?;
    let loaded = Plugin::load(runtime, &bytes, limits)
        .with_context(|| format!("loading {}", plugin.display()))?;
    Ok(Arc::new(loaded))
}

/// A compile cache so repeated tool runs start fast: the server's when
/// `VALIDIBOT_DATA_DIR` is set, else the user's cache dir (never the working dir).
fn runtime() -> Result<Runtime> {
    let cache = match std::env::var_os("VALIDIBOT_DATA_DIR") {
        Some(d) => Some(PathBuf::from(d).join("cache")),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("validibot")),
    };
    Runtime::new(cache.map(|c| c.join("wasm")))
}
