//! Where the installed license lives: `instance_settings` rows, so every process
//! sharing the database sees the same license and the same highest serials.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::db::Db;
use validibot_types::hooks::Usage;

const FILE_KEY: &str = "license.file";
const SERIALS_KEY: &str = "license.serials";
/// The license server's last signed answer (online licenses).
const LEASE_KEY: &str = "license.lease";
/// The last failed attempt to reach the license server: `{"at": µs, "error": "…"}`.
const ONLINE_ERROR_KEY: &str = "license.online_error";
/// This instance's id towards the license server: one per database.
const INSTANCE_ID_KEY: &str = "instance.id";

pub struct Stored {
    pub text: Option<String>,
    pub highest_serials: BTreeMap<String, u64>,
    pub lease: Option<String>,
    /// When (µs) and why the license server last could not be reached or refused.
    pub online_error: Option<(i64, String)>,
}

pub async fn load(db: &Db) -> Result<Stored> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM instance_settings WHERE key IN ($1, $2, $3, $4)")
            .bind(FILE_KEY)
            .bind(SERIALS_KEY)
            .bind(LEASE_KEY)
            .bind(ONLINE_ERROR_KEY)
            .fetch_all(&db.read)
            .await?;
    let mut stored = Stored {
        text: None,
        highest_serials: BTreeMap::new(),
        lease: None,
        online_error: None,
    };
    for (key, value) in rows {
        match key.as_str() {
            FILE_KEY => stored.text = Some(value),
            SERIALS_KEY => {
                stored.highest_serials = serde_json::from_str(&value).unwrap_or_default()
            }
            LEASE_KEY => stored.lease = Some(value),
            _ => {
                stored.online_error = serde_json::from_str::<serde_json::Value>(&value)
                    .ok()
                    .and_then(|v| Some((v["at"].as_i64()?, v["error"].as_str()?.to_owned())))
            }
        }
    }
    Ok(stored)
}

/// This instance's id, created on first use (every process sharing the database
/// gets the same one).
pub async fn instance_id(db: &Db) -> Result<String> {
    let candidate = validibot_types::ids::new_id();
    sqlx::query(
        "INSERT INTO instance_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    )
    .bind(INSTANCE_ID_KEY)
    .bind(&candidate)
    .execute(&db.write)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM instance_settings WHERE key = $1")
            .bind(INSTANCE_ID_KEY)
            .fetch_one(&db.write)
            .await?,
    )
}

/// Records the outcome of asking the license server: a new signed answer (`lease`,
/// which clears the error) or why it failed (`error`, which keeps the last answer).
pub async fn save_online(db: &Db, lease: Option<&str>, error: Option<(i64, &str)>) -> Result<()> {
    let mut tx = db.write.begin().await?;
    if let Some(lease) = lease {
        upsert(&mut tx, LEASE_KEY, lease).await?;
    }
    match error {
        Some((at, message)) => {
            let value = serde_json::json!({"at": at, "error": message}).to_string();
            upsert(&mut tx, ONLINE_ERROR_KEY, &value).await?;
        }
        None => delete(&mut tx, ONLINE_ERROR_KEY).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// Forgets the license server's answer (the activation was released).
pub async fn forget_lease(db: &Db) -> Result<()> {
    let mut tx = db.write.begin().await?;
    delete(&mut tx, LEASE_KEY).await?;
    delete(&mut tx, ONLINE_ERROR_KEY).await?;
    tx.commit().await?;
    Ok(())
}

async fn upsert(tx: &mut sqlx::Transaction<'_, sqlx::Any>, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO instance_settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn delete(tx: &mut sqlx::Transaction<'_, sqlx::Any>, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM instance_settings WHERE key = $1")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replaces the license and raises the highest serial seen for its id, in one
/// transaction; the license server's answer for the previous one is dropped.
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
    upsert(&mut tx, FILE_KEY, text).await?;
    upsert(&mut tx, SERIALS_KEY, &serde_json::to_string(&serials)?).await?;
    // A lease answers for one license serial: a new file needs the server again.
    delete(&mut tx, LEASE_KEY).await?;
    delete(&mut tx, ONLINE_ERROR_KEY).await?;
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
