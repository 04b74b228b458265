//! Validibot Pro extension (separately licensed; see LICENSE in this folder).
//!
//! Built as a cdylib and loaded by the host at startup through the C-ABI seam in
//! `validibot_plugin_api::extension`. It verifies signed license files and
//! answers the host's hooks: license status, the advanced validator catalog,
//! workspace policy and team-derived roles. All of it is synchronous and pure:
//! the host passes the clock, the stored license and the usage in every request,
//! and stores everything itself, so many processes sharing one database agree.

pub mod catalog;
pub use validibot_plugin_api::extension::features;
pub mod hooks;
pub mod keys;
pub mod license;
pub mod policy;
pub mod server;

use validibot_plugin_api::extension::{Extension, HookError};

/// The edition this crate implements.
pub const EDITION: &str = "pro";

#[derive(Default)]
pub struct Pro;

impl Extension for Pro {
    const NAME: &'static str = "validibot-commercial";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn call(&self, hook: &str, request: &[u8]) -> Result<Vec<u8>, HookError> {
        hooks::dispatch(hook, request)
    }
}

validibot_plugin_api::export_extension!(Pro);
