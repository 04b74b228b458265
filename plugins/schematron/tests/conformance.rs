//! The Schematron conformance suite (`schxslt-conformance/`, MIT; see its README): every
//! case through the validator. A case passes when each of its schemas gives the expected
//! outcome — `valid` (no failed assert, no fired report), `invalid`, or `error` (the
//! schema refused at save or at run, or an XPath error) — and, for the SVRL cases, when
//! the case's XPath expectations hold over an SVRL rendering of the findings.
//!
//! The cases this validator fails are listed with the reason in [`KNOWN_FAILURES`]; the
//! test fails when any other case fails, and when a listed one starts passing, so the
//! list and the pass rate in `docs/validators/schematron.md` stay true.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};
use validibot_plugin_api::xml::standalone_element;
use validibot_plugin_api::{Input, Outcome, StepFile, Validator};
use validibot_plugin_schematron::SchematronValidator;
use xee_xpath::context::StaticContextBuilder;
use xee_xpath::{Documents, Queries, Query};

const SVRL: &str = "http://purl.oclc.org/dsdl/svrl";

/// The cases this validator fails (file stem), and why.
const KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "extends-baseuri-fixup-01",
        "its rule calls XSLT's document() to read a file: rules are XPath here and nothing \
         is fetched, so the schema is refused (unknown function)",
    ),
    (
        "include-baseuri-fixup-01",
        "as extends-baseuri-fixup-01: document() in the included rule",
    ),
    (
        "let-pattern-global-01",
        "a pattern's let is in scope in that pattern only (the ISO skeleton makes it global); \
         using it in another pattern is refused at save as an undefined variable, so such a \
         schema never runs with another meaning",
    ),
    (
        "pattern-subordinate-document-01",
        "pattern/@documents is refused at save: a validator reads the submission, nothing else",
    ),
    (
        "svrl-diagnostic-02",
        "a diagnostic's xml:lang is not carried into the finding (meta.diagnostics maps id to text)",
    ),
    (
        "svrl-name-path-01",
        "<name path=\"@attribute\"/> gives the name of the node the path selects \
         (\"attribute\"), as Saxon running the ISO skeleton does; the case expects its value",
    ),
    (
        "svrl-value-of-01",
        "the case's value-of selects a child named element of /element, which has none: the \
         text is empty here and in Saxon running the ISO skeleton; the case expects the \
         element's own text",
    ),
];

struct Case {
    name: String,
    label: String,
    expect: String,
    primary: String,
    /// Secondary files (included schema parts, subordinate documents) by file name.
    files: Vec<(String, String)>,
    /// One schema per query binding the case is written for; each must give `expect`.
    schemas: Vec<String>,
    phase: Option<String>,
    /// XPath over the SVRL report (prefix `svrl`).
    expectations: Vec<String>,
}

fn elements<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children()
        .filter(|c| c.is_element() && c.tag_name().name() == name)
        .collect()
}

fn one<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    elements(n, name).into_iter().next()
}

fn first_element<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> roxmltree::Node<'a, 'i> {
    n.children().find(|c| c.is_element()).expect("an element")
}

