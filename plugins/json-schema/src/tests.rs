use super::*;
use serde_json::json;

fn run(schema: serde_json::Value, doc: &str) -> Outcome {
    let config = json!({ "schema": schema }).to_string();
    JsonSchemaValidator::validate(Input {
        content: doc.as_bytes(),
        content_type: "application/json",
        config: &config,
        ruleset: None,
        ..Input::default()
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
fn remote_refs_are_refused_with_their_own_code() {
    let cfg = json!({"schema": {"$ref": "https://example.com/s.json"}});
    let err = JsonSchemaValidator::validate_config(&cfg).unwrap_err();
    assert_eq!(err[0].code, "config.remote_ref_refused", "{err:?}");
    assert!(
        err[0].message.starts_with("remote $ref https://example.com/s.json refused: only references inside the schema are allowed"),
        "{}",
        err[0].message
    );
    assert!(!err[0].message.contains("not a valid JSON Schema"));
}

#[test]
fn an_unknown_meta_schema_says_what_to_do() {
    let cfg = json!({"schema": {"$schema": "https://example.com/my-meta", "type": "object"}});
    let err = JsonSchemaValidator::validate_config(&cfg).unwrap_err();
    assert_eq!(err[0].code, "config.unknown_meta_schema", "{err:?}");
    assert_eq!(err[0].path, "/schema/$schema");
    assert!(!err[0].message.contains("registry"), "{}", err[0].message);
    assert!(
        err[0].message.contains("remove $schema"),
        "{}",
        err[0].message
    );
}

#[test]
fn the_schemas_own_dollar_schema_wins_over_the_draft_setting() {
    // 2020-12: prefixItems applies, so [1] fails; under draft 7 it would be ignored.
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "prefixItems": [{"type": "string"}]
    });
    let config = json!({"schema": schema, "draft": "7"}).to_string();
    let out = JsonSchemaValidator::validate(Input {
        content: b"[1]",
        content_type: "application/json",
        config: &config,
        ruleset: None,
        ..Input::default()
    })
    .unwrap();
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    assert_eq!(out.findings[0].code, "json.schema.type");
    // Without $schema the setting decides: draft 7 ignores prefixItems.
    let config = json!({"schema": {"prefixItems": [{"type": "string"}]}, "draft": "7"}).to_string();
    let out = JsonSchemaValidator::validate(Input {
        content: b"[1]",
        content_type: "application/json",
        config: &config,
        ruleset: None,
        ..Input::default()
    })
    .unwrap();
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

/// Every format the jsonschema crate implements, with a value it must refuse: none may
/// pass silently when formats are on (idn-email and idn-hostname did, without `idna`).
#[test]
fn every_supported_format_is_asserted() {
    let cases = [
        ("date", "2024-02-30"),
        ("date-time", "2024-01-01 25:00"),
        ("duration", "P1Y2X"),
        ("email", "not-an-email"),
        ("hostname", "-bad-.example"),
        ("idn-email", "a@-.gr"),
        ("idn-hostname", "-\u{03C0}\u{03B1}\u{03C1}-"),
        ("ipv4", "256.1.1.1"),
        ("ipv6", "1:::2"),
        ("iri", "no scheme"),
        ("iri-reference", "\\\\bad"),
        ("json-pointer", "no-leading-slash"),
        ("regex", "(unclosed"),
        ("relative-json-pointer", "/abs"),
        ("time", "25:00:00Z"),
        ("uri", "no scheme"),
        ("uri-reference", "\\\\bad"),
        ("uri-template", "{unclosed"),
        ("uuid", "not-a-uuid"),
    ];
    for (format, bad) in cases {
        let doc = serde_json::to_string(bad).unwrap();
        let out = run(json!({"format": format}), &doc);
        assert_eq!(
            out.findings
                .iter()
                .map(|f| f.code.as_str())
                .collect::<Vec<_>>(),
            ["json.schema.format"],
            "format {format:?} let {bad:?} pass"
        );
    }
    // And the valid counterparts pass (the check is the format, not a blanket refusal).
    for (format, good) in [
        ("idn-email", "\u{03B1}@\u{03C0}\u{03B1}\u{03C1}.gr"),
        ("idn-hostname", "\u{03C0}\u{03B1}\u{03C1}.gr"),
        ("email", "a@example.com"),
    ] {
        let doc = serde_json::to_string(good).unwrap();
        assert!(
            run(json!({"format": format}), &doc).findings.is_empty(),
            "{format}"
        );
    }
}

/// Numbers keep their value: the boundary of an exclusiveMaximum written with 16
/// significant digits is exact, and integers beyond u64 compare exactly.
/// How many findings `doc` gets under the config text `config`.
fn findings_for(config: &str, doc: &str) -> usize {
    JsonSchemaValidator::validate(Input {
        content: doc.as_bytes(),
        content_type: "application/json",
        config,
        ruleset: None,
        ..Input::default()
    })
    .unwrap()
    .findings
    .len()
}

#[test]
fn numbers_are_compared_at_full_precision() {
    let config = r#"{"schema": {"exclusiveMaximum": 9.727837981879871e+26}}"#;
    assert_eq!(
        findings_for(config, "9.727837981879871e+26"),
        1,
        "the boundary itself is excluded"
    );
    assert_eq!(findings_for(config, "9.727837981879870e+26"), 0);
    let config = r#"{"schema": {"maximum": 18446744073709551616}}"#;
    assert_eq!(findings_for(config, "18446744073709551617"), 1);
    assert_eq!(findings_for(config, "18446744073709551616"), 0);
}

#[test]
fn invalid_schema_is_rejected_at_config_time() {
    let cfg = json!({"schema": {"type": 12}});
    assert!(JsonSchemaValidator::validate_config(&cfg).is_err());
    assert!(JsonSchemaValidator::validate_config(&json!({"nope": 1})).is_err());
}

#[test]
fn findings_carry_the_line_and_column_of_their_value() {
    let schema = serde_json::json!({"schema": {"properties": {"lines": {"items": {"properties": {"qty": {"minimum": 1}}}}}}});
    let doc = "{\n  \"lines\": [\n    {\"qty\": 1},\n    {\"qty\": 0}\n  ]\n}";
    let out = crate::JsonSchemaValidator::validate(validibot_plugin_api::Input {
        content: doc.as_bytes(),
        content_type: "application/json",
        config: &schema.to_string(),
        ruleset: None,
        ..validibot_plugin_api::Input::default()
    })
    .unwrap();
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.path, "/lines/1/qty");
    let meta = f.meta.as_ref().unwrap();
    assert_eq!(
        (meta["line"].as_u64(), meta["column"].as_u64()),
        (Some(4), Some(13))
    );
    assert!(meta["schema_path"].is_string());
}

fn run_typed(schema: serde_json::Value, doc: &str, content_type: &str) -> Outcome {
    let config = json!({ "schema": schema }).to_string();
    JsonSchemaValidator::validate(Input {
        content: doc.as_bytes(),
        content_type,
        config: &config,
        ruleset: None,
        ..Input::default()
    })
    .expect("validation runs")
}

/// Each finding's code, pointer, line, column and schema path.
fn placed(out: &Outcome) -> Vec<(String, String, u64, u64, String)> {
    out.findings
        .iter()
        .map(|f| {
            let meta = f.meta.clone().unwrap_or_default();
            (
                f.code.clone(),
                f.path.clone(),
                meta["line"].as_u64().unwrap_or(0),
                meta["column"].as_u64().unwrap_or(0),
                meta["schema_path"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn record_schema() -> serde_json::Value {
    json!({
        "type": "array",
        "items": {"$ref": "#/$defs/line"},
        "$defs": {"line": {
            "type": "object",
            "required": ["sku"],
            "properties": {"qty": {"type": "integer", "minimum": 1}, "sku": {"type": "string"}}
        }}
    })
}

const RECORDS: &str =
    "[\n  {\"sku\": \"a\", \"qty\": 1},\n  {\"qty\": 0},\n  {\"sku\": \"c\", \"qty\": \"x\"}\n]";

#[test]
fn an_array_of_records_is_checked_per_record_as_the_tree_path_would() {
    let streamed = run(record_schema(), RECORDS);
    assert_eq!(streamed.outputs[1].name, "record_count");
    assert_eq!(streamed.outputs[1].value, json!(3));
    // `uniqueItems` needs the whole array, so this schema takes the tree path.
    let mut whole_schema = record_schema();
    whole_schema["uniqueItems"] = json!(false);
    let tree = run(whole_schema, RECORDS);
    assert_eq!(tree.outputs.len(), 1, "the tree path counts no records");
    let mut want = placed(&tree);
    want.sort();
    let mut got = placed(&streamed);
    got.sort();
    assert_eq!(got, want);
    assert_eq!(
        got,
        vec![
            (
                "json.schema.minimum".into(),
                "/1/qty".into(),
                3,
                11,
                "/$defs/line/properties/qty/minimum".into()
            ),
            (
                "json.schema.required".into(),
                "/1".into(),
                3,
                3,
                "/$defs/line/required".into()
            ),
            (
                "json.schema.type".into(),
                "/2/qty".into(),
                4,
                23,
                "/$defs/line/properties/qty/type".into()
            ),
        ]
    );
    assert_eq!(streamed.findings[0].message, tree.findings[0].message);
}

#[test]
fn item_counts_are_checked_when_the_array_ends() {
    let mut schema = record_schema();
    schema["minItems"] = json!(4);
    let out = run(schema.clone(), "[]");
    assert_eq!(placed(&out)[0].0, "json.schema.minItems");
    assert!(
        out.findings[0].message.contains("0 items"),
        "{}",
        out.findings[0].message
    );
    schema["maxItems"] = json!(1);
    schema["minItems"] = json!(0);
    let out = run(schema, r#"[{"sku": "a"}, {"sku": "b"}]"#);
    assert_eq!(placed(&out)[0].0, "json.schema.maxItems");
}

#[test]
fn a_record_schema_on_a_non_array_reports_as_before() {
    let out = run(record_schema(), r#"{"sku": "a"}"#);
    assert_eq!(placed(&out)[0].0, "json.schema.type");
    assert_eq!(placed(&out)[0].1, "");
}

#[test]
fn a_broken_array_is_a_parse_finding_at_its_place_after_the_records_before_it() {
    let text = "[\n{\"qty\": 0, \"sku\": \"a\"},\n  {\"sku\": tru}\n]";
    let out = run(record_schema(), text);
    let got = placed(&out);
    assert_eq!(got[0].1, "/0/qty");
    // Where the tree path (`uniqueItems` forces it) puts the same parse error.
    let mut whole_schema = record_schema();
    whole_schema["uniqueItems"] = json!(false);
    let tree = placed(&run(whole_schema, text));
    assert_eq!(tree[0].0, "json.parse");
    assert_eq!(got[1], tree[0], "{got:?}");
    assert!(
        !out.findings[1].message.contains("at line"),
        "{}",
        out.findings[1].message
    );
    let out = run(record_schema(), "[{\"sku\": \"a\"}\n{\"sku\": \"b\"}]");
    assert_eq!(out.findings[0].code, "json.parse");
    assert_eq!(out.findings[0].path, "2:1");
}

#[test]
fn older_drafts_and_schema_ids_resolve_inside_items() {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://example.com/lines.json",
        "type": "array",
        "items": {"$ref": "#/definitions/line"},
        "definitions": {"line": {"type": "object", "properties": {"qty": {"maximum": 5, "exclusiveMaximum": 9}}}}
    });
    let out = run(schema, r#"[{"qty": 5}, {"qty": 7}]"#);
    let got = placed(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("json.schema.maximum", "/1/qty")
    );
}

#[test]
fn json_lines_are_checked_line_by_line_and_a_bad_line_does_not_stop_the_rest() {
    let schema = record_schema()["$defs"]["line"].clone();
    let text = "{\"sku\": \"a\"}\n\n{\"sku\": 1}\n{oops}\n  {\"qty\": 0, \"sku\": \"d\"}\n";
    let out = run_typed(schema, text, "application/x-ndjson; charset=utf-8");
    let got = placed(&out);
    assert_eq!(
        got.iter()
            .map(|g| (g.0.as_str(), g.1.as_str(), g.2, g.3))
            .collect::<Vec<_>>(),
        vec![
            ("json.schema.type", "/1/sku", 3, 9),
            ("json.parse", "4:2", 4, 2),
            ("json.schema.minimum", "/3/qty", 5, 11),
        ]
    );
    assert_eq!(out.outputs[0].value, json!(3));
    assert_eq!(out.outputs[1].value, json!(4));
    // The same text as one JSON document is not JSON.
    assert_eq!(run(record_schema(), text).findings[0].code, "json.parse");
}
