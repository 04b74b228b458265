//! Write transactions as a list of statements.
//!
//! On SQLite the whole list goes to the single writer connection as one script
//! (`BEGIN IMMEDIATE; …; COMMIT`): one round-trip to sqlx's connection thread
//! instead of one per statement, which is what bounds SQLite write throughput.
//! On PostgreSQL the statements run one by one inside a normal transaction.
//! Each statement numbers its own parameters from `$1`; scripts renumber them.

use sqlx::{Any, AnyConnection};

/// A bind value (the types the schema uses).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_owned))
    }
}

/// Ids bind as their text.
macro_rules! id_args {
    ($($id:ty),+) => {$(
        impl From<&$id> for Arg {
            fn from(v: &$id) -> Self {
                Arg::Text(Some(v.as_str().to_owned()))
            }
        }
        impl From<$id> for Arg {
            fn from(v: $id) -> Self {
                Arg::Text(Some(v.into_string()))
            }
        }
        impl From<Option<&$id>> for Arg {
            fn from(v: Option<&$id>) -> Self {
                Arg::Text(v.map(|v| v.as_str().to_owned()))
            }
        }
    )+};
}
id_args!(
    validibot_types::ids::RunId,
    validibot_types::ids::WorkflowId,
    validibot_types::ids::WorkspaceId,
    validibot_types::ids::UserId,
    validibot_types::ids::JobId,
    validibot_types::ids::WebhookId
);

/// One statement and its arguments.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Stmt {
    pub fn new(sql: impl Into<String>, args: Vec<Arg>) -> Stmt {
        Stmt {
            sql: sql.into(),
            args,
        }
    }

    /// Runs the statement inside a transaction a repository already holds.
    pub(crate) async fn execute(
        &self,
        tx: &mut sqlx::Transaction<'static, Any>,
    ) -> Result<(), sqlx::Error> {
        bind_all(
            sqlx::query(sqlx::AssertSqlSafe(self.sql.as_str())),
            &self.args,
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Builds a `Vec<Arg>` from mixed values.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::batch::Arg::from($v)),*] };
}

pub(super) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match a {
            Arg::Int(v) => q.bind(*v),
            Arg::Text(v) => q.bind(v.as_deref()),
        };
    }
    q
}

/// Concatenates statements, shifting each one's `$N` past the previous ones' arguments.
pub(super) fn script(stmts: &[Stmt]) -> (String, Vec<Arg>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    for s in stmts {
        sql.push_str(&renumbered(&s.sql, args.len()));
        sql.push_str(";\n");
        args.extend(s.args.iter().cloned());
    }
    (sql, args)
}

/// `sql` with every placeholder `$N` made `$(N + offset)`. A small tokenizer, so text
/// that only looks like a placeholder stays as it is: inside '…' strings (with ''
/// escapes), "…" identifiers, -- and /* */ comments, and PostgreSQL's $tag$ …
/// $tag$ strings. Characters are copied whole (never byte by byte), so non-ASCII text
/// survives.
pub(super) fn renumbered(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let skip = match c {
            '\'' | '"' => quoted(rest, c),
            '-' if rest.starts_with("--") => rest.find('\n').unwrap_or(rest.len()),
            '/' if rest.starts_with("/*") => rest[2..].find("*/").map_or(rest.len(), |i| i + 4),
            '$' => {
                let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 {
                    let n: usize = rest[1..1 + digits].parse().expect("digits");
                    out.push_str(&format!("${}", n + offset));
                    rest = &rest[1 + digits..];
                    continue;
                }
                dollar_quoted(rest).unwrap_or(1)
            }
            other => other.len_utf8(),
        };
        out.push_str(&rest[..skip]);
        rest = &rest[skip..];
    }
    out
}

/// Length of the quoted text at the start of `s` (an unterminated one runs to the end);
/// a doubled quote is an escaped one.
pub(super) fn quoted(s: &str, quote: char) -> usize {
    let mut i = 1;
    while let Some(at) = s[i..].find(quote) {
        i += at + 1;
        if s[i..].starts_with(quote) {
            i += 1; // '' or "": an escaped quote, still inside
        } else {
            return i;
        }
    }
    s.len()
}

