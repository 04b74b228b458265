//! Workflow files for `workflows create -f` and `check --workflow`: YAML or JSON (JSON is
//! YAML, so one parser reads both), in the API's definition shape.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Reads a definition; the slug defaults to the file's stem when the file has none.
pub fn read(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut value: Value = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("{} is not valid YAML or JSON", path.display()))?;
    let Some(obj) = value.as_object_mut() else {
        bail!("{}: a workflow is a mapping with `steps`", path.display());
    };
    if !obj.contains_key("slug") {
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            let slug: String = stem
                .to_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            obj.insert("slug".into(), Value::String(slug));
        }
    }
    Ok(value)
}

/// A stored workflow (API shape) back as an editable definition.
pub fn definition_of(workflow: &Value) -> Value {
    let steps: Vec<Value> = workflow["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let mut step = serde_json::json!({
                "key": s["key"], "name": s["name"], "validator": s["validator"], "config": s["config"],
            });
            if !s["ruleset"].is_null() {
                step["ruleset"] = s["ruleset"].clone();
            }
            step
        })
        .collect();
    serde_json::json!({
        "slug": workflow["slug"], "name": workflow["name"], "description": workflow["description"],
        "timeout_seconds": workflow["timeout_seconds"], "content_types": workflow["content_types"],
        "steps": steps,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn yaml_and_json_read_the_same_with_slug_from_the_stem() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("My Invoices.yaml");
        std::fs::write(&yaml, "name: Invoices\nsteps:\n  - key: schema\n    validator: json-schema\n    config: {schema: {type: object}}\n").unwrap();
        let json = dir.path().join("wf.json");
        std::fs::write(&json, r#"{"slug": "my-invoices", "name": "Invoices", "steps": [{"key": "schema", "validator": "json-schema", "config": {"schema": {"type": "object"}}}]}"#).unwrap();
        let a = super::read(&yaml).unwrap();
        assert_eq!(a["slug"], "my-invoices");
        assert_eq!(a, super::read(&json).unwrap());
        std::fs::write(&json, "[1, 2]").unwrap();
        assert!(super::read(&json).is_err());
    }
}
