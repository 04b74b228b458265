//! One check: an operator against a value, or a CEL expression, applied to every
//! target a path selects.

use std::cmp::Ordering;

use regex::Regex;
use serde_json::Value;

use crate::document::select;

/// Targets one path may expand to (wildcards over huge arrays are cut here).
pub const MAX_TARGETS: usize = 100_000;

/// Evaluations per document (per record when records are read one at a time).
pub const MAX_EVALUATIONS: u64 = 1_000_000;
/// Longest accepted CEL expression and regex pattern.
pub const MAX_EXPR_LEN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Between,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    IsNull,
    NotNull,
    IsEmpty,
    NotEmpty,
    LenEq,
    LenLe,
    LenGe,
    ApproxEq,
    Any,
    All,
    None,
}

/// Every operator: its name in a rule, what it checks, and the [`Op`]. The one list the
/// parser, the config schema (so the editor and the docs show it) and the errors read.
pub const OPERATORS: &[(&str, Op, &str)] = &[
    (
        "eq",
        Op::Eq,
        "equals `value` (numbers compare as numbers, \"5\" equals 5)",
    ),
    ("ne", Op::Ne, "does not equal `value`"),
    (
        "lt",
        Op::Lt,
        "less than `value` (numbers, or strings in order)",
    ),
    ("le", Op::Le, "less than or equal to `value`"),
    ("gt", Op::Gt, "greater than `value`"),
    ("ge", Op::Ge, "greater than or equal to `value`"),
    (
        "between",
        Op::Between,
        "a number within `[low, high]`, ends included",
    ),
    ("in", Op::In, "one of the list `value`"),
    ("not_in", Op::NotIn, "none of the list `value`"),
    (
        "contains",
        Op::Contains,
        "a string containing `value`, or a list with an item equal to it",
    ),
    (
        "starts_with",
        Op::StartsWith,
        "a string starting with `value`",
    ),
    ("ends_with", Op::EndsWith, "a string ending with `value`"),
    (
        "matches",
        Op::Matches,
        "a string matching the regular expression `value`",
    ),
    ("is_null", Op::IsNull, "null (an absent path passes too)"),
    ("not_null", Op::NotNull, "present and not null"),
    (
        "is_empty",
        Op::IsEmpty,
        "null, \"\", [] or {} (an absent path passes too)",
    ),
    (
        "not_empty",
        Op::NotEmpty,
        "a non-empty string, list or object",
    ),
    (
        "len_eq",
        Op::LenEq,
        "a string, list or object of exactly `value` items/characters",
    ),
    (
        "len_le",
        Op::LenLe,
        "a string, list or object of at most `value`",
    ),
    (
        "len_ge",
        Op::LenGe,
        "a string, list or object of at least `value`",
    ),
    (
        "approx_eq",
        Op::ApproxEq,
        "a number within `tolerance` (default 1e-9) of `value`",
    ),
    (
        "any",
        Op::Any,
        "a list where at least one item passes the nested `rule`",
    ),
    (
        "all",
        Op::All,
        "a list where every item passes the nested `rule`",
    ),
    (
        "none",
        Op::None,
        "a list where no item passes the nested `rule` (an absent path passes)",
    ),
];

/// Spellings people try, and the operator they mean.
const ALIASES: &[(&str, &str)] = &[
    ("lte", "le"),
    ("leq", "le"),
    ("<=", "le"),
    ("gte", "ge"),
    ("geq", "ge"),
    (">=", "ge"),
    ("<", "lt"),
    (">", "gt"),
    ("=", "eq"),
    ("==", "eq"),
    ("equals", "eq"),
    ("!=", "ne"),
    ("neq", "ne"),
    ("not_eq", "ne"),
    ("regex", "matches"),
    ("exists", "not_null"),
    ("one_of", "in"),
    ("range", "between"),
];

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        OPERATORS
            .iter()
            .find(|(name, _, _)| *name == s)
            .map(|(_, op, _)| *op)
    }

    /// The error for an unknown operator: the likely one, and the whole list.
    pub fn unknown(name: &str) -> String {
        let lower = name.to_ascii_lowercase();
        let hint = ALIASES
            .iter()
            .find(|(alias, _)| *alias == lower)
            .map(|(_, op)| *op)
            .or_else(|| Op::parse(&lower).map(|_| lower.as_str()))
            .map(|op| format!("; did you mean {op:?}?"))
            .unwrap_or_else(|| ".".into());
        let names: Vec<&str> = OPERATORS.iter().map(|(n, _, _)| *n).collect();
        format!(
            "unknown operator {name:?}{hint} Operators: {}",
            names.join(", ")
        )
    }
}

