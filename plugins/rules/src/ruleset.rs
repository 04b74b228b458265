//! A ruleset: the step config's `rules` (plus the step's `ruleset`, when given),
//! parsed and compiled once per config text.

use std::rc::Rc;

use serde_json::Value;
use validibot_plugin_api::compiled::CompiledCache;
use validibot_plugin_api::{Finding, Severity};

use crate::condition::{Check, Condition};
use crate::document::Format;
use crate::references::{self, Scope};
use crate::table::TableSchema;
use crate::template::Template;

/// Rules per step.
pub const MAX_RULES: usize = 1000;

pub struct Rule {
    pub id: String,
    pub code: String,
    pub severity: Severity,
    pub message: Option<Template>,
    pub check: Condition,
    pub when: Option<Condition>,
    /// A path that matches nothing passes instead of failing.
    pub optional: bool,
}

/// Individual findings per rule before the rest are summarised (as `csv` does).
pub const DEFAULT_MAX_SAMPLES: usize = 5;

pub struct Ruleset {
    pub format: Option<Format>,
    pub rules: Vec<Rule>,
    /// Types CSV cells (config `schema`, a Frictionless Table Schema).
    pub table: Option<TableSchema>,
    /// Failing targets reported one by one per rule; the rest become one summary finding.
    pub max_samples: usize,
    /// Some expression (a check, a `when`, a message) reads `doc`: the rules need the
    /// document whole.
    pub reads_doc: bool,
}

fn bad(path: String, message: String) -> Finding {
    Finding::error("config.invalid", message).at(path)
}

impl Ruleset {
    pub fn parse(config: &Value, extra: Option<&Value>) -> Result<Ruleset, Finding> {
        let obj = config.as_object().ok_or_else(|| {
            bad(
                String::new(),
                "the config must be an object with `rules`".into(),
            )
        })?;
        for key in obj.keys() {
            if !["rules", "format", "schema", "max_samples", "variables"].contains(&key.as_str()) {
                return Err(bad(
                    format!("/{key}"),
                    format!("unknown config key {key:?}"),
                ));
            }
        }
        let format = match obj
            .get("format")
            .map(|f| f.as_str().and_then(Format::parse))
        {
            None => None,
            Some(Some(f)) => Some(f),
            Some(None) => {
                return Err(bad(
                    "/format".into(),
                    "format must be json, xml, csv or none".into(),
                ))
            }
        };
        if let Some(vars) = obj.get("variables") {
            declared_variables(vars)?;
        }
        let table = match obj.get("schema") {
            None => None,
            Some(v) => Some(TableSchema::parse(v).map_err(|m| bad("/schema".into(), m))?),
        };
        let max_samples = match obj.get("max_samples") {
            None => DEFAULT_MAX_SAMPLES,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    bad(
                        "/max_samples".into(),
                        "max_samples must be an integer from 1 to 1000".into(),
                    )
                })? as usize,
        };
        let mut raw: Vec<(String, &Value)> = Vec::new();
        let list = obj
            .get("rules")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("/rules".into(), "`rules` must be a list".into()))?;
        raw.extend(
            list.iter()
                .enumerate()
                .map(|(i, r)| (format!("/rules/{i}"), r)),
        );
        if let Some(extra) = extra {
            let list = extra
                .get("rules")
                .and_then(Value::as_array)
                .or(extra.as_array());
            let list = list.ok_or_else(|| {
                bad(
                    "ruleset".into(),
                    "the step's ruleset must be a list of rules or {\"rules\": […]}".into(),
                )
            })?;
            raw.extend(
                list.iter()
                    .enumerate()
                    .map(|(i, r)| (format!("ruleset/{i}"), r)),
            );
        }
        if raw.is_empty() || raw.len() > MAX_RULES {
            return Err(bad("/rules".into(), format!("give 1 to {MAX_RULES} rules")));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.len());
        for (at, r) in raw {
            let id = r.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
            let id_ok = !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
            if !id_ok {
                return Err(bad(
                    format!("{at}/id"),
                    "each rule needs an id (letters, digits, . _ -)".into(),
                ));
            }
            if rules.iter().any(|p| p.id == id) {
                return Err(bad(format!("{at}/id"), format!("duplicate rule id {id:?}")));
            }
            let severity = match r.get("severity").and_then(Value::as_str).unwrap_or("error") {
                "error" => Severity::Error,
                "warning" => Severity::Warning,
                "info" => Severity::Info,
                other => {
                    return Err(bad(
                        format!("{at}/severity"),
                        format!("severity {other:?}: use error, warning or info"),
                    ))
                }
            };
            let check = Condition::parse(r, &at).map_err(|(p, m)| bad(p, m))?;
            let when = match r.get("when") {
                Some(w) => {
                    Some(Condition::parse(w, &format!("{at}/when")).map_err(|(p, m)| bad(p, m))?)
                }
                None => None,
            };
            let message = match r.get("message") {
                None => None,
                Some(Value::String(text)) => {
                    Some(Template::parse(text).map_err(|m| bad(format!("{at}/message"), m))?)
                }
                Some(_) => {
                    return Err(bad(
                        format!("{at}/message"),
                        "message must be a string".into(),
                    ))
                }
            };
            rules.push(Rule {
                code: r
                    .get("code")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("rules.{id}"), str::to_owned),
                message,
                optional: r.get("optional").and_then(Value::as_bool).unwrap_or(false),
                id,
                severity,
                check,
                when,
            });
        }
        let reads_doc = rules.iter().any(|rule| {
            condition_reads_doc(&rule.check)
                || rule.when.as_ref().is_some_and(condition_reads_doc)
                || rule
                    .message
                    .iter()
                    .flat_map(Template::expressions)
                    .any(|e| references::reads_doc(&e.text))
        });
        Ok(Ruleset {
            reads_doc,
            format,
            rules,
            table,
            max_samples,
        })
    }
}

