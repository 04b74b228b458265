//! The step config: a Frictionless Table Schema subset plus dialect options.
//!
//! ```json
//! {"schema": {"fields": [{"name": "id", "type": "integer", "constraints": {"required": true, "unique": true}}],
//!             "primaryKey": ["id"]},
//!  "delimiter": ",", "header": true, "max_samples": 5}
//! ```

use regex::Regex;
use serde::Deserialize;
use validibot_plugin_api::Finding;

use crate::types::{Cell, FieldType};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    schema: RawSchema,
    /// One character; detected from the first lines when absent.
    #[serde(default)]
    delimiter: Option<String>,
    /// Whether the first row holds column names (default true).
    #[serde(default)]
    header: Option<bool>,
    /// Individual findings per (check, column) before the rest are summarised.
    #[serde(default)]
    max_samples: Option<usize>,
    /// Values remembered per unique column (and for the primary key).
    #[serde(default)]
    unique_limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct RawSchema {
    fields: Vec<RawField>,
    #[serde(default, rename = "primaryKey")]
    primary_key: Option<serde_json::Value>,
    #[serde(default, rename = "missingValues")]
    missing_values: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct RawField {
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    constraints: RawConstraints,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstraints {
    #[serde(default)]
    required: bool,
    #[serde(default)]
    unique: bool,
    minimum: Option<serde_json::Value>,
    maximum: Option<serde_json::Value>,
    #[serde(rename = "minLength")]
    min_length: Option<usize>,
    #[serde(rename = "maxLength")]
    max_length: Option<usize>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    allowed: Option<Vec<serde_json::Value>>,
}

pub struct Field {
    pub name: String,
    pub kind: FieldType,
    pub required: bool,
    pub unique: bool,
    /// Bounds as written, and parsed in the field's type (never text: refused for strings).
    pub minimum: Option<String>,
    pub maximum: Option<String>,
    pub min_cell: Option<Cell<'static>>,
    pub max_cell: Option<Cell<'static>>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<Regex>,
    pub allowed: Option<Vec<String>>,
    /// `allowed` parsed in the field's type (empty for strings, matched as text).
    pub allowed_cells: Vec<Cell<'static>>,
}

pub struct Config {
    pub fields: Vec<Field>,
    pub primary_key: Vec<usize>,
    pub missing_values: Vec<String>,
    pub delimiter: Option<u8>,
    pub header: bool,
    pub max_samples: usize,
    pub unique_limit: usize,
}

/// Values remembered per unique constraint by default: at most 36 MB of fingerprints.
pub const UNIQUE_LIMIT: usize = 3_000_000;

fn bad(path: &str, message: impl Into<String>) -> Finding {
    Finding::error("config.invalid", message).at(path)
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Config {
    pub fn parse(value: &serde_json::Value) -> Result<Config, Finding> {
        let raw: RawConfig = serde_json::from_value(value.clone())
            .map_err(|e| bad("", format!("invalid CSV step config: {e}")))?;
        if raw.schema.fields.is_empty() {
            return Err(bad("/schema/fields", "the schema needs at least one field"));
        }
        let mut fields = Vec::with_capacity(raw.schema.fields.len());
        for (i, f) in raw.schema.fields.into_iter().enumerate() {
            let at = |k: &str| format!("/schema/fields/{i}/{k}");
            if fields.iter().any(|g: &Field| g.name == f.name) {
                return Err(bad(
                    &at("name"),
                    format!("duplicate field name {:?}", f.name),
                ));
            }
            let kind = FieldType::parse(f.kind.as_deref().unwrap_or("string"))
                .ok_or_else(|| bad(&at("type"), format!("unsupported type {:?}: use string, integer, number, boolean, date or datetime", f.kind.unwrap_or_default())))?;
            let c = f.constraints;
            let pattern = match c.pattern {
                Some(p) => Some(Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                    bad(&at("constraints/pattern"), format!("invalid pattern: {e}"))
                })?),
                None => None,
            };
            for (k, bound) in [("minimum", &c.minimum), ("maximum", &c.maximum)] {
                if let Some(b) = bound {
                    if kind.parse_cell(&text_of(b)).is_err()
                        || kind == FieldType::String
                        || kind == FieldType::Boolean
                    {
                        return Err(bad(
                            &at(&format!("constraints/{k}")),
                            format!("{k} {b} does not fit type {}", kind.name()),
                        ));
                    }
                }
            }
            let minimum = c.minimum.as_ref().map(text_of);
            let maximum = c.maximum.as_ref().map(text_of);
            let parsed = |b: &Option<String>| {
                b.as_deref()
                    .and_then(|b| kind.parse_cell(b).ok()?.to_static())
            };
            let allowed: Option<Vec<String>> = c.allowed.map(|a| a.iter().map(text_of).collect());
            let allowed_cells = allowed
                .iter()
                .flatten()
                .filter_map(|a| kind.parse_cell(a).ok()?.to_static())
                .collect();
            fields.push(Field {
                name: f.name,
                kind,
                required: c.required,
                unique: c.unique,
                min_cell: parsed(&minimum),
                max_cell: parsed(&maximum),
                minimum,
                maximum,
                min_length: c.min_length,
                max_length: c.max_length,
                pattern,
                allowed,
                allowed_cells,
            });
        }
        let key_names: Vec<String> = match raw.schema.primary_key {
            None => vec![],
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(a)) => a.iter().map(text_of).collect(),
            Some(_) => {
                return Err(bad(
                    "/schema/primaryKey",
                    "primaryKey is a field name or a list of them",
                ))
            }
        };
        let mut primary_key = Vec::new();
        for name in key_names {
            let idx = fields.iter().position(|f| f.name == name).ok_or_else(|| {
                bad(
                    "/schema/primaryKey",
                    format!("primaryKey names unknown field {name:?}"),
                )
            })?;
            primary_key.push(idx);
        }
        let delimiter = match raw.delimiter.as_deref() {
            None => None,
            Some(d) if d.len() == 1 && d != "\"" && d != "\n" && d != "\r" => Some(d.as_bytes()[0]),
            Some("\\t") => Some(b'\t'),
            Some(d) => {
                return Err(bad(
                    "/delimiter",
                    format!("delimiter must be one ASCII character, not {d:?}"),
                ))
            }
        };
        Ok(Config {
            fields,
            primary_key,
            missing_values: raw
                .schema
                .missing_values
                .unwrap_or_else(|| vec![String::new()]),
            delimiter,
            header: raw.header.unwrap_or(true),
            max_samples: raw.max_samples.unwrap_or(5).clamp(1, 1000),
            unique_limit: raw.unique_limit.unwrap_or(UNIQUE_LIMIT).max(1),
        })
    }
}

