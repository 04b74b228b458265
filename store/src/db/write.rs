//! The one way to write: a fenced transaction, handed to SQLite's group-commit writer
//! or PostgreSQL's pipelined writers (or, replaying a failed group, run statement by
//! statement on a pooled PostgreSQL connection).

use super::batch::{bind_all, Stmt};
use super::Db;

/// A write transaction handed to the backend's group-commit writer
/// ([`super::group_commit`] on SQLite, [`super::pipeline`] on PostgreSQL).
pub(super) struct Request {
    pub fence: Option<Stmt>,
    pub stmts: Vec<Stmt>,
    pub reply: tokio::sync::oneshot::Sender<Result<bool, sqlx::Error>>,
}

impl Request {
    pub(super) fn arg_count(&self) -> usize {
        self.fence
            .iter()
            .chain(&self.stmts)
            .map(|s| s.args.len())
            .sum()
    }
}

impl Db {
    /// Runs `stmts` atomically. With a `fence`, the transaction first runs it and
    /// goes on only if it affected exactly one row; `Ok(false)` means it did not
    /// and nothing was written.
    ///
    /// Runs on another task (SQLite: the group-commit writer), so a cancelled
    /// caller (a client that hung up) can never leave a transaction open.
    pub async fn write_tx(
        &self,
        fence: Option<Stmt>,
        stmts: Vec<Stmt>,
    ) -> Result<bool, sqlx::Error> {
        if let Some(writer) = &self.writer {
            let (reply, answer) = tokio::sync::oneshot::channel();
            writer
                .send(Request {
                    fence,
                    stmts,
                    reply,
                })
                .map_err(|_| sqlx::Error::PoolClosed)?;
            return answer.await.map_err(|_| sqlx::Error::PoolClosed)?;
        }
        // No writer: PostgreSQL writers not started (see `pipeline::spawn`).
        let db = self.clone();
        tokio::spawn(async move { db.postgres_tx(fence, stmts).await })
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("write task failed: {e}")))?
    }

    /// Statement by statement on a pooled connection: the exact outcome and error.
    pub(super) async fn postgres_tx(
        &self,
        fence: Option<Stmt>,
        stmts: Vec<Stmt>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        if let Some(f) = &fence {
            if bind_all(sqlx::query(sqlx::AssertSqlSafe(f.sql.as_str())), &f.args)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                != 1
            {
                return Ok(false);
            }
        }
        for s in &stmts {
            bind_all(sqlx::query(sqlx::AssertSqlSafe(s.sql.as_str())), &s.args)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use sqlx::Row;

    fn setting(v: &str) -> Stmt {
        Stmt::new(
            "INSERT INTO instance_settings (key, value) VALUES ($1, $2)",
            crate::args!["k", v],
        )
    }

    fn fence(token: i64) -> Stmt {
        Stmt::new(
            "UPDATE instance_settings SET value = value WHERE key = 'lease' AND value = $1",
            crate::args![token.to_string()],
        )
    }

    async fn count(db: &Db, key: &str) -> i64 {
        sqlx::query("SELECT COUNT(*) FROM instance_settings WHERE key = $1")
            .bind(key)
            .fetch_one(&db.read)
            .await
            .unwrap()
            .get::<i64, _>(0)
    }

    /// The lease row the tests' fences check (held with token 1).
    async fn take_lease(db: &Db) {
        let lease = "INSERT INTO instance_settings (key, value) VALUES ('lease', '1')";
        db.write_tx(None, vec![Stmt::new(lease, vec![])])
            .await
            .unwrap();
    }

    /// A lost lease writes nothing; a held one writes everything, atomically; a failing
    /// statement rolls back the ones before it; values come back as they went in.
    async fn fence_guards_the_whole_transaction(db: Db) {
        take_lease(&db).await;

        assert!(!db
            .write_tx(Some(fence(2)), vec![setting("lost")])
            .await
            .unwrap());
        assert_eq!(count(&db, "k").await, 0);

        assert!(db
            .write_tx(Some(fence(1)), vec![setting("held")])
            .await
            .unwrap());
        assert_eq!(count(&db, "k").await, 1);

        // A failing statement rolls everything back, and the writer stays usable.
        let dup = vec![
            Stmt::new(
                "INSERT INTO instance_settings (key, value) VALUES ('z', '1')",
                vec![],
            ),
            setting("dup"),
        ];
        assert!(db.write_tx(None, dup).await.is_err());
        assert_eq!(count(&db, "z").await, 0);
        assert!(db.write_tx(Some(fence(1)), vec![]).await.unwrap());

        // Each statement sees the ones before it; hostile text arrives as it was sent.
        let hostile = "it's \\' \\\\ $1 $$ -- /* E'x' \u{1F600} Zürich'); DROP TABLE runs; --";
        let stmts = vec![
            Stmt::new(
                "INSERT INTO instance_settings (key, value) VALUES ('h', $1)",
                crate::args![hostile],
            ),
            Stmt::new(
                "UPDATE instance_settings SET value = value || $1 WHERE key = 'h'",
                crate::args!["!"],
            ),
        ];
        assert!(db.write_tx(Some(fence(1)), stmts).await.unwrap());
        let back: String =
            sqlx::query_scalar("SELECT value FROM instance_settings WHERE key = 'h'")
                .fetch_one(&db.read)
                .await
                .unwrap();
        assert_eq!(back, format!("{hostile}!"));
        // Text PostgreSQL cannot hold is refused there as a bound value would be.
        if db.backend == crate::db::Backend::Postgres {
            assert!(db.write_tx(None, vec![setting("a\0b")]).await.is_err());
        }
    }

    #[tokio::test]
    async fn fence_guards_the_whole_transaction_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        fence_guards_the_whole_transaction(db).await;
    }

    /// A fresh database on the test server (`VALIDIBOT_TEST_POSTGRES_URL`), migrated.
    pub(in crate::db) async fn postgres_db() -> Db {
        let admin = std::env::var("VALIDIBOT_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!("PostgreSQL tests need VALIDIBOT_TEST_POSTGRES_URL; run `bash .ci/test`, which starts one")
        });
        let name = format!(
            "vb_store_{}",
            validibot_types::ids::new_id().replace('-', "_")
        );
        sqlx::any::install_default_drivers();
        let server = sqlx::AnyPool::connect(&admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&server)
            .await
            .unwrap();
        let (prefix, _) = admin.rsplit_once('/').unwrap();
        let db = Db::connect(&format!("{prefix}/{name}"), 2).await.unwrap();
        db.migrate().await.unwrap();
        db
    }

    #[tokio::test]
    async fn fence_guards_the_whole_transaction_on_postgres() {
        fence_guards_the_whole_transaction(postgres_db().await).await;
    }

    /// Transactions submitted together commit together, but a lost fence or a
    /// failing statement in one of them affects only that one. `grouped` counts the
    /// transactions the backend's writer committed in groups.
    pub(in crate::db) async fn a_failure_in_a_group_fails_only_its_own_transaction(
        db: Db,
        grouped: fn() -> u64,
    ) {
        take_lease(&db).await;
        let insert = |k: String| {
            Stmt::new(
                "INSERT INTO instance_settings (key, value) VALUES ($1, 'v')",
                crate::args![k],
            )
        };
        let mut tasks = Vec::new();
        for i in 0..200 {
            let db = db.clone();
            let (fence, stmts) = match i % 10 {
                3 => (Some(fence(2)), vec![insert(format!("lost-{i}"))]),
                7 => (None, vec![insert(format!("k-{i}")), insert("lease".into())]),
                _ => (Some(fence(1)), vec![insert(format!("k-{i}"))]),
            };
            tasks.push(tokio::spawn(
                async move { (i, db.write_tx(fence, stmts).await) },
            ));
        }
        for t in tasks {
            let (i, res) = t.await.unwrap();
            match i % 10 {
                3 => assert!(!res.unwrap(), "lost fence {i} must not commit"),
                7 => assert!(
                    crate::db::is_unique_violation(&res.unwrap_err()),
                    "duplicate key {i} must fail as a unique violation"
                ),
                _ => assert!(res.unwrap(), "transaction {i} must commit"),
            }
        }
        let keys: Vec<String> = sqlx::query(
            "SELECT key FROM instance_settings WHERE key LIKE 'k-%' OR key LIKE 'lost-%'",
        )
        .fetch_all(&db.read)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
        assert_eq!(keys.len(), 160);
        assert!(keys.iter().all(|k| {
            let i: usize = k[2..].parse().unwrap();
            k.starts_with("k-") && i % 10 != 7 && i % 10 != 3
        }));

        // Concurrent transactions that all succeed do form groups (the replay path
        // alone would give the same rows as above, so this is checked on its own).
        let grouped_before = grouped();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let db = db.clone();
                let stmts = vec![insert(format!("g-{i}"))];
                tokio::spawn(async move { db.write_tx(Some(fence(1)), stmts).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().unwrap());
        }
        assert!(
            grouped() > grouped_before,
            "200 concurrent transactions never formed a group"
        );
    }
}
