//! The typed hooks the core calls, each with its Community default. An extension
//! that implements a hook replaces the default; if a call fails (error, panic,
//! unreadable answer) the failure is logged and the Community answer is used, so
//! a faulty extension can switch Pro off but never take the server down.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::native::NativeExtension;

/// A license's limits; `None` = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub workspaces: u64,
    pub seats: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LicenseQuery {
    pub text: Option<String>,
    pub highest_serials: BTreeMap<String, u64>,
    /// Unix seconds (extensions never read a clock themselves).
    pub now: i64,
    pub usage: Usage,
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
}

impl LicenseStatus {
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// `license.verify`: whether a license file may be installed.
#[derive(Debug, Clone, Deserialize)]
pub struct VerifyAnswer {
    pub ok: bool,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub license_id: Option<String>,
    #[serde(default)]
    pub serial: Option<u64>,
    #[serde(default)]
    pub status: Option<LicenseStatus>,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceQuery {
    /// `create` or `write`.
    pub action: &'static str,
    pub is_default: bool,
    pub state: String,
    pub features: Vec<String>,
    pub limits: Limits,
    pub usage: Usage,
}

/// `workspaces.policy`: allowed, or why not (a 402's `code`, `feature`, `detail`).
#[derive(Debug, Clone, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub feature: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleQuery {
    pub direct: Option<String>,
    pub teams: Vec<String>,
    pub features: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoleAnswer {
    pub role: Option<String>,
}

/// One hook: the extension that implements it, else the Community default.
pub struct Hook<Q, A> {
    name: &'static str,
    provider: Option<Arc<NativeExtension>>,
    community: fn(&Q) -> A,
}

impl<Q: Serialize, A: DeserializeOwned> Hook<Q, A> {
    fn new(name: &'static str, community: fn(&Q) -> A) -> Self {
        Hook {
            name,
            provider: None,
            community,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn is_extended(&self) -> bool {
        self.provider.is_some()
    }

    pub fn call(&self, query: &Q) -> A {
        let Some(ext) = &self.provider else {
            return (self.community)(query);
        };
        let answer = serde_json::to_vec(query)
            .map_err(|e| e.to_string())
            .and_then(|req| ext.call(self.name, &req).map_err(|e| e.to_string()))
            .and_then(|body| {
                serde_json::from_slice(&body)
                    .map_err(|e| format!("hook {}: unreadable answer: {e}", self.name))
            });
        answer.unwrap_or_else(|e| {
            tracing::error!(
                extension = ext.name,
                hook = self.name,
                "extension hook failed, using the Community answer: {e}"
            );
            (self.community)(query)
        })
    }
}

/// Every hook the core calls. Built once at startup, immutable afterwards.
pub struct Hooks {
    pub license_verify: Hook<LicenseQuery, VerifyAnswer>,
    pub license_status: Hook<LicenseQuery, LicenseStatus>,
    pub validators_catalog: Hook<FeaturesQuery, Catalog>,
    pub workspaces_policy: Hook<WorkspaceQuery, Decision>,
    pub roles_effective: Hook<RoleQuery, RoleAnswer>,
}

pub use validibot_plugin_api::extension::features::MULTIPLE_WORKSPACES;

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            license_verify: Hook::new("license.verify", |_| {
                VerifyAnswer {
                ok: false,
                reason: Some("license files are read by the Pro extension: put libvalidibot_commercial.so in the extensions directory and restart".into()),
                license_id: None,
                serial: None,
                status: None,
            }
            }),
            license_status: Hook::new("license.status", |q| LicenseStatus {
                edition: "community".into(),
                state: "community".into(),
                features: Vec::new(),
                limits: Limits::default(),
                usage: q.usage,
                message: "Community edition".into(),
                license: None,
            }),
            validators_catalog: Hook::new("validators.catalog", |_| Catalog::default()),
            workspaces_policy: Hook::new("workspaces.policy", |q| {
                if q.action == "write" && q.is_default {
                    return Decision {
                        allowed: true,
                        code: None,
                        feature: None,
                        detail: None,
                    };
                }
                Decision {
                    allowed: false,
                    code: Some("PRO_FEATURE_REQUIRED".into()),
                    feature: Some(MULTIPLE_WORKSPACES.into()),
                    detail: Some("more than one workspace needs Validibot Pro".into()),
                }
            }),
            roles_effective: Hook::new("roles.effective", |q| RoleAnswer {
                role: q.direct.clone(),
            }),
        }
    }
}

impl Hooks {
    /// Hands each hook named in `provides` to `ext`; a hook another extension
    /// already took is a conflict (reported, first one wins).
    pub fn register(&mut self, ext: &Arc<NativeExtension>, provides: &[String]) -> Vec<String> {
        let mut conflicts = Vec::new();
        let mut take = |name: &str, slot: &mut Option<Arc<NativeExtension>>| {
            if !provides.iter().any(|p| p == name) {
                return;
            }
            match slot {
                Some(other) => {
                    conflicts.push(format!("hook {name} is already provided by {}", other.name))
                }
                None => *slot = Some(ext.clone()),
            }
        };
        take(self.license_verify.name, &mut self.license_verify.provider);
        take(self.license_status.name, &mut self.license_status.provider);
        take(
            self.validators_catalog.name,
            &mut self.validators_catalog.provider,
        );
        take(
            self.workspaces_policy.name,
            &mut self.workspaces_policy.provider,
        );
        take(
            self.roles_effective.name,
            &mut self.roles_effective.provider,
        );
        conflicts
    }

    /// Names of the hooks an extension replaced.
    pub fn extended(&self) -> Vec<&'static str> {
        [
            (self.license_verify.name, self.license_verify.is_extended()),
            (self.license_status.name, self.license_status.is_extended()),
            (
                self.validators_catalog.name,
                self.validators_catalog.is_extended(),
            ),
            (
                self.workspaces_policy.name,
                self.workspaces_policy.is_extended(),
            ),
            (
                self.roles_effective.name,
                self.roles_effective.is_extended(),
            ),
        ]
        .into_iter()
        .filter_map(|(n, e)| e.then_some(n))
        .collect()
    }
}
