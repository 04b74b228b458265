//! The allow-list of container validators: one row per (slug, version), pinned to an
//! image ID, with the limits its labels asked for and the Pro feature that enables it.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use validibot_types::ids::UserId;

use crate::args;
use crate::db::batch::Stmt;
use crate::db::Db;

/// Resource limits of a registered validator (from its labels).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoredLimits {
    pub memory_bytes: i64,
    pub cpus: f64,
    pub pids: i64,
    pub tmpfs_bytes: u64,
    /// Rows registered before this field existed read as `false`.
    #[serde(default)]
    pub tmpfs_exec: bool,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerValidator {
    pub slug: String,
    pub version: String,
    pub name: String,
    /// `sha256:…`: what runs.
    pub image_id: String,
    /// The reference it was registered from (informational).
    pub image_ref: String,
    pub content_types: Vec<String>,
    pub limits: StoredLimits,
    /// The Pro feature that turns it on.
    pub feature: String,
    #[serde(serialize_with = "validibot_types::clock::serialize_us")]
    pub registered_at: i64,
    /// The operator's settings: environment variables the container starts with.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The image's entrypoint followed by its command, as read at registration
    /// (`None` for rows registered before it was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// Puts a validator on the allow-list (the caller checked it is not there yet).
pub async fn insert(db: &Db, v: &ContainerValidator, by: Option<&UserId>) -> Result<()> {
    db.write_tx(
        None,
        vec![Stmt::new(
            "INSERT INTO container_validators (slug, version, image_id, image_ref, name, content_types, limits, feature, registered_by, registered_at, env, command)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            args![
                &v.slug,
                &v.version,
                &v.image_id,
                &v.image_ref,
                &v.name,
                serde_json::to_string(&v.content_types)?,
                serde_json::to_string(&v.limits)?,
                &v.feature,
                by.map(|u| u.as_str().to_owned()),
                v.registered_at,
                env_text(&v.env)?,
                v.command.as_ref().map(serde_json::to_string).transpose()?
            ],
        )],
    )
    .await?;
    Ok(())
}

const COLUMNS: &str =
    "slug, version, image_id, image_ref, name, content_types, limits, feature, registered_at, env, command";

fn env_text(env: &BTreeMap<String, String>) -> Result<Option<String>> {
    Ok(if env.is_empty() {
        None
    } else {
        Some(serde_json::to_string(env)?)
    })
}

/// Replaces a registered version's settings (`env`); false when it is not registered.
pub async fn set_env(
    db: &Db,
    slug: &str,
    version: &str,
    env: &BTreeMap<String, String>,
) -> Result<bool> {
    let n =
        sqlx::query("UPDATE container_validators SET env = $1 WHERE slug = $2 AND version = $3")
            .bind(env_text(env)?)
            .bind(slug)
            .bind(version)
            .execute(&db.write)
            .await?
            .rows_affected();
    Ok(n > 0)
}

/// A registration as [`COLUMNS`] selects it (lists and limits as JSON text).
#[derive(sqlx::FromRow)]
struct RegistrationRow {
    slug: String,
    version: String,
    image_id: String,
    image_ref: String,
    name: String,
    content_types: String,
    limits: String,
    feature: String,
    registered_at: i64,
    env: Option<String>,
    command: Option<String>,
}

impl RegistrationRow {
    fn into_validator(self) -> Result<ContainerValidator> {
        Ok(ContainerValidator {
            slug: self.slug,
            version: self.version,
            image_id: self.image_id,
            image_ref: self.image_ref,
            name: self.name,
            content_types: serde_json::from_str(&self.content_types)?,
            limits: serde_json::from_str(&self.limits)?,
            feature: self.feature,
            registered_at: self.registered_at,
            env: match self.env {
                Some(t) => serde_json::from_str(&t)?,
                None => BTreeMap::new(),
            },
            command: self.command.map(|t| serde_json::from_str(&t)).transpose()?,
        })
    }
}

/// One version, or the latest registered (what new workflow steps pin).
pub async fn get(db: &Db, slug: &str, version: Option<&str>) -> Result<Option<ContainerValidator>> {
    let row = match version {
        Some(v) => {
            sqlx::query_as::<_, RegistrationRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM container_validators WHERE slug = $1 AND version = $2"
            )))
            .bind(slug)
            .bind(v)
            .fetch_optional(&db.read)
            .await?
        }
        None => {
            sqlx::query_as::<_, RegistrationRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM container_validators WHERE slug = $1 ORDER BY registered_at DESC LIMIT 1"
            )))
            .bind(slug)
            .fetch_optional(&db.read)
            .await?
        }
    };
    row.map(RegistrationRow::into_validator).transpose()
}

/// Every registered version, by slug then newest first.
pub async fn list(db: &Db) -> Result<Vec<ContainerValidator>> {
    sqlx::query_as::<_, RegistrationRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM container_validators ORDER BY slug, registered_at DESC"
    )))
    .fetch_all(&db.read)
    .await?
    .into_iter()
    .map(RegistrationRow::into_validator)
    .collect()
}

/// Takes a version off the allow-list (steps pinned to it then fail with `validator.unknown`).
pub async fn unregister(db: &Db, slug: &str, version: &str) -> Result<bool> {
    let n = sqlx::query("DELETE FROM container_validators WHERE slug = $1 AND version = $2")
        .bind(slug)
        .bind(version)
        .execute(&db.write)
        .await?
        .rows_affected();
    Ok(n > 0)
}
