//! The step config: `{"schema"?: "<xs:schema…>", "schema_file"?: name, "includes"?: {location: xsd}}`.
//!
//! A validator has no filesystem or network, so schemas arrive as text: inside the
//! config, or as files attached to the step (contract 1.1). `xs:include`/`xs:import`
//! resolve only to documents the workflow author supplied — under `includes`, keyed by
//! `schemaLocation`, or as a step file of that name.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use validibot_plugin_api::{Finding, StepFile};
use xmlschema::support::Unsupported;

use crate::document::{self, Refusal};
use crate::namespaces::NamespacePolicy;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// The XSD the document must satisfy; without one only well-formedness is checked.
    #[serde(default)]
    pub schema: Option<String>,
    /// The name of a step file holding the XSD (instead of `schema`).
    #[serde(default)]
    pub schema_file: Option<String>,
    /// Documents for `xs:include`/`xs:import`, keyed by their `schemaLocation`.
    #[serde(default)]
    pub includes: BTreeMap<String, String>,
    /// Report schema constructs the engine does not enforce as warnings (default on).
    #[serde(default = "yes")]
    pub report_unsupported: bool,
}

fn yes() -> bool {
    true
}

/// A config ready to validate against: the parsed schema and what it cannot enforce.
pub struct Compiled {
    pub schema: Option<xmlschema::Schema>,
    pub namespaces: Option<NamespacePolicy>,
    pub unsupported: Vec<Unsupported>,
    pub report_unsupported: bool,
}

pub fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "schema": {"type": "string", "description": "XSD 1.0 schema text. Omit (and schema_file) to check well-formedness only."},
            "schema_file": {"type": "string", "description": "The name of a file attached to the step that holds the XSD, instead of schema. The step's other files resolve xs:include / xs:import by name."},
            "includes": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Schema documents for xs:include / xs:import, keyed by schemaLocation. Nothing is ever fetched."
            },
            "report_unsupported": {"type": "boolean", "default": true, "description": "Warn about schema constructs the validator does not enforce."}
        }
    })
}

struct Includes<'a>(&'a BTreeMap<String, String>);

impl xmlschema::SchemaSource for Includes<'_> {
    fn fetch(&self, location: &str) -> Option<&str> {
        self.0.get(location).map(String::as_str)
    }
}

impl StepConfig {
    pub fn parse(config: &serde_json::Value) -> Result<Self, Finding> {
        let cfg: StepConfig = serde_json::from_value(config.clone()).map_err(|e| {
            Finding::error("config.invalid", format!("invalid xml step config: {e}"))
        })?;
        if cfg.schema.is_some() && cfg.schema_file.is_some() {
            return Err(Finding::error(
                "config.invalid",
                "give the schema as text (schema) or as a step file (schema_file), not both",
            )
            .at("/schema_file"));
        }
        Ok(cfg)
    }

    /// The config with the step's files in place: `schema_file` read into `schema`,
    /// and every text file an include under its name (unless `includes` has that name).
    pub fn with_files(mut self, files: &[StepFile]) -> Result<Self, Finding> {
        for f in files {
            if self.includes.contains_key(&f.name) {
                continue;
            }
            let wanted = self.schema_file.as_deref() == Some(f.name.as_str());
            match f.read_to_string() {
                Ok(text) if wanted => self.schema = Some(text),
                Ok(text) => {
                    self.includes.insert(f.name.clone(), text);
                }
                Err(e) if wanted => {
                    return Err(
                        Finding::error("config.schema_invalid", e.message).at("/schema_file")
                    )
                }
                Err(_) => {} // not text: not a schema document
            }
        }
        if let Some(name) = &self.schema_file {
            if self.schema.is_none() {
                return Err(Finding::error(
                    "config.invalid",
                    format!("schema_file {name:?} is not among the step's files"),
                )
                .at("/schema_file"));
            }
        }
        Ok(self)
    }

    pub fn build(&self) -> Result<Compiled, Finding> {
        let Some(xsd) = &self.schema else {
            return Ok(Compiled {
                schema: None,
                namespaces: None,
                unsupported: Vec::new(),
                report_unsupported: false,
            });
        };
        // Schema text gets the same DTD refusal as documents: it is untrusted input too.
        // Each text is parsed once here and the trees shared by the steps below.
        let main = parse_schema_text(xsd, "/schema")?;
        let includes = self
            .includes
            .iter()
            .map(|(location, text)| {
                parse_schema_text(text, &format!("/includes/{location}")).map(|doc| (text, doc))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let engine_text = crate::namespaces::wildcard_identity_xpaths(xsd, &main);
        let schema = xmlschema::parse_schema_with(&engine_text, &Includes(&self.includes))
            .map_err(|e| {
                Finding::error(
                    "config.schema_invalid",
                    format!("the schema is not a valid XML Schema: {e}"),
                )
                .at("/schema")
            })?;
        Ok(Compiled {
            schema: Some(schema),
            namespaces: Some(NamespacePolicy::from_schema(&main)),
            unsupported: audit(
                std::iter::once((xsd.as_str(), &main))
                    .chain(includes.iter().map(|(t, d)| (t.as_str(), d))),
            ),
            report_unsupported: self.report_unsupported,
        })
    }
}

/// Parses a schema text with DTDs refused, as documents are.
fn parse_schema_text<'t>(text: &'t str, at: &str) -> Result<roxmltree::Document<'t>, Finding> {
    document::parse(text).map_err(|Refusal { code, message, .. }| {
        Finding::error(
            "config.schema_invalid",
            format!("schema document refused ({code}): {message}"),
        )
        .at(at)
    })
}

/// Constructs the engine skips, over the schema and its includes. A type the
/// audit cannot see because it lives in an included document is not reported.
fn audit<'a, 't: 'a>(
    texts: impl Iterator<Item = (&'a str, &'a roxmltree::Document<'t>)>,
) -> Vec<Unsupported> {
    let mut found = Vec::new();
    let mut declared = BTreeSet::new();
    for (text, tree) in texts {
        declared.extend(document::declared_type_names(tree));
        let Ok(doc) = oxml::parse(text) else { continue };
        found.extend(xmlschema::support::unsupported(&doc));
    }
    found.retain(|u| match u.construct.strip_prefix("type reference ") {
        Some(quoted) => {
            let name = quoted.trim_matches('"');
            let local = name.rsplit(':').next().unwrap_or(name);
            !declared.contains(local)
        }
        None => true,
    });
    found.sort_by(|a, b| a.construct.cmp(&b.construct));
    found.dedup();
    found
}
