//! Hook names and their JSON requests/answers (the host side is
//! `host/src/extensions/hooks.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use validibot_plugin_api::extension::HookError;

use crate::license::{self, Status, Usage};
use crate::{catalog, features, keys, policy};

pub const HOOKS: &[&str] = &[
    "describe",
    "license.verify",
    "license.status",
    "validators.catalog",
    "workspaces.policy",
    "roles.effective",
];

#[derive(Deserialize)]
struct LicenseQuery {
    text: Option<String>,
    #[serde(default)]
    highest_serials: BTreeMap<String, u64>,
    now: i64,
    #[serde(default)]
    usage: Usage,
}

#[derive(Deserialize)]
struct FeaturesQuery {
    features: Vec<String>,
}

fn parse<'a, T: Deserialize<'a>>(hook: &str, request: &'a [u8]) -> Result<T, HookError> {
    serde_json::from_slice(request)
        .map_err(|e| HookError::Failed(format!("{hook}: bad request: {e}")))
}

/// Handles one hook call.
pub fn dispatch(hook: &str, request: &[u8]) -> Result<Vec<u8>, HookError> {
    let answer: Value = match hook {
        "describe" => json!({
            "edition": crate::EDITION,
            "hooks": HOOKS,
            "features": features::ALL,
            "trusted_kids": keys::embedded_kids(),
        }),
        "license.verify" => {
            let q: LicenseQuery = parse(hook, request)?;
            let text = q.text.unwrap_or_default();
            match license::verify(&text, &q.highest_serials, q.now) {
                Ok(payload) => json!({
                    "ok": true,
                    "license_id": payload.license_id,
                    "serial": payload.serial,
                    "unknown_features": payload.unknown_features(),
                    "status": Status::of(&payload, q.now, q.usage),
                }),
                Err(e) => json!({"ok": false, "reason": e.to_string()}),
            }
        }
        "license.status" => {
            let q: LicenseQuery = parse(hook, request)?;
            let status = match q.text {
                None => Status::community(q.usage),
                Some(text) => match license::verify(&text, &q.highest_serials, q.now) {
                    Ok(payload) => Status::of(&payload, q.now, q.usage),
                    Err(e) => Status::invalid(q.usage, e.to_string()),
                },
            };
            serde_json::to_value(status).map_err(|e| HookError::Failed(e.to_string()))?
        }
        "validators.catalog" => {
            let q: FeaturesQuery = parse(hook, request)?;
            catalog::advanced_validators(&q.features)
        }
        "workspaces.policy" => policy::workspace(&parse(hook, request)?),
        "roles.effective" => policy::effective_role(&parse(hook, request)?),
        _ => return Err(HookError::UnknownHook),
    };
    serde_json::to_vec(&answer).map_err(|e| HookError::Failed(e.to_string()))
}
