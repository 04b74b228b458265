use super::*;
use serde_json::json;
use validibot_plugin_api::StepFile;

const ORDER_XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:simpleType name="sku">
    <xs:restriction base="xs:string"><xs:pattern value="[A-Z]{3}-\d{4}"/></xs:restriction>
  </xs:simpleType>
  <xs:element name="order">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="customer" type="xs:string"/>
        <xs:element name="line" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence><xs:element name="sku" type="sku"/></xs:sequence>
            <xs:attribute name="qty" type="xs:positiveInteger" use="required"/>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
      <xs:attribute name="id" type="xs:ID" use="required"/>
    </xs:complexType>
  </xs:element>
</xs:schema>"#;

fn run(config: serde_json::Value, doc: &str) -> Outcome {
    XmlValidator::validate(Input {
        content: doc.as_bytes(),
        content_type: "application/xml",
        config: &config.to_string(),
        ruleset: None,
        ..Input::default()
    })
    .expect("validation runs")
}

fn codes_and_paths(out: &Outcome) -> Vec<(String, String)> {
    out.findings
        .iter()
        .map(|f| (f.code.clone(), f.path.clone()))
        .collect()
}

#[test]
fn valid_document_has_no_findings() {
    let doc = r#"<order id="o1"><customer>Ada</customer><line qty="2"><sku>ABC-1234</sku></line></order>"#;
    let out = run(json!({ "schema": ORDER_XSD }), doc);
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

#[test]
fn every_violation_is_reported_with_path_and_line() {
    let doc = "<order id=\"o1\">\n  <customer>Ada</customer>\n  <line qty=\"2\"><sku>ABC-1234</sku></line>\n  <line qty=\"0\">\n    <sku>abc</sku>\n  </line>\n</order>";
    let out = run(json!({ "schema": ORDER_XSD }), doc);
    let got = codes_and_paths(&out);
    assert_eq!(
        got,
        vec![
            ("xml.schema.invalid".into(), "/order/line[2]/@qty".into()),
            ("xml.schema.invalid".into(), "/order/line[2]/sku".into()),
        ],
        "{:?}",
        out.findings
    );
    let lines: Vec<_> = out
        .findings
        .iter()
        .map(|f| f.meta.as_ref().unwrap()["line"].clone())
        .collect();
    assert_eq!(lines, vec![json!(4), json!(5)]);
}

#[test]
fn malformed_xml_is_a_positioned_finding() {
    let out = run(json!({}), "<a>\n  <b></a>");
    assert_eq!(
        codes_and_paths(&out),
        vec![("xml.malformed".into(), "2:6".into())]
    );
}

#[test]
fn xxe_and_billion_laughs_are_refused_without_expansion() {
    let xxe =
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    let mut laughs = String::from("<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        let prev = format!("&l{};", i - 1);
        laughs += &format!("<!ENTITY l{i} \"{}\">", prev.repeat(10));
    }
    laughs += "]><l>&l9;</l>";
    for doc in [xxe, laughs.as_str()] {
        let out = run(json!({ "schema": ORDER_XSD }), doc);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].code, "xml.dtd_forbidden");
        assert!(
            !out.findings[0].message.contains("root:"),
            "no file content leaks"
        );
    }
}

#[test]
fn schema_with_a_dtd_or_bad_xsd_is_rejected_at_config_time() {
    let dtd = r#"<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>"#;
    let errs = XmlValidator::validate_config(&json!({ "schema": dtd })).unwrap_err();
    assert_eq!(errs[0].code, "config.schema_invalid");
    assert!(errs[0].message.contains("xml.dtd_forbidden"));
    let errs = XmlValidator::validate_config(&json!({ "schema": "<notxsd" })).unwrap_err();
    assert_eq!(errs[0].code, "config.schema_invalid");
    assert!(XmlValidator::validate_config(&json!({ "schema": ORDER_XSD })).is_ok());
    assert!(XmlValidator::validate_config(&json!({ "schemas": ORDER_XSD })).is_err());
}

/// A schema that includes `common.xsd`, and that include (a 4-character code).
const INCLUDING_XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:include schemaLocation="common.xsd"/>
  <xs:element name="r" type="code"/>
</xs:schema>"#;
const CODE_XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:simpleType name="code"><xs:restriction base="xs:string"><xs:maxLength value="4"/></xs:restriction></xs:simpleType>
</xs:schema>"#;

#[test]
fn includes_resolve_only_from_the_config() {
    let (main, common) = (INCLUDING_XSD, CODE_XSD);
    let cfg = json!({ "schema": main, "includes": { "common.xsd": common } });
    assert!(run(cfg.clone(), "<r>abcd</r>").findings.is_empty());
    assert_eq!(
        codes_and_paths(&run(cfg, "<r>abcde</r>")),
        vec![("xml.schema.invalid".into(), "/r".into())]
    );
    // Without the include the type is unknown: reported as not enforced, never fetched.
    let out = run(json!({ "schema": main }), "<r>abcde</r>");
    assert!(
        out.findings
            .iter()
            .all(|f| f.code == "xml.schema.unsupported"),
        "{:?}",
        out.findings
    );
    assert!(!out.findings.is_empty());
}

