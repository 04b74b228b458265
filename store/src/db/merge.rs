//! A pipelined group's transactions as the statements sent: fences as checks, and
//! same-shaped transactions as fewer statements.
//!
//! Once statements are prepared and pipelined, PostgreSQL's cost is per statement: an
//! executor start-up, a snapshot, the locks. Launches arrive as transactions of the same
//! shape (submission, run and job INSERTs, a lock on the workflow row), so a group of
//! them runs as one: each INSERT position becomes one multi-row INSERT, and each lock
//! is taken once per distinct row.
//!
//! Why this writes what running them one after another would: the transactions of a
//! group were all in flight at once (a caller's next transaction is sent only after
//! its previous one committed), so every serial order of them is one their callers
//! could have got. Only transactions made solely of single-row `INSERT … VALUES` and
//! `SELECT … FOR SHARE`, without a fence, are merged; such statements commute, except
//! through constraints, and a constraint broken in the merged order fails the whole
//! group, which is then replayed one transaction at a time.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use super::batch::{quoted, renumbered, Arg, Stmt};
use super::write::Request;

/// Bind parameters in one merged INSERT; PostgreSQL's limit is 65,535.
const MAX_ARGS: usize = 30_000;

/// Transactions sent merged with others, since the process started (what merging
/// does is visible, and testable).
static MERGED: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
pub(super) fn merged_transactions() -> u64 {
    MERGED.load(Ordering::Relaxed)
}

/// The group's statements, between its `BEGIN` and `COMMIT`: classes of transactions in
/// the order each class first appears, each mergeable class (two or more members of one
/// mergeable shape) as one, every other transaction as it was sent.
pub(super) fn statements(group: &[Request]) -> Vec<Cow<'_, Stmt>> {
    // Each class with whether its first member (so all of it) may be merged, decided
    // once per class rather than at every lookup.
    let mut classes: Vec<(bool, Vec<&Request>)> = Vec::new();
    for r in group {
        match classes
            .iter_mut()
            .find(|(may, c)| *may && same_shape(c[0], r))
        {
            Some((_, class)) => class.push(r),
            None => classes.push((mergeable(r), vec![r])),
        }
    }
    let mut out = Vec::new();
    for (_, class) in &classes {
        if class.len() == 1 {
            let r = class[0];
            out.extend(r.fence.as_ref().map(|f| Cow::Owned(fence_check(f))));
            out.extend(r.stmts.iter().map(Cow::Borrowed));
        } else {
            MERGED.fetch_add(class.len() as u64, Ordering::Relaxed);
            out.extend(merged(class).into_iter().map(Cow::Owned));
        }
    }
    out
}

/// One class of same-shaped mergeable transactions, position by position.
fn merged(class: &[&Request]) -> Vec<Stmt> {
    let mut out = Vec::new();
    for (i, first) in class[0].stmts.iter().enumerate() {
        let nth = class.iter().map(|r| &r.stmts[i]);
        match insert_parts(&first.sql) {
            Some((head, tuple)) => {
                let per_row = first.args.len().max(1);
                let rows: Vec<&Stmt> = nth.collect();
                for chunk in rows.chunks((MAX_ARGS / per_row).max(1)) {
                    out.push(multi_row(head, tuple, chunk));
                }
            }
            None => {
                let mut taken: Vec<&Stmt> = Vec::new();
                for s in nth {
                    if !taken.iter().any(|t| t.args == s.args) {
                        taken.push(s);
                    }
                }
                out.extend(taken.into_iter().cloned());
            }
        }
    }
    out
}

/// `head` with one copy of `tuple` per row, each numbered past the rows before it.
fn multi_row(head: &str, tuple: &str, rows: &[&Stmt]) -> Stmt {
    let mut sql = String::with_capacity(head.len() + rows.len() * (tuple.len() + 8));
    sql.push_str(head);
    let mut args: Vec<Arg> = Vec::new();
    for (k, row) in rows.iter().enumerate() {
        sql.push_str(if k == 0 { " " } else { ", " });
        sql.push_str(&renumbered(tuple, args.len()));
        args.extend(row.args.iter().cloned());
    }
    Stmt::new(sql, args)
}

/// `fence` as one statement that changes what the fence changes and fails unless
/// that was exactly one row. Not constant, so the planner cannot evaluate the failing
/// branch ahead of time.
pub(super) fn fence_check(fence: &Stmt) -> Stmt {
    Stmt::new(
        format!(
            "WITH fence AS ({} RETURNING 1) \
             SELECT CAST(CASE WHEN n = 1 THEN '1' ELSE 'lease_fence_lost:' || n END AS int8) \
             FROM (SELECT count(*) AS n FROM fence) AS changed",
            fence.sql
        ),
        fence.args.clone(),
    )
}

