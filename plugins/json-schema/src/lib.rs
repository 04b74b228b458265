//! Built-in validator: JSON Schema.
//!
//! Draft 2020-12 unless the schema's `$schema` names an older draft (or the
//! step config pins one). Remote and file `$ref`s are refused: a validator has
//! no network or filesystem. Every error is reported, each as a finding with
//! the instance's JSON pointer and the code `json.schema.<keyword>`.

mod cache;
mod config;
mod streamed;

use validibot_plugin_api::records::Layout;

use validibot_plugin_api::position::{line_col, locate_json_findings};
use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Output, Request, Validator, ValidatorError,
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
            content_types: vec![
                "application/json".into(),
                "application/*+json".into(),
                "application/x-ndjson".into(),
            ],
            config_schema: config::config_schema(),
        }
    }

    fn validate_config(config: &serde_json::Value) -> Result<(), Vec<Finding>> {
        let cfg = config::StepConfig::parse(config).map_err(|f| vec![f])?;
        cfg.build().map(|_| ()).map_err(|f| vec![f])
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        Self::validate_request(Request::from(input))
    }

    /// JSON Lines, and an array whose schema is `type: array` + `items`, are checked a
    /// record at a time as they are read; other JSON is parsed whole.
    fn validate_request(request: Request<'_>) -> Result<Outcome, ValidatorError> {
        let compiled = cache::compiled_for(request.config)?;
        if is_json_lines(request.content_type) {
            return streamed::check(request.document, Layout::Lines, &compiled.whole, None);
        }
        if let Some(records) = &compiled.records {
            if validibot_plugin_api::records::starts_array(request.document)? {
                return streamed::check(
                    request.document,
                    Layout::Array,
                    &records.items,
                    Some(records),
                );
            }
        }
        let content = request.document.read_all()?;
        Ok(whole(&compiled.whole, &content))
    }
}

/// JSON Lines by any of its names (the host files them all as `application/x-ndjson`).
fn is_json_lines(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    JSON_LINES_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(essence))
}

const JSON_LINES_TYPES: &[&str] = &[
    "application/x-ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
];

/// The tree path: the document parsed whole, every error located in its text.
fn whole(validator: &jsonschema::Validator, content: &[u8]) -> Outcome {
    let document: serde_json::Value = match serde_json::from_slice(content) {
        Ok(doc) => doc,
        Err(e) => return parse_failure(content, &e),
    };
    let mut report = Report::default();
    report.add_errors(validator.iter_errors(&document));
    locate_json_findings(content, &mut report.findings);
    report.finish(Vec::new())
}

/// Findings gathered over a document: every error counted, the first
/// [`MAX_FINDINGS`] reported.
#[derive(Default)]
pub(crate) struct Report {
    pub findings: Vec<Finding>,
    pub total: usize,
}

impl Report {
    /// Records the errors of one value (a finding is built only while there is room).
    pub fn add_errors<'e>(
        &mut self,
        errors: impl Iterator<Item = jsonschema::ValidationError<'e>>,
    ) {
        for error in errors {
            if self.findings.len() >= MAX_FINDINGS {
                self.total += 1;
                continue;
            }
            self.add(
                Finding::error(
                    format!("json.schema.{}", error.kind().keyword()),
                    error.to_string(),
                )
                .at(error.instance_path().as_str())
                .with_meta(serde_json::json!({ "schema_path": error.schema_path().as_str() })),
            );
        }
    }

    /// Adds a finding (counted always, kept while there is room).
    pub fn add(&mut self, finding: Finding) {
        self.total += 1;
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        }
    }

    pub fn finish(mut self, mut outputs: Vec<Output>) -> Outcome {
        if self.total > self.findings.len() {
            self.findings.push(Finding::warning(
                "json.schema.truncated",
                format!(
                    "{} errors found; only the first {MAX_FINDINGS} are reported",
                    self.total
                ),
            ));
        }
        outputs.insert(0, Output::new("error_count", self.total));
        Outcome {
            findings: self.findings,
            outputs,
        }
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
        findings: vec![parse_finding(e, line, column)],
        outputs: vec![],
    }
}

/// The `json.parse` finding for a parse error at `line`:`column`.
pub(crate) fn parse_finding(e: &dyn std::fmt::Display, line: usize, column: usize) -> Finding {
    Finding::error("json.parse", format!("document is not valid JSON: {e}"))
        .at(format!("{line}:{column}"))
        .with_meta(serde_json::json!({ "line": line, "column": column }))
}

export_validator!(JsonSchemaValidator);

#[cfg(test)]
mod tests;
