//! The cost of a step's assertions: `cargo bench -p validibot --bench assertions`.
//!
//! A ~2 KB invoice through the JSON Schema step (the baseline, timed in the same run),
//! then its assertions as the step loop evaluates them — the rules config built from
//! the step, its outputs and the run's context, and the sandboxed evaluator's call —
//! with 1 and with 10 assertions. Calls alternate, so all sides see the same machine.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use validibot_engines::plugins::{CallInput, Document, Limits, PluginRegistry, Runtime};
use validibot_services::workflows::assertions;
use validibot_services::workflows::context::{RunContext, StepFacts};
use validibot_store::workflows::{Assertion, Step};
use validibot_types::{Output, StepStatus};

fn invoice(lines: usize) -> Vec<u8> {
    let items: Vec<Value> = (0..lines)
        .map(|i| json!({"sku": format!("ABC-{i:06}"), "qty": 1 + i % 9, "unit_price": 1.25, "note": "padding padding"}))
        .collect();
    serde_json::to_vec(&json!({"id": "INV-000001", "customer": {"name": "A", "email": "a@example.org"}, "lines": items, "total": 1.0})).unwrap()
}

/// Ten assertions of the kinds people write: over the document, the step's outputs,
/// an earlier step, the metadata and the constants.
const EXPRESSIONS: [&str; 10] = [
    "doc.lines.all(l, l.qty <= consts.max_qty)",
    "outputs.error_count == 0",
    "size(doc.lines) >= 1",
    "doc.total >= 0.0",
    "doc.id.startsWith('INV-')",
    "doc.customer.email.contains('@')",
    "meta.source == 'erp'",
    "steps.count.status == 'PASSED'",
    "doc.lines.exists(l, l.unit_price > 1.0)",
    "!has(doc.currency) || doc.currency == consts.currency",
];

fn step(n: usize) -> Step {
    Step {
        position: 1,
        key: "schema".into(),
        name: "schema".into(),
        validator: "json-schema".into(),
        validator_version: String::new(),
        config: json!({}),
        config_text: "{}".into(),
        ruleset: None,
        assertions: EXPRESSIONS[..n]
            .iter()
            .map(|e| Assertion {
                expr: (*e).into(),
                code: None,
                message: Some("failed: {{ outputs.error_count }}".into()),
                severity: None,
                when: None,
            })
            .collect(),
        depends_on: None,
        on_failure: Default::default(),
        run_when: None,
        files: vec![],
    }
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workflow: Value = serde_json::from_slice(
        &std::fs::read(root.join("examples/invoice-workflow.json")).unwrap(),
    )
    .unwrap();
    let schema_config = workflow["steps"][0]["config"].to_string();
    let runtime = Runtime::new(None).unwrap();
    let registry = PluginRegistry::builtin(&runtime, Limits::default()).unwrap();
    let schema = registry.get("json-schema").unwrap();
    let evaluator = registry.get(assertions::EVALUATOR).unwrap();
    let doc = invoice(28);
    let ctx = RunContext {
        steps: vec![StepFacts {
            key: "count".into(),
            status: StepStatus::Passed,
            outputs: vec![],
        }],
        meta: json!({"source": "erp"}),
        consts: json!({"max_qty": 9, "currency": "EUR"})
            .as_object()
            .unwrap()
            .clone(),
    };
    let outputs = vec![Output {
        name: "error_count".into(),
        value: json!(0),
        unit: None,
    }];
    let steps = [step(1), step(10)];

    let document = Document::from(doc.clone());
    let call_schema = || {
        let input = CallInput {
            document: &document,
            content_type: "application/json",
            config: &schema_config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        };
        let out = schema.validate(&input, Duration::from_secs(30)).unwrap();
        assert!(out.findings.is_empty(), "{:?}", out.findings);
    };
    let call_assertions = |step: &Step| {
        let variables = assertions::run_variables(&outputs, &ctx);
        let config = assertions::config(step, "json", variables).to_string();
        let input = CallInput {
            document: &document,
            content_type: "application/json",
            config: &config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        };
        let out = evaluator.validate(&input, Duration::from_secs(30)).unwrap();
        assert!(out.findings.is_empty(), "{:?}", out.findings);
    };
    let iterations = 5000;
    for _ in 0..200 {
        call_schema();
        steps.iter().for_each(call_assertions);
    }
    let mut hs: Vec<Histogram<u64>> = (0..3).map(|_| Histogram::new(3).unwrap()).collect();
    for _ in 0..iterations {
        let t = Instant::now();
        call_schema();
        hs[0].record(t.elapsed().as_nanos() as u64).unwrap();
        for (i, s) in steps.iter().enumerate() {
            let t = Instant::now();
            call_assertions(s);
            hs[i + 1].record(t.elapsed().as_nanos() as u64).unwrap();
        }
    }
    let p = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "document: {:.1} KB JSON, {iterations} calls each, alternating",
        doc.len() as f64 / 1024.0
    );
    println!("| what | p50 µs | p99 µs | vs the JSON Schema step (p50) |");
    println!("|---|---:|---:|---:|");
    let base = p(&hs[0], 0.5);
    for (name, h) in [
        "JSON Schema step (baseline)",
        "1 assertion",
        "10 assertions",
    ]
    .iter()
    .zip(&hs)
    {
        println!(
            "| {name} | {:.1} | {:.1} | {:.2}× |",
            p(h, 0.5),
            p(h, 0.99),
            p(h, 0.5) / base
        );
    }
    let (one, ten) = (p(&hs[1], 0.5), p(&hs[2], 0.5));
    println!(
        "per assertion, all costs included (10 assertions / 10): {:.1} µs",
        ten / 10.0
    );
    println!(
        "per added assertion ((10 − 1) / 9): {:.1} µs",
        (ten - one) / 9.0
    );
}
