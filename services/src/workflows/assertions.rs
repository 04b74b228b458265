//! A step's assertions as the built-in `rules` validator evaluates them: one rule per
//! assertion and the context as the config's `variables` (`outputs`, `steps`, `meta`,
//! `consts`). The same translation serves the check when a workflow is saved (names
//! known then) and the run (values), so what compiles at save is what runs.

use serde_json::{json, Map, Value};
use validibot_store::workflows::{Assertion, Step};
use validibot_types::{Finding, Severity};

use super::context::{outputs_object, RunContext};

/// The validator that evaluates assertions (sandboxed, like every validator).
pub const EVALUATOR: &str = "rules";
/// A failed assertion's code unless it names one.
pub const DEFAULT_CODE: &str = "assertion.failed";
/// Assertions per step.
pub const MAX_ASSERTIONS: usize = 100;

/// The rules `format` for a submission's media type; `none` for documents the rules
/// engine does not parse (their assertions have no `doc`).
pub fn format_for(content_type: &str) -> &'static str {
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("json") {
        "json"
    } else if ct.contains("xml") {
        "xml"
    } else if ct.contains("csv") || ct.contains("tab-separated") {
        "csv"
    } else {
        "none"
    }
}

/// Whether any assertion may read `doc`: when none does, the document is neither
/// copied into the sandbox nor parsed there. (A mention in a string literal only
/// costs the parse.)
pub fn uses_doc(assertions: &[Assertion]) -> bool {
    assertions.iter().any(|a| {
        [Some(&a.expr), a.when.as_ref(), a.message.as_ref()]
            .into_iter()
            .flatten()
            .any(|t| t.contains("doc"))
    })
}

/// The variables when the workflow is saved: each name, with the shape known then —
/// earlier step keys and the constants; outputs and metadata are unknown until a run.
pub fn save_variables(earlier: &[&str], consts: &Map<String, Value>) -> Map<String, Value> {
    let steps: Map<String, Value> = earlier
        .iter()
        .map(|k| ((*k).to_owned(), Value::Null))
        .collect();
    vars(Value::Null, Value::Object(steps), Value::Null, consts)
}

/// The variables for a run of the step: its outputs, the earlier steps, meta, consts.
pub fn run_variables(outputs: &[validibot_types::Output], ctx: &RunContext) -> Map<String, Value> {
    let steps: Map<String, Value> = ctx
        .steps
        .iter()
        .map(|s| {
            (
                s.key.clone(),
                json!({"status": s.status.as_str(), "outputs": outputs_object(&s.outputs)}),
            )
        })
        .collect();
    vars(
        Value::Object(outputs_object(outputs)),
        Value::Object(steps),
        ctx.meta.clone(),
        &ctx.consts,
    )
}

fn vars(
    outputs: Value,
    steps: Value,
    meta: Value,
    consts: &Map<String, Value>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("outputs".into(), outputs);
    m.insert("steps".into(), steps);
    m.insert("meta".into(), meta);
    m.insert("consts".into(), Value::Object(consts.clone()));
    m
}

/// The `rules` config that evaluates `step`'s assertions over a document of `format`.
/// CSV cells are typed by the step's Table Schema (its own or the one the workflow
/// handed a rules step), as the `rules` validator types them.
pub fn config(step: &Step, format: &str, variables: Map<String, Value>) -> Value {
    let rules: Vec<Value> = step
        .assertions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut r = json!({
                "id": rule_id(i),
                "expr": a.expr,
                "code": a.code.as_deref().unwrap_or(DEFAULT_CODE),
                "severity": match a.severity.unwrap_or(Severity::Error) {
                    Severity::Warning => "warning",
                    Severity::Info | Severity::Success => "info",
                    Severity::Error => "error",
                },
                "message": a.message.clone().unwrap_or_else(|| default_message(a)),
            });
            if let Some(when) = &a.when {
                r["when"] = json!({"expr": when});
            }
            r
        })
        .collect();
    let mut config =
        json!({"format": format, "max_samples": 1, "variables": variables, "rules": rules});
    if format == "csv" {
        if let Some(schema) = table_schema(step) {
            config["schema"] = schema;
        }
    }
    config
}

