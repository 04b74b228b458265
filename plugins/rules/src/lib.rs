//! Built-in validator: rules / assertions over a document (JSON, XML as a tree, CSV rows).
//!
//! Each rule selects targets with a JSON pointer (`*` matches every item) and checks
//! them with an operator (`eq ne lt le gt ge between in not_in contains starts_with
//! ends_with matches is_null not_null is_empty not_empty len_eq len_le len_ge
//! approx_eq any all none`) or a CEL expression (`doc` is the document, `value` the
//! target), optionally guarded by `when`. A failing target becomes a finding with the
//! rule's severity, code (`rules.<id>` unless given) and message template (`{id}`,
//! `{path}`, `{value}`, `{expected}`, and `{{ <CEL> }}` placeholders). A config's
//! `variables` become more CEL variables: the host evaluates a workflow step's
//! assertions through this validator with `outputs`, `steps`, `meta` and `consts`.
//!
//! JSON Lines, CSV and top-level JSON arrays are seen a record at a time when every
//! rule looks inside one record (see `streamed`).
//!
//! Caps: 1000 rules, 100,000 targets per path, 1,000,000 evaluations per document (per
//! record when streamed), 4 KiB per expression or pattern, 1000 findings; XML DTDs are
//! refused. Wall time is bounded by the host's per-call deadline.

mod condition;
mod cost;
mod document;
mod references;
mod ruleset;
mod streamed;
mod table;
mod tally;
mod template;

use serde_json::Value;
use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Request, Validator, ValidatorError,
};

use condition::{Doc, MAX_EVALUATIONS};
use document::{unparsed, Format};
use ruleset::Rule;
#[cfg(test)]
use tally::MAX_FINDINGS;
use tally::{Report, Tally};

pub struct RulesValidator;

impl Validator for RulesValidator {
    fn describe() -> Metadata {
        Metadata {
            slug: "rules".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "Rules".into(),
            description:
                "Assertions (operators and CEL expressions) over JSON, JSON Lines, XML or CSV documents.".into(),
            content_types: vec![
                "application/json".into(),
                "application/*+json".into(),
                "application/xml".into(),
                "text/xml".into(),
                "application/*+xml".into(),
                "text/csv".into(),
                "application/x-ndjson".into(),
            ],
            config_schema: config_schema(),
        }
    }

    fn validate_config(config: &Value) -> Result<(), Vec<Finding>> {
        ruleset::Ruleset::parse(config, None)
            .and_then(|set| set.check_references(config.get("variables")))
            .map_err(|f| vec![f])
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        Self::validate_request(Request::from(input))
    }

    /// JSON Lines, CSV and top-level JSON arrays are seen a record at a time when the
    /// rules allow it (see `streamed`); otherwise the document is read and parsed whole.
    fn validate_request(request: Request<'_>) -> Result<Outcome, ValidatorError> {
        let (set, variables) = ruleset::cached(request.config, request.ruleset).map_err(|f| {
            ValidatorError::new("config.invalid", format!("{} (at {})", f.message, f.path))
        })?;
        let format = set
            .format
            .unwrap_or_else(|| Format::from_content_type(request.content_type));
        if format == Format::None {
            return Ok(evaluate(&set.rules, None, &variables, set.max_samples));
        }
        if let Some(paths) = streamed::plan(&set, format) {
            let array = format == Format::Json
                && validibot_plugin_api::records::starts_array(request.document)?;
            if format != Format::Json || array {
                return streamed::check(request.document, format, &set, &variables, &paths);
            }
        }
        let content = request.document.read_all()?;
        let input = request.with_content(&content);
        let doc = match document::parse(input.content, format, set.table.as_ref()) {
            Ok(d) => d,
            Err(reason) => return Ok(unparsed(format, reason)),
        };
        let mut outcome = evaluate(&set.rules, Some(&doc), &variables, set.max_samples);
        match format {
            Format::Json => validibot_plugin_api::position::locate_json_findings(
                input.content,
                &mut outcome.findings,
            ),
            Format::JsonLines => document::locate_lines(input.content, &mut outcome.findings),
            _ => {}
        }
        Ok(outcome)
    }
}

