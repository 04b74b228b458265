//! Schematron: the built-in `schematron` validator (WASM, warm instance) and the same
//! crate called natively, against the reference engine — SaxonC-HE running the ISO
//! skeleton's compiled stylesheet (`plugins/schematron/tests/reference.py`) — run directly
//! on the host in the same run, on a 1 MB UBL invoice and the fixtures' 50 rules.
//!
//!     pip install saxonche==13.1.1 lxml==6.2.0
//!     cargo bench -p validibot --bench schematron
//!
//! Saxon compiles the schema and parses the document once and times the transform
//! alone; the built-in compiles once per config too, and its time includes parsing the
//! document. All three must agree on the number of results.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};
use validibot_engines::plugins::{CallInput, Document, Limits, PluginRegistry, Runtime};
use validibot_plugin_api::{Input, Validator};
use validibot_plugin_schematron::SchematronValidator;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/schematron/fixtures")
}

/// The fixtures' good invoice with `lines` more lines; every 97th has an amount that is
/// not quantity × price and every 53rd an unknown unit code (so the totals fail too).
fn invoice(lines: usize) -> String {
    let good = std::fs::read_to_string(fixtures().join("good.xml")).unwrap();
    let mut extra = String::new();
    for n in 0..lines {
        let quantity = 1 + n % 40;
        let price = 1.0 + (n % 500) as f64 / 4.0;
        let amount = if n % 97 == 0 {
            price
        } else {
            quantity as f64 * price
        };
        let unit = if n % 53 == 0 { "XYZ" } else { "C62" };
        write!(extra, "\n  <cac:InvoiceLine>\n    <cbc:ID>{}</cbc:ID>\n    <cbc:InvoicedQuantity unitCode=\"{unit}\">{quantity}</cbc:InvoicedQuantity>\n    <cbc:LineExtensionAmount currencyID=\"EUR\">{amount:.2}</cbc:LineExtensionAmount>\n    <cac:Item><cbc:Name>Part {n}</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent></cac:ClassifiedTaxCategory></cac:Item>\n    <cac:Price><cbc:PriceAmount currencyID=\"EUR\">{price:.2}</cbc:PriceAmount></cac:Price>\n  </cac:InvoiceLine>", 10 + n).unwrap();
    }
    good.replacen("\n</Invoice>", &format!("{extra}\n</Invoice>"), 1)
}

fn main() {
    let config: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("config.json")).unwrap()).unwrap();
    let schema = config["schema"].as_str().unwrap().to_owned();
    let rules = schema.matches("<assert ").count() + schema.matches("<report ").count();
    let doc = invoice(2_100);
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("invoice.sch");
    let doc_path = dir.path().join("invoice.xml");
    std::fs::write(&schema_path, &schema).unwrap();
    std::fs::write(&doc_path, &doc).unwrap();
    let config = json!({ "schema": schema }).to_string();

    let native = || {
        SchematronValidator::validate(Input {
            content: doc.as_bytes(),
            content_type: "application/xml",
            config: &config,
            ruleset: None,
            files: &[],
        })
        .unwrap()
    };
    let first = native();
    let count = |name: &str| {
        first
            .outputs
            .iter()
            .find(|o| o.name == name)
            .unwrap()
            .value
            .as_u64()
            .unwrap()
    };
    let results = count("failed_assert_count") + count("successful_report_count");

    let runtime = Runtime::new(None).unwrap();
    // A 1 MB document with these rules takes longer than the default 5 s call deadline.
    let limits = Limits {
        timeout: std::time::Duration::from_secs(120),
        ..Limits::default()
    };
    let registry = PluginRegistry::builtin(&runtime, limits).unwrap();
    let plugin = registry.get("schematron").unwrap();
    let document = Document::from(doc.clone().into_bytes());
    let wasm = || {
        let input = CallInput {
            document: &document,
            content_type: "application/xml",
            config: &config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        };
        plugin
            .validate(&input, std::time::Duration::from_secs(120))
            .unwrap()
    };
    let wasm_first = wasm();
    let iterations = 3;
    let time = |f: &dyn Fn()| {
        let mut ms: Vec<f64> = (0..iterations)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        ms[ms.len() / 2]
    };
    let native_ms = time(&|| {
        native();
    });
    let wasm_ms = time(&|| {
        wasm();
    });

    let out = Command::new("python3")
        .arg(fixtures().join("../tests/reference.py"))
        .arg(&schema_path)
        .arg("")
        .arg("5")
        .arg(&doc_path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "the reference engine is needed (pip install saxonche==13.1.1 lxml==6.2.0): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Value = serde_json::from_slice(&out.stdout).unwrap();
    let saxon_ms = reference["ms"][0].as_f64().unwrap();
    let saxon_results = reference["results"][0].as_array().unwrap().len() as u64;
    let saxon = reference["saxon"].as_str().unwrap_or("Saxon");
    assert_eq!(
        saxon_results, results,
        "Saxon and the built-in disagree on the number of results"
    );
    println!(
        "{:.2} MB invoice, {rules} rules (asserts and reports), {results} results ({saxon} agrees; WASM {} findings incl. truncation)",
        doc.len() as f64 / 1_000_000.0,
        wasm_first.findings.len()
    );
    println!("| engine | p50 ms per validation | vs Saxon |");
    println!("|---|---:|---:|");
    println!("| {saxon}, ISO skeleton stylesheet (host; compiled, document pre-parsed) | {saxon_ms:.1} | 1.00 |");
    println!(
        "| schematron, native (parse + validate) | {native_ms:.1} | {:.3} |",
        native_ms / saxon_ms
    );
    println!(
        "| schematron, WASM built-in (parse + validate) | {wasm_ms:.1} | {:.3} |",
        wasm_ms / saxon_ms
    );
}
