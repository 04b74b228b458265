//! `validibot backup DIR` / `validibot restore DIR`. A backup is a directory:
//! `manifest.json` (format, version, schema, hashes), `validibot.db` (SQLite only:
//! `VACUUM INTO`, a consistent snapshot taken while the server runs), `blobs/`
//! (stored files, content-addressed, so copying them after the snapshot is safe;
//! downloaded when they live in a bucket, and put into whichever storage `restore` has)
//! and `keys/` + `extensions/` from the data dir. PostgreSQL databases are backed
//! up with `pg_dump` (docs/self-hosting/backup.md); the rest of the backup still applies.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::InstanceArgs;
use validibot_store::db::Backend;

const FORMAT: u32 = 1;
const DB_FILE: &str = "validibot.db";
/// Data-dir folders a backup carries besides blobs (the evidence key, extensions).
const DIRS: &[&str] = &["keys", "extensions"];

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub validibot_version: String,
    pub created_at: String,
    /// `sqlite` or `postgres` (then no database file: use pg_dump).
    pub database: String,
    /// The newest migration applied when the backup was taken.
    pub schema_version: i64,
    pub database_sha256: Option<String>,
    pub blobs: u64,
}

/// The SQLite file a `sqlite:` URL names.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// Hard-links (or copies) every file under `from` into `to`; returns the count.
fn copy_tree(from: &Path, to: &Path, verify_names: bool) -> Result<u64> {
    let mut n = 0;
    if !from.exists() {
        return Ok(0);
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if src.file_name().is_some_and(|n| n == "tmp") {
                continue; // uploads in flight and sweep leftovers
            }
            std::fs::create_dir_all(&dst)?;
            n += copy_tree(&src, &dst, verify_names)?;
        } else if kind.is_file() {
            if verify_names {
                let name = entry.file_name().to_string_lossy().into_owned();
                let actual = sha256_file(&src)?;
                ensure!(
                    actual == name,
                    "stored file {} is corrupt (sha256 {actual})",
                    src.display()
                );
            }
            if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
            }
            n += 1;
        }
    }
    Ok(n)
}

pub async fn create(global: &InstanceArgs, out: &Path) -> Result<()> {
    ensure!(
        !out.exists(),
        "{} exists already; a backup goes into a new directory",
        out.display()
    );
    let db = crate::commands::serve::open_db(global).await?;
    std::fs::create_dir_all(out)?;
    let out = out.canonicalize()?;
    let database_sha256 = match db.backend {
        Backend::Sqlite => {
            let file = out.join(DB_FILE);
            db.snapshot_sqlite(&file).await?;
            Some(sha256_file(&file)?)
        }
        Backend::Postgres => None,
    };
    let schema_version = db.schema_version().await?;
    // From a bucket, the blobs come down into the backup: it is complete on its own.
    let store = global.blob_store()?;
    let blobs = match store.local_root() {
        Some(root) => copy_tree(root, &out.join("blobs"), false)?,
        None => store.export_to(&out.join("blobs")).await?,
    };
    for dir in DIRS {
        copy_tree(&global.data_dir.join(dir), &out.join(dir), false)?;
    }
    let manifest = Manifest {
        format: FORMAT,
        validibot_version: env!("CARGO_PKG_VERSION").into(),
        created_at: validibot_types::clock::rfc3339(validibot_types::clock::now_us()),
        database: match db.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
        .into(),
        schema_version,
        database_sha256,
        blobs,
    };
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    println!(
        "backup written to {} ({blobs} stored files, schema {schema_version})",
        out.display()
    );
    if db.backend == Backend::Postgres {
        println!("the PostgreSQL database is not in it: back it up with pg_dump (docs/self-hosting/backup.md)");
    }
    Ok(())
}

pub async fn restore(global: &InstanceArgs, input: &Path, force: bool) -> Result<()> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(input.join("manifest.json"))
            .context("reading the backup's manifest.json")?,
    )
    .context("manifest.json is not a Validibot backup manifest")?;
    ensure!(
        manifest.format == FORMAT,
        "backup format {} is not supported",
        manifest.format
    );
    let url = global.database_url();
    let target_db = sqlite_path(&url);
    if let (Some(expected), Some(_)) = (&manifest.database_sha256, &target_db) {
        let actual = sha256_file(&input.join(DB_FILE))?;
        ensure!(
            &actual == expected,
            "the backup's database file is damaged (sha256 {actual}, manifest says {expected})"
        );
    }
    match (&manifest.database_sha256, &target_db) {
        (Some(_), None) => bail!("the backup holds a SQLite database but VALIDIBOT_DATABASE_URL is PostgreSQL"),
        (None, Some(_)) => bail!("the backup was taken from PostgreSQL: restore its pg_dump first, then this with a postgres URL"),
        _ => {}
    }
    // Check every stored file before touching anything.
    let staging = global.data_dir.join(".restore-staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let blobs = copy_tree(&input.join("blobs"), &staging.join("blobs"), true)?;
    ensure!(
        blobs == manifest.blobs,
        "the backup has {blobs} stored files, its manifest says {}",
        manifest.blobs
    );
    if let Some(db_path) = &target_db {
        if db_path.exists() && !force {
            std::fs::remove_dir_all(&staging)?;
            bail!("{} exists; pass --force to replace it", db_path.display());
        }
        let tmp = db_path.with_extension("db.restoring");
        std::fs::copy(input.join(DB_FILE), &tmp)?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db_path.display()));
        }
        std::fs::rename(&tmp, db_path)?;
    }
    let store = global.blob_store()?;
    match store.local_root() {
        Some(root) => copy_tree(&staging.join("blobs"), root, false)?,
        None => store.import_from(&staging.join("blobs")).await?,
    };
    std::fs::remove_dir_all(&staging)?;
    for dir in DIRS {
        copy_tree(&input.join(dir), &global.data_dir.join(dir), false)?;
    }
    // Newer migrations (an upgrade across the restore) apply now.
    let db = crate::commands::serve::open_db(global).await?;
    let now = db.schema_version().await?;
    println!(
        "restored {} stored files and the database (schema {} → {now}) into {}",
        blobs,
        manifest.schema_version,
        global.data_dir.display()
    );
    Ok(())
}
