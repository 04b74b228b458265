//! Documents as one JSON-shaped tree, whatever their format, and path lookup.
//!
//! JSON is itself. XML becomes `{"<root>": {"@attr": "…", "#text": "…", "<child>": …}}`
//! (a repeated child becomes an array). CSV becomes `{"rows": [{"<column>": "…"}]}`,
//! each cell a string unless a Table Schema types it (see `table`).
//! Paths are JSON pointers where a `*` token matches every array item or object member.

use serde_json::{Map, Value};
use validibot_plugin_api::{Finding, Outcome};

use crate::table::TableSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    /// JSON Lines: one record per line; the document is the list of records.
    JsonLines,
    Xml,
    Csv,
    /// Not parsed (a binary document): expressions see no `doc`.
    None,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "json" => Format::Json,
            "jsonl" => Format::JsonLines,
            "xml" => Format::Xml,
            "csv" => Format::Csv,
            "none" => Format::None,
            _ => return None,
        })
    }

    pub fn from_content_type(ct: &str) -> Format {
        let ct = ct.to_ascii_lowercase();
        if ["ndjson", "jsonl", "jsonlines", "json-lines"]
            .iter()
            .any(|t| ct.contains(t))
        {
            Format::JsonLines
        } else if ct.contains("xml") {
            Format::Xml
        } else if ct.contains("csv") || ct.contains("tab-separated") {
            Format::Csv
        } else {
            Format::Json
        }
    }
}

/// Parses the document; the error is a one-line reason with a position when known.
pub fn parse(
    content: &[u8],
    format: Format,
    table: Option<&TableSchema>,
) -> Result<Value, (String, String)> {
    match format {
        Format::Json => serde_json::from_slice(content).map_err(|e| {
            (
                format!("the document is not JSON: {e}"),
                format!("{}:{}", e.line(), e.column()),
            )
        }),
        Format::JsonLines => {
            let mut records = Vec::new();
            for (line, text) in lines(content) {
                let record = serde_json::from_slice(text).map_err(|e| bad_line(line, &e))?;
                records.push(record);
            }
            Ok(Value::Array(records))
        }
        Format::Xml => {
            let text = std::str::from_utf8(content)
                .map_err(|e| (format!("the document is not UTF-8: {e}"), String::new()))?;
            // DTDs are refused outright: no entity expansion, no external entities.
            let doc = roxmltree::Document::parse_with_options(
                text,
                roxmltree::ParsingOptions {
                    allow_dtd: false,
                    nodes_limit: 5_000_000,
                },
            )
            .map_err(|e| {
                let p = e.pos();
                (
                    format!("the document is not well-formed XML: {e}"),
                    format!("{}:{}", p.row, p.col),
                )
            })?;
            let root = doc.root_element();
            let mut top = Map::new();
            top.insert(root.tag_name().name().to_owned(), element(root));
            Ok(Value::Object(top))
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(content);
            let headers = reader
                .headers()
                .map_err(|e| (format!("the document is not CSV: {e}"), "1:1".into()))?
                .clone();
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| {
                    let line = e.position().map_or(0, |p| p.line());
                    (format!("the document is not CSV: {e}"), format!("{line}:1"))
                })?;
                rows.push(row(&headers, &record, table));
            }
            Ok(serde_json::json!({ "rows": rows }))
        }
        Format::None => Ok(Value::Null),
    }
}

/// The outcome for a document that does not parse: one finding, no outputs.
pub fn unparsed(format: Format, (message, at): (String, String)) -> Outcome {
    let code = match format {
        Format::Json | Format::JsonLines => "rules.parse.json",
        Format::Xml => "rules.parse.xml",
        Format::Csv => "rules.parse.csv",
        Format::None => unreachable!("not parsed"),
    };
    Outcome {
        findings: vec![Finding::error(code, message).at(at)],
        outputs: vec![],
    }
}

/// A CSV row as an object keyed by the header, cells typed by the Table Schema if any.
pub fn row(
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
    table: Option<&TableSchema>,
) -> Value {
    let row: Map<String, Value> = headers
        .iter()
        .zip(record.iter())
        .map(|(h, v)| {
            let cell = match table {
                Some(t) => t.cell(h, v),
                None => Value::String(v.to_owned()),
            };
            (h.to_owned(), cell)
        })
        .collect();
    Value::Object(row)
}

/// Why line `line` of a JSON Lines document is not a record, and where.
pub fn bad_line(line: usize, e: &serde_json::Error) -> (String, String) {
    (
        format!("line {line} is not JSON: {e}"),
        format!("{line}:{}", e.column()),
    )
}

/// The records of a JSON Lines document: (1-based line, text), blank lines skipped.
fn lines(content: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    content
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, text)| Some((i + 1, record_text(text)?)))
}

/// A JSON Lines line's record text (without its `\n` or `\r\n`), `None` when blank.
pub fn record_text(line: &[u8]) -> Option<&[u8]> {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    (!text.iter().all(u8::is_ascii_whitespace)).then_some(text)
}

