//! The pass over the rows: read front to back from the document, each cell checked
//! against its field, uniqueness by fingerprint. When a value repeats, the line of its
//! first occurrence is found afterwards by a second, partial pass over the rows up to
//! the last reported repeat — paid only by files that have repeats.

use std::cmp::Ordering;

use validibot_plugin_api::{Document, Finding, Outcome, Output, ValidatorError};

use crate::config::{Config, Field};
use crate::findings::Findings;
use crate::seen::{fingerprint, Seen};
use crate::sniff;

/// What delimiter detection looks at: the first lines.
const SNIFF_BYTES: usize = 64 << 10;
/// The CSV parser's own buffer, refilled from the document reader's 1 MiB chunks.
const PARSE_BUFFER: usize = 256 << 10;

/// A repeated value reported individually, whose first line is looked up at the end.
struct Repeat {
    finding: usize,
    key: Key,
    fingerprint: u64,
    line: u64,
    message: String,
}

/// A value waiting in the batch for its uniqueness table.
struct Lookup {
    key: Key,
    fp: u64,
    line: u64,
    col: usize,
    /// Its text: `batch_text[text.0..text.1]`.
    text: (usize, usize),
}

/// Values looked up together (see `Pass::flush`).
const BATCH: usize = 32;

/// What must be unique: one field's values, or the primary key's.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Field(usize),
    Primary,
}

/// The state of one pass.
struct Pass<'c> {
    cfg: &'c Config,
    out: Findings,
    /// Column index of each schema field (None: absent from the header).
    columns: Vec<Option<usize>>,
    /// Per field: the values seen, when the field is unique.
    unique: Vec<Option<Seen>>,
    /// The primary key's values, unless it is one unique field (then that field's).
    primary: Option<Seen>,
    /// The primary key is this unique field.
    primary_is_field: Option<usize>,
    repeats: Vec<Repeat>,
    /// Values waiting for their uniqueness tables, and their texts end to end.
    batch: Vec<Lookup>,
    batch_text: String,
}

pub fn check(document: Document<'_>, cfg: &Config) -> Result<Outcome, ValidatorError> {
    let head = document.read_at(0, SNIFF_BYTES)?;
    let whole = head.len() as u64 == document.size();
    // A cut last line would look like a row with too few cells.
    let end = match head.iter().rposition(|&b| b == b'\n') {
        Some(i) if !whole => i + 1,
        _ => head.len(),
    };
    let head = &head[..end];
    let delimiter = cfg.delimiter.unwrap_or_else(|| sniff::delimiter(head));
    // Rows to expect, from the first lines' length: the size of the uniqueness tables.
    let lines_in_head = head.iter().filter(|&&b| b == b'\n').count().max(1);
    let expected = (document.size() / (head.len() / lines_in_head).max(1) as u64) as usize;
    let primary_is_field = match cfg.primary_key.as_slice() {
        [only] if cfg.fields[*only].unique => Some(*only),
        _ => None,
    };
    let mut pass = Pass {
        cfg,
        out: Findings::new(cfg.max_samples),
        columns: (0..cfg.fields.len()).map(Some).collect(),
        unique: cfg
            .fields
            .iter()
            .map(|f| f.unique.then(|| Seen::new(cfg.unique_limit, expected)))
            .collect(),
        primary: (!cfg.primary_key.is_empty() && primary_is_field.is_none())
            .then(|| Seen::new(cfg.unique_limit, expected)),
        primary_is_field,
        repeats: vec![],
        batch: Vec::with_capacity(BATCH),
        batch_text: String::new(),
    };
    let mut reader = reader(document, delimiter);
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    let mut width = cfg.fields.len();
    let mut first = true;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                pass.out.list.push(unreadable(&e));
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if first && cfg.header {
            first = false;
            width = record.len();
            pass.columns = header(&record, &cfg.fields, &mut pass.out.list);
            continue;
        }
        first = false;
        rows += 1;
        if record.len() != width {
            let message = format!(
                "line {line} has {} cells; the header has {width}",
                record.len()
            );
            pass.out.row("csv.row_length", "", line, 1, message);
        }
        pass.row(&record, line);
    }
    pass.flush();
    let limited = pass.limits(rows);
    if !pass.repeats.is_empty() {
        pass.first_lines(document, delimiter)?;
    }
    let mut findings = pass.out.finish();
    findings.extend(limited);
    Ok(Outcome {
        findings,
        outputs: vec![
            Output::new("rows", rows),
            Output::new("columns", width as u64),
            Output::new("delimiter", (delimiter as char).to_string()),
        ],
    })
}

fn reader(document: Document<'_>, delimiter: u8) -> csv::Reader<validibot_plugin_api::Reader<'_>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(PARSE_BUFFER)
        .from_reader(document.reader())
}

