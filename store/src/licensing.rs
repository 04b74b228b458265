//! Where the installed license lives: `instance_settings` rows, so every process
//! sharing the database sees the same license and the same highest serials.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::db::Db;
use validibot_types::hooks::Usage;

const FILE_KEY: &str = "license.file";
const SERIALS_KEY: &str = "license.serials";

pub struct Stored {
    pub text: Option<String>,
    pub highest_serials: BTreeMap<String, u64>,
}

pub async fn load(db: &Db) -> Result<Stored> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM instance_settings WHERE key = $1 OR key = $2")
            .bind(FILE_KEY)
            .bind(SERIALS_KEY)
            .fetch_all(&db.read)
            .await?;
    let mut stored = Stored {
        text: None,
        highest_serials: BTreeMap::new(),
    };
    for (key, value) in rows {
        if key == FILE_KEY {
            stored.text = Some(value);
        } else {
            stored.highest_serials = serde_json::from_str(&value).unwrap_or_default();
        }
    }
    Ok(stored)
}

/// Replaces the license and raises the highest serial seen for its id, in one transaction.
pub async fn save(db: &Db, text: &str, license_id: &str, serial: u64) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let serials: Option<String> =
        sqlx::query_scalar("SELECT value FROM instance_settings WHERE key = $1")
            .bind(SERIALS_KEY)
            .fetch_optional(&mut *tx)
            .await?;
    let mut serials: BTreeMap<String, u64> = serials
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let highest = serials.entry(license_id.to_owned()).or_insert(serial);
    *highest = (*highest).max(serial);
    for (key, value) in [
        (FILE_KEY, text.to_owned()),
        (SERIALS_KEY, serde_json::to_string(&serials)?),
    ] {
        sqlx::query(
            "INSERT INTO instance_settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What the instance uses against a license's limits.
pub async fn usage(db: &Db) -> Result<Usage> {
    let (workspaces, seats): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM workspaces),
                (SELECT COUNT(DISTINCT m.user_id) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.is_active = 1)",
    )
    .fetch_one(&db.read)
    .await?;
    Ok(Usage {
        workspaces: workspaces.max(0) as u64,
        seats: seats.max(0) as u64,
    })
}
