//! Workflows: a slug, an integer version and ordered steps, each run by a validator.
//! A version that has runs is immutable; editing it creates the next version.

pub mod files;
pub mod versions;

use serde::{Deserialize, Serialize};
use validibot_types::ids::{WorkflowId, WorkspaceId};
use validibot_types::Severity;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub position: i64,
    pub key: String,
    pub name: String,
    pub validator: String,
    pub validator_version: String,
    pub config: serde_json::Value,
    /// `config` as stored (validators cache compiled configs by this text).
    #[serde(skip)]
    pub config_text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ruleset: Option<serde_json::Value>,
    /// Checked after the step's validator, whatever it is (see `services::execution::assertions`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assertions: Vec<Assertion>,
    /// The keys of the steps this one waits for; `None`: the previous step (none for
    /// the first). Always earlier steps, so the graph has no cycles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// What this step's failure does to the steps that depend on it.
    #[serde(skip_serializing_if = "OnFailure::is_stop")]
    pub on_failure: OnFailure,
    /// A CEL condition (over `doc`, `steps`, `meta`, `consts`): the step runs only when
    /// it holds, else it is SKIPPED with the reason.
    #[serde(rename = "when", skip_serializing_if = "Option::is_none")]
    pub run_when: Option<String>,
    /// Files attached to the step, handed to its validator with the document.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<StepFile>,
}

/// A file attached to a step: its blob (by sha256) under the name the validator sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFile {
    /// Plain file name, unique within the step (`weather.epw`, `common.xsd`).
    pub name: String,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
}

impl Step {
    /// The keys this step waits for, with the default (the previous step) applied.
    pub fn dependencies<'a>(&'a self, steps: &'a [Step]) -> Vec<&'a str> {
        match &self.depends_on {
            Some(keys) => keys.iter().map(String::as_str).collect(),
            None => steps
                .iter()
                .filter(|s| s.position < self.position)
                .max_by_key(|s| s.position)
                .map(|s| vec![s.key.as_str()])
                .unwrap_or_default(),
        }
    }
}

/// Whether a failed step skips its dependents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Its dependents are SKIPPED (the default).
    #[default]
    Stop,
    /// Its dependents run anyway (the run still fails).
    Continue,
}

impl OnFailure {
    pub fn is_stop(&self) -> bool {
        *self == OnFailure::Stop
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Stop => "stop",
            OnFailure::Continue => "continue",
        }
    }
}

/// A CEL condition on a step's result, as the definition gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// Must be true; over `doc`, `outputs`, `steps`, `meta`, `consts`.
    pub expr: String,
    /// The finding's code when it fails (default `assertion.failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The finding's message, with `{{ <CEL> }}` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Default ERROR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Checked only when this is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

fn is_true(b: &bool) -> bool {
    *b
}

/// What a run of one workflow version needs: its steps ready to run and its constants.
#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The definition's `constants` (an object; empty when none were given).
    pub constants: serde_json::Map<String, serde_json::Value>,
    /// The workflow's base memory cap for WASM validator calls, in MiB.
    pub validator_memory_mib: Option<i64>,
}

/// What each step's validator is given when the workflow runs: a `rules` step with no
/// Table Schema of its own reads CSV cells typed by the nearest earlier `csv` step's
/// schema (the same columns, so `kwh > 100.0` compares numbers). The stored config is
/// untouched; only `config_text`, the text validators receive, carries the schema.
pub fn prepare_for_run(steps: &mut [Step]) {
    let mut table: Option<serde_json::Value> = None;
    for step in steps.iter_mut() {
        match step.validator.as_str() {
            "csv" => {
                if let Some(schema) = step.config.get("schema") {
                    table = Some(schema.clone());
                }
            }
            "rules" => {
                let Some(schema) = &table else { continue };
                let Some(obj) = step.config.as_object() else {
                    continue;
                };
                if obj.contains_key("schema") {
                    continue;
                }
                let mut config = obj.clone();
                config.insert("schema".into(), schema.clone());
                step.config_text = serde_json::Value::Object(config).to_string();
            }
            _ => {}
        }
    }
}

