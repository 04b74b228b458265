//! Built-in validator: tabular CSV against a Frictionless Table Schema subset.
//!
//! Types string, integer, number, boolean, date, datetime; constraints required,
//! unique, minimum, maximum, minLength, maxLength, pattern, enum; primary keys.
//! The delimiter is detected unless configured. Rows are streamed through one
//! reused record buffer, so memory stays bounded (uniqueness keeps an 8-byte hash
//! per row and column, not the values). Findings point at `line:column`; a check
//! failing on many rows reports `max_samples` rows individually and then one
//! summary finding with the count and sample line numbers.

mod config;
mod sniff;
mod types;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Output, Validator, ValidatorError,
};

use config::{Config, Field};

pub struct CsvValidator;

impl Validator for CsvValidator {
    fn describe() -> Metadata {
        Metadata {
            slug: "csv".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "Tabular CSV".into(),
            description: "Validates CSV files against a Frictionless Table Schema subset (types, constraints, primary key).".into(),
            content_types: vec!["text/csv".into(), "text/plain".into(), "text/tab-separated-values".into()],
            config_schema: config::config_schema(),
        }
    }

    fn validate_config(config: &serde_json::Value) -> Result<(), Vec<Finding>> {
        Config::parse(config).map(|_| ()).map_err(|f| vec![f])
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        let config = Config::parse(&input.config_json()?)
            .map_err(|f| ValidatorError::new("config.invalid", f.message))?;
        Ok(check(input.content, &config))
    }
}

export_validator!(CsvValidator);

/// Individual findings per (code, column), then a summary.
struct Findings {
    max_samples: usize,
    list: Vec<Finding>,
    /// (code, column) → (count, sample lines beyond the individual ones)
    counts: BTreeMap<(String, String), (u64, Vec<u64>)>,
}

impl Findings {
    fn row(&mut self, code: &str, column: &str, line: u64, col: usize, message: String) {
        let entry = self
            .counts
            .entry((code.to_owned(), column.to_owned()))
            .or_default();
        entry.0 += 1;
        if entry.0 as usize <= self.max_samples {
            self.list.push(
                Finding::error(code, message)
                    .at(format!("{line}:{col}"))
                    .with_meta(serde_json::json!({"column": column, "line": line})),
            );
        } else if entry.1.len() < 20 {
            entry.1.push(line);
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        for ((code, column), (count, sample)) in self.counts {
            let more = count.saturating_sub(self.max_samples as u64);
            if more > 0 {
                let what = if column.is_empty() {
                    String::new()
                } else {
                    format!(" in column {column:?}")
                };
                self.list.push(
                    Finding::error(
                        code.clone(),
                        format!("{more} more rows fail {code}{what} ({count} in all)"),
                    )
                    .with_meta(
                        serde_json::json!({"column": column, "count": count, "more_lines": sample}),
                    ),
                );
            }
        }
        self.list
    }
}

fn hash_of(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

fn check(content: &[u8], cfg: &Config) -> Outcome {
    let delimiter = cfg.delimiter.unwrap_or_else(|| sniff::delimiter(content));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(content);
    let mut out = Findings {
        max_samples: cfg.max_samples,
        list: vec![],
        counts: BTreeMap::new(),
    };
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    // Column index of each schema field (None: absent from the header).
    let mut columns: Vec<Option<usize>> = (0..cfg.fields.len()).map(Some).collect();
    let mut width = cfg.fields.len();
    let mut first = true;
    let mut unique: Vec<HashMap<u64, u64>> = cfg.fields.iter().map(|_| HashMap::new()).collect();
    let mut keys: HashMap<u64, u64> = HashMap::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let code = if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    "csv.encoding"
                } else {
                    "csv.parse"
                };
                out.list.push(
                    Finding::error(code, format!("cannot read the CSV: {e}"))
                        .at(format!("{line}:1")),
                );
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if first && cfg.header {
            first = false;
            width = record.len();
            columns = header(&record, &cfg.fields, &mut out.list);
            continue;
        }
        first = false;
        rows += 1;
        if record.len() != width {
            out.row(
                "csv.row_length",
                "",
                line,
                1,
                format!(
                    "line {line} has {} cells; the header has {width}",
                    record.len()
                ),
            );
        }
        for (i, field) in cfg.fields.iter().enumerate() {
            let Some(c) = columns[i] else { continue };
            let text = record.get(c).unwrap_or("");
            check_cell(field, text, line, c + 1, &mut out, &mut unique[i], cfg);
        }
        if !cfg.primary_key.is_empty() {
            let parts: Vec<&str> = cfg
                .primary_key
                .iter()
                .map(|&i| columns[i].and_then(|c| record.get(c)).unwrap_or(""))
                .collect();
            let names: Vec<&str> = cfg
                .primary_key
                .iter()
                .map(|&i| cfg.fields[i].name.as_str())
                .collect();
            if let Some(prev) = keys.insert(hash_of(&parts), line) {
                out.row(
                    "csv.primary_key",
                    &names.join(","),
                    line,
                    1,
                    format!(
                        "primary key ({}) = ({}) repeats line {prev}",
                        names.join(", "),
                        parts.join(", ")
                    ),
                );
            }
        }
    }
    let columns_seen = width;
    Outcome {
        findings: out.finish(),
        outputs: vec![
            Output::new("rows", rows),
            Output::new("columns", columns_seen as u64),
            Output::new("delimiter", (delimiter as char).to_string()),
        ],
    }
}

