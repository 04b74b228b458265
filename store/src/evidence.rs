//! The instance's evidence-signing public keys, published in `instance_settings` so every
//! process (and the well-known endpoint) finds them.

use anyhow::Result;

use crate::db::{is_unique_violation, Db};

const SETTING_PREFIX: &str = "evidence.key.";

/// Records a public key under its key id; publishing the same key twice is not an error.
pub async fn publish_key(db: &Db, kid: &str, public_base64: &str) -> Result<()> {
    let res = sqlx::query("INSERT INTO instance_settings (key, value) VALUES ($1, $2)")
        .bind(format!("{SETTING_PREFIX}{kid}"))
        .bind(public_base64)
        .execute(&db.write)
        .await;
    match res {
        Err(e) if !is_unique_violation(&e) => Err(e.into()),
        _ => Ok(()),
    }
}

/// Every published key: `(kid, base64 public key)`, by key id.
pub async fn published_keys(db: &Db) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT key, value FROM instance_settings WHERE key LIKE 'evidence.key.%' ORDER BY key",
    )
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, value)| (key.trim_start_matches(SETTING_PREFIX).to_owned(), value))
        .collect())
}
