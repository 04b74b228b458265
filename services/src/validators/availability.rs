//! Where an installed validator may be used. An operator can switch one off without
//! uninstalling it (workflows keep their steps, finished runs their results) and, with
//! Pro's `workspaces.multiple`, make one available in chosen workspaces only. Checked
//! when a workflow is saved, when a run is launched, and again when its step runs (a
//! run queued before the change). Built-in validators are always available.

use std::collections::BTreeMap;

use anyhow::Result;
use thiserror::Error;
use validibot_engines::plugins::PluginRegistry;
use validibot_store::db::Db;
use validibot_store::plugins;
use validibot_types::ids::WorkspaceId;

pub use validibot_store::plugins::Availability;

/// Why a validator may not be used in a workspace: the error code and the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `VALIDATOR_DISABLED` or `VALIDATOR_NOT_ENABLED` (API); the step finding's code
    /// is [`Refusal::finding_code`].
    pub code: &'static str,
    pub detail: String,
}

impl Refusal {
    fn of(slug: &str, disabled: bool) -> Refusal {
        if disabled {
            Refusal {
                code: "VALIDATOR_DISABLED",
                detail: format!(
                    "validator {slug:?} is disabled by the operator (validibot plugin enable {slug} turns it back on)"
                ),
            }
        } else {
            Refusal {
                code: "VALIDATOR_NOT_ENABLED",
                detail: format!(
                    "validator {slug:?} is not enabled in this workspace (the operator enables it per workspace)"
                ),
            }
        }
    }

    pub fn finding_code(&self) -> &'static str {
        match self.code {
            "VALIDATOR_DISABLED" => "validator.disabled",
            _ => "validator.not_enabled",
        }
    }
}

/// Whether `slug` may run in `workspace` (built-ins always may, without a query).
pub async fn refusal(
    db: &Db,
    registry: &PluginRegistry,
    slug: &str,
    workspace: &WorkspaceId,
) -> Result<Option<Refusal>> {
    if registry.is_builtin(slug) {
        return Ok(None);
    }
    Ok(plugins::refused_in(db, slug, workspace)
        .await?
        .map(|disabled| Refusal::of(slug, disabled)))
}

/// The first refusal among `slugs` (a workflow's steps, in order).
pub async fn first_refusal<'a>(
    db: &Db,
    registry: &PluginRegistry,
    slugs: &'a [&'a str],
    workspace: &WorkspaceId,
) -> Result<Option<(&'a str, Refusal)>> {
    for &slug in slugs {
        if let Some(r) = refusal(db, registry, slug, workspace).await? {
            return Ok(Some((slug, r)));
        }
    }
    Ok(None)
}

/// Every installed slug's setting (slugs without one are available everywhere).
pub async fn all(db: &Db) -> Result<BTreeMap<String, Availability>> {
    plugins::availability(db).await
}

#[derive(Debug, Error)]
pub enum ChangeError {
    #[error("{0}")]
    NotFound(String),
    #[error("no workspace {0:?}")]
    UnknownWorkspace(String),
    /// A built-in validator.
    #[error("{0}")]
    Builtin(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Records where an installed `slug` may be used. Whether the caller may restrict it
/// to workspaces (a Pro feature) is the caller's check.
pub async fn set(
    db: &Db,
    registry: &PluginRegistry,
    slug: &str,
    availability: &Availability,
) -> Result<(), ChangeError> {
    if registry.is_builtin(slug) {
        return Err(ChangeError::Builtin(format!(
            "{slug:?} is a built-in validator: it is always available"
        )));
    }
    if plugins::list(db).await?.iter().all(|r| r.slug != slug) {
        return Err(ChangeError::NotFound(format!(
            "validator {slug:?} is not installed"
        )));
    }
    plugins::set_availability(db, slug, availability)
        .await?
        .map_err(ChangeError::UnknownWorkspace)?;
    tracing::info!(%slug, disabled = availability.disabled, workspaces = ?availability.workspaces, "validator availability changed");
    Ok(())
}
