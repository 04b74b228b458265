use serde_json::json;
use validibot_plugin_api::{Input, Outcome, Severity, StepFile, Validator};

use crate::SchematronValidator;

const SCHEMA: &str = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2" defaultPhase="all">
  <ns prefix="i" uri="urn:example:invoice"/>
  <let name="currencies" value="('EUR', 'USD', 'GBP')"/>
  <phase id="all"><active pattern="totals"/><active pattern="codes"/></phase>
  <phase id="codes-only"><active pattern="codes"/></phase>
  <pattern id="totals">
    <rule context="i:invoice">
      <let name="sum" value="sum(i:line/xs:decimal(@amount))"/>
      <assert id="BR-CO-10" test="xs:decimal(i:total) = $sum" flag="fatal">Total <value-of select="i:total"/> is not the sum of the lines (<value-of select="$sum"/>).</assert>
      <report id="INFO-1" test="count(i:line) &gt; 2" role="info">The invoice has <value-of select="count(i:line)"/> lines.</report>
    </rule>
  </pattern>
  <pattern id="codes">
    <rule context="i:line[@currency]">
      <assert id="BR-CL-04" test="@currency = $currencies" role="warning" diagnostics="d1"><name/> has currency <value-of select="@currency"/>, not an ISO 4217 code we accept.</assert>
    </rule>
    <rule context="i:line">
      <assert id="BR-LINE" test="false()">never reached for lines with a currency</assert>
    </rule>
  </pattern>
  <diagnostics><diagnostic id="d1">Use one of <value-of select="string-join($currencies, ', ')"/>.</diagnostic></diagnostics>
</schema>"#;

const DOC: &str = r#"<?xml version="1.0"?>
<invoice xmlns="urn:example:invoice">
  <line amount="10.00" currency="EUR"/>
  <line amount="5.50" currency="XXX"/>
  <line amount="1" currency="USD"/>
  <total>17.00</total>
</invoice>"#;

fn run(config: serde_json::Value, doc: &str) -> Outcome {
    let config = config.to_string();
    SchematronValidator::validate(Input {
        content: doc.as_bytes(),
        content_type: "application/xml",
        config: &config,
        ..Input::default()
    })
    .expect("validates")
}

fn output(outcome: &Outcome, name: &str) -> serde_json::Value {
    outcome
        .outputs
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.value.clone())
        .unwrap_or_else(|| panic!("no output {name}"))
}

#[test]
fn failed_asserts_and_fired_reports_are_findings_with_code_severity_location_and_message() {
    let out = run(json!({ "schema": SCHEMA }), DOC);
    let codes: Vec<(&str, Severity, &str)> = out
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.severity, f.path.as_str()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("BR-CO-10", Severity::Error, "/i:invoice[1]"),
            ("INFO-1", Severity::Info, "/i:invoice[1]"),
            ("BR-CL-04", Severity::Warning, "/i:invoice[1]/i:line[2]"),
        ]
    );
    assert_eq!(
        out.findings[0].message,
        "Total 17.00 is not the sum of the lines (16.5)."
    );
    assert_eq!(
        out.findings[2].message,
        "line has currency XXX, not an ISO 4217 code we accept."
    );
    let meta = out.findings[2].meta.as_ref().unwrap();
    assert_eq!(meta["line"], 4);
    assert_eq!(meta["column"], 3);
    assert_eq!(meta["pattern"], "codes");
    assert_eq!(meta["diagnostics"]["d1"], "Use one of EUR, USD, GBP.");
    assert_eq!(output(&out, "failed_assert_count"), 2);
    assert_eq!(output(&out, "successful_report_count"), 1);
    assert_eq!(output(&out, "valid"), false);
    assert_eq!(output(&out, "phase"), "all");
    assert_eq!(
        output(&out, "patterns")["codes"],
        json!({"fired_rules": 3, "failed_asserts": 1, "successful_reports": 0})
    );
}

#[test]
fn a_phase_selects_its_patterns_and_an_unknown_phase_is_refused_at_save() {
    let out = run(json!({ "schema": SCHEMA, "phase": "codes-only" }), DOC);
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].code, "BR-CL-04");
    let all = run(json!({ "schema": SCHEMA, "phase": "#ALL" }), DOC);
    assert_eq!(all.findings.len(), 3);
    let err = SchematronValidator::validate_config(&json!({ "schema": SCHEMA, "phase": "nope" }))
        .unwrap_err();
    assert_eq!(err[0].code, "schematron.phase_unknown");
    assert!(err[0].message.contains("codes-only"), "{}", err[0].message);
}

