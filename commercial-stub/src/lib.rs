//! Validibot Pro extension (separately licensed; see LICENSE in this folder).
//!
//! Built as a cdylib and loaded by the host at runtime through the C-ABI seam
//! in `plugin-api`. The seam and the Pro hooks (license verification,
//! advanced validators, workspaces, teams) are delivered by the Pro edition
//! issue; until then this crate exports nothing and the product runs as the
//! Community edition.

/// The edition this crate implements, for the host's diagnostics.
pub const EDITION: &str = "pro";