pub fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["schema"],
        "additionalProperties": false,
        "properties": {
            "schema": {
                "type": "object",
                "required": ["fields"],
                "description": "A Frictionless Table Schema: the columns, in order, with their types and constraints.",
                "properties": {
                    "fields": {"type": "array", "minItems": 1, "description": "One per column, matched to the header by name (by position without a header).", "items": {
                        "type": "object", "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "description": "The column's name in the header."},
                            "type": {"enum": ["string", "integer", "number", "boolean", "date", "datetime"], "description": "What each cell must parse as (default string): integer, number, boolean (true/false/1/0), date (YYYY-MM-DD), datetime (RFC 3339)."},
                            "constraints": {"type": "object", "additionalProperties": false, "description": "Checks on each cell of the column.", "properties": {
                                "required": {"type": "boolean", "description": "The cell may not be a missing value."},
                                "unique": {"type": "boolean", "description": "No two rows have the same value."},
                                "minimum": {"description": "Smallest value, in the column's type."},
                                "maximum": {"description": "Largest value, in the column's type."},
                                "minLength": {"type": "integer", "minimum": 0, "description": "Fewest characters."},
                                "maxLength": {"type": "integer", "minimum": 0, "description": "Most characters."},
                                "pattern": {"type": "string", "description": "A regular expression the whole cell must match."},
                                "enum": {"type": "array", "description": "The values allowed."}
                            }}
                        }
                    }},
                    "primaryKey": {"type": ["string", "array"], "description": "A field name, or a list of them, whose values together are unique and present in every row."},
                    "missingValues": {"type": "array", "items": {"type": "string"}, "description": "Cell texts that mean \"no value\" (default [\"\"])."}
                }
            },
            "delimiter": {"type": "string", "description": "One character (`\\t` for tab); detected from the first lines when absent."},
            "header": {"type": "boolean", "default": true, "description": "Whether the first row holds the column names."},
            "max_samples": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 5, "description": "Failing rows reported one by one per check and column; the rest become one summary finding with the count."},
            "unique_limit": {"type": "integer", "minimum": 1, "default": UNIQUE_LIMIT, "description": "Values remembered per unique column and for the primary key (at most 12 bytes each, counted against the validator's memory cap). Past it, later rows are still compared with the values remembered, and a warning says the check was partial."}
        }
    })
}
