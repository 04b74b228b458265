use validibot_plugin_api::{Input, Outcome, Severity, Validator};

use crate::ShaclValidator;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn config() -> String {
    String::from_utf8(fixture("config.json")).unwrap()
}

fn run(data: &[u8], content_type: &str, config: &str) -> Outcome {
    ShaclValidator::validate(Input {
        content: data,
        content_type,
        config,
        ..Input::default()
    })
    .unwrap()
}

fn output(outcome: &Outcome, name: &str) -> serde_json::Value {
    outcome
        .outputs
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.value.clone())
        .unwrap_or_default()
}

#[test]
fn a_conforming_building_model_passes() {
    let out = run(&fixture("good.ttl"), "text/turtle", &config());
    assert!(out.findings.is_empty(), "{:#?}", out.findings);
    assert_eq!(output(&out, "conforms"), true);
    assert_eq!(
        output(&out, "shape_count"),
        13,
        "4 node shapes, 8 property shapes, 1 qualified value shape"
    );
    let out = run(&fixture("jsonld.jsonld"), "application/ld+json", &config());
    assert!(out.findings.is_empty(), "{:#?}", out.findings);
}

#[test]
fn each_result_is_a_finding_with_severity_code_and_path() {
    let out = run(&fixture("bad.ttl"), "text/turtle", &config());
    assert_eq!(output(&out, "conforms"), false);
    assert_eq!(output(&out, "warning_count"), 1);
    let warning = out
        .findings
        .iter()
        .find(|f| f.severity == Severity::Warning)
        .unwrap();
    assert_eq!(warning.code, "shacl.MaxInclusiveConstraintComponent");
    assert_eq!(warning.path, "bldg:SP-1 brick:value");
    assert_eq!(
        warning.message,
        "a temperature setpoint outside 10–35 °C is unusual"
    );
    let meta = warning.meta.as_ref().unwrap();
    assert_eq!(meta["value"], "\"55.0\"^^xsd:decimal");
    assert_eq!(
        meta["result_severity"],
        "http://www.w3.org/ns/shacl#Warning"
    );
    let codes: Vec<(&str, &str)> = out
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.path.as_str()))
        .collect();
    for expected in [
        ("shacl.ClassConstraintComponent", "bldg:AHU-1 brick:feeds"),
        (
            "shacl.QualifiedMinCountConstraintComponent",
            "bldg:AHU-1 brick:hasPoint",
        ),
        (
            "shacl.MaxCountConstraintComponent",
            "bldg:Zone-1 rdfs:label",
        ),
        (
            "shacl.MinExclusiveConstraintComponent",
            "bldg:Zone-1 brick:area",
        ),
        (
            "shacl.MinCountConstraintComponent",
            "bldg:Zone-2 rdfs:label",
        ),
        (
            "shacl.DatatypeConstraintComponent",
            "bldg:Zone-2 brick:area",
        ),
        ("shacl.InConstraintComponent", "bldg:RAT-1 brick:hasUnit"),
        (
            "shacl.NodeKindConstraintComponent",
            "bldg:RAT-1 brick:isPointOf",
        ),
        (
            "shacl.PatternConstraintComponent",
            "bldg:RAT-1 brick:identifier",
        ),
    ] {
        assert!(
            codes.contains(&expected),
            "{expected:?} missing from {codes:#?}"
        );
    }
    assert_eq!(output(&out, "violation_count"), codes.len() - 1);
}

#[test]
fn unreadable_documents_fail_with_a_position() {
    let out = run(&fixture("malformed.ttl"), "text/turtle", &config());
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].code, "shacl.data.syntax");
    assert!(
        out.findings[0].path.starts_with("6:"),
        "{:?}",
        out.findings[0]
    );
    let out = run(
        &fixture("remote-context.jsonld"),
        "application/ld+json",
        &config(),
    );
    assert_eq!(
        out.findings[0].code, "shacl.data.syntax",
        "a remote context is never fetched: {:?}",
        out.findings
    );
    assert!(
        out.findings[0].message.contains("nothing is fetched"),
        "{:?}",
        out.findings
    );
    let out = run(b"a,b", "text/csv", &config());
    assert_eq!(out.findings[0].code, "shacl.data.format");
}

#[test]
fn configs_are_checked_before_they_are_saved() {
    let check = |c: serde_json::Value| ShaclValidator::validate_config(&c);
    assert!(check(serde_json::json!({"shapes": "@prefix sh: <http://www.w3.org/ns/shacl#> . <urn:s> a sh:NodeShape ."})).is_ok());
    assert!(check(serde_json::json!({})).is_err());
    let broken = check(serde_json::json!({"shapes": "<urn:s> <urn:p> ."})).unwrap_err();
    assert_eq!(broken[0].code, "config.shapes_invalid");
    let ill = check(serde_json::json!({"shapes": "@prefix sh: <http://www.w3.org/ns/shacl#> . <urn:s> sh:path <urn:p> ; sh:minCount \"many\" ."})).unwrap_err();
    assert!(ill[0].message.contains("sh:minCount"), "{ill:?}");
    assert!(
        check(serde_json::json!({"shapes_files": ["s.ttl"], "data_format": "text/csv"})).is_err()
    );
}

#[test]
fn imports_resolve_to_step_files_only() {
    let shapes = "@prefix owl: <http://www.w3.org/2002/07/owl#> . <urn:shapes> owl:imports <https://example.org/never-fetched> .";
    let config = serde_json::json!({"shapes": shapes}).to_string();
    let out = run(b"<urn:a> <urn:b> <urn:c> .", "text/turtle", &config);
    assert_eq!(out.findings[0].code, "shacl.import_unresolved");
}

#[test]
fn recursive_shapes_terminate() {
    let shapes = r#"@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <urn:ex:> .
        ex:Person a sh:NodeShape ; sh:targetClass ex:Person ;
          sh:property [ sh:path ex:knows ; sh:node ex:Person ] ."#;
    let data = b"@prefix ex: <urn:ex:> . ex:a a ex:Person ; ex:knows ex:b . ex:b a ex:Person ; ex:knows ex:a .";
    let out = run(
        data,
        "text/turtle",
        &serde_json::json!({"shapes": shapes}).to_string(),
    );
    assert_eq!(output(&out, "conforms"), true);
}

#[test]
fn blank_nodes_of_the_submission_are_numbered_in_document_order_whatever_the_shapes() {
    let data =
        b"@prefix ex: <urn:ex#> .\n_:first ex:p 1 .\n[] a ex:T .\n_:first ex:q [ a ex:T ] .\n";
    let shapes = |extra: &str| {
        serde_json::json!({"shapes": format!(
            "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <urn:ex#> .\n\
             ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:name ; sh:minCount 1 ] .\n{extra}"
        )})
        .to_string()
    };
    let small = run(data, "text/turtle", &shapes(""));
    let big = run(
        data,
        "text/turtle",
        &shapes("ex:U a sh:NodeShape ; sh:targetNode [ ] , [ ] ; sh:property [ sh:path ex:a ] , [ sh:path ex:b ] ."),
    );
    let paths = |o: &Outcome| {
        let mut p: Vec<String> = o.findings.iter().map(|f| f.path.clone()).collect();
        p.sort();
        p
    };
    assert_eq!(paths(&small), ["_:b2 ex:name", "_:b3 ex:name"]);
    assert_eq!(paths(&small), paths(&big));
}
