//! Built-in validator: JSON Schema.
//!
//! Draft 2020-12 unless the schema's `$schema` names an older draft (or the
//! step config pins one). Remote and file `$ref`s are refused: a validator has
//! no network or filesystem. Every error is reported, each as a finding with
//! the instance's JSON pointer and the code `json.schema.<keyword>`.

mod cache;
mod config;

use validibot_plugin_api::position::{line_col, locate_json_findings};
use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Output, Validator, ValidatorError,
};

/// Cap on findings per document so one pathological input cannot flood the run.
const MAX_FINDINGS: usize = 1000;

pub struct JsonSchemaValidator;

impl Validator for JsonSchemaValidator {
    fn describe() -> Metadata {
        Metadata {
            slug: "json-schema".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "JSON Schema".into(),
            description: "Validates JSON documents against a JSON Schema (Draft 2020-12 default; 2019-09, 7, 6, 4 via $schema).".into(),
            content_types: vec!["application/json".into(), "application/*+json".into()],
            config_schema: config::config_schema(),
        }
    }

    fn validate_config(config: &serde_json::Value) -> Result<(), Vec<Finding>> {
        let cfg = config::StepConfig::parse(config).map_err(|f| vec![f])?;
        cfg.build().map(|_| ()).map_err(|f| vec![f])
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        let validator = cache::validator_for(input.config)?;
        let document: serde_json::Value = match serde_json::from_slice(input.content) {
            Ok(doc) => doc,
            Err(e) => return Ok(parse_failure(input.content, &e)),
        };
        let mut findings = Vec::new();
        let mut total = 0usize;
        for error in validator.iter_errors(&document) {
            total += 1;
            if findings.len() < MAX_FINDINGS {
                findings.push(
                    Finding::error(
                        format!("json.schema.{}", error.kind().keyword()),
                        error.to_string(),
                    )
                    .at(error.instance_path().as_str())
                    .with_meta(serde_json::json!({ "schema_path": error.schema_path().as_str() })),
                );
            }
        }
        locate_json_findings(input.content, &mut findings);
        if total > findings.len() {
            findings.push(Finding::warning(
                "json.schema.truncated",
                format!("{total} errors found; only the first {MAX_FINDINGS} are reported"),
            ));
        }
        Ok(Outcome {
            findings,
            outputs: vec![Output::new("error_count", total)],
        })
    }
}

/// A document that is not JSON is a validation failure (`json.parse`), not a crash.
fn parse_failure(content: &[u8], e: &serde_json::Error) -> Outcome {
    let (line, column) = if e.line() > 0 {
        (e.line(), e.column())
    } else {
        line_col(content, content.len())
    };
    Outcome {
        findings: vec![
            Finding::error("json.parse", format!("document is not valid JSON: {e}"))
                .at(format!("{line}:{column}"))
                .with_meta(serde_json::json!({ "line": line, "column": column })),
        ],
        outputs: vec![],
    }
}

export_validator!(JsonSchemaValidator);

#[cfg(test)]
mod tests;