export_validator!(RulesValidator);

/// Where a rule's `path` points in each format (the schema and the no-value findings
/// say it).
const PATH_HELP: &str = "A JSON pointer into the document; a `*` token matches every list item or object member. JSON: the document itself (`/lines/*/qty`). JSON Lines: the list of records (`/*/qty`). CSV: `/rows/*/<column>` (each row an object keyed by the header). XML: `/<root>/<child>/…`, attributes as `@name`, text as `#text` (a repeated child is a list). Empty: the whole document.";

/// The step config's schema, with the operator vocabulary (each operator described),
/// so the editor's form and the docs list them.
fn config_schema() -> Value {
    let ops: Vec<&str> = condition::OPERATORS.iter().map(|(n, _, _)| *n).collect();
    let op_help: Vec<String> = condition::OPERATORS
        .iter()
        .map(|(n, _, d)| format!("`{n}`: {d}"))
        .collect();
    let rule = serde_json::json!({
        "type": "object", "required": ["id"],
        "properties": {
            "id": {"type": "string", "description": "Unique in the step: letters, digits, `.`, `_`, `-`. Findings carry the code `rules.<id>` unless `code` is given."},
            "path": {"type": "string", "description": PATH_HELP},
            "op": {"enum": ops, "description": format!("The check each target must pass (or give `expr`). {}.", op_help.join("; "))},
            "value": {"description": "What `op` compares with (a list for `in`/`not_in`, `[low, high]` for `between`)."},
            "tolerance": {"type": "number", "description": "For `approx_eq` (default 1e-9)."},
            "expr": {"type": "string", "maxLength": 4096, "description": "A CEL expression instead of `op`: `value` is the target, `doc` the whole document, e.g. `value.qty * value.unit_price <= 1000.0`."},
            "rule": {"type": "object", "description": "For `any`/`all`/`none`: the rule each item is checked with (its `path` is relative to the item)."},
            "when": {"type": "object", "description": "A condition (`path` + `op`/`expr`) that must hold for the rule to apply."},
            "severity": {"enum": ["error", "warning", "info"], "description": "Of the finding (default error)."},
            "message": {"type": "string", "description": "The finding's message: `{id}`, `{path}`, `{value}`, `{expected}` and `{{ <CEL> }}` are filled in."},
            "code": {"type": "string", "description": "The finding's code (default `rules.<id>`)."},
            "optional": {"type": "boolean", "description": "A path that matches nothing passes instead of failing with a no-value finding."}
        }
    });
    serde_json::json!({
        "type": "object",
        "required": ["rules"],
        "additionalProperties": false,
        "properties": {
            "format": {"enum": ["json", "jsonl", "xml", "csv", "none"], "description": "Default: from the content type. `jsonl`: JSON Lines, the document is the list of records (`/*/qty`; the JSON Lines content types select it). `none`: the document is not parsed and expressions have no `doc` (binary documents)."},
            "variables": {"type": "object", "description": "More CEL variables by name (the host's assertion context: outputs, steps, meta, consts). Expressions may use only doc, value, these names and comprehension variables; where a variable is an object, only its members."},
            "schema": {"type": "object", "required": ["fields"], "description": "A Frictionless Table Schema ({\"fields\": [{\"name\", \"type\"}]}): CSV cells of integer and number fields become numbers, boolean fields booleans, missing values null. Without it every cell is a string; a workflow passes an earlier csv step's schema on to a rules step that has none."},
            "max_samples": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 5, "description": "Failing targets reported one by one per rule; the rest become one summary finding with the count."},
            "rules": {"type": "array", "minItems": 1, "maxItems": 1000, "items": rule, "description": "The checks, in order. Each selects targets with `path` and checks each with `op` (+ `value`) or `expr`."}
        }
    })
}

