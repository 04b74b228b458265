//! Schematron: the built-in `schematron` validator (WASM, warm instance) and the same
//! crate called natively, against the reference engine — SaxonC-HE running the ISO
//! skeleton's compiled stylesheet (`plugins/schematron/tests/reference.py`) — run directly
//! on the host in the same run, on UBL invoices of 4 KB, ~50 KB and ~1 MB and the fixtures'
//! 50 rules.
//!
//!     pip install saxonche==13.1.1 lxml==6.2.0
//!     cargo bench -p validibot --bench schematron
//!
//! Saxon compiles the schema and parses the document once and times the transform
//! alone; the built-in compiles once per config too, and its time includes parsing the
//! document. All three must agree on the number of results.

mod timing;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

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

/// Lines added to the fixtures' invoice: none (4 KB, an ordinary invoice), 100 (~50 KB)
/// and 2,100 (~1 MB, the size), with the calls timed at each.
const SIZES: [(usize, usize); 3] = [(0, 20), (100, 10), (2_100, 3)];

fn main() {
    let config: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("config.json")).unwrap()).unwrap();
    let schema = config["schema"].as_str().unwrap().to_owned();
    let rules = schema.matches("<assert ").count() + schema.matches("<report ").count();
    let config = json!({ "schema": schema }).to_string();
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("invoice.sch");
    std::fs::write(&schema_path, &schema).unwrap();

    let runtime = Runtime::new(None).unwrap();
    // A 1 MB document with these rules takes longer than the default 5 s call deadline.
    let deadline = std::time::Duration::from_secs(120);
    let limits = Limits {
        timeout: deadline,
        ..Limits::default()
    };
    let registry = PluginRegistry::builtin(&runtime, limits).unwrap();
    let plugin = registry.get("schematron").unwrap();

    println!("{rules} rules (asserts and reports); p50 ms per validation");
    println!("| invoice | results | Saxon (host; compiled, document pre-parsed) | schematron, native | vs Saxon | schematron, WASM built-in | vs Saxon |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut saxon_version = String::new();
    for (lines, iterations) in SIZES {
        let doc = invoice(lines);
        let doc_path = dir.path().join(format!("invoice-{lines}.xml"));
        std::fs::write(&doc_path, &doc).unwrap();
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
            plugin.validate(&input, deadline).unwrap()
        };
        let wasm_first = wasm();
        assert!(
            wasm_first.findings.len() as u64 >= results.min(1000),
            "the WASM built-in reports as many findings as the crate"
        );
        let native_ms = timing::p50_ms(iterations, &|| {
            native();
        });
        let wasm_ms = timing::p50_ms(iterations, &|| {
            wasm();
        });

        let out = Command::new("python3")
            .arg(fixtures().join("../tests/reference.py"))
            .arg(&schema_path)
            .arg("")
            .arg(iterations.to_string())
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
        saxon_version = reference["saxon"].as_str().unwrap_or("Saxon").to_owned();
        assert_eq!(
            saxon_results, results,
            "Saxon and the built-in disagree on the number of results"
        );
        println!(
            "| {} KB ({} lines) | {results} | {saxon_ms:.1} | {native_ms:.1} | {:.2} | {wasm_ms:.1} | {:.2} |",
            doc.len() / 1000,
            doc.matches("<cac:InvoiceLine>").count(),
            native_ms / saxon_ms,
            wasm_ms / saxon_ms
        );
    }
    println!(
        "Saxon: {saxon_version}, ISO skeleton stylesheet; both engines agree on every result count"
    );
}