/// The evaluator config for a step's `when`: one rule, no `outputs` (nothing has run).
pub fn when_config(when: &str, format: &str, mut variables: Map<String, Value>) -> Value {
    variables.remove("outputs");
    json!({"format": format, "max_samples": 1, "variables": variables,
           "rules": [{"id": "when", "expr": when, "message": "the step's `when` is false"}]})
}

/// The evaluator's findings about a `when` config, pointed at the step's `when`.
pub fn when_findings(mut findings: Vec<Finding>) -> Vec<Finding> {
    for f in &mut findings {
        if f.path.starts_with("/rules/0") {
            f.path = "/when".into();
        }
    }
    findings
}

fn table_schema(step: &Step) -> Option<Value> {
    // `config_text` carries a schema handed on by the workflow (see `prepare_for_run`).
    let prepared: Value = serde_json::from_str(&step.config_text).ok()?;
    prepared
        .get("schema")
        .filter(|s| s.get("fields").is_some())
        .cloned()
}

fn rule_id(i: usize) -> String {
    format!("assertion-{i}")
}

fn default_message(a: &Assertion) -> String {
    // Braces would read as placeholders; such an expression is named by its index instead.
    if a.expr.contains('{') {
        "assertion failed".into()
    } else {
        format!("assertion failed: {}", a.expr)
    }
}

/// Which assertion a rules path or finding is about (`/rules/3/when` → 3, `when`).
fn assertion_of(path: &str) -> Option<(usize, &str)> {
    let rest = path.strip_prefix("/rules/")?;
    let (i, field) = rest.split_once('/').unwrap_or((rest, ""));
    Some((i.parse().ok()?, field))
}

/// The evaluator's findings about a config, pointed at the step's assertions
/// (`/rules/3/expr` → `/assertions/3/expr`).
pub fn config_findings(mut findings: Vec<Finding>) -> Vec<Finding> {
    for f in &mut findings {
        if let Some((i, field)) = assertion_of(&f.path) {
            let field = if field == "expr" || field.is_empty() {
                "expr"
            } else {
                field
            };
            f.path = format!("/assertions/{i}/{field}");
        }
    }
    findings
}

/// The evaluator's findings on a run, as the step's: each names its assertion and
/// expression; its path is the assertion's (`assertions/3`).
pub fn run_findings(step: &Step, findings: Vec<Finding>) -> Vec<Finding> {
    findings
        .into_iter()
        .map(|mut f| {
            let index = f
                .meta
                .as_ref()
                .and_then(|m| m.get("rule"))
                .and_then(Value::as_str)
                .and_then(|id| id.strip_prefix("assertion-"))
                .and_then(|i| i.parse::<usize>().ok());
            if let Some(a) = index.and_then(|i| step.assertions.get(i).map(|a| (i, a))) {
                f.path = format!("assertions/{}", a.0);
                f.meta = Some(json!({"assertion": a.0, "expr": a.1.expr}));
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_media_type() {
        assert_eq!(format_for("application/json"), "json");
        assert_eq!(format_for("application/ld+json"), "json");
        assert_eq!(format_for("text/xml; charset=utf-8"), "xml");
        assert_eq!(format_for("text/csv"), "csv");
        assert_eq!(format_for("application/vnd.energyplus.idf"), "none");
        assert_eq!(format_for("application/x-fmu"), "none");
    }

    #[test]
    fn config_paths_point_at_assertions() {
        let f = Finding::error("config.invalid", "x").at("/rules/2/when");
        assert_eq!(config_findings(vec![f])[0].path, "/assertions/2/when");
    }
}
