//! Validator endpoints: list what can run here; install a third-party component.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;

use super::launch_input::read_limited;
use crate::auth::{member, Caller};
use crate::{ApiError, AppState};
use validibot_engines::extensions::hooks::FeaturesQuery;
use validibot_engines::plugins::grants::Grants;
use validibot_plugin_api::extension::features;
use validibot_services::validators::availability;
use validibot_services::validators::images::{self, RegisterError, Registered};
use validibot_services::validators::installed::{self, InstallError, UninstallError};
use validibot_store::accounts::Permission;
use validibot_store::plugins;

/// Largest component accepted.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

pub async fn list(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    installed::sync(&state.db, &state.blobs, &state.plugins).await?;
    let settings = availability::all(&state.db).await?;
    let results: Vec<_> = state
        .plugins
        .all()
        .iter()
        .map(|p| described(&state, &p.meta, settings.get(&p.meta.slug)))
        .collect();
    let advanced = container_validators(&state).await?;
    Ok(Json(
        serde_json::json!({"results": results, "advanced": advanced}),
    ))
}

/// Container validators: the extension's catalog (Pro) and every registered
/// image, each with whether it can run here now and, if not, why.
async fn container_validators(state: &AppState) -> Result<Vec<serde_json::Value>, ApiError> {
    let status = state.licensing.status().await?;
    let catalog = state
        .licensing
        .registry()
        .hooks
        .validators_catalog
        .call(&FeaturesQuery {
            features: status.features.clone(),
        });
    let registered = images::list(&state.db).await?;
    let needs_pro = |feature: &str| {
        format!(
            "needs Validibot Pro with {feature} (license state: {})",
            status.state
        )
    };
    let mut out = Vec::new();
    for mut v in catalog.validators {
        let slug = v["slug"].as_str().unwrap_or_default().to_owned();
        let feature = v["feature"]
            .as_str()
            .unwrap_or(features::ADVANCED_VALIDATORS)
            .to_owned();
        let versions: Vec<_> = registered.iter().filter(|r| r.slug == slug).collect();
        let reason = if !status.has(&feature) {
            Some(needs_pro(&feature))
        } else if versions.is_empty() {
            Some(format!(
                "not registered on this instance: build the image, then `validibot containers register {}`",
                v["image"].as_str().unwrap_or("IMAGE")
            ))
        } else {
            None
        };
        v["available"] = reason.is_none().into();
        v["reason"] = reason.into();
        v["registered"] = serde_json::to_value(&versions).unwrap_or_default();
        out.push(v);
    }
    let in_catalog: Vec<String> = out
        .iter()
        .filter_map(|v| v["slug"].as_str().map(str::to_owned))
        .collect();
    for r in registered.iter().filter(|r| !in_catalog.contains(&r.slug)) {
        let reason = (!status.has(&r.feature)).then(|| needs_pro(&r.feature));
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["kind"] = "container".into();
        v["available"] = reason.is_none().into();
        v["reason"] = reason.into();
        out.push(v);
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
pub struct RegisterBody {
    image: String,
    /// The image's config (`docker image inspect` output), for an image the engine here
    /// does not have: a cluster's, registered by digest.
    #[serde(default)]
    image_config: Option<serde_json::Value>,
}

/// `POST /api/v1/validators/containers {"image": "…"}`: puts an image that is on
/// the engine on the allow-list. Admin of the default workspace; Pro (402).
pub async fn register_container(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<RegisterBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    member(&state, &caller, "default", Permission::WorkspaceManage).await?;
    let Json(body) = body.map_err(|e| ApiError::bad_request("INVALID_JSON", e.body_text()))?;
    let source = match &body.image_config {
        Some(config) => images::ImageSource::Config(config),
        None => images::ImageSource::Engine(state.containers.runner().await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "CONTAINER_ENGINE_UNAVAILABLE",
                format!("no container engine answers: {e:#}"),
            )
        })?),
    };
    match images::register_image(
        &state.db,
        source,
        &state.licensing,
        &body.image,
        Some(&caller.0.id),
    )
    .await
    {
        Ok(Registered::Created(v)) => Ok((
            StatusCode::CREATED,
            Json(serde_json::to_value(v).unwrap_or_default()),
        )),
        Ok(Registered::Unchanged(v)) => Ok((
            StatusCode::OK,
            Json(serde_json::to_value(v).unwrap_or_default()),
        )),
        Err(RegisterError::Invalid(detail)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_IMAGE",
            detail,
        )),
        Err(RegisterError::Conflict(detail)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "VALIDATOR_CONFLICT",
            detail,
        )),
        Err(RegisterError::ProRequired {
            feature,
            license_state,
            detail,
        }) => Err(ApiError::pro_required(
            "PRO_FEATURE_REQUIRED",
            &feature,
            &license_state,
            detail,
        )),
        Err(RegisterError::Internal(e)) => Err(e.into()),
    }
}

