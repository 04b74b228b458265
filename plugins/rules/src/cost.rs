//! A per-evaluation cost cap for CEL expressions.
//!
//! CEL always terminates, but nested comprehensions (`all`, `exists`,
//! `exists_one`, `map`, `filter`) multiply: `doc.rows.all(a, doc.rows.all(b, …))`
//! over 100,000 rows is 10^10 steps, which would run into the host's deadline
//! and turn the whole step into an ERROR. As Kubernetes does for CEL, the cost is
//! bounded before evaluating: `width ^ depth`, where `depth` is the expression's
//! comprehension nesting and `width` the largest list or map in the document.
//! A rule over that bound fails with a message saying so; other rules still run.

use cel_parser::{Expression, Member};
use serde_json::Value;

/// Most element visits one evaluation may need (worst case). cel-interpreter
/// takes ~2.5 µs per visit inside a comprehension natively (more in WASM), so
/// this keeps one evaluation within a few seconds, under the 5 s default deadline.
pub const MAX_EVALUATION_COST: u128 = 1_000_000;

const COMPREHENSIONS: &[&str] = &["all", "exists", "exists_one", "map", "filter"];

/// How deeply comprehensions nest in `expr` (0 when there are none).
pub fn comprehension_depth(expr: &Expression) -> u32 {
    match expr {
        Expression::Arithmetic(a, _, b)
        | Expression::Relation(a, _, b)
        | Expression::Or(a, b)
        | Expression::And(a, b) => comprehension_depth(a).max(comprehension_depth(b)),
        Expression::Ternary(a, b, c) => comprehension_depth(a)
            .max(comprehension_depth(b))
            .max(comprehension_depth(c)),
        Expression::Unary(_, a) => comprehension_depth(a),
        Expression::Member(a, member) => comprehension_depth(a).max(match member.as_ref() {
            Member::Attribute(_) => 0,
            Member::Index(i) => comprehension_depth(i),
            Member::Fields(fields) => fields
                .iter()
                .map(|(_, e)| comprehension_depth(e))
                .max()
                .unwrap_or(0),
        }),
        Expression::FunctionCall(name, target, args) => {
            let inner = target
                .iter()
                .map(|t| comprehension_depth(t))
                .chain(args.iter().map(comprehension_depth))
                .chain(std::iter::once(comprehension_depth(name)))
                .max()
                .unwrap_or(0);
            let is_comprehension = matches!(name.as_ref(), Expression::Ident(n) if COMPREHENSIONS.contains(&n.as_str()));
            inner + u32::from(is_comprehension)
        }
        Expression::List(items) => items.iter().map(comprehension_depth).max().unwrap_or(0),
        Expression::Map(entries) => entries
            .iter()
            .map(|(k, v)| comprehension_depth(k).max(comprehension_depth(v)))
            .max()
            .unwrap_or(0),
        Expression::Atom(_) | Expression::Ident(_) => 0,
    }
}

/// The length of the largest array or object anywhere in `v`.
pub fn widest_collection(v: &Value) -> usize {
    let mut widest = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => {
                widest = widest.max(items.len());
                stack.extend(items);
            }
            Value::Object(map) => {
                widest = widest.max(map.len());
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    widest
}

/// Worst-case element visits for an expression of `depth` over collections of `width`.
pub fn worst_case(depth: u32, width: usize) -> u128 {
    (width.max(1) as u128).saturating_pow(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(text: &str) -> u32 {
        comprehension_depth(&cel_parser::parse(text).unwrap())
    }

    #[test]
    fn nesting_is_counted_not_siblings() {
        assert_eq!(depth("value > 3 && doc.a == 'x'"), 0);
        assert_eq!(depth("doc.rows.all(r, r.qty > 0)"), 1);
        assert_eq!(
            depth("doc.rows.all(r, r.qty > 0) && doc.rows.exists(r, r.x)"),
            1
        );
        assert_eq!(
            depth("doc.rows.all(a, doc.rows.exists_one(b, a.id == b.id))"),
            2
        );
        assert_eq!(
            depth("size(doc.rows.filter(a, doc.rows.map(b, b.id).exists(i, i == a.id))) > 0"),
            3
        );
    }

    #[test]
    fn width_and_worst_case() {
        let doc = serde_json::json!({"rows": [1, 2, 3], "m": {"a": [1, 2, 3, 4, 5]}});
        assert_eq!(widest_collection(&doc), 5);
        assert_eq!(worst_case(0, 100_000), 1);
        assert_eq!(worst_case(2, 100_000), 10_000_000_000);
        assert_eq!(worst_case(u32::MAX, usize::MAX), u128::MAX);
    }
}