#[test]
fn bad_xpath_and_xslt_functions_are_refused_at_save() {
    let bad = SCHEMA.replace("count(i:line) &gt; 2", "count(i:line &gt; 2");
    let err = SchematronValidator::validate_config(&json!({ "schema": bad })).unwrap_err();
    assert_eq!(err[0].code, "schematron.schema_invalid");
    assert!(
        err[0].message.contains("report INFO-1 at line 10"),
        "{}",
        err[0].message
    );
    let xsl = SCHEMA.replace(
        "<pattern id=\"totals\">",
        "<xsl:function xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" name=\"u:f\"/><pattern id=\"totals\">",
    );
    let err = SchematronValidator::validate_config(&json!({ "schema": xsl })).unwrap_err();
    assert!(
        err[0].message.contains("xsl:function"),
        "{}",
        err[0].message
    );
    let undefined = SCHEMA.replace("= $currencies", "= $nowhere");
    assert!(SchematronValidator::validate_config(&json!({ "schema": undefined })).is_err());
}

#[test]
fn documents_with_a_doctype_are_refused_as_xml_schema_refuses_them() {
    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE invoice [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<invoice xmlns=\"urn:example:invoice\">&x;</invoice>";
    let out = run(json!({ "schema": SCHEMA }), xxe);
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].code, "xml.dtd_forbidden");
    assert_eq!(out.findings[0].path, "2:1");
    let broken = run(json!({ "schema": SCHEMA }), "<invoice><line></invoice>");
    assert_eq!(broken.findings[0].code, "xml.malformed");
}

#[test]
fn abstract_patterns_abstract_rules_and_includes_from_step_files() {
    let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="i" uri="urn:example:invoice"/>
  <pattern abstract="true" id="positive">
    <rule context="$item">
      <assert id="POS" test="xs:decimal($value) &gt; 0"><value-of select="$value"/> must be positive</assert>
    </rule>
  </pattern>
  <pattern is-a="positive" id="line-amounts">
    <param name="item" value="i:line"/>
    <param name="value" value="@amount"/>
  </pattern>
  <include href="rules/common.sch"/>
</schema>"#;
    let common = r#"<pattern xmlns="http://purl.oclc.org/dsdl/schematron" id="common">
  <rule abstract="true" id="has-total"><assert id="TOTAL" test="i:total">no total</assert></rule>
  <rule context="i:invoice"><extends rule="has-total"/></rule>
</pattern>"#;
    let files = [StepFile::from_bytes(
        "common.sch",
        "application/xml",
        "0",
        common.as_bytes().to_vec(),
    )];
    let config = json!({ "schema": schema }).to_string();
    let doc =
        r#"<invoice xmlns="urn:example:invoice"><line amount="0"/><line amount="2"/></invoice>"#;
    let out = SchematronValidator::validate(Input {
        content: doc.as_bytes(),
        content_type: "application/xml",
        config: &config,
        files: &files,
        ..Input::default()
    })
    .unwrap();
    let got: Vec<(&str, &str, &str)> = out
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.path.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("POS", "/i:invoice[1]/i:line[1]", "0 must be positive"),
            ("TOTAL", "/i:invoice[1]", "no total"),
        ]
    );
    // Without the file the include is an error naming it, never a fetch.
    let err = SchematronValidator::validate(Input {
        content: doc.as_bytes(),
        content_type: "application/xml",
        config: &config,
        ..Input::default()
    })
    .unwrap_err();
    assert_eq!(err.code, "schematron.include_unresolved");
}

#[test]
fn a_dynamic_xpath_error_is_a_finding_and_the_run_goes_on() {
    let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <pattern><rule context="n">
    <assert test="xs:decimal(.) ge 0">negative</assert>
  </rule></pattern>
</schema>"#;
    let out = run(json!({ "schema": schema }), "<r><n>abc</n><n>-1</n></r>");
    let codes: Vec<&str> = out.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, vec!["schematron.assert", "schematron.xpath_error"]);
    assert_eq!(out.findings[1].path, "/r[1]/n[1]");
}

