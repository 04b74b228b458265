//! JSON Schema through WASM vs the same validator crate called natively, same
//! schema and documents, in one run: `cargo bench -p validibot --bench json_schema`.
//!
//! Both sides keep their compiled schema between calls (native: the crate's
//! cache; WASM: a warm instance's cache), so this compares steady-state calls.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use validibot_engines::plugins::{CallInput, Document, Limits, PluginRegistry, Runtime};
use validibot_plugin_api::{Input, Validator};
use validibot_plugin_json_schema::JsonSchemaValidator;

fn invoice(lines: usize) -> Vec<u8> {
    let items: Vec<Value> = (0..lines)
        .map(|i| json!({"sku": format!("ABC-{i:06}"), "qty": 1 + i % 9, "unit_price": 1.25, "note": "padding padding padding"}))
        .collect();
    serde_json::to_vec(&json!({"id": "INV-000001", "customer": {"name": "A", "email": "a@example.org"}, "lines": items, "total": 1.0})).unwrap()
}

/// Times `native` and `wasm` alternately, call by call, so both see the same
/// machine conditions (frequency, other load); returns (p50, p99) in µs for each.
fn paired(iterations: usize, mut native: impl FnMut(), mut wasm: impl FnMut()) -> [(f64, f64); 2] {
    for _ in 0..(iterations / 10).max(2) {
        native();
        wasm();
    }
    let mut hs = [
        Histogram::<u64>::new(3).unwrap(),
        Histogram::<u64>::new(3).unwrap(),
    ];
    for _ in 0..iterations {
        let t = Instant::now();
        native();
        hs[0].record(t.elapsed().as_nanos() as u64).unwrap();
        let t = Instant::now();
        wasm();
        hs[1].record(t.elapsed().as_nanos() as u64).unwrap();
    }
    hs.map(|h| {
        (
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
        )
    })
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workflow: Value = serde_json::from_slice(
        &std::fs::read(root.join("examples/invoice-workflow.json")).unwrap(),
    )
    .unwrap();
    let config = workflow["steps"][0]["config"].to_string();
    let runtime = Runtime::new(None).unwrap();
    let registry = PluginRegistry::builtin(&runtime, Limits::default()).unwrap();
    let wasm = registry.get("json-schema").unwrap();

    println!("| document | native p50 µs | WASM p50 µs | native p99 µs | WASM p99 µs | WASM / native (p50) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (lines, iterations) in [(11usize, 5000usize), (13_000, 40)] {
        let doc = invoice(lines);
        let native_out = JsonSchemaValidator::validate(Input {
            content: &doc,
            content_type: "application/json",
            config: &config,
            ruleset: None,
            files: &[],
        })
        .unwrap();
        assert!(native_out.findings.is_empty(), "{:?}", native_out.findings);
        let document = Document::from(doc.clone());
        let input = CallInput {
            document: &document,
            content_type: "application/json",
            config: &config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        };
        let [(n50, n99), (w50, w99)] = paired(
            iterations,
            || {
                let out = JsonSchemaValidator::validate(Input {
                    content: &doc,
                    content_type: "application/json",
                    config: &config,
                    ruleset: None,
                    files: &[],
                })
                .unwrap();
                std::hint::black_box(out);
            },
            || {
                let out = wasm.validate(&input, Duration::from_secs(30)).unwrap();
                assert!(out.findings.is_empty());
                std::hint::black_box(out);
            },
        );
        println!(
            "| {:.1} KB ({lines} lines) | {n50:.1} | {w50:.1} | {n99:.1} | {w99:.1} | {:.2}× |",
            doc.len() as f64 / 1024.0,
            w50 / n50
        );
    }
}
