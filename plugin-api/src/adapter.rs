//! Converts between the SDK's Rust types and the generated WIT bindings.
//! Called only from [`crate::export_validator!`].

use crate::bindings::validibot::validator::inputs;
use crate::bindings::validibot::validator::types as wit;
use crate::{Document, Finding, Input, Outcome, Request, Severity, StepFile, Validator};

pub fn describe<V: Validator>() -> wit::Metadata {
    let m = V::describe();
    wit::Metadata {
        slug: m.slug,
        version: m.version,
        name: m.name,
        description: m.description,
        content_types: m.content_types,
        config_schema: m.config_schema.to_string(),
    }
}

pub fn validate_config<V: Validator>(config: &str) -> Result<(), Vec<wit::Finding>> {
    let value =
        crate::parse_config(config).map_err(|e| vec![to_wit(Finding::error(e.code, e.message))])?;
    V::validate_config(&value).map_err(|fs| fs.into_iter().map(to_wit).collect())
}

/// The 1.0 call (a 1.0 host): the whole document, no step files.
pub fn validate<V: Validator>(input: wit::Input) -> Result<wit::Outcome, wit::ValidatorError> {
    let input_ref = Input {
        content: &input.content,
        content_type: &input.content_type,
        config: &input.config,
        ruleset: input.ruleset.as_deref(),
        files: &[],
    };
    outcome(V::validate(input_ref))
}

/// The 1.1 call: the document and the step files stay host sources until the
/// validator reads them (whole, by default, or a piece at a time).
pub fn validate_request<V: Validator>(
    request: inputs::Request,
) -> Result<wit::Outcome, wit::ValidatorError> {
    let files: Vec<StepFile> = request.files.into_iter().map(StepFile::from_wit).collect();
    let request_ref = Request {
        document: Document::from_source(&request.document),
        content_type: &request.content_type,
        config: &request.config,
        ruleset: request.ruleset.as_deref(),
        files: &files,
    };
    outcome(V::validate_request(request_ref))
}

fn outcome(
    result: Result<Outcome, crate::ValidatorError>,
) -> Result<wit::Outcome, wit::ValidatorError> {
    match result {
        Ok(Outcome { findings, outputs }) => Ok(wit::Outcome {
            findings: findings.into_iter().map(to_wit).collect(),
            outputs: outputs
                .into_iter()
                .map(|o| wit::Output {
                    name: o.name,
                    value: o.value.to_string(),
                    unit: o.unit,
                })
                .collect(),
        }),
        Err(e) => Err(wit::ValidatorError {
            code: e.code,
            message: e.message,
        }),
    }
}

fn to_wit(f: Finding) -> wit::Finding {
    wit::Finding {
        severity: match f.severity {
            Severity::Error => wit::Severity::Error,
            Severity::Warning => wit::Severity::Warning,
            Severity::Info => wit::Severity::Info,
            Severity::Success => wit::Severity::Success,
        },
        code: f.code,
        message: f.message,
        path: f.path,
        meta: f.meta.map(|m| m.to_string()).unwrap_or_default(),
    }
}