/// `POST /api/v1/validators` with the component as the body (`application/wasm`).
/// Instance-wide, so it takes an admin of the default workspace. 201 when installed,
/// 200 when this exact component was already, 409 for a version clash or a built-in
/// slug, 422 when the component fails the checks.
pub async fn install(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    // Read (bounded) before answering, so a refused upload still gets a clean response
    // instead of a connection reset; only authenticated callers get this far.
    let bytes = read_limited(&headers, body, MAX_COMPONENT_BYTES).await?;
    member(&state, &caller, "default", Permission::WorkspaceManage).await?;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = validibot_types::media_types::essence(kind);
    if essence != "application/wasm" && essence != "application/octet-stream" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the component as application/wasm",
        ));
    }
    // The `.sig` file's line, sent beside the bytes.
    let signature = match headers.get(SIGNATURE_HEADER) {
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::bad_request("INVALID_SIGNATURE", "X-Validibot-Signature is not text")
        })?),
        None => None,
    };
    match installed::install(
        &state.db,
        &state.blobs,
        &state.plugins,
        bytes,
        &Grants::default(), // capabilities are granted only from the command line
        (&state.settings.plugin_trust, signature),
        Some(&caller.0.id),
    )
    .await
    {
        Ok(done) => {
            let status = if done.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((
                status,
                Json(serde_json::to_value(&done.meta).unwrap_or_default()),
            ))
        }
        Err(InstallError::Invalid(detail)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_PLUGIN",
            detail,
        )),
        Err(InstallError::Unsigned(detail)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "PLUGIN_UNSIGNED",
            detail,
        )),
        Err(InstallError::BadSignature(detail)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "PLUGIN_SIGNATURE_INVALID",
            detail,
        )),
        Err(InstallError::Conflict(detail)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "PLUGIN_CONFLICT",
            detail,
        )),
        Err(InstallError::Internal(e)) => Err(e.into()),
    }
}

/// The header that carries a component's detached signature (the `.sig` file's line).
pub const SIGNATURE_HEADER: &str = "x-validibot-signature";

/// `GET /api/v1/validators/{slug}`: a validator with every installed version (who
/// signed it, who installed it, when, with which grants); a built-in has none.
pub async fn show(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    installed::sync(&state.db, &state.blobs, &state.plugins).await?;
    let Some(current) = state.plugins.get(&slug) else {
        return Err(ApiError::not_found(
            "VALIDATOR_NOT_FOUND",
            format!("no validator {slug:?} is installed"),
        ));
    };
    let versions = plugins::versions(&state.db, Some(&slug)).await?;
    let versions: Vec<_> = versions
        .iter()
        .map(|v| {
            let mut out = serde_json::to_value(v).unwrap_or_default();
            out["grants"] = serde_json::from_str(&v.grants).unwrap_or_default();
            out["latest"] = (v.version == current.meta.version).into();
            out
        })
        .collect();
    let settings = availability::all(&state.db).await?;
    let mut out = described(&state, &current.meta, settings.get(&slug));
    out["versions"] = versions.into();
    Ok(Json(out))
}

/// A validator as listed: what it describes, whether it is built in, where it may run.
fn described(
    state: &AppState,
    meta: &validibot_engines::plugins::PluginMeta,
    setting: Option<&availability::Availability>,
) -> serde_json::Value {
    let builtin = state.plugins.is_builtin(&meta.slug);
    let mut out = serde_json::to_value(meta).unwrap_or_default();
    out["builtin"] = builtin.into();
    if let serde_json::Value::Object(fields) = super::availability::view(builtin, setting) {
        for (k, v) in fields {
            out[k] = v;
        }
    }
    out
}

/// `DELETE /api/v1/validators/{slug}` (every version) or
/// `DELETE /api/v1/validators/{slug}/versions/{version}`: uninstalls. Instance-wide, so
/// an admin of the default workspace; 409 while a workflow still needs it.
pub async fn uninstall(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<StatusCode, ApiError> {
    uninstall_versions(&state, &caller, &slug, None).await
}

pub async fn uninstall_version(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((slug, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    uninstall_versions(&state, &caller, &slug, Some(&version)).await
}

async fn uninstall_versions(
    state: &AppState,
    caller: &Caller,
    slug: &str,
    version: Option<&str>,
) -> Result<StatusCode, ApiError> {
    member(state, caller, "default", Permission::WorkspaceManage).await?;
    match installed::uninstall(&state.db, &state.blobs, &state.plugins, slug, version).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(UninstallError::NotFound(detail)) => {
            Err(ApiError::not_found("VALIDATOR_NOT_FOUND", detail))
        }
        Err(UninstallError::Conflict(detail)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "VALIDATOR_IN_USE",
            detail,
        )),
        Err(UninstallError::Internal(e)) => Err(e.into()),
    }
}