/// Length of a PostgreSQL dollar-quoted string (`$$…$$`, `$tag$…$tag$`) at the start of
/// `s`, if there is one.
fn dollar_quoted(s: &str) -> Option<usize> {
    let tag_len = s[1..].find('$')?;
    let tag = &s[..tag_len + 2];
    if !tag[1..tag.len() - 1]
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    let end = s[tag.len()..].find(tag)?;
    Some(tag.len() + end + tag.len())
}

/// SQLite numbers parameters up to 32766 per script.
pub(super) const MAX_SCRIPT_ARGS: usize = 30_000;

/// The fence statement followed by the check that aborts the script unless it changed one row.
pub(super) fn fenced(fence: Stmt) -> [Stmt; 3] {
    [
        fence,
        Stmt::new(
            "INSERT INTO temp.lease_fence (ok) VALUES (changes())",
            vec![],
        ),
        Stmt::new("DELETE FROM temp.lease_fence", vec![]),
    ]
}

pub(super) async fn sqlite_tx(
    conn: &mut AnyConnection,
    fence: Option<Stmt>,
    stmts: &[Stmt],
) -> Result<bool, sqlx::Error> {
    // The fence is checked inside the same script: `changes()` after it must be 1,
    // else the CHECK on the connection's temp table `lease_fence` aborts the script.
    let mut all = vec![Stmt::new("BEGIN IMMEDIATE", vec![])];
    if let Some(f) = fence {
        all.extend(fenced(f));
    }
    all.extend(stmts.iter().cloned());
    // Split scripts with too many parameters.
    all.push(Stmt::new("COMMIT", vec![]));
    let mut start = 0;
    while start < all.len() {
        let mut end = start;
        let mut n = 0;
        while end < all.len() && (end == start || n + all[end].args.len() <= MAX_SCRIPT_ARGS) {
            n += all[end].args.len();
            end += 1;
        }
        let (sql, args) = script(&all[start..end]);
        match bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &args)
            .execute(&mut *conn)
            .await
        {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.message().contains("lease_fence") => {
                return Ok(false)
            }
            Err(e) => return Err(e),
        }
        start = end;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {

    #[test]
    fn placeholders_are_renumbered_and_only_placeholders() {
        use super::renumbered;
        assert_eq!(renumbered("SELECT $1, $2", 3), "SELECT $4, $5");
        assert_eq!(renumbered("SELECT $10 + $1", 10), "SELECT $20 + $11");
        // Inside strings, identifiers and comments, `$1` is text.
        assert_eq!(
            renumbered("SELECT '$1', 'it''s $2', \"a$3\", $1 -- $4\n/* $5 */ $2", 1),
            "SELECT '$1', 'it''s $2', \"a$3\", $2 -- $4\n/* $5 */ $3"
        );
        // PostgreSQL dollar quoting, tagged or not.
        assert_eq!(
            renumbered("SELECT $$ $1 $$, $q$ $2 $q$, $1", 1),
            "SELECT $$ $1 $$, $q$ $2 $q$, $2"
        );
        // Non-ASCII text survives whole (it was copied byte by byte as chars before).
        assert_eq!(
            renumbered("INSERT INTO t VALUES ('Zürich — ✓', $1)", 2),
            "INSERT INTO t VALUES ('Zürich — ✓', $3)"
        );
        assert_eq!(
            renumbered("SELECT 'unterminated $1", 1),
            "SELECT 'unterminated $1"
        );
    }

    use super::*;

    #[test]
    fn script_renumbers_parameters() {
        let (sql, args) = script(&[
            Stmt::new("INSERT INTO a VALUES ($1, $2)", crate::args![1i64, "x"]),
            Stmt::new(
                "UPDATE b SET c = $2 WHERE d = $1",
                crate::args![2i64, Some(3i64)],
            ),
        ]);
        assert_eq!(
            sql,
            "INSERT INTO a VALUES ($1, $2);\nUPDATE b SET c = $4 WHERE d = $3;\n"
        );
        assert_eq!(args.len(), 4);
    }
}
