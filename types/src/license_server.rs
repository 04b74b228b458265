//! The online-licensing protocol between an instance and the vendor's license
//! server (`validibot-license serve` in the commercial crate). The instance sends its
//! signed license file and its id; the server answers with a signed *lease* (a JSON
//! envelope the Pro extension verifies), or a `{detail, code}` refusal. Answers are
//! signed, so the transport only has to deliver them: the host never interprets a
//! lease itself.

use serde::{Deserialize, Serialize};

/// `POST`: activate this instance, or revalidate an activation it already holds.
pub const ACTIVATE_PATH: &str = "/v1/activations";
/// `POST`: give this instance's activation back (moving to another machine).
pub const RELEASE_PATH: &str = "/v1/activations/release";

/// Refusal codes the server answers with (HTTP 4xx, `{detail, code}`).
pub mod codes {
    /// Every instance the license allows is activated already.
    pub const INSTANCES_EXHAUSTED: &str = "INSTANCES_EXHAUSTED";
    /// The license file does not verify (or is not an online license).
    pub const LICENSE_INVALID: &str = "LICENSE_INVALID";
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
}

/// Body of [`ACTIVATE_PATH`] and [`RELEASE_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRequest {
    /// The armored license file, as installed.
    pub license: String,
    /// The instance's stable id (one per database, shared by all its processes).
    pub instance_id: String,
    /// A name the vendor can recognise the instance by (host name, public URL).
    #[serde(default)]
    pub instance_name: String,
    /// What the instance uses, for the vendor's view of seats.
    #[serde(default)]
    pub seats_in_use: u64,
    #[serde(default)]
    pub workspaces_in_use: u64,
    /// The instance's Validibot version.
    #[serde(default)]
    pub version: String,
}

/// A refusal body (the same shape as the product's API errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub detail: String,
    pub code: String,
}
