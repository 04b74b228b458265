//! Rules over JSON Lines, CSV and JSON arrays a record at a time. When every rule's
//! targets lie within one record (`/*/…` for JSON Lines and a top-level JSON array,
//! `/rows/*/…` for CSV), no rule has a `when` (a guard holds over the whole document)
//! and no expression reads `doc`, each record is read, checked and dropped: memory holds
//! one record whatever the document's size. The findings are the whole-document path's
//! (the same order, samples and summaries, through `tally`); the evaluation budget and
//! the CEL cost cap's width are per record.

use std::io::BufRead;

use serde_json::Value;
use validibot_plugin_api::position::{json_pointer_positions, locate_json_findings};
use validibot_plugin_api::records::{Layout, Splitter};
use validibot_plugin_api::{Document, Finding, Outcome, ValidatorError};

use crate::condition::{Doc, MAX_EVALUATIONS};
use crate::document::{self, unparsed, Format};
use crate::ruleset::Ruleset;
use crate::tally::{Report, Tally};

/// Each rule's path within a record, when the rules can see the document a record at
/// a time.
pub fn plan(set: &Ruleset, format: Format) -> Option<Vec<String>> {
    let records = match format {
        Format::JsonLines | Format::Json => "/*",
        Format::Csv => "/rows/*",
        _ => return None,
    };
    if set.reads_doc {
        return None;
    }
    set.rules
        .iter()
        .map(|rule| {
            let inner = rule.check.path.strip_prefix(records)?;
            let within = inner.is_empty() || inner.starts_with('/');
            (rule.when.is_none() && within).then(|| inner.to_owned())
        })
        .collect()
}

/// The rules' state across records.
struct Pass<'a> {
    set: &'a Ruleset,
    paths: &'a [String],
    doc: Doc<'a>,
    tallies: Vec<Tally>,
    evaluations: u64,
    /// The first record whose evaluations ran out of budget.
    exhausted: Option<usize>,
}

impl Pass<'_> {
    /// Checks record `index`, whose pointers start with `base`.
    fn record(
        &mut self,
        index: usize,
        record: &Value,
        base: &str,
        mut place: impl FnMut(&mut Finding),
    ) {
        self.doc.set_record(record);
        let mut budget = MAX_EVALUATIONS;
        for ((rule, path), tally) in self.set.rules.iter().zip(self.paths).zip(&mut self.tallies) {
            let results = rule
                .check
                .eval_at(record, path, base, &self.doc, &mut budget);
            tally.add(
                rule,
                &results,
                &self.doc,
                &Value::Null,
                self.set.max_samples,
                &mut place,
            );
        }
        self.evaluations += MAX_EVALUATIONS - budget;
        if budget == 0 && self.exhausted.is_none() {
            self.exhausted = Some(index);
        }
    }

    fn finish(self) -> Outcome {
        let mut report = Report::default();
        let checked = self.exhausted.is_none();
        for (rule, tally) in self.set.rules.iter().zip(self.tallies) {
            report.add(tally.finish(rule, &Value::Null, checked, self.set.max_samples));
        }
        let exhausted = self.exhausted.map(|index| {
            format!("record {index}: stopped after {MAX_EVALUATIONS} evaluations; that record's later rules and targets were not checked")
        });
        report.finish(self.set.rules.len(), exhausted, self.evaluations)
    }
}

/// The items of a top-level array, each checked as it is parsed; `Err` is why the
/// document is not JSON, and where.
fn array(document: Document<'_>, mut pass: Pass<'_>) -> Result<Outcome, (String, String)> {
    let not_json = |message: &str, line: usize, column: usize| {
        (
            format!("the document is not JSON: {message} at line {line} column {column}"),
            format!("{line}:{column}"),
        )
    };
    let mut splitter = Splitter::new(document.reader(), Layout::Array);
    loop {
        let record = match splitter.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(e) => return Err(not_json(&e.message, e.line, e.column)),
        };
        let value = match &record.value {
            Ok(value) => value,
            Err(e) => {
                let text = e.to_string();
                let message = text
                    .rsplit_once(" at line ")
                    .map_or(text.as_str(), |(m, _)| m);
                let (line, column) = record.absolute(e.line(), e.column());
                return Err(not_json(message, line, column));
            }
        };
        let index = record.index as usize;
        let base = format!("/{index}");
        pass.record(index, value, &base, |f| {
            let inner = &f.path[base.len()..];
            let Some(&(line, column)) = json_pointer_positions(record.bytes, &[inner]).get(inner)
            else {
                return;
            };
            let (line, column) = record.absolute(line, column);
            let meta = f.meta.get_or_insert_with(|| serde_json::json!({}));
            if meta.is_object() {
                meta["line"] = line.into();
                meta["column"] = column.into();
            }
        });
    }
    Ok(pass.finish())
}

