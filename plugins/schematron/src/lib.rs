//! Built-in validator: ISO Schematron (ISO/IEC 19757-3) rules over XML.
//!
//! The schema is read once per config (see [`schema`]: includes from step files,
//! abstract patterns and rules resolved) and its active phase compiled to XPath 3.1
//! queries ([`program`], on the `xee` engine). A submission is refused exactly as
//! `xml-schema` refuses it (DTDs never processed), then every rule runs over it
//! ([`evaluate`]) and each failed assert or fired report becomes a finding
//! ([`report`]). Coverage and the comparison with the reference engines are in
//! `docs/validators/schematron.md`.

mod cache;
mod config;
mod document;
mod evaluate;
mod program;
mod report;
mod schema;

use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Request, Validator, ValidatorError,
};

pub struct SchematronValidator;

impl Validator for SchematronValidator {
    fn describe() -> Metadata {
        Metadata {
            slug: "schematron".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "Schematron".into(),
            description: "ISO Schematron business rules over XML (XPath 3.1; xslt, xslt2, xslt3 and xpath query bindings): each failed assert or fired report is a finding with its id, role and location; phases selectable; DTDs and external entities refused.".into(),
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
        cfg.check().map_err(|f| vec![f])
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        Self::validate_request(Request::from(input))
    }

    fn validate_request(request: Request<'_>) -> Result<Outcome, ValidatorError> {
        let program = cache::compiled_for(request.config, request.files)?;
        let content = request.document.read_all()?;
        let mut doc = match document::Submission::read(&content) {
            Ok(doc) => doc,
            Err(refusal) => return Ok(validibot_plugin_api::xml::refused(refusal)),
        };
        let report = evaluate::run(&program, &mut doc);
        let (findings, outputs) = report::findings_and_outputs(&program, &doc, &report);
        Ok(Outcome { findings, outputs })
    }
}

export_validator!(SchematronValidator);

#[cfg(test)]
mod tests;