impl Ruleset {
    /// Checks what every expression refers to against `doc` and the config's declared
    /// `variables` (see `references`); the finding points at the rule's field.
    pub fn check_references(&self, variables: Option<&Value>) -> Result<(), Finding> {
        let empty = serde_json::Map::new();
        let scope = Scope {
            doc: self.format != Some(Format::None),
            variables: variables.and_then(Value::as_object).unwrap_or(&empty),
            only_doc: false,
        };
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |field: &str| format!("/rules/{i}/{field}");
            check_condition(&scope, &rule.check, &at("expr"))?;
            if let Some(when) = &rule.when {
                check_condition(&scope, when, &at("when"))?;
            }
            for e in rule.message.iter().flat_map(Template::expressions) {
                scope.check(&e.text).map_err(|m| bad(at("message"), m))?;
            }
        }
        Ok(())
    }
}

fn check_condition(scope: &Scope<'_>, c: &Condition, at: &str) -> Result<(), Finding> {
    match &c.check {
        Check::Expr(e) => scope.check(&e.text).map_err(|m| bad(at.to_owned(), m)),
        Check::Op {
            nested: Some(inner),
            ..
        } => check_condition(scope, inner, at),
        Check::Op { .. } => Ok(()),
    }
}

fn condition_reads_doc(c: &Condition) -> bool {
    match &c.check {
        Check::Expr(e) => references::reads_doc(&e.text),
        Check::Op {
            nested: Some(inner),
            ..
        } => condition_reads_doc(inner),
        Check::Op { .. } => false,
    }
}

/// `variables`: an object of CEL variables (the host's assertion context) whose names
/// must be identifiers other than `doc` and `value`.
fn declared_variables(v: &Value) -> Result<&serde_json::Map<String, Value>, Finding> {
    let map = v.as_object().ok_or_else(|| {
        bad(
            "/variables".into(),
            "variables must be an object of names to values".into(),
        )
    })?;
    for name in map.keys() {
        let ident = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident || name == "doc" || name == "value" {
            return Err(bad(
                format!("/variables/{name}"),
                format!("{name:?} cannot be a variable name"),
            ));
        }
    }
    Ok(map)
}

/// A config's declared variables by name, in the config's order.
pub type Variables = Vec<(String, Value)>;

const CACHE_ENTRIES: usize = 64;

thread_local! {
    static CACHE: CompiledCache<Ruleset> = CompiledCache::new(CACHE_ENTRIES);
}

/// The compiled ruleset for this config (and step ruleset), cached per instance, and the
/// config's `variables` — values that change from call to call (an assertion's outputs)
/// and so are kept out of the cache key.
pub fn cached(config: &str, extra: Option<&str>) -> Result<(Rc<Ruleset>, Variables), Finding> {
    let (config, variables) = split_variables(config)?;
    // JSON text never holds a raw NUL, so it separates the two parts unambiguously.
    let key = match extra {
        Some(extra) => format!("{config}\0{extra}"),
        None => config.to_string(),
    };
    let set = CACHE.with(|cache| {
        cache.get_or_try_build(&key, || {
            let value: Value = serde_json::from_str(&config)
                .map_err(|e| bad(String::new(), format!("the config is not JSON: {e}")))?;
            let extra_value: Option<Value> =
                match extra {
                    Some(t) => Some(serde_json::from_str(t).map_err(|e| {
                        bad("ruleset".into(), format!("the ruleset is not JSON: {e}"))
                    })?),
                    None => None,
                };
            Ruleset::parse(&value, extra_value.as_ref())
        })
    })?;
    Ok((set, variables))
}

/// The config without its `variables` member, and those variables. A config that never
/// mentions them is used as it is (no parse on a cache hit).
fn split_variables(config: &str) -> Result<(std::borrow::Cow<'_, str>, Variables), Finding> {
    if !config.contains("\"variables\"") {
        return Ok((config.into(), vec![]));
    }
    let mut members: serde_json::Map<String, Value> = serde_json::from_str(config)
        .map_err(|e| bad(String::new(), format!("the config is not JSON: {e}")))?;
    let variables = match members.remove("variables") {
        Some(v) => declared_variables(&v)?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => vec![],
    };
    Ok((Value::Object(members).to_string().into(), variables))
}