/// Whether `r` may be merged with others of its shape: no fence, and only statements
/// that commute with each other's rows.
fn mergeable(r: &Request) -> bool {
    r.fence.is_none()
        && !r.stmts.is_empty()
        && r.stmts
            .iter()
            .all(|s| insert_parts(&s.sql).is_some() || is_row_lock(&s.sql))
}

/// The same statements with arguments of the same types (so one prepared statement).
fn same_shape(a: &Request, b: &Request) -> bool {
    a.fence.is_none()
        && b.fence.is_none()
        && a.stmts.len() == b.stmts.len()
        && a.stmts.iter().zip(&b.stmts).all(|(x, y)| {
            x.sql == y.sql
                && x.args.len() == y.args.len()
                && x.args
                    .iter()
                    .zip(&y.args)
                    .all(|(p, q)| std::mem::discriminant(p) == std::mem::discriminant(q))
        })
}

/// `INSERT INTO t (…) VALUES` and its one `(…)` row, when that is the whole statement
/// and the row reads nothing (no subquery): nothing after the row (no `ON CONFLICT`, no
/// `RETURNING`), no second row, no `;`, no dollar quoting.
fn insert_parts(sql: &str) -> Option<(&str, &str)> {
    let trimmed = sql.trim();
    if !starts_with_ci(trimmed, "INSERT INTO ") {
        return None;
    }
    let at = find_ci(trimmed, "VALUES")?;
    let (head, tuple) = trimmed.split_at(at + "VALUES".len());
    let target = &head["INSERT INTO ".len()..at];
    if !target
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_ ,()\n\t\r".contains(c))
        || find_ci(target, "SELECT").is_some()
    {
        return None;
    }
    let tuple = tuple.trim_start();
    one_row(tuple).then_some((head, tuple))
}

/// Whether `tuple` is exactly one parenthesised row of values that reads no table.
fn one_row(tuple: &str) -> bool {
    if !tuple.starts_with('(') {
        return false;
    }
    let mut depth = 0usize;
    let mut rest = tuple;
    let mut outside = String::new();
    while let Some(c) = rest.chars().next() {
        let skip = match c {
            '\'' => {
                outside.push(' ');
                quoted(rest, '\'')
            }
            '(' => {
                depth += 1;
                1
            }
            ')' => {
                depth = match depth.checked_sub(1) {
                    Some(d) => d,
                    None => return false,
                };
                if depth == 0 && rest.len() > 1 {
                    return false; // something after the row
                }
                1
            }
            '"' | ';' => return false,
            '-' if rest.starts_with("--") => return false,
            '/' if rest.starts_with("/*") => return false,
            '$' if !rest[1..].starts_with(|d: char| d.is_ascii_digit()) => return false,
            other => {
                outside.push(other);
                other.len_utf8()
            }
        };
        rest = &rest[skip..];
    }
    depth == 0 && find_ci(&outside, "SELECT").is_none()
}

