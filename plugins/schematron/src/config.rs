//! The step config: the schema (inline or a step file; its `include`s resolve to the
//! step's other files, never fetched) and the phase to run.

use serde::Deserialize;
use validibot_plugin_api::{Finding, StepFile};

use crate::program::{self, Program};
use crate::schema;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// The schema as text.
    #[serde(default)]
    pub schema: Option<String>,
    /// The step file holding the schema.
    #[serde(default)]
    pub schema_file: Option<String>,
    /// The phase to run: a phase id, `#ALL`, or `#DEFAULT` (the schema's defaultPhase).
    #[serde(default)]
    pub phase: Option<String>,
}

pub fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "schema": {"type": "string", "description": "The ISO Schematron schema as text."},
            "schema_file": {"type": "string", "description": "Name of the step file holding the schema. Its <include href> elements name other step files (by file name); nothing is fetched."},
            "phase": {"type": "string", "description": "The phase to run: a phase id of the schema, #ALL, or #DEFAULT (the schema's defaultPhase; the default)."}
        }
    })
}

/// Stands for an include while the step's files are not known (at save time).
const DEFERRED: &str = "schematron.include_deferred";

impl StepConfig {
    pub fn parse(config: &serde_json::Value) -> Result<Self, Finding> {
        let cfg: StepConfig = serde_json::from_value(config.clone()).map_err(|e| {
            Finding::error(
                "config.invalid",
                format!("invalid schematron step config: {e}"),
            )
        })?;
        match (&cfg.schema, &cfg.schema_file) {
            (Some(_), None) | (None, Some(_)) => Ok(cfg),
            _ => Err(Finding::error(
                "config.invalid",
                "give the schema either as text (schema) or as a step file (schema_file)",
            )
            .at("/schema")),
        }
    }

    /// Reads and compiles the schema with the step's files.
    pub fn build(&self, files: &[StepFile]) -> Result<Program, Finding> {
        let file = |name: &str| -> Result<String, Finding> {
            let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
            let f = files.iter().find(|f| f.name == name || f.name == base).ok_or_else(|| {
                Finding::error(
                    "schematron.include_unresolved",
                    format!("{name:?} is not among the step's files (nothing is fetched: attach it to the step)"),
                )
            })?;
            f.read_to_string()
                .map_err(|e| schema::invalid(format!("step file {name:?}: {}", e.message)))
        };
        let text = match (&self.schema, &self.schema_file) {
            (Some(text), _) => text.clone(),
            (None, Some(name)) => file(name).map_err(|f| f.at("/schema_file"))?,
            (None, None) => unreachable!("parse requires one"),
        };
        let schema = schema::read(&text, &file)?;
        program::compile(&schema, self.phase.as_deref())
    }

    /// The save-time check: an inline schema must read and compile; one with includes
    /// (the step's files are not known yet) must at least be a well-formed schema.
    pub fn check(&self) -> Result<(), Finding> {
        let Some(text) = &self.schema else {
            return Ok(());
        };
        let deferred = |_: &str| -> Result<String, Finding> { Err(Finding::error(DEFERRED, "")) };
        match schema::read(text, &deferred) {
            Ok(schema) => program::compile(&schema, self.phase.as_deref()).map(|_| ()),
            Err(f) if f.code == DEFERRED => Ok(()),
            Err(f) => Err(f.at("/schema")),
        }
    }
}