/// Adds `meta.line`/`meta.column` to findings whose path is `/<record>/…` in a JSON
/// Lines document: the record's line, and the value's column within it.
pub fn locate_lines(content: &[u8], findings: &mut [Finding]) {
    if findings.is_empty() {
        return;
    }
    let records: Vec<(usize, &[u8])> = lines(content).collect();
    for f in findings.iter_mut() {
        let mut tokens = f.path.splitn(3, '/').skip(1);
        let Some(index) = tokens.next().and_then(|i| i.parse::<usize>().ok()) else {
            continue;
        };
        let Some(&(line, text)) = records.get(index) else {
            continue;
        };
        let rest = tokens.next().map_or(String::new(), |r| format!("/{r}"));
        place_in_line(f, &rest, line, text, index);
    }
}

/// Sets a finding's `meta.line`/`meta.column`/`meta.record`: record `index`, the text
/// `text` on line `line`; `inner` is the finding's pointer within the record.
pub fn place_in_line(f: &mut Finding, inner: &str, line: usize, text: &[u8], index: usize) {
    let column = validibot_plugin_api::position::json_pointer_positions(text, &[inner])
        .get(inner)
        .map_or(1, |&(_, column)| column);
    let meta = f.meta.get_or_insert_with(|| serde_json::json!({}));
    if meta.is_object() {
        meta["line"] = serde_json::json!(line);
        meta["column"] = serde_json::json!(column);
        meta["record"] = serde_json::json!(index);
    }
}

fn element(node: roxmltree::Node<'_, '_>) -> Value {
    let mut map = Map::new();
    for a in node.attributes() {
        map.insert(
            format!("@{}", a.name()),
            Value::String(a.value().to_owned()),
        );
    }
    let text: String = node
        .children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect::<String>()
        .trim()
        .to_owned();
    let children: Vec<_> = node.children().filter(|c| c.is_element()).collect();
    if children.is_empty() && map.is_empty() {
        return Value::String(text);
    }
    if !text.is_empty() {
        map.insert("#text".into(), Value::String(text));
    }
    for child in children {
        let name = child.tag_name().name().to_owned();
        let value = element(child);
        match map.get_mut(&name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(name, value);
            }
        }
    }
    Value::Object(map)
}

/// Every (concrete pointer, value) the path matches; at most `limit`.
pub fn select<'a>(doc: &'a Value, path: &str, limit: usize) -> Vec<(String, &'a Value)> {
    let tokens: Vec<String> = if path.is_empty() || path == "/" {
        vec![]
    } else {
        path.trim_start_matches('/')
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut current = vec![(String::new(), doc)];
    for token in &tokens {
        let mut next = Vec::new();
        for (at, value) in current {
            let escaped = |t: &str| t.replace('~', "~0").replace('/', "~1");
            match (token.as_str(), value) {
                ("*", Value::Array(items)) => next.extend(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (format!("{at}/{i}"), v)),
                ),
                ("*", Value::Object(map)) => {
                    next.extend(map.iter().map(|(k, v)| (format!("{at}/{}", escaped(k)), v)))
                }
                (t, Value::Array(items)) => {
                    if let Some(v) = t.parse::<usize>().ok().and_then(|i| items.get(i)) {
                        next.push((format!("{at}/{t}"), v));
                    }
                }
                (t, Value::Object(map)) => {
                    if let Some(v) = map.get(t) {
                        next.push((format!("{at}/{}", escaped(t)), v));
                    }
                }
                _ => {}
            }
            if next.len() >= limit {
                next.truncate(limit);
                break;
            }
        }
        current = next;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_becomes_a_tree_and_dtds_are_refused() {
        let doc = parse(
            br#"<a x="1"><b>2</b><b>3</b><c>t</c></a>"#,
            Format::Xml,
            None,
        )
        .unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"a": {"@x": "1", "b": ["2", "3"], "c": "t"}})
        );
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><l>&b;</l>"#;
        assert!(parse(bomb, Format::Xml, None).is_err());
        let xxe = br#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert!(parse(xxe, Format::Xml, None).is_err());
    }

    #[test]
    fn wildcards_expand_to_concrete_pointers() {
        let doc = serde_json::json!({"lines": [{"q": 1}, {"q": 2}], "m": {"a/b": 3}});
        let got: Vec<String> = select(&doc, "/lines/*/q", 10)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(got, ["/lines/0/q", "/lines/1/q"]);
        assert_eq!(select(&doc, "/m/*", 10)[0].0, "/m/a~1b");
        assert!(select(&doc, "/nope", 10).is_empty());
        assert_eq!(select(&doc, "/lines/*", 1).len(), 1);
    }

    #[test]
    fn csv_rows_are_objects() {
        let doc = parse(b"a,b\n1,x\n2,y\n", Format::Csv, None).unwrap();
        assert_eq!(doc["rows"][1], serde_json::json!({"a": "2", "b": "y"}));
    }
}