pub enum Check {
    Op {
        op: Op,
        value: Value,
        tolerance: f64,
        regex: Option<Regex>,
        /// For any / all / none: applied to each element.
        nested: Option<Box<Condition>>,
    },
    /// A CEL expression.
    Expr(Expr),
}

/// A compiled CEL expression, its comprehension nesting depth (for the cost cap) and
/// its text (to check its references against the declared variables).
pub struct Expr {
    pub program: cel_interpreter::Program,
    pub depth: u32,
    pub text: String,
}

impl Expr {
    pub fn compile(text: &str) -> Result<Expr, String> {
        if text.len() > MAX_EXPR_LEN {
            return Err(format!("expression longer than {MAX_EXPR_LEN} characters"));
        }
        let program = cel_interpreter::Program::compile(text)
            .map_err(|e| format!("invalid CEL expression: {e}"))?;
        let depth = cel_parser::parse(text)
            .map(|e| crate::cost::comprehension_depth(&e))
            .map_err(|e| format!("invalid CEL expression: {e}"))?;
        Ok(Expr {
            program,
            depth,
            text: text.to_owned(),
        })
    }

    /// Evaluates with `value` bound to the target; `Err` says why there is no value
    /// (over the cost cap, an evaluation error).
    pub fn eval(&self, doc: &Doc<'_>, value: &Value) -> Result<cel_interpreter::Value, String> {
        let cost = crate::cost::worst_case(self.depth, doc.widest());
        if cost > crate::cost::MAX_EVALUATION_COST {
            return Err(format!(
                "not evaluated: {} nested comprehensions over collections of up to {} items could take {cost} steps; the cap per evaluation is {}",
                self.depth,
                doc.widest(),
                crate::cost::MAX_EVALUATION_COST
            ));
        }
        let mut ctx = doc.context().new_inner_scope();
        // The target is often the document itself (assertions, rules without a path):
        // its CEL form is already built.
        let value = match (doc.json, doc.cel()) {
            (Some(json), Some(cel)) if std::ptr::eq(json, value) => cel.clone(),
            _ => to_cel(value),
        };
        ctx.add_variable_from_value("value", value);
        self.program
            .execute(&ctx)
            .map_err(|e| format!("the expression failed: {e}"))
    }
}

pub struct Condition {
    pub path: String,
    pub check: Check,
}

/// The result for one target.
pub struct Outcome {
    pub pointer: String,
    pub pass: bool,
    pub actual: Value,
    /// Why it could not be evaluated (type mismatch, expression error).
    pub error: Option<String>,
}

impl Condition {
    /// Parses `{"path", "op", "value", "tolerance", "rule"}` or `{"path"?, "expr"}`.
    pub fn parse(v: &Value, at: &str) -> Result<Condition, (String, String)> {
        let bad = |field: &str, msg: String| (format!("{at}/{field}"), msg);
        let path = v
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if let Some(expr) = v.get("expr") {
            let text = expr
                .as_str()
                .ok_or_else(|| bad("expr", "expr must be a string".into()))?;
            let expr = Expr::compile(text).map_err(|m| bad("expr", m))?;
            return Ok(Condition {
                path,
                check: Check::Expr(expr),
            });
        }
        let name = v
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("op", "a rule needs op or expr".into()))?;
        let op = Op::parse(name).ok_or_else(|| bad("op", Op::unknown(name)))?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        let needs_value = !matches!(
            op,
            Op::IsNull | Op::NotNull | Op::IsEmpty | Op::NotEmpty | Op::Any | Op::All | Op::None
        );
        if needs_value && value.is_null() {
            return Err(bad("value", format!("{name} needs a value")));
        }
        match op {
            Op::Between
                if !value
                    .as_array()
                    .is_some_and(|a| a.len() == 2 && a.iter().all(|x| number(x).is_some())) =>
            {
                return Err(bad("value", "between needs [low, high] numbers".into()))
            }
            Op::In | Op::NotIn if !value.is_array() => {
                return Err(bad("value", format!("{name} needs a list")))
            }
            Op::LenEq | Op::LenLe | Op::LenGe if value.as_u64().is_none() => {
                return Err(bad("value", format!("{name} needs a non-negative integer")))
            }
            Op::ApproxEq if number(&value).is_none() => {
                return Err(bad("value", "approx_eq needs a number".into()))
            }
            _ => {}
        }
        let regex = if op == Op::Matches {
            let p = value
                .as_str()
                .ok_or_else(|| bad("value", "matches needs a pattern string".into()))?;
            if p.len() > MAX_EXPR_LEN {
                return Err(bad("value", "pattern too long".into()));
            }
            Some(
                regex::RegexBuilder::new(p)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| bad("value", format!("invalid pattern: {e}")))?,
            )
        } else {
            None
        };
        let nested = if matches!(op, Op::Any | Op::All | Op::None) {
            let r = v.get("rule").ok_or_else(|| {
                bad(
                    "rule",
                    format!("{name} needs a nested rule applied to each element"),
                )
            })?;
            Some(Box::new(Condition::parse(r, &format!("{at}/rule"))?))
        } else {
            None
        };
        let tolerance = v
            .get("tolerance")
            .and_then(Value::as_f64)
            .unwrap_or(1e-9)
            .abs();
        Ok(Condition {
            path,
            check: Check::Op {
                op,
                value,
                tolerance,
                regex,
                nested,
            },
        })
    }

    /// Evaluates against every target under `root`; `doc` is the whole document (for CEL).
    pub fn eval(&self, root: &Value, base: &str, doc: &Doc<'_>, budget: &mut u64) -> Vec<Outcome> {
        self.eval_at(root, &self.path, base, doc, budget)
    }

    /// Evaluates against the targets `path` selects under `root` (a record, when the
    /// rules see a document a record at a time), their pointers prefixed with `base`.
    pub fn eval_at(
        &self,
        root: &Value,
        path: &str,
        base: &str,
        doc: &Doc<'_>,
        budget: &mut u64,
    ) -> Vec<Outcome> {
        let targets = select(root, path, MAX_TARGETS);
        let mut out = Vec::with_capacity(targets.len());
        for (pointer, value) in targets {
            if *budget == 0 {
                break;
            }
            *budget -= 1;
            let pointer = format!("{base}{pointer}");
            let (pass, error) = match &self.check {
                Check::Expr(expr) => match expr.eval(doc, value) {
                    Ok(cel_interpreter::Value::Bool(b)) => (b, None),
                    Ok(other) => (
                        false,
                        Some(format!("the expression returned {other:?}, not a boolean")),
                    ),
                    Err(e) => (false, Some(e)),
                },
                Check::Op {
                    op,
                    value: expected,
                    tolerance,
                    regex,
                    nested,
                } => eval_op(
                    *op,
                    value,
                    expected,
                    *tolerance,
                    regex.as_ref(),
                    nested.as_deref(),
                    &pointer,
                    doc,
                    budget,
                ),
            };
            out.push(Outcome {
                pointer,
                pass,
                actual: value.clone(),
                error,
            });
        }
        out
    }
}