fn unreadable(e: &csv::Error) -> Finding {
    let line = e.position().map_or(0, |p| p.line());
    let code = if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
        "csv.encoding"
    } else {
        "csv.parse"
    };
    Finding::error(code, format!("cannot read the CSV: {e}")).at(format!("{line}:1"))
}

impl Pass<'_> {
    fn row(&mut self, record: &csv::StringRecord, line: u64) {
        let cfg = self.cfg;
        for (i, field) in cfg.fields.iter().enumerate() {
            let Some(c) = self.columns[i] else { continue };
            let text = record.get(c).unwrap_or("");
            if self.cell(field, text, line, c + 1) && field.unique {
                self.unique_cell(i, text, line, c + 1);
            }
        }
        if self.primary.is_some() {
            let parts = key_parts(cfg, &self.columns, record);
            let fp = fingerprint(&parts);
            let from = self.batch_text.len();
            for (k, p) in parts.iter().enumerate() {
                if k > 0 {
                    self.batch_text.push_str(", ");
                }
                self.batch_text.push_str(p);
            }
            self.look_up(Key::Primary, fp, line, 1, from);
        }
    }

    fn unique_cell(&mut self, i: usize, text: &str, line: u64, col: usize) {
        let from = self.batch_text.len();
        self.batch_text.push_str(text);
        self.look_up(Key::Field(i), fingerprint(&[text]), line, col, from);
    }

    /// Queues a value for its uniqueness table; the text is `batch_text[from..]`.
    fn look_up(&mut self, key: Key, fp: u64, line: u64, col: usize, from: usize) {
        let text = (from, self.batch_text.len());
        self.batch.push(Lookup {
            key,
            fp,
            line,
            col,
            text,
        });
        if self.batch.len() == BATCH {
            self.flush();
        }
    }

    /// Looks up the queued values: first a read of each one's slot, so the cache misses
    /// of a batch overlap (a large table is one miss a value), then the inserts in row
    /// order, reporting repeats.
    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let mut touched = 0u64;
        for l in &batch {
            if let Some(seen) = self.table(l.key) {
                touched ^= seen.touch(l.fp);
            }
        }
        std::hint::black_box(touched);
        for l in &batch {
            let repeated = self.table(l.key).is_some_and(|seen| seen.insert(l.fp));
            if repeated {
                self.report_repeat(l);
            }
        }
        self.batch = batch;
        self.batch.clear();
        self.batch_text.clear();
    }

    fn table(&mut self, key: Key) -> Option<&mut Seen> {
        match key {
            Key::Field(i) => self.unique[i].as_mut(),
            Key::Primary => self.primary.as_mut(),
        }
    }

    fn report_repeat(&mut self, l: &Lookup) {
        let text = self.batch_text[l.text.0..l.text.1].to_owned();
        match l.key {
            Key::Field(i) => {
                let name = self.cfg.fields[i].name.clone();
                let message = format!("{name} = {text:?} repeats");
                self.repeat("csv.unique", &name, l.key, l.fp, l.line, l.col, message);
                if self.primary_is_field == Some(i) {
                    let message = format!("primary key ({name}) = ({text}) repeats");
                    self.repeat(
                        "csv.primary_key",
                        &name,
                        Key::Primary,
                        l.fp,
                        l.line,
                        1,
                        message,
                    );
                }
            }
            Key::Primary => {
                let names = key_names(self.cfg);
                let message = format!("primary key ({}) = ({text}) repeats", names.join(", "));
                self.repeat(
                    "csv.primary_key",
                    &names.join(","),
                    Key::Primary,
                    l.fp,
                    l.line,
                    1,
                    message,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn repeat(
        &mut self,
        code: &'static str,
        column: &str,
        key: Key,
        fp: u64,
        line: u64,
        col: usize,
        message: String,
    ) {
        let shown = format!("{message} an earlier line");
        if let Some(finding) = self.out.row(code, column, line, col, shown) {
            self.repeats.push(Repeat {
                finding,
                key,
                fingerprint: fp,
                line,
                message,
            });
        }
    }

    /// Checks one cell; false when it has no value or not one of its type.
    fn cell(&mut self, field: &Field, text: &str, line: u64, col: usize) -> bool {
        let name = field.name.as_str();
        let out = &mut self.out;
        if self.cfg.missing_values.iter().any(|m| m == text) {
            if field.required {
                out.row(
                    "csv.required",
                    name,
                    line,
                    col,
                    format!("{name} is required (line {line})"),
                );
            }
            return false;
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
                return false;
            }
        };
        if let Some(min) = &field.min_cell {
            if cell.compare(min) == Some(Ordering::Less) {
                let bound = field.minimum.as_deref().unwrap_or_default();
                out.row(
                    "csv.minimum",
                    name,
                    line,
                    col,
                    format!("{name} = {text} is below the minimum {bound}"),
                );
            }
        }
        if let Some(max) = &field.max_cell {
            if cell.compare(max) == Some(Ordering::Greater) {
                let bound = field.maximum.as_deref().unwrap_or_default();
                out.row(
                    "csv.maximum",
                    name,
                    line,
                    col,
                    format!("{name} = {text} is above the maximum {bound}"),
                );
            }
        }
        // At most as many characters as bytes: a short cell needs no count for maxLength.
        let counted =
            field.min_length.is_some() || field.max_length.is_some_and(|m| text.len() > m);
        if counted {
            let len = text.chars().count();
            if field.min_length.is_some_and(|m| len < m)
                || field.max_length.is_some_and(|m| len > m)
            {
                let message = format!(
                    "{name} has {len} characters; allowed {}..{}",
                    field.min_length.unwrap_or(0),
                    field.max_length.map_or("".into(), |m| m.to_string())
                );
                out.row("csv.length", name, line, col, message);
            }
        }
        if let Some(p) = &field.pattern {
            if !p.is_match(text) {
                let shown = p.as_str().trim_start_matches("^(?:").trim_end_matches(")$");
                out.row(
                    "csv.pattern",
                    name,
                    line,
                    col,
                    format!("{name} = {text:?} does not match {shown}"),
                );
            }
        }
        if let Some(allowed) = &field.allowed {
            let ok = allowed.iter().any(|a| a == text) || field.allowed_cells.contains(&cell);
            if !ok {
                let message = format!("{name} = {text:?} is not one of {}", allowed.join(", "));
                out.row("csv.enum", name, line, col, message);
            }
        }
        true
    }

    /// A warning per constraint whose values outgrew `unique_limit`.
    fn limits(&self, rows: u64) -> Vec<Finding> {
        let limit = self.cfg.unique_limit;
        let mut sets: Vec<(String, &Seen)> = self
            .unique
            .iter()
            .zip(&self.cfg.fields)
            .filter_map(|(s, f)| Some((f.name.clone(), s.as_ref()?)))
            .collect();
        if let Some(p) = &self.primary {
            sets.push((
                format!("primary key ({})", key_names(self.cfg).join(", ")),
                p,
            ));
        }
        sets.into_iter()
            .filter(|(_, s)| s.overflowed > 0)
            .map(|(what, s)| {
                Finding::warning(
                    "csv.unique.limit",
                    format!(
                        "{what}: only the first {limit} distinct values were remembered; {} later values of {rows} rows were compared with those but not with each other. Raise unique_limit in the step config (at most 12 bytes a value, within the validator's memory cap) to check every row.",
                        s.overflowed
                    ),
                )
                .with_meta(serde_json::json!({"unique_limit": limit, "unchecked": s.overflowed}))
            })
            .collect()
    }

    /// Finds the first line of each reported repeat by reading the rows again, up to
    /// the last repeat, and completes the findings' messages with it.
    fn first_lines(&mut self, document: Document<'_>, delimiter: u8) -> Result<(), ValidatorError> {
        let last = self.repeats.iter().map(|r| r.line).max().unwrap_or(0);
        let mut first: Vec<Option<u64>> = vec![None; self.repeats.len()];
        let mut reader = reader(document, delimiter);
        let mut record = csv::StringRecord::new();
        let mut header = self.cfg.header;
        while reader.read_record(&mut record).unwrap_or(false) {
            let line = record.position().map_or(0, |p| p.line());
            if header {
                header = false;
                continue;
            }
            if line >= last {
                break;
            }
            for (r, found) in self.repeats.iter().zip(first.iter_mut()) {
                if found.is_some() || line >= r.line {
                    continue;
                }
                // A primary key that is one unique field has that field's values.
                let field = match r.key {
                    Key::Field(i) => Some(i),
                    Key::Primary => self.primary_is_field,
                };
                let fp = match field {
                    Some(i) => match self.columns[i].and_then(|c| record.get(c)) {
                        Some(text) => fingerprint(&[text]),
                        None => continue,
                    },
                    None => fingerprint(&key_parts(self.cfg, &self.columns, &record)),
                };
                if fp == r.fingerprint {
                    *found = Some(line);
                }
            }
            if first.iter().all(Option::is_some) {
                break;
            }
        }
        for (r, found) in self.repeats.iter().zip(first) {
            if let Some(at) = found {
                self.out.list[r.finding].message = format!("{} line {at}", r.message);
            }
        }
        Ok(())
    }
}

fn key_parts<'r>(
    cfg: &Config,
    columns: &[Option<usize>],
    record: &'r csv::StringRecord,
) -> Vec<&'r str> {
    cfg.primary_key
        .iter()
        .map(|&i| columns[i].and_then(|c| record.get(c)).unwrap_or(""))
        .collect()
}

fn key_names(cfg: &Config) -> Vec<&str> {
    cfg.primary_key
        .iter()
        .map(|&i| cfg.fields[i].name.as_str())
        .collect()
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
