//! Installed third-party validators: one row per (slug, version), the component's bytes
//! in the blob store under `sha256`.

use anyhow::Result;
use validibot_types::ids::UserId;

use crate::db::{is_unique_violation, Db};
use validibot_types::clock::now_us;

/// What `describe()` said of a component, as recorded at install.
pub struct NewPlugin<'a> {
    pub slug: &'a str,
    pub version: &'a str,
    pub sha256: &'a str,
    pub size: i64,
    pub wit_version: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    /// JSON array text.
    pub content_types: String,
    /// JSON text.
    pub config_schema: String,
    /// JSON text of the operator's grants.
    pub grants: &'a str,
    pub installed_by: Option<&'a UserId>,
}

/// One installed component, as every process loads it.
#[derive(sqlx::FromRow)]
pub struct InstalledRow {
    pub slug: String,
    pub version: String,
    pub sha256: String,
    /// JSON text of the operator's grants.
    pub grants: String,
}

/// The sha256 recorded for (slug, version), if installed.
pub async fn sha256_of(db: &Db, slug: &str, version: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT sha256 FROM plugins WHERE slug = $1 AND version = $2")
            .bind(slug)
            .bind(version)
            .fetch_optional(&db.read)
            .await?,
    )
}

/// Replaces the grants recorded for (slug, version).
pub async fn set_grants(db: &Db, slug: &str, version: &str, grants: &str) -> Result<()> {
    sqlx::query("UPDATE plugins SET grants = $1 WHERE slug = $2 AND version = $3")
        .bind(grants)
        .bind(slug)
        .bind(version)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Records a component; false when (slug, version) was recorded meanwhile.
pub async fn insert(db: &Db, p: &NewPlugin<'_>) -> Result<bool> {
    let insert = sqlx::query(
        "INSERT INTO plugins (id, slug, version, sha256, size, wit_version, name, description, content_types, config_schema, grants, installed_by, installed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(validibot_types::ids::new_id())
    .bind(p.slug)
    .bind(p.version)
    .bind(p.sha256)
    .bind(p.size)
    .bind(p.wit_version)
    .bind(p.name)
    .bind(p.description)
    .bind(&p.content_types)
    .bind(&p.config_schema)
    .bind(p.grants)
    .bind(p.installed_by.map(UserId::as_str))
    .bind(now_us())
    .execute(&db.write)
    .await;
    match insert {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Every installed component, oldest install first.
pub async fn list(db: &Db) -> Result<Vec<InstalledRow>> {
    Ok(
        sqlx::query_as("SELECT slug, version, sha256, grants FROM plugins ORDER BY installed_at")
            .fetch_all(&db.read)
            .await?,
    )
}