/// `SELECT … FOR SHARE`: takes a row lock and changes nothing, so taking it twice in
/// one transaction is taking it once.
fn is_row_lock(sql: &str) -> bool {
    let s = sql.trim();
    starts_with_ci(s, "SELECT ")
        && s.len() >= "FOR SHARE".len()
        && s[s.len() - "FOR SHARE".len()..].eq_ignore_ascii_case("FOR SHARE")
        && !s.contains(';')
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find_ci(s: &str, needle: &str) -> Option<usize> {
    s.to_ascii_uppercase().find(needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;

    fn request(fence: Option<Stmt>, stmts: Vec<Stmt>) -> Request {
        let (reply, _) = tokio::sync::oneshot::channel();
        Request {
            fence,
            stmts,
            reply,
        }
    }

    fn launch(id: &str, workflow: &str) -> Request {
        request(
            None,
            vec![
                Stmt::new(
                    "INSERT INTO submissions (id, size)\n VALUES ($1, $2)",
                    args![id, 3i64],
                ),
                Stmt::new(
                    "SELECT id FROM workflows WHERE id = $1 FOR SHARE",
                    args![workflow],
                ),
                Stmt::new(
                    "INSERT INTO jobs (id, state, at) VALUES ($1, 'queued', $2)",
                    args![id, Some(7i64)],
                ),
            ],
        )
    }

    #[test]
    fn only_whole_single_row_inserts_that_read_nothing_are_split() {
        assert_eq!(
            insert_parts("INSERT INTO t (a, b) VALUES ($1, 'it''s ($2')"),
            Some(("INSERT INTO t (a, b) VALUES", "($1, 'it''s ($2')"))
        );
        assert_eq!(
            insert_parts("insert into t (a) values (lower($1))"),
            Some(("insert into t (a) values", "(lower($1))"))
        );
        for sql in [
            "INSERT INTO t (a) VALUES ($1), ($2)",
            "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING",
            "INSERT INTO t (a) VALUES ($1) RETURNING id",
            "INSERT INTO t (a) VALUES ((SELECT max(a) FROM t))",
            "INSERT INTO t (a) SELECT a FROM u",
            "INSERT INTO t (a) SELECT x FROM (VALUES ($1)) v",
            "INSERT INTO t (a) SELECT x FROM u WHERE x IN VALUES ($1)",
            "INSERT INTO t (old_values) VALUES ($1)",
            "INSERT INTO t DEFAULT VALUES",
            "INSERT INTO t (a) VALUES ($1); DELETE FROM t",
            "INSERT INTO t (a) VALUES ($$x$$)",
            "INSERT INTO t (a) VALUES ($1 -- )\n)",
            "WITH x AS (DELETE FROM u) INSERT INTO t (a) VALUES ($1)",
            "UPDATE t SET a = $1",
        ] {
            assert_eq!(insert_parts(sql), None, "{sql}");
        }
        assert!(is_row_lock("SELECT id FROM w WHERE id = $1 FOR SHARE"));
        assert!(!is_row_lock("SELECT id FROM w WHERE id = $1 FOR UPDATE"));
    }

    #[test]
    fn same_shaped_launches_become_one_statement_per_position() {
        let group = vec![launch("a", "w"), launch("b", "w"), launch("c", "v")];
        let out = statements(&group);
        let sql: Vec<&str> = out.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "INSERT INTO submissions (id, size)\n VALUES ($1, $2), ($3, $4), ($5, $6)",
                "SELECT id FROM workflows WHERE id = $1 FOR SHARE",
                "SELECT id FROM workflows WHERE id = $1 FOR SHARE",
                "INSERT INTO jobs (id, state, at) VALUES ($1, 'queued', $2), ($3, 'queued', $4), ($5, 'queued', $6)",
            ]
        );
        assert_eq!(out[0].args, args!["a", 3i64, "b", 3i64, "c", 3i64]);
        assert_eq!(out[1].args, args!["w"]);
        assert_eq!(out[2].args, args!["v"]);
        assert_eq!(out[3].args.len(), 6);
    }

    #[test]
    fn fenced_other_and_differently_typed_transactions_are_sent_as_they_are() {
        let fence = Stmt::new("UPDATE jobs SET at = at WHERE id = $1", args!["j"]);
        let update = Stmt::new("UPDATE runs SET status = $1", args!["done"]);
        let mut null_typed = launch("d", "w");
        null_typed.stmts[2].args[1] = Arg::Text(None);
        let group = vec![
            launch("a", "w"),
            request(Some(fence.clone()), launch("x", "w").stmts),
            request(None, vec![update.clone()]),
            launch("b", "w"),
            null_typed,
        ];
        let out = statements(&group);
        let sql: Vec<&str> = out.iter().map(|s| s.sql.as_str()).collect();
        // The two launches merge; the fenced one keeps its check and its own statements;
        // the one whose NULL binds as text is a shape of its own.
        assert_eq!(out.len(), 3 + 4 + 1 + 3);
        assert!(sql[0].ends_with("($1, $2), ($3, $4)"));
        assert_eq!(
            out[2].sql,
            group[0].stmts[2]
                .sql
                .replace("$2)", "$2), ($3, 'queued', $4)")
        );
        assert_eq!(out[3].sql, fence_check(&fence).sql);
        assert_eq!(out[4].sql, group[1].stmts[0].sql);
        assert_eq!(out[7].sql, update.sql);
        assert_eq!(out[8].sql, group[4].stmts[0].sql);
    }

    #[test]
    fn a_merged_insert_stays_under_the_parameter_limit() {
        let row = |i: i64| {
            request(
                None,
                vec![Stmt::new(
                    "INSERT INTO t (a) VALUES ($1)",
                    vec![Arg::Int(Some(i)); 7_000],
                )],
            )
        };
        let group: Vec<Request> = (0..9).map(row).collect();
        let out = statements(&group);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|s| s.args.len() <= MAX_ARGS));
        assert_eq!(out.iter().map(|s| s.args.len()).sum::<usize>(), 63_000);
    }
}