#[test]
fn the_schema_and_its_includes_come_from_step_files() {
    let (main, common) = (INCLUDING_XSD, CODE_XSD);
    let files = [
        StepFile::from_bytes("main.xsd", "application/xml", "1", main.as_bytes().to_vec()),
        StepFile::from_bytes(
            "common.xsd",
            "application/xml",
            "2",
            common.as_bytes().to_vec(),
        ),
    ];
    let check = |doc: &str, files: &[StepFile]| {
        XmlValidator::validate(Input {
            content: doc.as_bytes(),
            content_type: "application/xml",
            config: r#"{"schema_file": "main.xsd"}"#,
            files,
            ..Input::default()
        })
    };
    assert!(check("<r>abcd</r>", &files).unwrap().findings.is_empty());
    let out = check("<r>abcde</r>", &files).unwrap();
    assert_eq!(
        codes_and_paths(&out),
        vec![("xml.schema.invalid".into(), "/r".into())]
    );
    let missing = check("<r/>", &files[1..]).unwrap_err();
    assert!(missing.message.contains("main.xsd"), "{}", missing.message);
    let both = json!({"schema": main, "schema_file": "main.xsd"});
    assert!(XmlValidator::validate_config(&both).is_err());
}

#[test]
fn wrong_root_element_is_a_finding() {
    let out = run(json!({ "schema": ORDER_XSD }), "<invoice/>");
    assert_eq!(
        codes_and_paths(&out),
        vec![("xml.schema.invalid".into(), "/invoice".into())]
    );
}

#[test]
fn non_utf8_is_a_finding() {
    let out = XmlValidator::validate(Input {
        content: b"<a>\xff</a>",
        content_type: "application/xml",
        config: "{}",
        ruleset: None,
        ..Input::default()
    })
    .unwrap();
    assert_eq!(out.findings[0].code, "xml.encoding");
}

#[test]
fn namespaced_documents_validate_against_a_target_namespace() {
    let xsd = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x" xmlns="urn:x" elementFormDefault="qualified">
      <xs:element name="r"><xs:complexType><xs:sequence><xs:element name="n" type="xs:int"/></xs:sequence></xs:complexType></xs:element>
    </xs:schema>"#;
    let cfg = json!({ "schema": xsd, "report_unsupported": false });
    assert!(
        run(cfg.clone(), r#"<p:r xmlns:p="urn:x"><p:n>5</p:n></p:r>"#)
            .findings
            .is_empty()
    );
    let out = run(cfg, r#"<r xmlns="urn:x"><n>five</n></r>"#);
    assert_eq!(
        codes_and_paths(&out),
        vec![("xml.schema.invalid".into(), "/r/n".into())]
    );
}

#[test]
fn element_namespaces_outside_the_schema_are_findings() {
    let xsd = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x" xmlns="urn:x" elementFormDefault="qualified">
      <xs:element name="r"><xs:complexType><xs:sequence><xs:element name="n" type="xs:int" maxOccurs="2"/></xs:sequence></xs:complexType></xs:element>
    </xs:schema>"#;
    let cfg = json!({ "schema": xsd });
    for (doc, path) in [
        (r#"<r xmlns="urn:other"><n>5</n></r>"#, "/r"),
        (r#"<r><n>5</n></r>"#, "/r"),
        (
            r#"<r xmlns="urn:x"><n>5</n><y:n xmlns:y="urn:y">6</y:n></r>"#,
            "/r/n[2]",
        ),
        (r#"<r xmlns="urn:x"><n xmlns="">5</n></r>"#, "/r/n"),
    ] {
        let out = run(cfg.clone(), doc);
        assert!(
            out.findings
                .iter()
                .any(|f| f.code == "xml.schema.namespace" && f.path == path),
            "{doc}: {:?}",
            out.findings
        );
    }
    // Unqualified local elements are in no namespace; a schema without a target namespace wants none.
    let unqualified = xsd.replace(r#" elementFormDefault="qualified""#, "");
    assert!(run(
        json!({ "schema": unqualified }),
        r#"<p:r xmlns:p="urn:x"><n>5</n></p:r>"#
    )
    .findings
    .is_empty());
    assert!(run(
        json!({ "schema": ORDER_XSD }),
        r#"<order xmlns="urn:x" id="a"><customer/><line qty="1"><sku>ABC-1234</sku></line></order>"#
    )
    .findings
    .iter()
    .any(|f| f.code == "xml.schema.namespace"));
}

#[test]
fn identity_constraints_work_in_namespaced_schemas() {
    let xsd = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x" xmlns:p="urn:x" elementFormDefault="qualified">
      <xs:element name="r"><xs:complexType><xs:sequence>
        <xs:element name="m" maxOccurs="unbounded"><xs:complexType><xs:attribute name="id" type="xs:string"/></xs:complexType></xs:element>
      </xs:sequence></xs:complexType>
      <xs:unique name="u"><xs:selector xpath=".//p:m"/><xs:field xpath="attribute::id"/></xs:unique></xs:element>
    </xs:schema>"#;
    let out = run(
        json!({ "schema": xsd }),
        r#"<r xmlns="urn:x"><m id="a"/><m id="b"/><m id="a"/></r>"#,
    );
    assert_eq!(
        codes_and_paths(&out),
        vec![("xml.schema.invalid".into(), "/r".into())],
        "{:?}",
        out.findings
    );
    assert!(run(
        json!({ "schema": xsd }),
        r#"<r xmlns="urn:x"><m id="a"/><m id="b"/></r>"#
    )
    .findings
    .is_empty());
}
