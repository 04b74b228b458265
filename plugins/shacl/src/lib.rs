//! Built-in validator: an RDF graph against SHACL Core shapes.
//!
//! The submission is parsed by media type (Turtle, N-Triples, N-Quads, TriG, RDF/XML,
//! JSON-LD — remote JSON-LD contexts refused), merged with the step's ontology files,
//! and validated against the shapes graph by this crate's own SHACL Core engine
//! ([`engine`]). Every validation result is a finding. Nothing is fetched: the
//! component has no network, and `owl:imports` resolve only to step files. Coverage
//! against the W3C test suite is in `docs/validators/shacl.md`.

mod cache;
pub mod config;
mod dtd;
pub mod engine;
pub mod graph;
pub mod path;
pub mod report;
pub mod shapes;
pub mod values;
pub mod vocab;

use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Output, Request, Validator, ValidatorError,
};

use crate::graph::Graph;

/// Cap on findings per document so one pathological input cannot flood the run.
const MAX_FINDINGS: usize = 1000;
/// Cap on results the engine collects (the counts are exact below it).
const MAX_RESULTS: usize = 100_000;

pub struct ShaclValidator;

impl Validator for ShaclValidator {
    fn describe() -> Metadata {
        Metadata {
            slug: "shacl".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "SHACL".into(),
            description: "Validates an RDF graph (Turtle, N-Triples, RDF/XML, JSON-LD) against SHACL Core shapes; nothing is fetched.".into(),
            content_types: vec![
                "text/turtle".into(),
                "application/n-triples".into(),
                "application/n-quads".into(),
                "application/trig".into(),
                "application/rdf+xml".into(),
                "application/ld+json".into(),
            ],
            config_schema: config::config_schema(),
        }
    }

    fn validate_config(config: &serde_json::Value) -> Result<(), Vec<Finding>> {
        config::StepConfig::parse(config)
            .and_then(|c| c.check())
            .map_err(|f| vec![f])
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        Self::validate_request(Request::from(input))
    }

    fn validate_request(request: Request<'_>) -> Result<Outcome, ValidatorError> {
        let compiled = cache::compiled_for(request.config, request.files)?;
        let Some(format) = compiled
            .data_format
            .or_else(|| graph::format_of(request.content_type, None))
        else {
            return Ok(refused(
                "shacl.data.format",
                format!(
                    "{:?} is not an RDF media type; set data_format in the step config",
                    request.content_type
                ),
                None,
            ));
        };
        let content = request.document.read_all()?;
        let mut data: Graph = compiled.base.clone();
        data.label_blank_nodes("b");
        if let Err(e) = data.load(&content, format, "urn:validibot:submission") {
            let code = if e.dtd_refused {
                "shacl.data.dtd_forbidden"
            } else {
                "shacl.data.syntax"
            };
            return Ok(refused(
                code,
                format!("not readable as {}: {}", format.name(), e.message),
                e.line.zip(e.column),
            ));
        }
        let shapes = &compiled.shapes;
        let results = engine::Engine::new(&data, shapes).validate(MAX_RESULTS);
        let mut findings = Vec::new();
        for feature in &shapes.unsupported {
            findings.push(Finding::warning(
                "shacl.unsupported",
                format!("{feature} is not enforced: this engine runs SHACL Core"),
            ));
        }
        for iri in &compiled.unresolved_imports {
            findings.push(Finding::warning(
                "shacl.import_unresolved",
                format!("owl:imports <{iri}> was not loaded: nothing is fetched; attach it as a step file and map it under imports"),
            ));
        }
        let summary = report::Summary::of(&results);
        findings.extend(
            results
                .iter()
                .take(MAX_FINDINGS)
                .map(|r| report::finding(&data, shapes, r)),
        );
        if results.len() > MAX_FINDINGS {
            findings.push(Finding::warning(
                "shacl.truncated",
                format!(
                    "{} validation results; only the first {MAX_FINDINGS} are reported",
                    results.len()
                ),
            ));
        }
        Ok(Outcome {
            findings,
            outputs: vec![
                Output::new("conforms", results.is_empty()),
                Output::new("violation_count", summary.violations),
                Output::new("warning_count", summary.warnings),
                Output::new("info_count", summary.infos),
                Output::new("triple_count", data.len()),
                Output::new("shape_count", shapes.shapes.len()),
            ],
        })
    }
}

/// A submission that cannot be read as RDF fails the step with one finding.
fn refused(code: &str, message: String, at: Option<(u64, u64)>) -> Outcome {
    let mut finding = Finding::error(code, message);
    if let Some((line, column)) = at {
        finding = finding
            .at(format!("{line}:{column}"))
            .with_meta(serde_json::json!({ "line": line, "column": column }));
    }
    Outcome {
        findings: vec![finding],
        outputs: vec![Output::new("conforms", false)],
    }
}

export_validator!(ShaclValidator);

#[cfg(test)]
mod tests;