/// Reads `document` record by record and checks each; a record that does not parse
/// ends the pass as the whole-document path would (one parse finding).
pub fn check(
    document: Document<'_>,
    format: Format,
    set: &Ruleset,
    variables: &[(String, Value)],
    paths: &[String],
) -> Result<Outcome, ValidatorError> {
    let mut pass = Pass {
        set,
        paths,
        doc: Doc::new(None, variables),
        tallies: set.rules.iter().map(|_| Tally::default()).collect(),
        evaluations: 0,
        exhausted: None,
    };
    let read_error = |e: std::io::Error| ValidatorError::new("input.read", e.to_string());
    if format == Format::Json {
        let mut outcome = match array(document, pass) {
            Ok(outcome) => outcome,
            Err(reason) => return Ok(unparsed(format, reason)),
        };
        // Findings about the whole document (a rule's summary) point at its root, as
        // the whole-document path places them.
        let head = document.read_at(0, 64 << 10)?;
        for f in outcome.findings.iter_mut().filter(|f| f.path.is_empty()) {
            locate_json_findings(&head, std::slice::from_mut(f));
        }
        return Ok(outcome);
    }
    if format == Format::JsonLines {
        let mut reader = document.reader();
        let mut text = Vec::new();
        let (mut line, mut index) = (0, 0);
        loop {
            text.clear();
            if reader.read_until(b'\n', &mut text).map_err(read_error)? == 0 {
                break;
            }
            line += 1;
            let Some(trimmed) = document::record_text(&text) else {
                continue;
            };
            let record: Value = match serde_json::from_slice(trimmed) {
                Ok(record) => record,
                Err(e) => return Ok(unparsed(format, document::bad_line(line, &e))),
            };
            let base = format!("/{index}");
            pass.record(index, &record, &base, |f| {
                let inner = f.path[base.len()..].to_owned();
                document::place_in_line(f, &inner, line, trimmed, index);
            });
            index += 1;
        }
        return Ok(pass.finish());
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(document.reader());
    let not_csv = |e: &csv::Error, at: String| (format!("the document is not CSV: {e}"), at);
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(e) => return Ok(unparsed(format, not_csv(&e, "1:1".into()))),
    };
    let mut record = csv::StringRecord::new();
    let mut index = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Ok(unparsed(format, not_csv(&e, format!("{line}:1"))));
            }
        }
        let row = document::row(&headers, &record, set.table.as_ref());
        pass.record(index, &row, &format!("/rows/{index}"), |_| {});
        index += 1;
    }
    Ok(pass.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset;
    use serde_json::json;
    use validibot_plugin_api::Input;

    /// The whole-document path's outcome, as `validate_request` gives it when the rules
    /// cannot stream.
    fn whole(text: &str, format: Format, config: &Value) -> Outcome {
        let (set, variables) = ruleset::cached(&config.to_string(), None).unwrap();
        let tree = match document::parse(text.as_bytes(), format, set.table.as_ref()) {
            Ok(tree) => tree,
            Err(reason) => return unparsed(format, reason),
        };
        let mut out = crate::evaluate(&set.rules, Some(&tree), &variables, set.max_samples);
        match format {
            Format::JsonLines => document::locate_lines(text.as_bytes(), &mut out.findings),
            Format::Json => validibot_plugin_api::position::locate_json_findings(
                text.as_bytes(),
                &mut out.findings,
            ),
            _ => {}
        }
        out
    }

    fn streamed(text: &str, format: Format, config: &Value) -> Outcome {
        let (set, variables) = ruleset::cached(&config.to_string(), None).unwrap();
        let paths = plan(&set, format).expect("these rules stream");
        let input = Input {
            content: text.as_bytes(),
            ..Input::default()
        };
        let request = validibot_plugin_api::Request::from(input);
        check(request.document, format, &set, &variables, &paths).unwrap()
    }

    fn shown(out: &Outcome) -> Vec<String> {
        out.findings
            .iter()
            .map(|f| {
                format!(
                    "{:?} {} {} {} {:?}",
                    f.severity, f.code, f.path, f.message, f.meta
                )
            })
            .chain(
                out.outputs
                    .iter()
                    .map(|o| format!("{} = {}", o.name, o.value)),
            )
            .collect()
    }

    #[test]
    fn records_one_at_a_time_give_the_whole_documents_findings() {
        let lines: String = (0..40)
            .map(|i| match i % 7 {
                0 => format!("{{\"id\": {i}, \"qty\": null, \"tags\": []}}\n"),
                1 => "\n   \r\n".to_owned(),
                2 => format!("  {{\"id\": {i}, \"qty\": -{i}, \"tags\": [\"a\", \"b\"]}}\r\n"),
                _ => format!("{{\"id\": {i}, \"qty\": {i}, \"price\": 2.5, \"tags\": [\"x\"]}}\n"),
            })
            .collect();
        let rules = json!([
            {"id": "qty", "path": "/*/qty", "op": "ge", "value": 0},
            {"id": "price", "path": "/*/price", "op": "lt", "value": 2, "message": "{value} at {path} ({{ value * 2.0 }})"},
            {"id": "total", "path": "/*", "expr": "!has(value.price) || value.qty * value.price < limit"},
            {"id": "tags", "path": "/*/tags", "op": "all", "rule": {"op": "ne", "value": "b"}},
            {"id": "nothing", "path": "/*/missing", "op": "eq", "value": 1},
            {"id": "maybe", "path": "/*/missing", "op": "eq", "value": 1, "optional": true},
            {"id": "each", "path": "/*/tags/*", "op": "len_eq", "value": 1, "severity": "warning"}
        ]);
        for max_samples in [1, 2, 5, 1000] {
            let config =
                json!({"rules": rules, "max_samples": max_samples, "variables": {"limit": 50}});
            assert_eq!(
                shown(&streamed(&lines, Format::JsonLines, &config)),
                shown(&whole(&lines, Format::JsonLines, &config)),
                "max_samples {max_samples}"
            );
        }
        // The same records as one JSON array, items spread over lines.
        let items: Vec<&str> = lines.lines().filter(|l| !l.trim().is_empty()).collect();
        let array = format!("[\n  {}\n]\n", items.join(",\n  "));
        for max_samples in [1, 5] {
            let config =
                json!({"rules": rules, "max_samples": max_samples, "variables": {"limit": 50}});
            assert_eq!(
                shown(&streamed(&array, Format::Json, &config)),
                shown(&whole(&array, Format::Json, &config)),
                "max_samples {max_samples}"
            );
        }
        let config = json!({"rules": rules, "variables": {"limit": 50}});
        for broken in [
            array.replacen("\"qty\": -2", "\"qty\": -", 1),
            array.replacen("},", "}", 3),
            array.replacen("[\"a\"", "[\"a\" \"c\"", 1),
            array.trim_end().trim_end_matches(']').to_owned(),
            format!("{array} x"),
        ] {
            // The same finding on the same line; a break between items is worded (and a
            // document cut short placed at column 1, not serde's 0) by the splitter.
            let at = |o: &Outcome| -> Vec<(String, String)> {
                let line = |p: &str| p.split(':').next().unwrap_or("").to_owned();
                o.findings
                    .iter()
                    .map(|f| (f.code.clone(), line(&f.path)))
                    .collect()
            };
            let (s, w) = (
                streamed(&broken, Format::Json, &config),
                whole(&broken, Format::Json, &config),
            );
            assert_eq!(at(&s), at(&w), "{broken}");
            assert_eq!(s.findings[0].code, "rules.parse.json");
        }

        let broken = format!("{lines}{{\"id\": \n{lines}");
        let config = json!({"rules": rules, "variables": {"limit": 50}});
        assert_eq!(
            shown(&streamed(&broken, Format::JsonLines, &config)),
            shown(&whole(&broken, Format::JsonLines, &config))
        );

        let table: String = std::iter::once("id,amount,kind\n".to_owned())
            .chain((0..30).map(|i| format!("{i},{},{}\n", 10 - i, ["a", "", "b"][i % 3])))
            .collect();
        let config = json!({
            "schema": {"fields": [{"name": "id", "type": "integer"}, {"name": "amount", "type": "number"}]},
            "max_samples": 3,
            "rules": [
                {"id": "amount", "path": "/rows/*/amount", "op": "ge", "value": 0},
                {"id": "kind", "path": "/rows/*/kind", "op": "in", "value": ["a", "b"]},
                {"id": "row", "path": "/rows/*", "expr": "value.id < 25"}
            ]
        });
        assert_eq!(
            shown(&streamed(&table, Format::Csv, &config)),
            shown(&whole(&table, Format::Csv, &config))
        );
        let ragged = format!("{table}\"open quote,1\n");
        assert_eq!(
            shown(&streamed(&ragged, Format::Csv, &config)),
            shown(&whole(&ragged, Format::Csv, &config))
        );
    }

    #[test]
    fn the_cost_cap_sees_each_records_widest_collection() {
        let wide: Vec<u32> = (0..1001).collect();
        let lines = format!("{{\"tags\": [1]}}\n{}\n", json!({ "tags": wide }));
        // 1001 × 1001 steps is over the cap: the wide record is refused. The narrow one
        // is evaluated — the tree path would refuse it too, its width being the whole
        // document's widest collection.
        let config = json!({"rules": [
            {"id": "pairs", "path": "/*", "expr": "value.tags.all(a, value.tags.all(b, true))"}
        ]});
        let out = streamed(&lines, Format::JsonLines, &config);
        assert_eq!(out.findings.len(), 1, "{:?}", shown(&out));
        assert_eq!(out.findings[0].path, "/1");
        assert!(
            out.findings[0].message.contains("not evaluated"),
            "{}",
            out.findings[0].message
        );
        assert_eq!(whole(&lines, Format::JsonLines, &config).findings.len(), 2);
    }

    #[test]
    fn rules_that_need_the_whole_document_read_it_whole() {
        let plan_for = |rules: Value, format| {
            let (set, _) = ruleset::cached(&json!({ "rules": rules }).to_string(), None).unwrap();
            plan(&set, format)
        };
        let each = json!({"id": "q", "path": "/*/qty", "op": "gt", "value": 0});
        assert_eq!(
            plan_for(json!([each]), Format::JsonLines),
            Some(vec!["/qty".to_owned()])
        );
        assert_eq!(
            plan_for(json!([each]), Format::Json),
            Some(vec!["/qty".to_owned()])
        );
        assert_eq!(plan_for(json!([each]), Format::Xml), None);
        assert_eq!(
            plan_for(json!([each]), Format::Csv),
            None,
            "CSV rows are at /rows/*"
        );
        let needs_whole = [
            json!({"id": "n", "expr": "doc.size() > 2"}),
            json!({"id": "d", "path": "/*/qty", "expr": "value < doc[0].qty"}),
            json!({"id": "m", "path": "/*/qty", "op": "gt", "value": 0, "message": "{{ doc.size() }}"}),
            json!({"id": "w", "path": "/*/qty", "op": "gt", "value": 0, "when": {"path": "/0/kind", "op": "eq", "value": "a"}}),
            json!({"id": "first", "path": "/0/qty", "op": "gt", "value": 0}),
            json!({"id": "star", "path": "/*x/qty", "op": "gt", "value": 0}),
        ];
        for rule in needs_whole {
            assert_eq!(
                plan_for(json!([each, rule]), Format::JsonLines),
                None,
                "{rule}"
            );
        }
    }
}