/// A definition that passed every check, ready to store.
#[derive(Debug, Clone)]
pub struct Definition {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub timeout_seconds: i64,
    pub content_types: Vec<String>,
    pub steps: Vec<Step>,
    pub constants: serde_json::Map<String, serde_json::Value>,
    /// Runs of this workflow are deleted this many days after they finish (instead of
    /// the instance's run retention). Not part of the digest: it does not decide a result.
    pub retention_days: Option<i64>,
    /// False: runs keep the document's hash and findings, never its bytes.
    pub store_submission: bool,
    /// The base memory cap of the workflow's WASM validator calls, in MiB (instead of the
    /// instance's; still raised for large documents, up to the instance's maximum).
    pub validator_memory_mib: Option<i64>,
    pub digest: String,
    /// Pro features the steps need (container validators), checked by the caller.
    pub features: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    #[serde(skip)]
    pub id: WorkflowId,
    #[serde(skip)]
    pub workspace_id: WorkspaceId,
    pub slug: String,
    pub version: i64,
    pub name: String,
    pub description: String,
    pub timeout_seconds: i64,
    pub content_types: Vec<String>,
    pub digest: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub constants: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i64>,
    /// Shown only when false (runs keep the document's hash and findings, not its bytes).
    #[serde(skip_serializing_if = "is_true")]
    pub store_submission: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validator_memory_mib: Option<i64>,
    /// When the workflow was archived (no new runs or edits; history kept).
    #[serde(
        serialize_with = "validibot_types::clock::serialize_opt_us",
        skip_serializing_if = "Option::is_none"
    )]
    pub archived_at: Option<i64>,
    pub steps: Vec<Step>,
    #[serde(serialize_with = "validibot_types::clock::serialize_us")]
    pub created_at: i64,
    #[serde(serialize_with = "validibot_types::clock::serialize_us")]
    pub updated_at: i64,
    /// Set on an edit's answer when the definition equalled the latest version, so
    /// nothing was saved.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unchanged: bool,
}

impl Workflow {
    /// Whether `def` says exactly what this version says: the digest (everything that
    /// decides a run) and the names people read.
    pub fn same_definition(&self, def: &Definition) -> bool {
        self.digest == def.digest
            && self.retention_days == def.retention_days
            && self.store_submission == def.store_submission
            && self.name == def.name
            && self.description == def.description
            && self.steps.len() == def.steps.len()
            && self
                .steps
                .iter()
                .zip(&def.steps)
                .all(|(a, b)| a.name == b.name)
    }

    pub fn accepts(&self, content_type: &str) -> bool {
        self.content_types
            .iter()
            .any(|p| validibot_types::media_types::matches(p, content_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(position: i64, validator: &str, config: serde_json::Value) -> Step {
        Step {
            position,
            key: format!("s{position}"),
            name: String::new(),
            validator: validator.into(),
            validator_version: "1".into(),
            config_text: config.to_string(),
            config,
            ruleset: None,
            assertions: vec![],
            depends_on: None,
            on_failure: OnFailure::Stop,
            run_when: None,
            files: vec![],
        }
    }

    #[test]
    fn rules_steps_inherit_the_nearest_earlier_csv_schema() {
        let table = json!({"fields": [{"name": "kwh", "type": "number"}]});
        let own = json!({"fields": [{"name": "kwh", "type": "string"}]});
        let mut steps = vec![
            step(0, "rules", json!({"rules": []})),
            step(1, "csv", json!({"schema": table})),
            step(2, "rules", json!({"rules": []})),
            step(3, "rules", json!({"rules": [], "schema": own})),
        ];
        prepare_for_run(&mut steps);
        let text =
            |i: usize| serde_json::from_str::<serde_json::Value>(&steps[i].config_text).unwrap();
        assert_eq!(text(0), json!({"rules": []}), "no csv step before it");
        assert_eq!(text(2)["schema"], table);
        assert_eq!(text(3)["schema"], own, "its own schema wins");
        assert_eq!(
            steps[2].config,
            json!({"rules": []}),
            "the stored config is untouched"
        );
    }
}