/// Every rule over the document (`None` when it is not parsed) and the variables.
fn evaluate(
    rules: &[Rule],
    json: Option<&Value>,
    variables: &[(String, Value)],
    max_samples: usize,
) -> Outcome {
    let doc = &Doc::new(json, variables);
    let json = json.unwrap_or(&Value::Null);
    let mut budget = MAX_EVALUATIONS;
    let mut report = Report::default();
    for rule in rules {
        if let Some(when) = &rule.when {
            let guard = when.eval(json, "", doc, &mut budget);
            if guard.is_empty() || !guard.iter().all(|o| o.pass) {
                continue;
            }
        }
        let results = rule.check.eval(json, "", doc, &mut budget);
        let mut tally = Tally::default();
        tally.add(rule, &results, doc, json, max_samples, |_| {});
        report.add(tally.finish(rule, json, budget > 0, max_samples));
    }
    let exhausted = (budget == 0).then(|| {
        format!(
            "stopped after {MAX_EVALUATIONS} evaluations; later rules and targets were not checked"
        )
    });
    report.finish(rules.len(), exhausted, MAX_EVALUATIONS - budget)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: &str, content_type: &str, config: Value) -> Outcome {
        RulesValidator::validate(Input {
            content: doc.as_bytes(),
            content_type,
            config: &config.to_string(),
            ruleset: None,
            ..Input::default()
        })
        .unwrap()
    }

    fn failures(o: &Outcome) -> Vec<(String, String)> {
        o.findings
            .iter()
            .map(|f| (f.code.clone(), f.path.clone()))
            .collect()
    }

    #[test]
    fn json_lines_are_a_list_of_records() {
        let doc =
            "{\"id\": 1, \"qty\": 2}\n\n{\"id\": 2, \"qty\": 0}\r\n{\"id\": 3,  \"qty\": -1}\n";
        let config = json!({"rules": [
            {"id": "qty", "path": "/*/qty", "op": "gt", "value": 0},
            {"id": "count", "expr": "doc.size() == 3"}
        ]});
        let out = run(doc, "application/x-ndjson", config.clone());
        assert_eq!(
            failures(&out),
            vec![
                ("rules.qty".to_owned(), "/1/qty".to_owned()),
                ("rules.qty".to_owned(), "/2/qty".to_owned())
            ]
        );
        // Record 1 is on line 3 (a blank line is skipped), record 2 on line 4.
        let at = |i: usize| {
            let meta = out.findings[i].meta.as_ref().unwrap();
            (
                meta["line"].clone(),
                meta["column"].clone(),
                meta["record"].clone(),
            )
        };
        assert_eq!(at(0), (json!(3), json!(18), json!(1)));
        assert_eq!(at(1), (json!(4), json!(19), json!(2)));
        // `format: jsonl` selects it whatever the content type; a bad line is a parse finding.
        let forced = json!({"format": "jsonl", "rules": config["rules"]});
        assert_eq!(failures(&run(doc, "text/plain", forced.clone())).len(), 2);
        let broken = run("{\"id\": 1}\n{\"id\": \n", "application/x-ndjson", forced);
        assert_eq!(
            failures(&broken),
            vec![("rules.parse.json".to_owned(), "2:7".to_owned())]
        );
    }

    #[test]
    fn every_operator() {
        let doc = r#"{"n": 5, "s": "hello", "list": [1, 2, 3], "obj": {}, "nil": null, "x": 0.1000001,
                      "lines": [{"q": 1}, {"q": 7}]}"#;
        let cases: Vec<(Value, bool)> = vec![
            (json!({"path": "/n", "op": "eq", "value": 5}), true),
            (json!({"path": "/n", "op": "eq", "value": "5"}), true),
            (json!({"path": "/n", "op": "ne", "value": 5}), false),
            (json!({"path": "/n", "op": "lt", "value": 6}), true),
            (json!({"path": "/n", "op": "le", "value": 5}), true),
            (json!({"path": "/n", "op": "gt", "value": 5}), false),
            (json!({"path": "/n", "op": "ge", "value": 5}), true),
            (
                json!({"path": "/n", "op": "between", "value": [1, 4]}),
                false,
            ),
            (
                json!({"path": "/s", "op": "in", "value": ["hello", "bye"]}),
                true,
            ),
            (
                json!({"path": "/s", "op": "not_in", "value": ["hello"]}),
                false,
            ),
            (
                json!({"path": "/s", "op": "contains", "value": "ell"}),
                true,
            ),
            (json!({"path": "/list", "op": "contains", "value": 2}), true),
            (
                json!({"path": "/s", "op": "starts_with", "value": "he"}),
                true,
            ),
            (
                json!({"path": "/s", "op": "ends_with", "value": "lo"}),
                true,
            ),
            (
                json!({"path": "/s", "op": "matches", "value": "^h.*o$"}),
                true,
            ),
            (json!({"path": "/nil", "op": "is_null"}), true),
            (json!({"path": "/s", "op": "not_null"}), true),
            (json!({"path": "/obj", "op": "is_empty"}), true),
            (json!({"path": "/list", "op": "not_empty"}), true),
            (json!({"path": "/list", "op": "len_eq", "value": 3}), true),
            (json!({"path": "/s", "op": "len_le", "value": 4}), false),
            (json!({"path": "/s", "op": "len_ge", "value": 5}), true),
            (
                json!({"path": "/x", "op": "approx_eq", "value": 0.1, "tolerance": 0.001}),
                true,
            ),
            (
                json!({"path": "/lines", "op": "any", "rule": {"path": "/q", "op": "gt", "value": 5}}),
                true,
            ),
            (
                json!({"path": "/lines", "op": "all", "rule": {"path": "/q", "op": "gt", "value": 5}}),
                false,
            ),
            (
                json!({"path": "/lines", "op": "none", "rule": {"path": "/q", "op": "gt", "value": 100}}),
                true,
            ),
            (
                json!({"expr": "doc.n * 2 == 10 && size(doc.list) == 3"}),
                true,
            ),
            (json!({"path": "/lines/*/q", "expr": "value < 5"}), false),
        ];
        for (i, (rule, pass)) in cases.into_iter().enumerate() {
            let mut rule = rule;
            rule["id"] = json!(format!("r{i}"));
            let o = run(doc, "application/json", json!({"rules": [rule.clone()]}));
            assert_eq!(o.findings.is_empty(), pass, "{rule}: {:?}", o.findings);
        }
    }

    #[test]
    fn wildcards_when_guards_and_templates() {
        let doc = r#"{"status": "final", "lines": [{"q": 1}, {"q": -2}, {"q": -3}]}"#;
        let o = run(
            doc,
            "application/json",
            json!({"rules": [
                {"id": "qty", "path": "/lines/*/q", "op": "gt", "value": 0, "message": "qty at {path} is {value}, must exceed {expected}",
                 "when": {"path": "/status", "op": "eq", "value": "final"}},
                {"id": "draft-only", "path": "/lines", "op": "len_le", "value": 1, "when": {"path": "/status", "op": "eq", "value": "draft"}},
                {"id": "missing", "path": "/total", "op": "gt", "value": 0, "severity": "warning"}
            ]}),
        );
        assert_eq!(
            failures(&o),
            [
                ("rules.qty".into(), "/lines/1/q".into()),
                ("rules.qty".into(), "/lines/2/q".into()),
                ("rules.missing".into(), "/total".into()),
            ]
        );
        assert_eq!(
            o.findings[0].message,
            "qty at /lines/1/q is -2, must exceed 0"
        );
        assert_eq!(
            o.findings[2].severity,
            validibot_plugin_api::Severity::Warning
        );
    }

    #[test]
    fn a_path_without_a_value_says_so_instead_of_comparing_null() {
        let csv = "id,amount\n1,50\n2,\n";
        let config = |path: &str| {
            json!({"schema": {"fields": [{"name": "id", "type": "integer"}, {"name": "amount", "type": "number"}]},
                   "rules": [{"id": "max", "path": path, "op": "le", "value": 100,
                              "message": "amount {value} at {path} is too large"}]})
        };
        // A path of the wrong shape: one finding that names where CSV rows are.
        let out = run(csv, "text/csv", config("/*/amount"));
        assert_eq!(out.findings.len(), 1);
        assert_eq!(
            out.findings[0].message,
            "rule max: no value at path /*/amount (CSV rows are at /rows/*/<column>; the columns are amount, id)"
        );
        // The right path: the empty cell is a missing value, the filled one passes.
        let out = run(csv, "text/csv", config("/rows/*/amount"));
        assert_eq!(
            failures(&out),
            [("rules.max".into(), "/rows/1/amount".into())]
        );
        assert_eq!(
            out.findings[0].message,
            "rule max: no value at path /rows/1/amount"
        );
        // JSON: a top-level typo names the keys there are.
        let out = run(r#"{"total": 5}"#, "application/json", config("/totl"));
        assert!(out.findings[0]
            .message
            .ends_with("(the document's top level has total)"));
    }

    #[test]
    fn json_findings_carry_their_line() {
        let out = run(
            "{\n  \"lines\": [\n    {\"q\": 1},\n    {\"q\": 9}\n  ]\n}",
            "application/json",
            json!({"rules": [{"id": "q", "path": "/lines/*/q", "op": "lt", "value": 5}]}),
        );
        let meta = out.findings[0].meta.as_ref().unwrap();
        assert_eq!(
            (meta["line"].as_u64(), meta["column"].as_u64()),
            (Some(4), Some(11))
        );
        assert_eq!(meta["rule"], "q");
    }

    #[test]
    fn unknown_operators_name_the_likely_one_and_the_vocabulary() {
        let err = RulesValidator::validate_config(
            &json!({"rules": [{"id": "a", "path": "/x", "op": "lte", "value": 1}]}),
        )
        .unwrap_err();
        assert!(
            err[0].message.starts_with(
                "unknown operator \"lte\"; did you mean \"le\"? Operators: eq, ne, lt, le,"
            ),
            "{}",
            err[0].message
        );
        assert_eq!(err[0].path, "/rules/0/op");
        let schema = RulesValidator::describe().config_schema;
        let op = &schema["properties"]["rules"]["items"]["properties"]["op"];
        assert_eq!(
            op["enum"].as_array().unwrap().len(),
            condition::OPERATORS.len()
        );
        assert!(op["description"]
            .as_str()
            .unwrap()
            .contains("`between`: a number within"));
    }

    #[test]
    fn xml_and_csv_documents() {
        let xml = r#"<building name="HQ"><zone area="120"/><zone area="-5"/></building>"#;
        let o = run(
            xml,
            "application/xml",
            json!({"rules": [{"id": "area", "path": "/building/zone/*/@area", "op": "gt", "value": 0}]}),
        );
        assert_eq!(
            failures(&o),
            [("rules.area".into(), "/building/zone/1/@area".into())]
        );
        let csv = "site,kwh\nA,10\nB,-1\n";
        let o = run(
            csv,
            "text/csv",
            json!({"rules": [{"id": "kwh", "path": "/rows/*/kwh", "op": "ge", "value": 0}]}),
        );
        assert_eq!(failures(&o), [("rules.kwh".into(), "/rows/1/kwh".into())]);
        let o = run(
            "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>",
            "application/xml",
            json!({"rules": [{"id": "a", "path": "/a", "op": "not_null"}]}),
        );
        assert_eq!(o.findings[0].code, "rules.parse.xml");
    }

    #[test]
    fn declared_variables_are_cel_variables_and_stay_out_of_the_cache_key() {
        let config = |gj: f64| {
            json!({"format": "none", "variables": {"outputs": {"site_energy_gj": gj}, "consts": {"max_gj": 500}},
                   "rules": [{"id": "a0", "expr": "outputs.site_energy_gj <= consts.max_gj",
                              "message": "site energy {{ outputs.site_energy_gj }} GJ over {{ consts.max_gj }}"}]})
        };
        // Binary content is never parsed with format none.
        let pass = run("\u{0}PK binary", "application/zip", config(412.5));
        assert!(pass.findings.is_empty(), "{:?}", pass.findings);
        let fail = run("\u{0}PK binary", "application/zip", config(612.5));
        assert_eq!(fail.findings.len(), 1);
        assert_eq!(fail.findings[0].message, "site energy 612.5 GJ over 500");
        // Saving: names are checked against doc and the declared variables.
        let bad = json!({"format": "none", "variables": {"outputs": null},
                         "rules": [{"id": "a0", "expr": "doc.x == 1"}]});
        let err = RulesValidator::validate_config(&bad).unwrap_err();
        assert_eq!(err[0].path, "/rules/0/expr");
        assert!(err[0].message.contains("not parsed"), "{}", err[0].message);
        let bad = json!({"variables": {"steps": {"sim": null}},
                         "rules": [{"id": "a0", "expr": "steps.simm.status == 'PASSED'"}]});
        let err = RulesValidator::validate_config(&bad).unwrap_err();
        assert!(
            err[0].message.contains("has no `simm`"),
            "{}",
            err[0].message
        );
        let bad = json!({"variables": {"doc": 1}, "rules": [{"id": "a0", "expr": "true"}]});
        assert!(RulesValidator::validate_config(&bad).is_err());
    }

    #[test]
    fn cel_errors_and_bad_configs() {
        let o = run(
            r#"{"a": 1}"#,
            "application/json",
            json!({"rules": [{"id": "e", "expr": "doc.a + 'x'"}]}),
        );
        assert!(
            o.findings[0].message.contains("expression failed"),
            "{}",
            o.findings[0].message
        );
        let bad = |c: Value| {
            RulesValidator::validate_config(&c).unwrap_err()[0]
                .path
                .clone()
        };
        assert_eq!(
            bad(json!({"rules": [{"id": "a", "op": "bogus"}]})),
            "/rules/0/op"
        );
        assert_eq!(
            bad(json!({"rules": [{"id": "a", "expr": "1 +"}]})),
            "/rules/0/expr"
        );
        assert_eq!(
            bad(json!({"rules": [{"id": "a", "op": "between", "value": [1]}]})),
            "/rules/0/value"
        );
        assert_eq!(
            bad(json!({"rules": [{"id": "a", "op": "any"}]})),
            "/rules/0/rule"
        );
        assert_eq!(
            bad(json!({"rules": [{"op": "eq", "value": 1}]})),
            "/rules/0/id"
        );
    }

    #[test]
    fn evaluation_budget_and_finding_cap() {
        let items: Vec<Value> = (0..5000).map(|i| json!({"q": -i})).collect();
        let doc = json!({"lines": items}).to_string();
        let o = run(
            &doc,
            "application/json",
            json!({"rules": [{"id": "q", "path": "/lines/*/q", "op": "gt", "value": 0}], "max_samples": 1000}),
        );
        assert_eq!(o.findings.len(), MAX_FINDINGS + 1);
        assert_eq!(o.findings.last().unwrap().code, "rules.truncated");
    }

    #[test]
    fn quadratic_expressions_over_large_documents_are_capped_per_evaluation() {
        let rules = json!({"rules": [
            {"id": "distinct", "expr": "doc.rows.all(a, doc.rows.exists_one(b, a.id == b.id))"},
            {"id": "positive", "expr": "doc.rows.all(r, r.id >= 0)"}
        ]});
        // 5,000 rows: 25 million steps for the nested rule, over the 1 million cap.
        let rows: Vec<Value> = (0..5000).map(|i| json!({"id": i})).collect();
        let o = run(
            &json!({ "rows": rows }).to_string(),
            "application/json",
            rules.clone(),
        );
        assert_eq!(o.findings.len(), 1, "{:?}", o.findings);
        assert_eq!(o.findings[0].code, "rules.distinct");
        assert!(
            o.findings[0].message.contains("cap per evaluation"),
            "{}",
            o.findings[0].message
        );
        // 300 rows: 90,000 steps, evaluated, and the rows are distinct.
        let rows: Vec<Value> = (0..300).map(|i| json!({"id": i})).collect();
        let o = run(
            &json!({ "rows": rows }).to_string(),
            "application/json",
            rules,
        );
        assert!(o.findings.is_empty(), "{:?}", o.findings);
    }

    #[test]
    fn csv_cells_are_typed_by_a_table_schema() {
        let csv = "id,kwh,ok\n1,150.5,true\n2,90,false\n3,,true\n";
        let rules = json!([
            {"id": "kwh-cap", "path": "/rows/*/kwh", "op": "le", "value": 100, "optional": true},
            {"id": "cel", "path": "/rows/*", "expr": "value.kwh == null || value.kwh < 100.0"},
            {"id": "flag", "path": "/rows/*/ok", "op": "eq", "value": true}
        ]);
        let typed = json!({"rules": rules, "schema": {"fields": [
            {"name": "id", "type": "integer"}, {"name": "kwh", "type": "number"}, {"name": "ok", "type": "boolean"}
        ]}});
        let o = run(csv, "text/csv", typed);
        assert_eq!(
            failures(&o),
            [
                ("rules.kwh-cap".into(), "/rows/0/kwh".into()),
                ("rules.kwh-cap".into(), "/rows/2/kwh".into()),
                ("rules.cel".into(), "/rows/0".into()),
                ("rules.flag".into(), "/rows/1/ok".into()),
            ],
            "{:?}",
            o.findings
        );
        // Without a schema the cells are strings: a CEL comparison with a number fails
        // to evaluate rather than comparing text.
        let o = run(
            csv,
            "text/csv",
            json!({"rules": [{"id": "cel", "path": "/rows/*", "expr": "value.kwh < 100.0"}]}),
        );
        assert!(
            o.findings.iter().all(|f| f.code == "rules.cel"),
            "{:?}",
            o.findings
        );
    }

    #[test]
    fn repeated_failures_of_a_rule_are_summarised_after_max_samples() {
        let rows: Vec<Value> = (0..150).map(|i| json!({"n": i})).collect();
        let doc = json!({ "rows": rows }).to_string();
        let rule = json!({"id": "neg", "path": "/rows/*/n", "op": "lt", "value": 0});
        let o = run(&doc, "application/json", json!({"rules": [rule]}));
        assert_eq!(o.findings.len(), 6, "{:?}", o.findings);
        let summary = &o.findings[5];
        assert_eq!(summary.code, "rules.neg");
        assert_eq!(summary.severity, validibot_plugin_api::Severity::Error);
        assert!(
            summary
                .message
                .starts_with("145 more targets fail rule neg (150 in all)"),
            "{}",
            summary.message
        );
        assert_eq!(summary.meta.as_ref().unwrap()["count"], 150);
        assert_eq!(summary.meta.as_ref().unwrap()["more_paths"][0], "/rows/5/n");
        let o = run(
            &doc,
            "application/json",
            json!({"rules": [rule], "max_samples": 200}),
        );
        assert_eq!(o.findings.len(), 150);
        assert!(
            RulesValidator::validate_config(&json!({"rules": [rule], "max_samples": 0})).is_err()
        );
    }
}