fn read(path: &std::path::Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    let documents = one(root, "documents").expect("documents");
    let primary = one(documents, "primary").expect("a primary document");
    let schemas = one(root, "schemas").expect("schemas");
    Case {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        label: one(root, "label")
            .and_then(|l| l.text())
            .unwrap_or("")
            .to_owned(),
        expect: root.attribute("expect").unwrap().to_owned(),
        primary: standalone_element(first_element(primary)),
        files: elements(documents, "secondary")
            .into_iter()
            .map(|s| {
                let name = s.attribute("filename").unwrap().to_owned();
                (name, standalone_element(first_element(s)))
            })
            .collect(),
        schemas: schemas
            .children()
            .filter(|c| c.is_element())
            .map(|s| standalone_element(s))
            .collect(),
        phase: schemas.attribute("phase").map(str::to_owned),
        expectations: one(root, "expectations")
            .map(|e| {
                elements(e, "expectation")
                    .into_iter()
                    .map(|x| x.attribute("test").unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn count(out: &Outcome, name: &str) -> Option<u64> {
    out.outputs
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| o.value.as_u64())
}

/// The outcome (`valid`, `invalid` or `error`), what it rests on, and the findings.
fn run(case: &Case, schema: &str) -> (&'static str, String, Option<Outcome>) {
    let mut config = json!({ "schema": schema });
    if let Some(phase) = &case.phase {
        config["phase"] = json!(phase);
    }
    if let Err(findings) = SchematronValidator::validate_config(&config) {
        return ("error", format!("refused at save: {findings:?}"), None);
    }
    let files: Vec<StepFile> = case
        .files
        .iter()
        .map(|(name, text)| {
            StepFile::from_bytes(name, "application/xml", "0", text.as_bytes().to_vec())
        })
        .collect();
    let config = config.to_string();
    let out = match SchematronValidator::validate(Input {
        content: case.primary.as_bytes(),
        content_type: "application/xml",
        config: &config,
        files: &files,
        ..Input::default()
    }) {
        Ok(out) => out,
        Err(e) => return ("error", format!("refused at run: {e:?}"), None),
    };
    if let Some(f) = out
        .findings
        .iter()
        .find(|f| f.code == "schematron.xpath_error")
    {
        return ("error", f.message.clone(), Some(out));
    }
    let (Some(asserts), Some(reports)) = (
        count(&out, "failed_assert_count"),
        count(&out, "successful_report_count"),
    ) else {
        return (
            "error",
            format!("no result counts: {:?}", out.findings),
            None,
        );
    };
    let outcome = if asserts + reports > 0 {
        "invalid"
    } else {
        "valid"
    };
    let detail = format!("{asserts} failed asserts, {reports} fired reports");
    (outcome, detail, Some(out))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The findings as the SVRL report a skeleton implementation would write.
fn svrl(out: &Outcome) -> String {
    let mut s = format!("<svrl:schematron-output xmlns:svrl=\"{SVRL}\">");
    for f in &out.findings {
        let meta = f.meta.clone().unwrap_or(Value::Null);
        let element = match meta["kind"].as_str() {
            Some("assert") => "failed-assert",
            Some("report") => "successful-report",
            _ => continue,
        };
        write!(s, "<svrl:{element} location=\"{}\"", escape(&f.path)).unwrap();
        if !f.code.starts_with("schematron.") {
            write!(s, " id=\"{}\"", escape(&f.code)).unwrap();
        }
        s.push('>');
        for (key, reference, attribute) in [
            ("diagnostics", "diagnostic-reference", "diagnostic"),
            ("properties", "property-reference", "property"),
        ] {
            for (id, text) in meta[key].as_object().into_iter().flatten() {
                let text = escape(text.as_str().unwrap_or_default());
                write!(s, "<svrl:{reference} {attribute}=\"{}\"><svrl:text>{text}</svrl:text></svrl:{reference}>", escape(id)).unwrap();
            }
        }
        write!(
            s,
            "<svrl:text>{}</svrl:text></svrl:{element}>",
            escape(&f.message)
        )
        .unwrap();
    }
    s + "</svrl:schematron-output>"
}

fn holds(report: &str, test: &str) -> Result<bool, String> {
    let mut documents = Documents::new();
    let doc = documents
        .add_string_without_uri(report)
        .map_err(|e| e.to_string())?;
    let mut context = StaticContextBuilder::default();
    context.add_namespace("svrl", SVRL);
    let queries = Queries::new(context);
    let query = queries
        .one(&format!("boolean({test})"), |_, item| {
            Ok(item.try_into_value::<bool>()?)
        })
        .map_err(|e| e.to_string())?;
    query
        .execute(&mut documents, doc)
        .map_err(|e| e.to_string())
}

/// Why the case fails, or None when it passes.
fn failure(case: &Case) -> Option<String> {
    for schema in &case.schemas {
        let (outcome, detail, out) = run(case, schema);
        if outcome != case.expect {
            return Some(format!(
                "expected {}, got {outcome} ({detail})",
                case.expect
            ));
        }
        let Some(out) = out else { continue };
        let report = svrl(&out);
        for test in &case.expectations {
            match holds(&report, test) {
                Ok(true) => {}
                Ok(false) => return Some(format!("{test} is false over {report}")),
                Err(e) => return Some(format!("{test}: {e}")),
            }
        }
    }
    None
}

#[test]
fn the_schematron_conformance_suite() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schxslt-conformance");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    paths.sort();
    let mut failing = Vec::new();
    for path in &paths {
        let case = read(path);
        let why = failure(&case);
        println!(
            "{} {:<34} {}",
            if why.is_some() { "FAIL" } else { "pass" },
            case.name,
            case.label
        );
        if let Some(why) = why {
            println!("     {why}");
            failing.push(case.name);
        }
    }
    println!(
        "{} of {} cases pass",
        paths.len() - failing.len(),
        paths.len()
    );
    let failing: BTreeSet<&str> = failing.iter().map(String::as_str).collect();
    let known: BTreeSet<&str> = KNOWN_FAILURES.iter().map(|(name, _)| *name).collect();
    assert!(paths.len() >= 39, "the suite's cases are in {dir:?}");
    assert_eq!(
        failing, known,
        "the failing cases are not the known ones (update KNOWN_FAILURES and the guide)"
    );
}
