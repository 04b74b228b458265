//! The step config: `{"schema": <JSON Schema>, "draft"?: "...", "formats"?: bool}`.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ReferencingError, Registry, Retrieve, Uri};
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

    /// The draft the config pins for a schema without `$schema` (a schema's own wins).
    fn pinned_draft(&self) -> Result<Option<Draft>, Finding> {
        if self.schema.get("$schema").is_some() {
            return Ok(None);
        }
        let Some(draft) = self.draft.as_ref() else {
            return Ok(None);
        };
        Ok(Some(match draft.as_str() {
            "2020-12" => Draft::Draft202012,
            "2019-09" => Draft::Draft201909,
            "7" => Draft::Draft7,
            "6" => Draft::Draft6,
            "4" => Draft::Draft4,
            other => {
                return Err(
                    Finding::error("config.invalid", format!("unknown draft {other:?}"))
                        .at("/draft"),
                )
            }
        }))
    }

    fn options(&self) -> Result<jsonschema::ValidationOptions<'_>, Finding> {
        let mut options = jsonschema::options()
            .should_validate_formats(self.formats)
            .with_retriever(NoRemoteRefs);
        if let Some(draft) = self.pinned_draft()? {
            options = options.with_draft(draft);
        }
        Ok(options)
    }

    /// The validator for the whole document.
    pub fn build(&self) -> Result<jsonschema::Validator, Finding> {
        self.options()?.build(&self.schema).map_err(|e| {
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

/// Keywords a schema for an array of records may have beside `type` and `items` and still
/// be checked a record at a time: annotations, definitions, and the item counts (checked
/// once the array ends). Anything else (`uniqueItems`, `contains`, `allOf`, a root
/// `$ref`, …) may need the whole array, so such a schema keeps the tree path.
const RECORD_ARRAY_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "definitions",
    "$comment",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "type",
    "items",
    "minItems",
    "maxItems",
];

/// Where a schema's records are checked one at a time (see [`StepConfig::records`]).
const RECORDS_URI: &str = "urn:validibot:json-schema:document";

/// A schema of the shape `{"type": "array", "items": {…}}`: each item is checked alone
/// with `items`, so a large array is never held whole.
pub struct RecordSchema {
    pub items: jsonschema::Validator,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
}

impl StepConfig {
    /// The per-record plan, when the schema describes an array of records and nothing
    /// about the array that needs it whole. `items` is compiled as a `$ref` into the
    /// schema as written, so its own `$ref`s (`#/$defs/…`) and `$id`s resolve exactly as
    /// in [`StepConfig::build`].
    pub fn records(&self) -> Option<RecordSchema> {
        let root = self.schema.as_object()?;
        if root.get("type")?.as_str()? != "array" || !root.get("items")?.is_object() {
            return None;
        }
        if root
            .keys()
            .any(|k| !RECORD_ARRAY_KEYWORDS.contains(&k.as_str()))
        {
            return None;
        }
        let count = |key: &str| root.get(key).and_then(serde_json::Value::as_u64);
        let draft = match self.pinned_draft().ok()? {
            Some(draft) => draft,
            None => Draft::default().detect(&self.schema),
        };
        let registry = Registry::new()
            .retriever(NoRemoteRefs)
            .add(RECORDS_URI, draft.create_resource(self.schema.clone()))
            .ok()?
            .prepare()
            .ok()?;
        let mut wrapper = serde_json::json!({ "$ref": format!("{RECORDS_URI}#/items") });
        if let Some(uri) = root.get("$schema") {
            wrapper["$schema"] = uri.clone();
        }
        let items = self
            .options()
            .ok()?
            .with_draft(draft)
            .with_registry(&registry)
            .build(&wrapper)
            .ok()?;
        Some(RecordSchema {
            items,
            min_items: count("minItems"),
            max_items: count("maxItems"),
        })
    }
}