#[test]
fn subject_moves_the_location_and_severity_words_come_from_role_then_flag_then_rule() {
    let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xpath31">
  <pattern id="p">
    <rule context="order" flag="warning">
      <assert test="total" subject="customer">no total</assert>
      <report test="note" role="hint" flag="fatal">a note</report>
      <report test="true()" role="BR-X">the rule's flag applies</report>
    </rule>
  </pattern>
</schema>"#;
    let out = run(
        json!({ "schema": schema }),
        "<orders><order><customer/><note/></order></orders>",
    );
    let got: Vec<(&str, Severity, &str)> = out
        .findings
        .iter()
        .map(|f| (f.message.as_str(), f.severity, f.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "no total",
                Severity::Warning,
                "/orders[1]/order[1]/customer[1]"
            ),
            ("a note", Severity::Info, "/orders[1]/order[1]"),
            (
                "the rule's flag applies",
                Severity::Warning,
                "/orders[1]/order[1]"
            ),
        ]
    );
    assert_eq!(output(&out, "valid"), true, "warnings and infos only");
}

#[test]
fn an_error_in_a_schema_let_names_the_let_and_no_pattern() {
    let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <let name="limit" value="xs:decimal('many')"/>
  <pattern id="p"><rule context="n"><assert test=". le $limit">over</assert></rule></pattern>
</schema>"#;
    let out = run(json!({ "schema": schema }), "<r><n>1</n></r>");
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].code, "schematron.xpath_error");
    assert!(
        out.findings[0].message.starts_with("$limit: "),
        "{}",
        out.findings[0].message
    );
}

#[test]
fn extends_href_pulls_in_the_rule_a_step_file_holds_and_its_own_extends() {
    let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <pattern id="p"><rule context="order"><extends href="rules/order.sch"/></rule></pattern>
</schema>"#;
    let order = r#"<rule xmlns="http://purl.oclc.org/dsdl/schematron">
  <let name="n" value="count(line)"/>
  <assert id="LINES" test="$n gt 0">an order has lines</assert>
  <extends href="id.sch"/>
</rule>"#;
    let id = r#"<rule xmlns="http://purl.oclc.org/dsdl/schematron"><assert id="ID" test="@id">an order has an id</assert></rule>"#;
    let files = [
        StepFile::from_bytes("order.sch", "application/xml", "0", order.into()),
        StepFile::from_bytes("id.sch", "application/xml", "0", id.into()),
    ];
    let config = json!({ "schema": schema }).to_string();
    let out = SchematronValidator::validate(Input {
        content: b"<orders><order id='1'><line/></order><order/></orders>",
        content_type: "application/xml",
        config: &config,
        files: &files,
        ..Input::default()
    })
    .unwrap();
    let got: Vec<(&str, &str)> = out
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("LINES", "/orders[1]/order[2]"),
            ("ID", "/orders[1]/order[2]")
        ]
    );

    let looping = [StepFile::from_bytes(
        "self.sch",
        "application/xml",
        "0",
        br#"<rule xmlns="http://purl.oclc.org/dsdl/schematron"><extends href="self.sch"/></rule>"#
            .to_vec(),
    )];
    let schema = schema.replace("rules/order.sch", "self.sch");
    let config = json!({ "schema": schema }).to_string();
    let err = SchematronValidator::validate(Input {
        content: b"<orders/>",
        content_type: "application/xml",
        config: &config,
        files: &looping,
        ..Input::default()
    })
    .unwrap_err();
    assert!(err.message.contains("a cycle?"), "{}", err.message);
}

#[test]
fn a_let_holding_xml_binds_it_as_a_document_a_code_list_for_instance() {
    let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" xmlns:c="urn:codes" queryBinding="xslt2">
  <ns prefix="c" uri="urn:codes"/>
  <let name="units">
    <c:code>C62</c:code><c:code>HUR</c:code>
    <c:code note="it's metric">KGM</c:code>
  </let>
  <pattern id="p">
    <rule context="line">
      <assert id="UNIT" test="@unit = $units/c:code">unit <value-of select="@unit"/> is not one of <value-of select="string-join($units/c:code, ', ')"/></assert>
    </rule>
  </pattern>
</schema>"#;
    let out = run(
        json!({ "schema": schema }),
        "<order><line unit='KGM'/><line unit='XYZ'/></order>",
    );
    let got: Vec<(&str, &str)> = out
        .findings
        .iter()
        .map(|f| (f.path.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![("/order[1]/line[2]", "unit XYZ is not one of C62, HUR, KGM")]
    );
}
