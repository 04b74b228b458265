//! Large documents (issue 24), each three ways in one run:
//! - the validator crate called natively on the file's bytes (the baseline),
//! - the same crate as the embedded WASM component, reading the file through
//!   `inputs.source` in this process,
//! - `validibot check` as a whole process: wall time and peak RSS.
//!
//! The documents:
//! - `csv`: a table of the shape a data steward sends (id unique and the primary key,
//!   an e-mail pattern, an amount range, dates, an enum, a bounded name), 1.5 M rows,
//!   about 89 MB (`VALIDIBOT_BENCH_ROWS=17000000` for about 1 GB);
//! - `json`: an array of 25,000 invoices (about 46 MB) under `type: array` + `items`
//!   (the example invoice schema), checked a record at a time;
//! - `ndjson`: the same invoices as JSON Lines;
//! - `rules`: the JSON Lines invoices under three rules (a total, every line's quantity,
//!   an expression over each record), which see one record at a time (no native run);
//! - `xml`: 600,000 orders (about 105 MB, the shape of `xml_orders.py`), checked for
//!   well-formedness (no schema), which streams.
//!
//! `cargo bench -p validibot --bench large_documents` runs all five;
//! `VALIDIBOT_BENCH_ONLY=json` (or `csv`, `ndjson`, `rules`, `xml`) one.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use validibot_engines::plugins::{CallInput, Document, Limits, PluginRegistry, Runtime};
use validibot_plugin_api::{Input, Severity, Validator};
use validibot_plugin_csv::CsvValidator;
use validibot_plugin_json_schema::JsonSchemaValidator;
use validibot_plugin_xml::XmlValidator;

const KINDS: [&str; 4] = ["retail", "wholesale", "internal", "export"];

