//! The typed hooks the core calls, each with its Community default. An extension
//! that implements a hook replaces the default; if a call fails (error, panic,
//! unreadable answer) the failure is logged and the Community answer is used, so
//! a faulty extension can switch Pro off but never take the server down.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::native::NativeExtension;

use validibot_types::hooks as names;
pub use validibot_types::hooks::{
    Catalog, Decision, FeaturesQuery, LicenseQuery, LicenseStatus, Limits, OnlineStatus,
    RoleAnswer, RoleQuery, Usage, VerifyAnswer, WorkspaceQuery,
};

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
            license_verify: Hook::new(names::LICENSE_VERIFY, |_| {
                VerifyAnswer {
                ok: false,
                reason: Some("license files are read by the Pro extension: put libvalidibot_commercial.so in the extensions directory and restart".into()),
                ..VerifyAnswer::default()
            }
            }),
            license_status: Hook::new(names::LICENSE_STATUS, |q| LicenseStatus {
                edition: "community".into(),
                state: "community".into(),
                features: Vec::new(),
                limits: Limits::default(),
                usage: q.usage,
                message: "Community edition".into(),
                license: None,
                online: None,
            }),
            validators_catalog: Hook::new(names::VALIDATORS_CATALOG, |_| Catalog::default()),
            workspaces_policy: Hook::new(names::WORKSPACES_POLICY, |q| {
                if q.action == "write" && q.is_default {
                    return Decision::allow();
                }
                Decision::deny(
                    "PRO_FEATURE_REQUIRED",
                    MULTIPLE_WORKSPACES,
                    "more than one workspace needs Validibot Pro",
                )
            }),
            roles_effective: Hook::new(names::ROLES_EFFECTIVE, |q| RoleAnswer {
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