/// The document the rules run over and the declared variables, with their CEL forms
/// built once on first use (not once per evaluated target).
pub struct Doc<'a> {
    /// `None` when the step's document is not parsed (binary formats): `doc` is unset.
    pub json: Option<&'a Value>,
    variables: &'a [(String, Value)],
    cel: std::cell::OnceCell<Option<cel_interpreter::Value>>,
    /// The standard functions, `doc` and the variables: built once per document, each
    /// evaluation adds `value` in a child scope.
    context: std::cell::OnceCell<cel_interpreter::Context<'static>>,
    widest: std::cell::OnceCell<usize>,
    /// The current record's widest collection, when records are seen one at a time.
    record_widest: std::cell::Cell<usize>,
}

impl<'a> Doc<'a> {
    pub fn new(json: Option<&'a Value>, variables: &'a [(String, Value)]) -> Doc<'a> {
        Doc {
            json,
            variables,
            cel: std::cell::OnceCell::new(),
            context: std::cell::OnceCell::new(),
            widest: std::cell::OnceCell::new(),
            record_widest: std::cell::Cell::new(0),
        }
    }

    /// For rules that see one record at a time: `doc` is unset, and the widest
    /// collection (for the cost cap) is the record's or a variable's.
    pub fn set_record(&self, record: &Value) {
        self.record_widest
            .set(crate::cost::widest_collection(record));
    }

    /// The largest list or map in the document or a variable, for the CEL cost cap.
    pub fn widest(&self) -> usize {
        let whole = *self.widest.get_or_init(|| {
            self.json
                .into_iter()
                .chain(self.variables.iter().map(|(_, v)| v))
                .map(crate::cost::widest_collection)
                .max()
                .unwrap_or(0)
        });
        whole.max(self.record_widest.get())
    }

    fn cel(&self) -> Option<&cel_interpreter::Value> {
        self.cel.get_or_init(|| self.json.map(to_cel)).as_ref()
    }

    fn context(&self) -> &cel_interpreter::Context<'static> {
        self.context.get_or_init(|| {
            let mut ctx = cel_interpreter::Context::default();
            if let Some(cel) = self.cel() {
                ctx.add_variable_from_value("doc", cel.clone());
            }
            for (name, v) in self.variables {
                ctx.add_variable_from_value(name.as_str(), to_cel(v));
            }
            ctx
        })
    }
}