fn write_table(path: &Path, rows: u64) -> u64 {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    writeln!(w, "id,email,amount,day,kind,name").unwrap();
    for i in 1..=rows {
        let (cents, day) = ((i * 7919) % 100_000_000, 1 + i % 28);
        let month = 1 + (i / 28) % 12;
        writeln!(
            w,
            "{i},u{i}@ex.org,{}.{:02},2024-{month:02}-{day:02},{},C{i}",
            cents / 100,
            cents % 100,
            KINDS[(i % 4) as usize]
        )
        .unwrap();
    }
    w.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// `count` invoices of about 1.8 KB (23 lines each), one per line: as a JSON array
/// (`[`, a comma after each but the last, `]`) or as JSON Lines.
fn write_invoices(path: &Path, count: u64, lines_layout: bool) -> u64 {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    if !lines_layout {
        writeln!(w, "[").unwrap();
    }
    for i in 1..=count {
        let lines: Vec<serde_json::Value> = (0..23)
            .map(|l| json!({"sku": format!("SKU-{:05}", (i * 31 + l) % 99_991), "qty": 1 + (i + l) % 9, "unit_price": ((i * 7 + l * 13) % 10_000) as f64 / 100.0, "note": "standard delivery"}))
            .collect();
        let total: f64 = lines
            .iter()
            .map(|l| l["qty"].as_f64().unwrap() * l["unit_price"].as_f64().unwrap())
            .sum();
        let invoice = json!({
            "id": format!("INV-{:06}", i % 1_000_000),
            "customer": {"name": format!("Customer {i}"), "email": format!("billing{i}@example.org")},
            "lines": lines,
            "total": (total * 100.0).round() / 100.0,
        });
        let sep = if lines_layout || i == count { "" } else { "," };
        writeln!(w, "{invoice}{sep}").unwrap();
    }
    if !lines_layout {
        writeln!(w, "]").unwrap();
    }
    w.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// The example invoice workflow's schema (`examples/invoice-workflow.json`).
/// The orders of `xml_orders.py`: an order with a customer and a line, 175 bytes each.
fn write_orders(path: &Path, count: u64) -> u64 {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<orders>\n")
        .unwrap();
    for i in 1..=count {
        writeln!(
            out,
            "  <order id=\"ORD-{i:07}\" date=\"2024-{:02}-{:02}\">\n    <customer email=\"c{i}@example.org\">Customer {i}</customer>\n    <line sku=\"SKU-{:05}\" qty=\"{}\" price=\"{}.{:02}\"/>\n  </order>",
            1 + i % 12,
            1 + i % 28,
            i % 9999,
            1 + i % 9,
            (i * 7) % 10000 / 100,
            (i * 7) % 100
        )
        .unwrap();
    }
    out.write_all(b"</orders>\n").unwrap();
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn invoice_schema() -> serde_json::Value {
    let workflow: serde_json::Value =
        serde_json::from_str(include_str!("../../examples/invoice-workflow.json")).unwrap();
    workflow["steps"][0]["config"]["schema"].clone()
}

/// `VALIDIBOT_BENCH_UNIQUE_LIMIT` sets the CSV validator's `unique_limit` (a 1 GB
/// table has more ids than the default remembers: a warning, and a smaller RSS).
fn table_config() -> serde_json::Value {
    let mut config = json!({"schema": {"fields": [
        {"name": "id", "type": "integer", "constraints": {"required": true, "unique": true, "minimum": 1}},
        {"name": "email", "constraints": {"required": true, "pattern": "[^@ ]+@[^@ ]+\\.[a-z]+"}},
        {"name": "amount", "type": "number", "constraints": {"minimum": 0, "maximum": 1000000}},
        {"name": "day", "type": "date", "constraints": {"minimum": "2000-01-01"}},
        {"name": "kind", "constraints": {"enum": KINDS}},
        {"name": "name", "constraints": {"maxLength": 64}}
    ], "primaryKey": "id"}});
    if let Some(limit) = std::env::var("VALIDIBOT_BENCH_UNIQUE_LIMIT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        config["unique_limit"] = json!(limit);
    }
    config
}

/// Best of `n` runs of `f`, in seconds.
fn best_of(n: usize, mut f: impl FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Runs `validibot check` and returns (seconds, peak RSS in MiB, exit code). The
/// compiled validators are cached beforehand by a check of `small` (a document of the
/// same kind), so this measures checking, not compiling.
fn check_process(dir: &Path, small: &Path, table: &Path, workflow: &Path) -> (f64, f64, i32) {
    let one_row = small;
    let warm = std::process::Command::new(env!("CARGO_BIN_EXE_validibot"))
        .args(["check", "--format", "json", "-f"])
        .arg(workflow)
        .arg(one_row)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .output()
        .unwrap();
    assert!(
        warm.status.success(),
        "{}",
        String::from_utf8_lossy(&warm.stderr)
    );
    let t = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_validibot"))
        .arg("check")
        .arg(table)
        .arg("-f")
        .arg(workflow)
        .args(["--format", "json", "--validator-timeout", "600"])
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // VmHWM of the child itself: wait4's ru_maxrss would also count the pages of this
    // (large) bench process the child was forked from.
    let status_file = format!("/proc/{}/status", child.id());
    let mut child = child;
    let mut peak_kib = 0u64;
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (t.elapsed().as_secs_f64(), peak_kib as f64 / 1024.0, code)
}

/// A validator crate called natively: (document, content type, config) → each
/// finding's severity and code.
type Native = fn(&[u8], &str, &str) -> Vec<(Severity, String)>;

/// One document to measure: how to make it, and how to check it natively.
struct Case {
    name: &'static str,
    file: &'static str,
    /// A tiny document of the same kind, to warm the compiled-validator cache.
    small: &'static str,
    validator: &'static str,
    content_type: &'static str,
    config: serde_json::Value,
    write: fn(&Path) -> u64,
    /// The crate called natively (none for `rules`: its CEL engine is not otherwise
    /// built natively, and what this case shows is memory).
    native: Option<Native>,
}

/// A validator crate called natively on the document's bytes.
fn native<V: Validator>(bytes: &[u8], content_type: &str, config: &str) -> Vec<(Severity, String)> {
    findings(V::validate(Input {
        content: bytes,
        content_type,
        config,
        ..Input::default()
    }))
}

fn findings(
    out: Result<validibot_plugin_api::Outcome, validibot_plugin_api::ValidatorError>,
) -> Vec<(Severity, String)> {
    out.unwrap()
        .findings
        .into_iter()
        .map(|f| (f.severity, f.code))
        .collect()
}

const INVOICES: u64 = 25_000;

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "csv",
            file: "table.csv",
            small: "id,email,amount,day,kind,name\n1,a@b.org,1.00,2024-01-01,retail,A\n",
            validator: "csv",
            content_type: "text/csv",
            config: table_config(),
            write: |path| {
                let rows = std::env::var("VALIDIBOT_BENCH_ROWS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1_500_000);
                write_table(path, rows)
            },
            native: Some(native::<CsvValidator>),
        },
        Case {
            name: "json",
            file: "invoices.json",
            small: "[]",
            validator: "json-schema",
            content_type: "application/json",
            config: json!({"schema": {"type": "array", "items": invoice_schema()}}),
            write: |path| write_invoices(path, INVOICES, false),
            native: Some(native::<JsonSchemaValidator>),
        },
        Case {
            name: "ndjson",
            file: "invoices.ndjson",
            small: r#"{"id": "INV-000001", "customer": {"name": "A", "email": "a@b.org"}, "lines": [{"sku": "S", "qty": 1, "unit_price": 1}], "total": 1}"#,
            validator: "json-schema",
            content_type: "application/x-ndjson",
            config: json!({"schema": invoice_schema()}),
            write: |path| write_invoices(path, INVOICES, true),
            native: Some(native::<JsonSchemaValidator>),
        },
        Case {
            name: "rules",
            file: "invoices.ndjson",
            small: r#"{"id": "INV-1", "total": 1, "lines": [{"qty": 1}]}"#,
            validator: "rules",
            content_type: "application/x-ndjson",
            config: json!({"rules": [
                {"id": "total", "path": "/*/total", "op": "ge", "value": 0},
                {"id": "qty", "path": "/*/lines/*/qty", "op": "between", "value": [1, 9]},
                {"id": "lines", "path": "/*", "expr": "value.lines.size() > 0 && value.id.startsWith('INV-')"}
            ]}),
            write: |path| write_invoices(path, INVOICES, true),
            native: None,
        },
        Case {
            name: "xml",
            file: "orders.xml",
            small: "<orders/>",
            validator: "xml-schema",
            content_type: "application/xml",
            config: json!({}),
            write: |path| write_orders(path, 600_000),
            native: Some(native::<XmlValidator>),
        },
    ]
}

fn main() {
    let only = std::env::var("VALIDIBOT_BENCH_ONLY").ok();
    let runtime = Runtime::new(None).unwrap();
    let limits = Limits {
        timeout: Duration::from_secs(3600),
        ..Limits::default()
    };
    let registry = PluginRegistry::builtin(&runtime, limits).unwrap();
    for case in cases() {
        if only.as_deref().is_some_and(|o| o != case.name) {
            continue;
        }
        measure(&case, &registry);
    }
}

fn measure(case: &Case, registry: &PluginRegistry) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(case.file);
    let size = (case.write)(&file);
    let mb = size as f64 / 1e6;
    let config = case.config.to_string();
    let workflow = dir.path().join("workflow.json");
    std::fs::write(
        &workflow,
        json!({"slug": case.name, "timeout_seconds": 3600, "steps": [{"key": "s", "validator": case.validator, "config": case.config}]}).to_string(),
    )
    .unwrap();
    let small = dir.path().join(format!("small-{}", case.file));
    std::fs::write(&small, case.small).unwrap();
    println!("\n## {}: {mb:.1} MB", case.name);

    let native = case.native.map(|check| {
        let bytes = std::fs::read(&file).unwrap();
        best_of(5, || {
            let found = check(&bytes, case.content_type, &config);
            assert!(
                found
                    .iter()
                    .all(|(severity, _)| *severity != Severity::Error),
                "{:?}",
                &found[..found.len().min(3)]
            );
        })
    });

    let plugin = registry.get(case.validator).unwrap();
    let document = Document::open(&file).unwrap();
    let input = CallInput {
        document: &document,
        content_type: case.content_type,
        config: &config,
        ruleset: None,
        files: &[],
        memory_bytes: None,
    };
    let mut warnings = vec![];
    let wasm = best_of(5, || {
        let out = plugin.validate(&input, Duration::from_secs(3600)).unwrap();
        warnings = out.findings.iter().map(|f| f.code.clone()).collect();
        assert!(
            out.findings
                .iter()
                .all(|f| f.severity != validibot_types::Severity::Error),
            "{:?}",
            &out.findings[..out.findings.len().min(3)]
        );
    });

    let (process, rss, code) = check_process(dir.path(), &small, &file, &workflow);
    assert_eq!(code, 0, "validibot check did not PASS");
    println!("| path | seconds | MB/s | vs native |");
    println!("|---|---:|---:|---:|");
    for (name, s) in [
        ("native crate (in memory)", native),
        ("WASM, streamed from the file", Some(wasm)),
        ("`validibot check` (whole process)", Some(process)),
    ] {
        let Some(s) = s else { continue };
        let ratio = native.map_or("–".into(), |n| format!("{:.2}×", s / n));
        println!("| {name} | {s:.2} | {:.0} | {ratio} |", mb / s);
    }
    println!("`validibot check` peak RSS: {rss:.0} MiB; warnings: {warnings:?}");
}
