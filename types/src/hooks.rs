//! The native extension hooks: their names and the JSON each request and answer
//! carries. The host (caller) and the commercial extension (provider) both use these
//! types, so the two sides cannot drift apart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const DESCRIBE: &str = "describe";
pub const LICENSE_VERIFY: &str = "license.verify";
pub const LICENSE_STATUS: &str = "license.status";
pub const VALIDATORS_CATALOG: &str = "validators.catalog";
pub const WORKSPACES_POLICY: &str = "workspaces.policy";
pub const ROLES_EFFECTIVE: &str = "roles.effective";

/// A license's limits; `None` = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Workspaces allowed in total, the default one included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<u64>,
    /// Users holding any membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u64>,
}

/// What the instance uses against the license's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub workspaces: u64,
    pub seats: u64,
}

/// `license.verify` and `license.status` requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenseQuery {
    pub text: Option<String>,
    #[serde(default)]
    pub highest_serials: BTreeMap<String, u64>,
    /// Unix seconds (extensions never read a clock themselves).
    pub now: i64,
    #[serde(default)]
    pub usage: Usage,
    /// The license server's last signed answer for this instance (online licenses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
    /// This instance's id, which the license server's answers must name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// An online license's standing with the license server (absent for offline files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineStatus {
    /// The license server's base URL (from the signed license).
    pub server: String,
    /// Whether a signed answer for this instance is held.
    pub activated: bool,
    /// When the license server last answered (Unix seconds, its clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<i64>,
    /// When the host should ask again (Unix seconds; at or before now: ask now).
    pub next_check_at: i64,
    /// When features turn off if the server stays unreachable (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_until: Option<i64>,
    #[serde(default)]
    pub revoked: bool,
    /// Instances activated and allowed, as of the last answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances_used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances_max: Option<u64>,
    /// Why the last attempt to reach the server failed (filled in by the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `license.status`: the state at `now`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseStatus {
    pub edition: String,
    /// community, valid, expiring_soon, grace, expired, invalid, over_limit
    pub state: String,
    /// Features on right now.
    pub features: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub usage: Usage,
    pub message: String,
    /// The license's facts (id, customer, dates), for admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<serde_json::Value>,
    /// Online licenses only: the standing with the license server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineStatus>,
}

impl LicenseStatus {
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// `license.verify`: whether a license file may be installed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyAnswer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    /// Features the license names that this extension does not know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LicenseStatus>,
}

/// `validators.catalog` request: the features on right now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeaturesQuery {
    pub features: Vec<String>,
}

/// `validators.catalog`: advanced validators an extension offers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(default)]
    pub validators: Vec<serde_json::Value>,
    #[serde(default)]
    pub operator_images: bool,
}

/// `workspaces.policy` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkspaceQuery {
    /// `create` (a new workspace) or `write` (change anything in an existing one).
    pub action: String,
    #[serde(default)]
    pub is_default: bool,
    pub state: String,
    pub features: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub usage: Usage,
}

/// `workspaces.policy`: allowed, or why not (a 402's `code`, `feature`, `detail`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Decision {
    pub fn allow() -> Decision {
        Decision {
            allowed: true,
            ..Decision::default()
        }
    }

    pub fn deny(code: &str, feature: &str, detail: impl Into<String>) -> Decision {
        Decision {
            allowed: false,
            code: Some(code.into()),
            feature: Some(feature.into()),
            detail: Some(detail.into()),
        }
    }
}

/// `roles.effective` request: the direct role and the roles team grants give.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleQuery {
    pub direct: Option<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    pub features: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleAnswer {
    pub role: Option<String>,
}
