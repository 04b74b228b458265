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

    /// A lost lease writes nothing; a held one writes everything, atomically.
    #[tokio::test]
    async fn fence_guards_the_whole_transaction_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        let setting = |v: &str| {
            Stmt::new(
                "INSERT INTO instance_settings (key, value) VALUES ($1, $2)",
                crate::args!["k", v],
            )
        };
        let fence = |token: i64| {
            Stmt::new(
                "UPDATE instance_settings SET value = value WHERE key = 'lease' AND value = $1",
                crate::args![token.to_string()],
            )
        };
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
        let count = |db: Db| async move {
            sqlx::query("SELECT COUNT(*) FROM instance_settings WHERE key = 'k'")
                .fetch_one(&db.read)
                .await
                .unwrap()
                .get::<i64, _>(0)
        };
        assert_eq!(count(db.clone()).await, 0);

        assert!(db
            .write_tx(Some(fence(1)), vec![setting("held")])
            .await
            .unwrap());
        assert_eq!(count(db.clone()).await, 1);

        // A failing statement rolls everything back, and the writer stays usable.
        let dup = vec![
            Stmt::new(
                "INSERT INTO instance_settings (key, value) VALUES ('z', '1')",
                vec![],
            ),
            setting("dup"),
        ];
        assert!(db.write_tx(None, dup).await.is_err());
        let z = sqlx::query("SELECT COUNT(*) FROM instance_settings WHERE key = 'z'")
            .fetch_one(&db.read)
            .await
            .unwrap()
            .get::<i64, _>(0);
        assert_eq!(z, 0);
        assert!(db.write_tx(Some(fence(1)), vec![]).await.unwrap());
    }
}
