//! Workflow files for `workflows create -f` and `check --workflow`: JSON or YAML, in the
//! API's definition shape. JSON is read as JSON (numbers exactly as the API keeps them,
//! integers beyond 64 bits included); YAML only when the text is not JSON.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Reads a definition; the slug defaults to the file's stem when the file has none.
pub fn read(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(json_error) if looks_like_json(&text) => {
            return Err(json_error).with_context(|| format!("{} is not valid JSON", path.display()))
        }
        Err(_) => serde_yaml_ng::from_str(&text)
            .with_context(|| format!("{} is not valid YAML or JSON", path.display()))?,
    };
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

/// A file whose first character opens a JSON object is meant as JSON: its errors are
/// JSON errors, not YAML's.
fn looks_like_json(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
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

    #[test]
    fn json_numbers_beyond_64_bits_are_kept_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("wf.json");
        let text = r#"{"steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"minimum": -18446744073709551615, "exclusiveMaximum": 9.727837981879871e+26}}}]}"#;
        std::fs::write(&json, text).unwrap();
        let wf = super::read(&json).unwrap();
        let schema = wf["steps"][0]["config"]["schema"].to_string();
        assert_eq!(
            schema,
            r#"{"exclusiveMaximum":9.727837981879871e+26,"minimum":-18446744073709551615}"#
        );
        // A broken JSON file gets JSON's error with its position, not YAML's.
        std::fs::write(&json, "{\"steps\": [}").unwrap();
        let err = format!("{:#}", super::read(&json).unwrap_err());
        assert!(
            err.contains("is not valid JSON") && err.contains("line 1"),
            "{err}"
        );
    }
}
