//! The one way to write: a fenced transaction, handed to SQLite's group-commit writer
//! or run on a PostgreSQL connection.

use super::batch::{bind_all, Stmt};
use super::Db;

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
                .send(super::group_commit::Request {
                    fence,
                    stmts,
                    reply,
                })
                .map_err(|_| sqlx::Error::PoolClosed)?;
            return answer.await.map_err(|_| sqlx::Error::PoolClosed)?;
        }
        let db = self.clone();
        tokio::spawn(async move { db.postgres_tx(fence, stmts).await })
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("write task failed: {e}")))?
    }

    async fn postgres_tx(
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
mod tests {
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

    /// A lost lease writes nothing; a held one writes everything, atomically; a failing
    /// statement rolls back the ones before it; values come back as they went in.
    async fn fence_guards_the_whole_transaction(db: Db) {
        db.write_tx(
            None,
            vec![Stmt::new(
                "INSERT INTO instance_settings (key, value) VALUES ('lease', '1')",
                vec![],
            )],
        )
        .await
        .unwrap();

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

    #[tokio::test]
    async fn fence_guards_the_whole_transaction_on_postgres() {
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
        fence_guards_the_whole_transaction(db).await;
    }
}
