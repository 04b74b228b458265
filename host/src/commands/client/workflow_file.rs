//! Workflow files for `workflows create -f` and `check --workflow`: JSON or YAML, in the
//! API's definition shape. JSON is read as JSON (numbers exactly as the API keeps them,
//! integers beyond 64 bits included); YAML only when the text is not JSON. A step's
//! `files` may name local files (`{"name": "common.xsd", "path": "xsd/common.xsd"}`,
//! relative to the workflow file): the CLI reads them ([`take_local_files`]).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A step file read from disk, for `check` to hand to validators or `workflows create`
/// to upload.
pub struct LocalFile {
    pub name: String,
    pub sha256: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// Reads every step file given by `path` (relative to the workflow file) and names it
/// by its sha256 instead, as the API takes it. Each content once.
pub fn take_local_files(definition: &mut Value, workflow: &Path) -> Result<Vec<LocalFile>> {
    let base = workflow.parent().unwrap_or(Path::new("."));
    let mut out: Vec<LocalFile> = Vec::new();
    let steps = definition
        .get_mut("steps")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for file in steps
        .filter_map(|s| s.get_mut("files").and_then(Value::as_array_mut))
        .flatten()
    {
        let Some(obj) = file.as_object_mut() else {
            continue;
        };
        let Some(rel) = obj.get("path").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        let path = base.join(&rel);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading step file {}", path.display()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let (name, guessed) = super::document::name_and_type(&path, None);
        obj.remove("path");
        obj.insert("sha256".into(), Value::String(sha256.clone()));
        obj.entry("name")
            .or_insert_with(|| Value::String(name.clone()));
        if !out.iter().any(|f| f.sha256 == sha256) {
            let media_type = obj
                .get("media_type")
                .and_then(Value::as_str)
                .map_or(guessed, str::to_owned);
            out.push(LocalFile {
                name,
                sha256,
                media_type,
                bytes,
            });
        }
    }
    Ok(out)
}

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
    fn local_step_files_are_read_and_named_by_sha256() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("xsd")).unwrap();
        std::fs::write(dir.path().join("xsd/common.xsd"), "<x/>").unwrap();
        let wf = dir.path().join("wf.json");
        let mut def = serde_json::json!({"steps": [
            {"key": "a", "validator": "xml-schema", "files": [{"name": "common.xsd", "path": "xsd/common.xsd"}]},
            {"key": "b", "validator": "xml-schema", "files": [{"name": "again.xsd", "path": "xsd/common.xsd"}]},
        ]});
        let files = super::take_local_files(&mut def, &wf).unwrap();
        assert_eq!(files.len(), 1, "one content, read once");
        assert_eq!(files[0].bytes, b"<x/>");
        let step = &def["steps"][0]["files"][0];
        assert_eq!(step["sha256"], files[0].sha256.as_str());
        assert!(step.get("path").is_none());
        let mut missing =
            serde_json::json!({"steps": [{"files": [{"name": "n", "path": "nope"}]}]});
        assert!(super::take_local_files(&mut missing, &wf).is_err());
    }

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
