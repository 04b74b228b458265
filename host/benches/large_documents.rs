//! Large documents (issue 24): the CSV validator over a generated table of the shape
//! a data steward sends (id unique and the primary key, an e-mail pattern, an amount
//! range, dates, an enum, a bounded name), three ways in one run:
//! - the validator crate called natively on the file's bytes (the baseline),
//! - the same crate as the embedded WASM component, reading the file through
//!   `inputs.source` in this process,
//! - `validibot check` as a whole process: wall time and peak RSS.
//!
//! `cargo bench -p validibot --bench large_documents` (1.5 M rows, about 89 MB);
//! `VALIDIBOT_BENCH_ROWS=17000000` for about 1 GB.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use validibot_engines::plugins::{CallInput, Document, Limits, PluginRegistry, Runtime};
use validibot_plugin_api::{Input, Severity, Validator};
use validibot_plugin_csv::CsvValidator;

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
/// compiled validators are cached beforehand by a check of a one-row table, so this
/// measures checking, not compiling.
fn check_process(dir: &Path, table: &Path, workflow: &Path) -> (f64, f64, i32) {
    let one_row = dir.join("one.csv");
    std::fs::write(
        &one_row,
        "id,email,amount,day,kind,name\n1,a@b.org,1.00,2024-01-01,retail,A\n",
    )
    .unwrap();
    let warm = std::process::Command::new(env!("CARGO_BIN_EXE_validibot"))
        .args(["check", "--format", "json", "-f"])
        .arg(workflow)
        .arg(&one_row)
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

fn main() {
    let rows: u64 = std::env::var("VALIDIBOT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500_000);
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.csv");
    let size = write_table(&table, rows);
    let mb = size as f64 / 1e6;
    let config = table_config().to_string();
    let workflow = dir.path().join("table.json");
    std::fs::write(
        &workflow,
        json!({"slug": "table", "timeout_seconds": 3600, "steps": [{"key": "t", "validator": "csv", "config": table_config()}]}).to_string(),
    )
    .unwrap();
    println!("{rows} rows, {mb:.1} MB");

    let bytes = std::fs::read(&table).unwrap();
    let native = best_of(5, || {
        let out = CsvValidator::validate(Input {
            content: &bytes,
            content_type: "text/csv",
            config: &config,
            ..Input::default()
        })
        .unwrap();
        assert!(
            out.findings.iter().all(|f| f.severity != Severity::Error),
            "{:?}",
            &out.findings[..out.findings.len().min(3)]
        );
    });
    drop(bytes);

    let runtime = Runtime::new(None).unwrap();
    let limits = Limits {
        timeout: Duration::from_secs(3600),
        ..Limits::default()
    };
    let registry = PluginRegistry::builtin(&runtime, limits).unwrap();
    let plugin = registry.get("csv").unwrap();
    let document = Document::open(&table).unwrap();
    let input = CallInput {
        document: &document,
        content_type: "text/csv",
        config: &config,
        ruleset: None,
        files: &[],
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

    let (process, rss, code) = check_process(dir.path(), &table, &workflow);
    assert_eq!(code, 0, "validibot check did not PASS");
    println!("| path | seconds | MB/s | vs native |");
    println!("|---|---:|---:|---:|");
    for (name, s) in [
        ("native crate (in memory)", native),
        ("WASM, streamed from the file", wasm),
        ("`validibot check` (whole process)", process),
    ] {
        println!("| {name} | {s:.2} | {:.0} | {:.2}× |", mb / s, s / native);
    }
    println!("`validibot check` peak RSS: {rss:.0} MiB; warnings: {warnings:?}");
}
