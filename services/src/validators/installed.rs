//! Installing third-party validators (`validibot plugin install`, `POST /api/v1/validators`)
//! and keeping every process's registry in step with the database.
//!
//! A component is checked before it is recorded: it must be a component for a
//! supported `validibot:validator` version, answer `describe` within the setup
//! deadline, use a valid slug and semver version, name valid media types, and
//! publish a config schema that compiles as a JSON Schema. Before any of that, its
//! signature is checked against the operator's trusted plugin keys (an unsigned
//! component needs the operator's explicit allowance). Its bytes go to
//! content-addressed storage; the row records sha256, version, schema and signer.

use std::sync::Arc;
use validibot_types::ids::UserId;

use anyhow::{Context, Result};
use thiserror::Error;

use validibot_blobs::BlobStore;
use validibot_engines::plugins::contract::Version;
use validibot_engines::plugins::grants::Grants;
use validibot_engines::plugins::{Plugin, PluginMeta, PluginRegistry};
use validibot_engines::trust::TrustedKeys;
use validibot_plugin_api::signature::PLUGIN;
use validibot_store::db::Db;
use validibot_store::plugins;

/// Whose signatures make a component installable.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// `VALIDIBOT_PLUGIN_TRUSTED_KEYS`.
    pub keys: TrustedKeys,
    /// `VALIDIBOT_ALLOW_UNSIGNED_PLUGINS` (server) or `plugin install --allow-unsigned`.
    pub allow_unsigned: bool,
}

impl Trust {
    /// The signer's key id; `None` for an unsigned component the operator allows.
    pub fn check(
        &self,
        bytes: &[u8],
        signature: Option<&str>,
    ) -> Result<Option<String>, InstallError> {
        match signature {
            Some(sig) => self
                .keys
                .verify(&PLUGIN, bytes, sig)
                .map(Some)
                .map_err(|e| InstallError::BadSignature(format!("signature check failed: {e}"))),
            None if self.allow_unsigned => Ok(None),
            None => Err(InstallError::Unsigned(
                "the component is unsigned: sign it (validibot plugin sign) with a key the operator lists in VALIDIBOT_PLUGIN_TRUSTED_KEYS, or the operator must allow unsigned plugins (VALIDIBOT_ALLOW_UNSIGNED_PLUGINS=true, or plugin install --allow-unsigned)".into(),
            )),
        }
    }
}

#[derive(Debug, Error)]
pub enum InstallError {
    #[error("{0}")]
    Invalid(String),
    /// No signature, and unsigned components are not allowed here.
    #[error("{0}")]
    Unsigned(String),
    /// A signature that is malformed, by an untrusted key, or not over these bytes.
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub struct Installed {
    pub meta: PluginMeta,
    /// False when this exact component was already installed.
    pub created: bool,
}

/// Checks and records a component; the registry can run it right away.
pub async fn install(
    db: &Db,
    blobs: &BlobStore,
    registry: &PluginRegistry,
    bytes: Vec<u8>,
    grants: &Grants,
    signature: (&Trust, Option<&str>),
    installed_by: Option<&UserId>,
) -> Result<Installed, InstallError> {
    let (trust, signature) = signature;
    let signed_by = trust.check(&bytes, signature)?;
    let bytes = Arc::new(bytes);
    let reg = registry.clone();
    let b = bytes.clone();
    let g = grants.clone();
    let plugin = tokio::task::spawn_blocking(move || {
        Plugin::load_with(reg.runtime(), &b, reg.limits(), g).map(Plugin::isolated)
    })
    .await
    .context("plugin load task")?
    .map_err(|e| InstallError::Invalid(format!("{e:#}")))?;
    let plugin = Arc::new(plugin);
    check(registry, &plugin).await?;
    let meta = plugin.meta.clone();
    let grants_text = serde_json::to_string(grants).map_err(anyhow::Error::from)?;
    if let Some(existing) = plugins::sha256_of(db, &meta.slug, &meta.version).await? {
        if existing == meta.sha256 {
            // Same component: the grants given now replace the recorded ones.
            plugins::set_grants(db, &meta.slug, &meta.version, &grants_text).await?;
            sync(db, blobs, registry).await?;
            return Ok(Installed {
                meta,
                created: false,
            });
        }
        return Err(InstallError::Conflict(format!(
            "{} {} is already installed with a different component (sha256 {existing}); bump the version",
            meta.slug, meta.version
        )));
    }
    let stored = blobs.put_bytes(bytes).await?;
    let recorded = plugins::insert(
        db,
        &plugins::NewPlugin {
            slug: &meta.slug,
            version: &meta.version,
            sha256: &meta.sha256,
            size: stored.size,
            wit_version: &meta.wit_version,
            name: &meta.name,
            description: &meta.description,
            content_types: serde_json::to_string(&meta.content_types)
                .map_err(anyhow::Error::from)?,
            config_schema: meta.config_schema.to_string(),
            grants: &grants_text,
            installed_by,
            signed_by: signed_by.as_deref(),
        },
    )
    .await?;
    if !recorded {
        return Err(InstallError::Conflict(format!(
            "{} {} was installed concurrently",
            meta.slug, meta.version
        )));
    }
    registry.add_installed(plugin, true);
    tracing::info!(slug = %meta.slug, version = %meta.version, sha256 = %meta.sha256, signed_by = ?signed_by, "plugin installed");
    Ok(Installed {
        meta,
        created: true,
    })
}

async fn check(registry: &PluginRegistry, plugin: &Arc<Plugin>) -> Result<(), InstallError> {
    let m = &plugin.meta;
    let invalid = |msg: String| Err(InstallError::Invalid(msg));
    if let Err(e) = validibot_types::ValidatorSlug::parse(&m.slug) {
        return invalid(format!("describe() returned an {e}"));
    }
    if registry.is_builtin(&m.slug) {
        return Err(InstallError::Conflict(format!(
            "{:?} is a built-in validator and cannot be replaced",
            m.slug
        )));
    }
    if Version::parse(&m.version).is_none() {
        return invalid(format!(
            "describe() returned version {:?}: not semver (MAJOR.MINOR.PATCH)",
            m.version
        ));
    }
    if m.content_types.is_empty() {
        return invalid("describe() lists no content types (use \"*/*\" for any)".into());
    }
    for ct in &m.content_types {
        let ok = ct.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty() && !s.is_empty() && !ct.contains(char::is_whitespace)
        });
        if !ok {
            return invalid(format!(
                "describe() lists {ct:?}, which is not a media type"
            ));
        }
    }
    if !m.config_schema.is_object() {
        return invalid(
            "describe() must return a config schema that is a JSON object (a JSON Schema)".into(),
        );
    }
    // The config schema must compile: ask the JSON Schema validator.
    if let Some(json_schema) = registry.get("json-schema") {
        let config = serde_json::json!({ "schema": m.config_schema }).to_string();
        let checked = tokio::task::spawn_blocking(move || json_schema.validate_config(&config))
            .await
            .context("config schema check task")?;
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(findings)) => {
                let why: Vec<String> = findings.iter().map(|f| f.message.clone()).collect();
                return invalid(format!(
                    "the config schema is not a valid JSON Schema: {}",
                    why.join("; ")
                ));
            }
            Err(e) => {
                return Err(InstallError::Internal(anyhow::anyhow!(
                    "checking the config schema: {e}"
                )))
            }
        }
    }
    Ok(())
}