/// Maps schema fields to header columns; reports missing and unexpected columns.
fn header(
    record: &csv::StringRecord,
    fields: &[Field],
    list: &mut Vec<Finding>,
) -> Vec<Option<usize>> {
    let names: Vec<&str> = record
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}'))
        .collect();
    let mut columns = Vec::with_capacity(fields.len());
    for f in fields {
        let at = names.iter().position(|n| *n == f.name);
        if at.is_none() {
            list.push(
                Finding::error(
                    "csv.header.missing",
                    format!("the header has no column {:?}", f.name),
                )
                .at("1:1"),
            );
        }
        columns.push(at);
    }
    for (i, n) in names.iter().enumerate() {
        if !fields.iter().any(|f| f.name == *n) {
            list.push(
                Finding::warning(
                    "csv.header.extra",
                    format!("column {n:?} is not in the schema"),
                )
                .at(format!("1:{}", i + 1)),
            );
        }
    }
    columns
}

fn check_cell(
    field: &Field,
    text: &str,
    line: u64,
    col: usize,
    out: &mut Findings,
    seen: &mut HashMap<u64, u64>,
    cfg: &Config,
) {
    let name = field.name.as_str();
    if cfg.missing_values.iter().any(|m| m == text) {
        if field.required {
            out.row(
                "csv.required",
                name,
                line,
                col,
                format!("{name} is required (line {line})"),
            );
        }
        return;
    }
    let cell = match field.kind.parse_cell(text) {
        Ok(c) => c,
        Err(expected) => {
            out.row(
                "csv.type",
                name,
                line,
                col,
                format!("{name} must be {expected}, got {text:?}"),
            );
            return;
        }
    };
    let bound = |b: &Option<String>| b.as_ref().and_then(|b| field.kind.parse_cell(b).ok());
    if let Some(min) = bound(&field.minimum) {
        if cell.compare(&min) == Some(std::cmp::Ordering::Less) {
            out.row(
                "csv.minimum",
                name,
                line,
                col,
                format!(
                    "{name} = {text} is below the minimum {}",
                    field.minimum.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    if let Some(max) = bound(&field.maximum) {
        if cell.compare(&max) == Some(std::cmp::Ordering::Greater) {
            out.row(
                "csv.maximum",
                name,
                line,
                col,
                format!(
                    "{name} = {text} is above the maximum {}",
                    field.maximum.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    let len = text.chars().count();
    if field.min_length.is_some_and(|m| len < m) || field.max_length.is_some_and(|m| len > m) {
        out.row(
            "csv.length",
            name,
            line,
            col,
            format!(
                "{name} has {len} characters; allowed {}..{}",
                field.min_length.unwrap_or(0),
                field.max_length.map_or("".into(), |m| m.to_string())
            ),
        );
    }
    if let Some(p) = &field.pattern {
        if !p.is_match(text) {
            out.row(
                "csv.pattern",
                name,
                line,
                col,
                format!(
                    "{name} = {text:?} does not match {}",
                    p.as_str().trim_start_matches("^(?:").trim_end_matches(")$")
                ),
            );
        }
    }
    if let Some(allowed) = &field.allowed {
        let ok = allowed
            .iter()
            .any(|a| field.kind.parse_cell(a).ok().as_ref() == Some(&cell) || a == text);
        if !ok {
            out.row(
                "csv.enum",
                name,
                line,
                col,
                format!("{name} = {text:?} is not one of {}", allowed.join(", ")),
            );
        }
    }
    if field.unique {
        if let Some(prev) = seen.insert(hash_of(&[text]), line) {
            out.row(
                "csv.unique",
                name,
                line,
                col,
                format!("{name} = {text:?} repeats line {prev}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(csv: &str, config: serde_json::Value) -> Outcome {
        CsvValidator::validate(Input {
            content: csv.as_bytes(),
            content_type: "text/csv",
            config: &config.to_string(),
            ruleset: None,
            ..Input::default()
        })
        .unwrap()
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({"schema": {"fields": [
            {"name": "id", "type": "integer", "constraints": {"required": true, "unique": true, "minimum": 1}},
            {"name": "email", "constraints": {"pattern": "[^@]+@[^@]+"}},
            {"name": "kind", "constraints": {"enum": ["a", "b"]}},
            {"name": "day", "type": "date", "constraints": {"maximum": "2030-12-31"}}
        ], "primaryKey": "id"}})
    }

    fn codes(o: &Outcome) -> Vec<(String, String)> {
        o.findings
            .iter()
            .map(|f| (f.code.clone(), f.path.clone()))
            .collect()
    }

    #[test]
    fn a_clean_file_passes_with_row_counts() {
        let o = run(
            "id,email,kind,day\n1,a@x.org,a,2024-01-01\n2,b@x.org,b,2024-02-29\n",
            schema(),
        );
        assert!(o.findings.is_empty(), "{:?}", o.findings);
        assert_eq!(o.outputs[0].value, serde_json::json!(2));
    }

    #[test]
    fn each_constraint_reports_line_and_column() {
        let o = run(
            "id;email;kind;day\n0;a@x.org;a;2024-01-01\nx;nope;c;2031-01-01\n;b@x.org;b;2024-13-01\n3;c@x.org;a;2024-01-01\n3;d@x.org;a;2024-01-01\n",
            schema(),
        );
        let got = codes(&o);
        for want in [
            ("csv.minimum", "2:1"),
            ("csv.type", "3:1"),
            ("csv.pattern", "3:2"),
            ("csv.enum", "3:3"),
            ("csv.maximum", "3:4"),
            ("csv.required", "4:1"),
            ("csv.type", "4:4"),
            ("csv.unique", "6:1"),
            ("csv.primary_key", "6:1"),
        ] {
            assert!(
                got.contains(&(want.0.into(), want.1.into())),
                "{want:?} not in {got:?}"
            );
        }
        assert_eq!(o.outputs[2].value, serde_json::json!(";"));
    }

    #[test]
    fn header_mismatches_and_ragged_rows() {
        let o = run(
            "id,mail,kind,day,extra\n1,x,a,2024-01-01,1\n2,x\n",
            schema(),
        );
        let got = codes(&o);
        assert!(
            got.contains(&("csv.header.missing".into(), "1:1".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("csv.header.extra".into(), "1:2".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("csv.row_length".into(), "3:1".into())),
            "{got:?}"
        );
    }

    #[test]
    fn repeated_failures_are_aggregated_with_samples() {
        let mut csv = String::from("id,email,kind,day\n");
        for i in 1..=1000 {
            csv.push_str(&format!("{i},bad,a,2024-01-01\n"));
        }
        let o = run(&csv, schema());
        let pattern: Vec<&Finding> = o
            .findings
            .iter()
            .filter(|f| f.code == "csv.pattern")
            .collect();
        assert_eq!(pattern.len(), 6, "5 samples + 1 summary");
        let summary = pattern.last().unwrap();
        assert!(
            summary
                .message
                .starts_with("995 more rows fail csv.pattern"),
            "{}",
            summary.message
        );
        assert_eq!(summary.meta.as_ref().unwrap()["count"], 1000);
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad = |c: serde_json::Value| {
            CsvValidator::validate_config(&c).unwrap_err()[0]
                .path
                .clone()
        };
        assert_eq!(
            bad(serde_json::json!({"schema": {"fields": [{"name": "a", "type": "money"}]}})),
            "/schema/fields/0/type"
        );
        assert_eq!(
            bad(
                serde_json::json!({"schema": {"fields": [{"name": "a", "constraints": {"pattern": "("}}]}})
            ),
            "/schema/fields/0/constraints/pattern"
        );
        assert_eq!(
            bad(serde_json::json!({"schema": {"fields": [{"name": "a"}], "primaryKey": "b"}})),
            "/schema/primaryKey"
        );
    }

    #[test]
    fn invalid_utf8_is_a_finding() {
        let o = CsvValidator::validate(Input {
            content: b"id,email,kind,day\n1,\xff\xfe,a,2024-01-01\n",
            content_type: "text/csv",
            config: &schema().to_string(),
            ruleset: None,
            ..Input::default()
        })
        .unwrap();
        assert_eq!(o.findings[0].code, "csv.encoding");
    }
}
