//! The step config: `{"schema": <JSON Schema>, "draft"?: "...", "formats"?: bool}`.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ReferencingError, Retrieve, Uri};
use serde::Deserialize;
use validibot_plugin_api::Finding;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    pub schema: serde_json::Value,
    /// The draft for schemas without `$schema` (a schema's own `$schema` wins).
    #[serde(default)]
    pub draft: Option<String>,
    /// Assert `format` (email, date-time, uri, …); on by default.
    #[serde(default = "yes")]
    pub formats: bool,
}

fn yes() -> bool {
    true
}

pub fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["schema"],
        "additionalProperties": false,
        "properties": {
            "schema": {"type": ["object", "boolean"], "description": "The JSON Schema documents are validated against."},
            "draft": {"enum": ["2020-12", "2019-09", "7", "6", "4"], "description": "Draft used when the schema has no $schema."},
            "formats": {"type": "boolean", "default": true, "description": "Treat `format` as an assertion."}
        }
    })
}

/// Refuses every external reference: validators get no network or filesystem.
struct NoRemoteRefs;

impl Retrieve for NoRemoteRefs {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(
            format!("remote $ref refused: {uri} (only references inside the schema are allowed)")
                .into(),
        )
    }
}

impl StepConfig {
    pub fn parse(config: &serde_json::Value) -> Result<Self, Finding> {
        serde_json::from_value(config.clone()).map_err(|e| {
            Finding::error(
                "config.invalid",
                format!("invalid json-schema step config: {e}"),
            )
        })
    }

    pub fn build(&self) -> Result<jsonschema::Validator, Finding> {
        let mut options = jsonschema::options()
            .should_validate_formats(self.formats)
            .with_retriever(NoRemoteRefs);
        // `draft` only speaks for schemas that do not name their own.
        let own_schema = self.schema.get("$schema").is_some();
        if let Some(draft) = self.draft.as_ref() {
            let draft = match draft.as_str() {
                "2020-12" => Draft::Draft202012,
                "2019-09" => Draft::Draft201909,
                "7" => Draft::Draft7,
                "6" => Draft::Draft6,
                "4" => Draft::Draft4,
                other => {
                    return Err(Finding::error(
                        "config.invalid",
                        format!("unknown draft {other:?}"),
                    )
                    .at("/draft"))
                }
            };
            if !own_schema {
                options = options.with_draft(draft);
            }
        }
        options.build(&self.schema).map_err(|e| {
            let at = format!("/schema{}", e.instance_path().as_str());
            match e.kind() {
                ValidationErrorKind::Referencing(ReferencingError::Unretrievable { uri, .. }) => {
                    Finding::error(
                        "config.remote_ref_refused",
                        format!(
                            "remote $ref {uri} refused: only references inside the schema are allowed \
                             (validators have no network or filesystem); copy the referenced schema \
                             under $defs and point to it with \"#/$defs/…\""
                        ),
                    )
                    .at(at)
                }
                ValidationErrorKind::Referencing(ReferencingError::UnknownSpecification {
                    specification,
                }) => Finding::error(
                    "config.unknown_meta_schema",
                    format!(
                        "$schema {specification:?} is not a JSON Schema draft this validator knows: \
                         use the $schema URI of draft 2020-12, 2019-09, 7, 6 or 4, or remove $schema \
                         and set the step's \"draft\""
                    ),
                )
                .at("/schema/$schema"),
                _ => Finding::error(
                    "config.schema_invalid",
                    format!("the schema is not a valid JSON Schema: {e}"),
                )
                .at(at),
            }
        })
    }
}
