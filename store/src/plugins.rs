//! Installed third-party validators: one row per (slug, version), the component's bytes
//! in the blob store under `sha256`.

use anyhow::Result;
use std::collections::BTreeMap;

use validibot_types::ids::{UserId, WorkspaceId};

use crate::db::{is_unique_violation, Db};
use validibot_types::clock::now_us;
use validibot_types::RunStatus;

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
    /// The trusted key id that signed the component; `None` if installed unsigned.
    pub signed_by: Option<&'a str>,
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
        "INSERT INTO plugins (id, slug, version, sha256, size, wit_version, name, description, content_types, config_schema, grants, installed_by, installed_at, signed_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
    .bind(p.signed_by)
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

/// One installed version, as `GET /api/v1/validators/{slug}` and `plugin list` show it.
#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct VersionRow {
    pub slug: String,
    pub version: String,
    pub sha256: String,
    pub size: i64,
    pub wit_version: String,
    pub name: String,
    /// JSON text of the operator's grants.
    #[serde(skip)]
    pub grants: String,
    pub signed_by: Option<String>,
    /// Username of who installed it through the API (none from the command line).
    pub installed_by: Option<String>,
    #[serde(serialize_with = "validibot_types::clock::serialize_us")]
    pub installed_at: i64,
}

/// Installed versions, of one slug or of all, oldest install first.
pub async fn versions(db: &Db, slug: Option<&str>) -> Result<Vec<VersionRow>> {
    const COLUMNS: &str =
        "SELECT p.slug, p.version, p.sha256, p.size, p.wit_version, p.name, p.grants,
            p.signed_by, u.username AS installed_by, p.installed_at
         FROM plugins p LEFT JOIN users u ON u.id = p.installed_by";
    let rows = match slug {
        Some(slug) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} WHERE p.slug = $1 ORDER BY p.installed_at, p.id"
            )))
            .bind(slug)
            .fetch_all(&db.read)
            .await?
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} ORDER BY p.installed_at, p.id"
            )))
            .fetch_all(&db.read)
            .await?
        }
    };
    Ok(rows)
}

/// Workflows (`workspace/workflow`) that still need `slug` (at `version`, or any): their
/// current version has a step on it, or a run of any of their versions that uses it has
/// not finished.
pub async fn used_by(db: &Db, slug: &str, version: Option<&str>) -> Result<Vec<String>> {
    let version_clause = if version.is_some() {
        "AND s.validator_version = $4"
    } else {
        ""
    };
    let sql = format!(
        "SELECT DISTINCT ws.slug, w.slug FROM workflow_steps s
           JOIN workflows w ON w.id = s.workflow_id
           JOIN workspaces ws ON ws.id = w.workspace_id
         WHERE s.validator = $1 {version_clause}
           AND (w.version = (SELECT MAX(w2.version) FROM workflows w2
                              WHERE w2.workspace_id = w.workspace_id AND w2.slug = w.slug)
                OR EXISTS (SELECT 1 FROM runs r WHERE r.workflow_id = w.id
                             AND r.status IN ($2, $3)))
         ORDER BY ws.slug, w.slug"
    );
    let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
        .bind(slug)
        .bind(RunStatus::Pending.as_str())
        .bind(RunStatus::Running.as_str());
    if let Some(v) = version {
        q = q.bind(v);
    }
    let rows = q.fetch_all(&db.read).await?;
    Ok(rows
        .into_iter()
        .map(|(ws, wf)| format!("{ws}/{wf}"))
        .collect())
}

/// Removes installed versions (one, or every version of `slug`); how many went. When
/// no version is left, its availability settings go too (a reinstall starts afresh).
pub async fn delete(db: &Db, slug: &str, version: Option<&str>) -> Result<u64> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query("DELETE FROM plugins WHERE slug = $1 AND ($2 IS NULL OR version = $2)")
        .bind(slug)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plugins WHERE slug = $1")
        .bind(slug)
        .fetch_one(&mut *tx)
        .await?;
    if left == 0 {
        for table in ["plugin_workspaces", "plugin_availability"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE slug = $1"
            )))
            .bind(slug)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// Where an installed validator may be used: `disabled` everywhere, or, when
/// `workspaces` (slugs) is `Some`, only in those (a slug without a row: everywhere).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Availability {
    pub disabled: bool,
    pub workspaces: Option<Vec<String>>,
}

/// The availability of every slug that has a setting.
pub async fn availability(db: &Db) -> Result<BTreeMap<String, Availability>> {
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT slug, disabled, restricted FROM plugin_availability")
            .fetch_all(&db.read)
            .await?;
    let members: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.slug, w.slug FROM plugin_workspaces p JOIN workspaces w ON w.id = p.workspace_id ORDER BY p.slug, w.slug",
    )
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(slug, disabled, restricted)| {
            let workspaces = (restricted != 0).then(|| {
                members
                    .iter()
                    .filter(|(s, _)| *s == slug)
                    .map(|(_, w)| w.clone())
                    .collect()
            });
            let availability = Availability {
                disabled: disabled != 0,
                workspaces,
            };
            (slug, availability)
        })
        .collect())
}

/// Whether `slug` may run in `workspace`: `None` if it may, else whether it is
/// disabled (`true`) or not enabled there (`false`). One small query.
pub async fn refused_in(db: &Db, slug: &str, workspace: &WorkspaceId) -> Result<Option<bool>> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT a.disabled, a.restricted,
                (SELECT COUNT(*) FROM plugin_workspaces w WHERE w.slug = a.slug AND w.workspace_id = $2)
         FROM plugin_availability a WHERE a.slug = $1",
    )
    .bind(slug)
    .bind(workspace.as_str())
    .fetch_optional(&db.read)
    .await?;
    Ok(match row {
        Some((disabled, _, _)) if disabled != 0 => Some(true),
        Some((_, restricted, listed)) if restricted != 0 && listed == 0 => Some(false),
        _ => None,
    })
}

/// Records where `slug` may be used (both parts at once, in one transaction);
/// `Err(workspace)` inside, changing nothing, when a workspace slug does not exist.
pub async fn set_availability(db: &Db, slug: &str, a: &Availability) -> Result<Result<(), String>> {
    let mut tx = db.write.begin().await?;
    sqlx::query(
        "INSERT INTO plugin_availability (slug, disabled, restricted, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (slug) DO UPDATE SET disabled = excluded.disabled, restricted = excluded.restricted, updated_at = excluded.updated_at",
    )
    .bind(slug)
    .bind(i64::from(a.disabled))
    .bind(i64::from(a.workspaces.is_some()))
    .bind(now_us())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM plugin_workspaces WHERE slug = $1")
        .bind(slug)
        .execute(&mut *tx)
        .await?;
    for ws in a.workspaces.iter().flatten() {
        let added = sqlx::query(
            "INSERT INTO plugin_workspaces (slug, workspace_id) SELECT $1, id FROM workspaces WHERE slug = $2",
        )
        .bind(slug)
        .bind(ws)
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 0 {
            // Rolled back: nothing changes.
            return Ok(Err(ws.clone()));
        }
    }
    tx.commit().await?;
    Ok(Ok(()))
}
