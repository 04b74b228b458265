//! Built-in validator: XML well-formedness and XML Schema (XSD 1.0).
//!
//! Documents are parsed with DTDs refused (see [`document`]), then validated
//! with the pure-Rust `xmlschema` engine. Every violation is a finding with an
//! XPath-like path and the line/column it maps to. Schema constructs the engine
//! does not enforce are reported as warnings, so "valid" is never mistaken for
//! "fully checked". Coverage is documented in `docs/validators/xml-schema.md`.

mod cache;
mod chars;
mod config;
mod document;
mod namespaces;
mod prefixes;
mod streamed;
mod tag;

use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Output, Request, Validator, ValidatorError,
};

/// Cap on findings per document so one pathological input cannot flood the run.
const MAX_FINDINGS: usize = 1000;

pub struct XmlValidator;

impl Validator for XmlValidator {
    fn describe() -> Metadata {
        Metadata {
            slug: "xml-schema".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "XML Schema".into(),
            description: "Checks XML is well-formed and validates it against an XSD 1.0 schema; DTDs and external entities are refused.".into(),
            content_types: vec![
                "application/xml".into(),
                "text/xml".into(),
                "application/*+xml".into(),
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

    /// Without a schema only well-formedness is checked, and that streams; a schema
    /// needs the tree, so the document is read whole.
    fn validate_request(request: Request<'_>) -> Result<Outcome, ValidatorError> {
        let compiled = cache::compiled_for(request.config, request.files)?;
        if compiled.schema.is_none() && compiled.namespaces.is_none() {
            return Ok(match streamed::check(request.document)? {
                Ok(summary) => Outcome {
                    findings: Vec::new(),
                    outputs: vec![
                        Output::new("error_count", 0),
                        Output::new("unsupported_constructs", 0),
                        Output::new("element_count", summary.elements),
                    ],
                },
                Err(refusal) => validibot_plugin_api::xml::refused(refusal),
            });
        }
        let content = request.document.read_all()?;
        let tree = match document::decode(&content).and_then(document::parse) {
            Ok(tree) => tree,
            Err(refusal) => return Ok(validibot_plugin_api::xml::refused(refusal)),
        };
        let mut findings: Vec<Finding> = Vec::new();
        if compiled.report_unsupported {
            findings.extend(compiled.unsupported.iter().map(|u| {
                Finding::warning(
                    "xml.schema.unsupported",
                    format!(
                        "schema construct {} is not enforced: {}",
                        u.construct, u.effect
                    ),
                )
                .with_meta(serde_json::json!({ "construct": u.construct }))
            }));
        }
        let mut total = 0usize;
        if let Some(policy) = &compiled.namespaces {
            for m in policy.check(&tree) {
                total += 1;
                findings.push(
                    Finding::error("xml.schema.namespace", m.message)
                        .at(m.path)
                        .with_meta(serde_json::json!({ "line": m.line, "column": m.column })),
                );
            }
        }
        if let Some(schema) = &compiled.schema {
            let doc = oxml::parse(tree.input_text()).map_err(|e| {
                ValidatorError::new(
                    "xml.engine",
                    format!("the schema engine could not read the document: {e}"),
                )
            })?;
            let report = xmlschema::validate(&doc, schema);
            total += report.violations.len();
            for violation in report.violations.into_iter().take(MAX_FINDINGS) {
                let mut finding = Finding::error("xml.schema.invalid", violation.message);
                if let Some((line, column)) = document::locate(&tree, &violation.path) {
                    finding =
                        finding.with_meta(serde_json::json!({ "line": line, "column": column }));
                }
                findings.push(finding.at(violation.path));
            }
            if total > MAX_FINDINGS {
                findings.push(Finding::warning(
                    "xml.schema.truncated",
                    format!("{total} violations found; only the first {MAX_FINDINGS} are reported"),
                ));
            }
        }
        Ok(Outcome {
            findings,
            outputs: vec![
                Output::new("error_count", total),
                Output::new("unsupported_constructs", compiled.unsupported.len()),
            ],
        })
    }
}

export_validator!(XmlValidator);

#[cfg(test)]
mod streamed_tests;
#[cfg(test)]
mod tests;
