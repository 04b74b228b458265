use super::*;
use serde_json::json;

fn run(schema: serde_json::Value, doc: &str) -> Outcome {
    let config = json!({ "schema": schema }).to_string();
    JsonSchemaValidator::validate(Input {
        content: doc.as_bytes(),
        content_type: "application/json",
        config: &config,
        ruleset: None,
    })
    .expect("validation runs")
}

#[test]
fn reports_every_error_with_pointer_and_keyword_code() {
    let schema = json!({
        "type": "object",
        "required": ["name", "age"],
        "properties": {"age": {"type": "integer", "minimum": 0}, "tags": {"type": "array", "items": {"type": "string"}}}
    });
    let out = run(schema, r#"{"age": -3, "tags": ["a", 2]}"#);
    let mut got: Vec<(String, String)> = out
        .findings
        .iter()
        .map(|f| (f.code.clone(), f.path.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("json.schema.minimum".into(), "/age".into()),
            ("json.schema.required".into(), "".into()),
            ("json.schema.type".into(), "/tags/1".into()),
        ]
    );
}

#[test]
fn valid_document_has_no_findings() {
    let out = run(json!({"type": "object"}), "{}");
    assert!(out.findings.is_empty());
}

#[test]
fn malformed_json_is_a_parse_finding_with_position() {
    let out = run(json!({}), "{\n  \"a\": ,\n}");
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].code, "json.parse");
    assert_eq!(out.findings[0].path, "2:8");
}

fn schema_d4() -> serde_json::Value {
    json!({"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": true})
}

#[test]
fn honours_older_draft_from_dollar_schema() {
    // In draft 4, exclusiveMaximum is a boolean modifier of maximum.
    let out = run(schema_d4(), "5");
    assert_eq!(out.findings[0].code, "json.schema.exclusiveMaximum");
    // Under the 2020-12 default the same schema is invalid (exclusiveMaximum must be a number).
    let mut s = schema_d4();
    s.as_object_mut().unwrap().remove("$schema");
    assert!(JsonSchemaValidator::validate_config(&json!({"schema": s})).is_err());
}

#[test]
fn formats_are_asserted_by_default() {
    let out = run(json!({"format": "email"}), "\"not-an-email\"");
    assert_eq!(out.findings[0].code, "json.schema.format");
}

#[test]
fn remote_refs_are_refused() {
    let cfg = json!({"schema": {"$ref": "https://example.com/s.json"}});
    let err = JsonSchemaValidator::validate_config(&cfg).unwrap_err();
    assert_eq!(err[0].code, "config.schema_invalid");
    assert!(err[0].message.contains("refused"), "{}", err[0].message);
}

#[test]
fn invalid_schema_is_rejected_at_config_time() {
    let cfg = json!({"schema": {"type": 12}});
    assert!(JsonSchemaValidator::validate_config(&cfg).is_err());
    assert!(JsonSchemaValidator::validate_config(&json!({"nope": 1})).is_err());
}