/// JSON → CEL, with integers as CEL `int` (so `doc.n * 2` works as users expect).
fn to_cel(v: &Value) -> cel_interpreter::Value {
    use cel_interpreter::objects::{Key, Map};
    use std::sync::Arc;
    match v {
        Value::Null => cel_interpreter::Value::Null,
        Value::Bool(b) => cel_interpreter::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => cel_interpreter::Value::Int(i),
            None => n
                .as_u64()
                .map(cel_interpreter::Value::UInt)
                .unwrap_or_else(|| cel_interpreter::Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => cel_interpreter::Value::String(Arc::new(s.clone())),
        Value::Array(items) => {
            cel_interpreter::Value::List(Arc::new(items.iter().map(to_cel).collect()))
        }
        Value::Object(map) => cel_interpreter::Value::Map(Map {
            map: Arc::new(
                map.iter()
                    .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                    .collect(),
            ),
        }),
    }
}

/// A number, also from numeric text (CSV and XML values are text).
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) if a.is_number() || b.is_number() => x == y,
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => match (a, b) {
            (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
            _ => None,
        },
    }
}

fn length(v: &Value) -> Option<u64> {
    Some(match v {
        Value::String(s) => s.chars().count() as u64,
        Value::Array(a) => a.len() as u64,
        Value::Object(o) => o.len() as u64,
        _ => return None,
    })
}

#[allow(clippy::too_many_arguments)]
fn eval_op(
    op: Op,
    v: &Value,
    expected: &Value,
    tolerance: f64,
    regex: Option<&Regex>,
    nested: Option<&Condition>,
    pointer: &str,
    doc: &Doc<'_>,
    budget: &mut u64,
) -> (bool, Option<String>) {
    let mismatch = |what: &str| (false, Some(format!("expected {what}, found {}", kind(v))));
    let ok = |b: bool| (b, None);
    match op {
        Op::Eq => ok(loose_eq(v, expected)),
        Op::Ne => ok(!loose_eq(v, expected)),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => match order(v, expected) {
            Some(o) => ok(match op {
                Op::Lt => o == Ordering::Less,
                Op::Le => o != Ordering::Greater,
                Op::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }),
            None => mismatch("a value comparable with the rule's"),
        },
        Op::Between => {
            let r = expected.as_array().expect("checked at parse");
            match (number(v), number(&r[0]), number(&r[1])) {
                (Some(x), Some(lo), Some(hi)) => ok(lo <= x && x <= hi),
                _ => mismatch("a number"),
            }
        }
        Op::In => ok(expected
            .as_array()
            .is_some_and(|a| a.iter().any(|e| loose_eq(v, e)))),
        Op::NotIn => ok(!expected
            .as_array()
            .is_some_and(|a| a.iter().any(|e| loose_eq(v, e)))),
        Op::Contains => match (v, expected) {
            (Value::String(s), Value::String(sub)) => ok(s.contains(sub.as_str())),
            (Value::Array(items), e) => ok(items.iter().any(|i| loose_eq(i, e))),
            _ => mismatch("a string or a list"),
        },
        Op::StartsWith | Op::EndsWith => match (v, expected.as_str()) {
            (Value::String(s), Some(p)) => ok(if op == Op::StartsWith {
                s.starts_with(p)
            } else {
                s.ends_with(p)
            }),
            _ => mismatch("a string"),
        },
        Op::Matches => match v {
            Value::String(s) => ok(regex.is_some_and(|r| r.is_match(s))),
            _ => mismatch("a string"),
        },
        Op::IsNull => ok(v.is_null()),
        Op::NotNull => ok(!v.is_null()),
        Op::IsEmpty => ok(v.is_null() || length(v) == Some(0)),
        Op::NotEmpty => ok(!v.is_null() && length(v).is_some_and(|n| n > 0)),
        Op::LenEq | Op::LenLe | Op::LenGe => {
            let n = expected.as_u64().expect("checked at parse");
            match length(v) {
                Some(len) => ok(match op {
                    Op::LenEq => len == n,
                    Op::LenLe => len <= n,
                    _ => len >= n,
                }),
                None => mismatch("a string, list or object"),
            }
        }
        Op::ApproxEq => match (number(v), number(expected)) {
            (Some(x), Some(y)) => ok((x - y).abs() <= tolerance),
            _ => mismatch("a number"),
        },
        Op::Any | Op::All | Op::None => {
            let items: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                Value::Object(o) => o.values().collect(),
                _ => return mismatch("a list"),
            };
            let nested = nested.expect("checked at parse");
            let mut passed = 0usize;
            for (i, item) in items.iter().enumerate() {
                let results = nested.eval(item, &format!("{pointer}/{i}"), doc, budget);
                if !results.is_empty() && results.iter().all(|r| r.pass) {
                    passed += 1;
                }
            }
            ok(match op {
                Op::Any => passed > 0,
                Op::All => passed == items.len(),
                _ => passed == 0,
            })
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
