//! A ruleset: the step config's `rules` (plus the step's `ruleset`, when given),
//! parsed and compiled once per config text.

use std::rc::Rc;

use serde_json::Value;
use validibot_plugin_api::compiled::CompiledCache;
use validibot_plugin_api::{Finding, Severity};

use crate::condition::Condition;
use crate::document::Format;
use crate::table::TableSchema;

/// Rules per step.
pub const MAX_RULES: usize = 1000;

pub struct Rule {
    pub id: String,
    pub code: String,
    pub severity: Severity,
    pub message: Option<String>,
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
            if !["rules", "format", "schema", "max_samples"].contains(&key.as_str()) {
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
                    "format must be json, xml or csv".into(),
                ))
            }
        };
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
            rules.push(Rule {
                code: r
                    .get("code")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("rules.{id}"), str::to_owned),
                message: r.get("message").and_then(Value::as_str).map(str::to_owned),
                optional: r.get("optional").and_then(Value::as_bool).unwrap_or(false),
                id,
                severity,
                check,
                when,
            });
        }
        Ok(Ruleset {
            format,
            rules,
            table,
            max_samples,
        })
    }
}

const CACHE_ENTRIES: usize = 64;

thread_local! {
    static CACHE: CompiledCache<Ruleset> = CompiledCache::new(CACHE_ENTRIES);
}

/// The compiled ruleset for this config (and step ruleset), cached per instance.
pub fn cached(config: &str, extra: Option<&str>) -> Result<Rc<Ruleset>, Finding> {
    // JSON text never holds a raw NUL, so it separates the two parts unambiguously.
    let key = match extra {
        Some(extra) => format!("{config}\0{extra}"),
        None => config.to_owned(),
    };
    CACHE.with(|cache| {
        cache.get_or_try_build(&key, || {
            let value: Value = serde_json::from_str(config)
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
    })
}
