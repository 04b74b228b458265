//! Checks a document a record at a time (split by `records`): each record is parsed
//! alone and its errors are located in its own text, then placed in the document — the
//! pointer gains the record's index (`/17/lines/0/qty`), the line counts from the
//! document's start. Memory holds one record, whatever the document's size.

use validibot_plugin_api::position::locate_json_findings;
use validibot_plugin_api::{Document, Finding, Outcome, Output, ValidatorError};

use crate::config::RecordSchema;
use crate::{parse_finding, Report};
use validibot_plugin_api::records::{Layout, Record, Splitter};

/// Checks each record with `validator` (for an array, its `items`); `array` adds the
/// item counts once the array ends.
pub fn check(
    document: Document<'_>,
    layout: Layout,
    validator: &jsonschema::Validator,
    array: Option<&RecordSchema>,
) -> Result<Outcome, ValidatorError> {
    let mut splitter = Splitter::new(document.reader(), layout);
    let mut report = Report::default();
    let mut complete = true;
    loop {
        let record = match splitter.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(e) => {
                report.add(parse_finding(&e.message, e.line, e.column));
                complete = false;
                break;
            }
        };
        let value = match &record.value {
            Ok(value) => value,
            Err(e) => {
                let (line, column) = record.absolute(e.line(), e.column());
                let mut finding = parse_finding(&without_position(e), line, column);
                finding.meta.as_mut().expect("parse findings have meta")["record"] =
                    record.index.into();
                report.add(finding);
                // A broken item breaks the array; a broken line is one bad record.
                if layout == Layout::Array {
                    complete = false;
                    break;
                }
                continue;
            }
        };
        if validator.is_valid(value) {
            continue;
        }
        let first = report.findings.len();
        report.add_errors(validator.iter_errors(value));
        let found = &mut report.findings[first..];
        locate_json_findings(record.bytes, found);
        for finding in found {
            place(finding, &record);
        }
    }
    let count = splitter.count();
    if let (Some(array), true) = (array, complete) {
        if let Some(min) = array.min_items.filter(|&min| count < min) {
            report.add(
                Finding::error(
                    "json.schema.minItems",
                    format!("the array has {count} items, fewer than its minItems ({min})"),
                )
                .with_meta(serde_json::json!({ "schema_path": "/minItems" })),
            );
        }
        if let Some(max) = array.max_items.filter(|&max| count > max) {
            report.add(
                Finding::error(
                    "json.schema.maxItems",
                    format!("the array has {count} items, more than its maxItems ({max})"),
                )
                .with_meta(serde_json::json!({ "schema_path": "/maxItems" })),
            );
        }
    }
    Ok(report.finish(vec![Output::new("record_count", count)]))
}

/// A finding about a record, moved into the document: the record's index before its
/// pointer, its line and column counted from the document's start. (Its schema path is
/// already the document schema's: `items` is checked through a `$ref` into it.)
fn place(finding: &mut Finding, record: &Record<'_>) {
    finding.path = format!("/{}{}", record.index, finding.path);
    let meta = finding.meta.get_or_insert_with(|| serde_json::json!({}));
    let at = |key: &str| meta.get(key).and_then(serde_json::Value::as_u64);
    let (line, column) = match (at("line"), at("column")) {
        (Some(line), Some(column)) => record.absolute(line as usize, column as usize),
        _ => (record.line, record.column),
    };
    meta["line"] = line.into();
    meta["column"] = column.into();
    meta["record"] = record.index.into();
}

/// serde_json's message without its " at line L column C" (relative to the record).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
