//! Differential test against the reference engine: Saxon running the ISO skeleton (see
//! `reference.py`). 120 invoices, each the fixtures' good invoice with a random set of
//! defects (fixed seed) and a random number of extra lines, go through both; every
//! document must give the same results — same assertion ids, same locations, same
//! message text with its `value-of`s resolved.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use validibot_plugin_api::{Input, Validator};
use validibot_plugin_schematron::SchematronValidator;

const CASES: usize = 120;

/// (what it breaks, text in the good invoice, its replacement)
const DEFECTS: &[(&str, &str, &str)] = &[
    ("due before issue", "<cbc:DueDate>2026-12-02", "<cbc:DueDate>2026-10-01"),
    ("no such date", "<cbc:EndDate>2026-10-31", "<cbc:EndDate>2026-13-01"),
    ("country", ">NL<", ">XX<"),
    ("foreign amount", "\"EUR\">350.00", "\"USD\">350.00"),
    ("duplicate line id", "<cbc:ID>3</cbc:ID>", "<cbc:ID>2</cbc:ID>"),
    ("unit", "unitCode=\"HUR\"", "unitCode=\"HRS\""),
    ("subtotal VAT", "<cbc:TaxAmount currencyID=\"EUR\">427.50</cbc:TaxAmount>\n      <cac:TaxCategory", "<cbc:TaxAmount currencyID=\"EUR\">472.50</cbc:TaxAmount>\n      <cac:TaxCategory"),
    ("IBAN", "DE89 3704 0044 0532 0130 00", "DE89-3704"),
    ("three decimals", "<cbc:PayableAmount currencyID=\"EUR\">2677.50<", "<cbc:PayableAmount currencyID=\"EUR\">2677.505<"),
    ("no buyer reference", "<cbc:BuyerReference>PO-7781</cbc:BuyerReference>", ""),
    ("currency code", "<cbc:DocumentCurrencyCode>EUR<", "<cbc:DocumentCurrencyCode>EUX<"),
    ("zero rate", "<cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent></cac:TaxCategory>\n    </cac:TaxSubtotal>", "<cbc:ID>S</cbc:ID><cbc:Percent>0</cbc:Percent></cac:TaxCategory>\n    </cac:TaxSubtotal>"),
    ("no seller name", "<cbc:RegistrationName>Heizwerk Nord GmbH</cbc:RegistrationName>", ""),
    ("zero quantity", ">12000<", ">0<"),
    ("negative price", ">75.00<", ">-75.00<"),
    ("no allowance reason", "<cbc:AllowanceChargeReason>Loyalty discount</cbc:AllowanceChargeReason>", ""),
    ("long postal code", "<cac:PostalAddress><cac:Country><cbc:IdentificationCode>DE", "<cac:PostalAddress><cbc:PostalZone>D-22041-HAMBURG-NORD</cbc:PostalZone><cac:Country><cbc:IdentificationCode>DE"),
    ("type code", ">380<", ">999<"),
    ("line VAT category", "<cbc:Name>Connection fee</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S<", "<cbc:Name>Connection fee</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>X<"),
    ("empty payment terms", "<cbc:Note>30 days net</cbc:Note>", "<cbc:Note> </cbc:Note>"),
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// xorshift64*: a fixed sequence, so a failure names a case that reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn invoice(good: &str, rng: &mut Rng) -> String {
    let mut doc = good.to_owned();
    for (what, from, to) in DEFECTS {
        if rng.below(5) == 0 {
            assert!(doc.contains(from), "defect {what:?} no longer applies");
            doc = doc.replacen(from, to, 1);
        }
    }
    let mut lines = String::new();
    for n in 0..rng.below(12) {
        let quantity = rng.below(50);
        let price = rng.below(20_000) as f64 / 100.0;
        // Every fourth extra line has an amount that does not match quantity × price.
        let amount = if n % 4 == 3 {
            price
        } else {
            quantity as f64 * price
        };
        write!(lines, "\n  <cac:InvoiceLine>\n    <cbc:ID>{}</cbc:ID>\n    <cbc:InvoicedQuantity unitCode=\"C62\">{quantity}</cbc:InvoicedQuantity>\n    <cbc:LineExtensionAmount currencyID=\"EUR\">{amount:.2}</cbc:LineExtensionAmount>\n    <cac:Item><cbc:Name>Part {n}</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent></cac:ClassifiedTaxCategory></cac:Item>\n    <cac:Price><cbc:PriceAmount currencyID=\"EUR\">{price:.2}</cbc:PriceAmount></cac:Price>\n  </cac:InvoiceLine>", 10 + n).unwrap();
    }
    doc.replacen("\n</Invoice>", &format!("{lines}\n</Invoice>"), 1)
}

