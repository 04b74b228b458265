//! Hook names and their JSON requests/answers (the host side is
//! `engines/src/extensions/hooks.rs`).

use serde::Deserialize;
use serde_json::{json, Value};
use validibot_plugin_api::extension::HookError;

use validibot_types::hooks::{self as names, FeaturesQuery, LicenseQuery};

use crate::license::{self, lease, Status};
use crate::{catalog, features, keys, policy};

pub const HOOKS: &[&str] = &[
    names::DESCRIBE,
    names::LICENSE_VERIFY,
    names::LICENSE_STATUS,
    names::VALIDATORS_CATALOG,
    names::WORKSPACES_POLICY,
    names::ROLES_EFFECTIVE,
];

fn parse<'a, T: Deserialize<'a>>(hook: &str, request: &'a [u8]) -> Result<T, HookError> {
    serde_json::from_slice(request)
        .map_err(|e| HookError::Failed(format!("{hook}: bad request: {e}")))
}

fn to_value(answer: impl serde::Serialize) -> Result<Value, HookError> {
    serde_json::to_value(answer).map_err(|e| HookError::Failed(e.to_string()))
}

/// Handles one hook call.
pub fn dispatch(hook: &str, request: &[u8]) -> Result<Vec<u8>, HookError> {
    let answer: Value = match hook {
        names::DESCRIBE => json!({
            "edition": crate::EDITION,
            "hooks": HOOKS,
            "features": features::ALL,
            "trusted_kids": keys::embedded_kids(),
        }),
        names::LICENSE_VERIFY => {
            let q: LicenseQuery = parse(hook, request)?;
            let text = q.text.unwrap_or_default();
            match license::verify(&text, &q.highest_serials, q.now) {
                Ok(payload) => json!({
                    "ok": true,
                    "license_id": payload.license_id,
                    "serial": payload.serial,
                    "unknown_features": payload.unknown_features(),
                    "status": lease::status_at(&payload, q.now, q.usage, q.lease.as_deref(), q.instance_id.as_deref()),
                }),
                Err(e) => json!({"ok": false, "reason": e.to_string()}),
            }
        }
        names::LICENSE_STATUS => {
            let q: LicenseQuery = parse(hook, request)?;
            let status = match q.text {
                None => Status::community(q.usage),
                Some(text) => match license::verify(&text, &q.highest_serials, q.now) {
                    Ok(payload) => lease::status_at(
                        &payload,
                        q.now,
                        q.usage,
                        q.lease.as_deref(),
                        q.instance_id.as_deref(),
                    ),
                    Err(e) => Status::invalid(q.usage, e.to_string()),
                },
            };
            to_value(status)?
        }
        names::VALIDATORS_CATALOG => {
            let q: FeaturesQuery = parse(hook, request)?;
            catalog::advanced_validators(&q.features)
        }
        names::WORKSPACES_POLICY => to_value(policy::workspace(&parse(hook, request)?))?,
        names::ROLES_EFFECTIVE => to_value(policy::effective_role(&parse(hook, request)?))?,
        _ => return Err(HookError::UnknownHook),
    };
    serde_json::to_vec(&answer).map_err(|e| HookError::Failed(e.to_string()))
}