/// Loads installed plugins this process doesn't have yet (another process may have
/// installed them). Cheap when nothing is new: one small query.
pub async fn sync(db: &Db, blobs: &BlobStore, registry: &PluginRegistry) -> Result<()> {
    let rows = plugins::list(db).await?;
    let keep: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.slug.clone(), r.version.clone()))
        .collect();
    registry.retain_installed(&keep);
    for (i, row) in rows.iter().enumerate() {
        let (slug, version, sha256) = (&row.slug, &row.version, row.sha256.clone());
        let grants: Grants = serde_json::from_str(&row.grants).unwrap_or_default();
        let latest = rows[i + 1..].iter().all(|r| &r.slug != slug);
        if let Some(p) = registry.get_version(slug, version) {
            if p.grants == grants {
                if latest {
                    registry.add_installed(p, true);
                }
                continue;
            }
        }
        let bytes = blobs
            .read(&sha256)
            .await
            .with_context(|| format!("reading installed plugin {slug} {version}"))?;
        let reg = registry.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            Plugin::load_with(reg.runtime(), &bytes, reg.limits(), grants).map(Plugin::isolated)
        })
        .await
        .context("plugin load task")?;
        match loaded {
            Ok(p) if p.meta.sha256 == sha256 => registry.add_installed(Arc::new(p), latest),
            Ok(_) => {
                tracing::error!(%slug, %version, "stored plugin does not match its recorded sha256; not loaded")
            }
            Err(e) => tracing::error!(%slug, %version, "installed plugin failed to load: {e:#}"),
        }
    }
    Ok(())
}

#[derive(Debug, Error)]
pub enum UninstallError {
    #[error("{0}")]
    NotFound(String),
    /// A built-in, or still needed by workflows.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Removes an installed component (one version, or every version of `slug`). Refused
/// while a workflow still needs it (its current version has a step on it, or a run that
/// uses it has not finished): finished runs keep their results either way. The bytes
/// stay in content-addressed storage; every process drops it at its next sync.
pub async fn uninstall(
    db: &Db,
    blobs: &BlobStore,
    registry: &PluginRegistry,
    slug: &str,
    version: Option<&str>,
) -> Result<u64, UninstallError> {
    if registry.is_builtin(slug) {
        return Err(UninstallError::Conflict(format!(
            "{slug:?} is a built-in validator and cannot be uninstalled"
        )));
    }
    let what = match version {
        Some(v) => format!("{slug} {v}"),
        None => slug.to_owned(),
    };
    let users = plugins::used_by(db, slug, version).await?;
    if !users.is_empty() {
        return Err(UninstallError::Conflict(format!(
            "{what} is used by {}: change those workflows' steps first",
            users.join(", ")
        )));
    }
    let removed = plugins::delete(db, slug, version).await?;
    if removed == 0 {
        return Err(UninstallError::NotFound(format!("{what} is not installed")));
    }
    sync(db, blobs, registry).await?;
    tracing::info!(%what, removed, "plugin uninstalled");
    Ok(removed)
}