/// `/p:Invoice[1]/p:Line[2]/@x` and the skeleton's
/// `/*[local-name()='Invoice' and namespace-uri()='…']/*[…][2]/@x` both become
/// `Invoice/Line[2]`; an attribute is compared by its name alone (the XSLT 1 skeleton
/// writes its location as `/@name`).
fn normalize(location: &str) -> String {
    if let Some(at) = location.rfind("/@") {
        return location[at + 1..].to_owned();
    }
    let steps: Vec<String> = location
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|step| {
            let (name, index) = if let Some(rest) = step.strip_prefix("*[local-name()='") {
                let name = &rest[..rest.find('\'').unwrap()];
                let index = rest.rsplit_once("][").map(|(_, i)| i.trim_end_matches(']'));
                (name.to_owned(), index.map(str::to_owned))
            } else {
                let (name, index) = match step.split_once('[') {
                    Some((n, i)) => (n, Some(i.trim_end_matches(']').to_owned())),
                    None => (step, None),
                };
                (name.rsplit(':').next().unwrap().to_owned(), index)
            };
            match index.as_deref() {
                None | Some("1") => name,
                Some(i) => format!("{name}[{i}]"),
            }
        })
        .collect();
    steps.join("/")
}

type Key = (String, String, String);

fn counted(keys: impl Iterator<Item = Key>) -> BTreeMap<Key, usize> {
    let mut m = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

#[test]
fn the_invoice_rules_give_what_saxon_running_the_iso_skeleton_gives() {
    let config: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("config.json")).unwrap()).unwrap();
    let good = std::fs::read_to_string(fixtures().join("good.xml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("invoice.sch");
    std::fs::write(&schema, config["schema"].as_str().unwrap()).unwrap();
    let mut rng = Rng(0x5eed_0f15_5c4e);
    let mut paths = Vec::new();
    let mut ours = Vec::new();
    let config_text = json!({ "schema": config["schema"] }).to_string();
    for case in 0..CASES {
        let doc = invoice(&good, &mut rng);
        let path = dir.path().join(format!("case-{case}.xml"));
        std::fs::write(&path, &doc).unwrap();
        paths.push(path);
        let out = SchematronValidator::validate(Input {
            content: doc.as_bytes(),
            content_type: "application/xml",
            config: &config_text,
            ..Input::default()
        })
        .unwrap();
        assert!(
            out.findings.iter().all(|f| f.code.starts_with("INV-")),
            "case {case}: {:?}",
            out.findings
                .iter()
                .filter(|f| !f.code.starts_with("INV-"))
                .map(|f| format!("{} at {}: {}", f.code, f.path, f.message))
                .collect::<Vec<_>>()
        );
        ours.push(counted(
            out.findings
                .iter()
                .map(|f| (f.code.clone(), normalize(&f.path), f.message.clone())),
        ));
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&schema)
        .arg("")
        .arg("1")
        .args(&paths)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "the reference engine is needed (pip install saxonche lxml): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut total = 0;
    for (case, (mine, theirs)) in ours
        .iter()
        .zip(reference["results"].as_array().unwrap())
        .enumerate()
    {
        let theirs = counted(theirs.as_array().unwrap().iter().map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                normalize(r["location"].as_str().unwrap_or_default()),
                r["text"].as_str().unwrap_or_default().to_owned(),
            )
        }));
        assert_eq!(mine, &theirs, "case {case} differs from the reference");
        total += theirs.values().sum::<usize>();
    }
    assert!(
        total > CASES,
        "the defects must fire: {total} results in {CASES} cases"
    );
    println!(
        "{CASES} invoices, {total} results, identical to {}",
        reference["saxon"]
    );
}
