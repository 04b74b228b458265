//! The W3C SHACL test suite's core tests (`tests/w3c/core`): every `sht:Validate`
//! entry is run and its results compared with the expected report — conforms, and the
//! multiset of (focus node, result path, value, constraint component, severity).
//! Blank nodes compare as blank; the source shape is not compared (often a blank node).

use std::path::{Path as FsPath, PathBuf};

use oxrdf::Term;
use oxrdfio::RdfFormat;
use validibot_plugin_shacl::engine::{Engine, ValidationResult};
use validibot_plugin_shacl::graph::{display_term, Graph, Id};
use validibot_plugin_shacl::path::Path;
use validibot_plugin_shacl::shapes::{Severity, Shapes};

const MF: &str = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#";
const SHT: &str = "http://www.w3.org/ns/shacl-test#";
const SH: &str = "http://www.w3.org/ns/shacl#";

/// The suite's core tests this engine passes; raise it when more pass.
const EXPECTED_PASSES: usize = 98;

type Row = (String, String, String, String, String);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/w3c/core")
}

fn iri_of(path: &FsPath) -> String {
    format!("file://{}", path.display())
}

fn load(path: &FsPath) -> Graph {
    let mut g = Graph::default();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    g.load(&bytes, RdfFormat::Turtle, &iri_of(path))
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    g
}

fn iri(g: &Graph, local: &str, ns: &str) -> Option<Id> {
    g.lookup_iri(&format!("{ns}{local}"))
}

fn neutral(term: &Term) -> String {
    match term {
        Term::BlankNode(_) => "_:b".into(),
        other => display_term(other, &[]),
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Violation => "Violation",
        Severity::Warning => "Warning",
        Severity::Info => "Info",
    }
}

/// The manifests under `path`, following `mf:include`.
fn manifests(path: &FsPath, out: &mut Vec<PathBuf>) {
    let g = load(path);
    out.push(path.to_owned());
    if let Some(include) = iri(&g, "include", MF) {
        for &(_, o) in g.with_predicate(include) {
            if let Term::NamedNode(n) = g.term(o) {
                let file = PathBuf::from(n.as_str().strip_prefix("file://").unwrap());
                manifests(&file, out);
            }
        }
    }
}

enum Verdict {
    Pass,
    Fail(String),
}

fn run_entry(manifest: &Graph, entry: Id) -> Verdict {
    let action = manifest
        .object(entry, iri(manifest, "action", MF).unwrap())
        .unwrap();
    let file_of = |p: &str| {
        let node = manifest
            .object(action, iri(manifest, p, SHT).unwrap())
            .unwrap();
        match manifest.term(node) {
            Term::NamedNode(n) => PathBuf::from(n.as_str().strip_prefix("file://").unwrap()),
            other => panic!("{other}"),
        }
    };
    let (data_file, shapes_file) = (file_of("dataGraph"), file_of("shapesGraph"));
    let mut data = load(&data_file);
    let shapes_graph = if shapes_file == data_file {
        data.clone()
    } else {
        load(&shapes_file)
    };
    let result = manifest
        .object(entry, iri(manifest, "result", MF).unwrap())
        .unwrap();
    let failure = iri(manifest, "Failure", SHT).is_some_and(|f| f == result);
    let shapes = match Shapes::read(&shapes_graph, &mut data) {
        Ok(shapes) if failure => {
            return Verdict::Fail(format!(
                "expected a failure, read {} shapes",
                shapes.shapes.len()
            ))
        }
        Err(_) if failure => return Verdict::Pass,
        Err(e) => return Verdict::Fail(format!("shapes refused: {e:?}")),
        Ok(shapes) => shapes,
    };
    let results = Engine::new(&data, &shapes).validate(usize::MAX);
    let mut got: Vec<Row> = results.iter().map(|r| row_of(&data, &shapes, r)).collect();
    let mut want = expected(manifest, result);
    got.sort();
    want.sort();
    let conforms = manifest
        .object(result, iri(manifest, "conforms", SH).unwrap())
        .map(|c| matches!(manifest.term(c), Term::Literal(l) if l.value() == "true"))
        .unwrap_or(false);
    if conforms != results.is_empty() {
        return Verdict::Fail(format!(
            "conforms: expected {conforms}, got {}\n  got {got:#?}",
            results.is_empty()
        ));
    }
    if got != want {
        return Verdict::Fail(format!("results differ\n  want {want:#?}\n  got  {got:#?}"));
    }
    Verdict::Pass
}

fn row_of(data: &Graph, shapes: &Shapes, r: &ValidationResult) -> Row {
    let mut plain = data.clone();
    plain.prefixes.clear();
    (
        neutral(data.term(r.focus)),
        r.path(shapes)
            .map(|p| p.display(&plain))
            .unwrap_or_default(),
        r.value.map(|v| neutral(data.term(v))).unwrap_or_default(),
        r.component.to_owned(),
        match &shapes.shapes[r.shape].severity_iri {
            Some(custom) => format!("<{custom}"),
            None => severity_name(r.severity).to_owned(),
        },
    )
}

fn expected(manifest: &Graph, report: Id) -> Vec<Row> {
    let mut plain = manifest.clone();
    plain.prefixes.clear();
    let Some(result_p) = iri(manifest, "result", SH) else {
        return Vec::new();
    };
    let one =
        |node: Id, local: &str| iri(manifest, local, SH).and_then(|p| manifest.object(node, p));
    manifest
        .objects(report, result_p)
        .iter()
        .map(|&r| {
            let path = one(r, "resultPath")
                .map(|p| {
                    Path::parse(manifest, p, &mut |id| id)
                        .expect("a path")
                        .display(&plain)
                })
                .unwrap_or_default();
            // sh: terms by local name (a custom severity keeps its "<" prefix).
            let local = |p: &str| {
                one(r, p)
                    .map(|c| {
                        display_term(manifest.term(c), &[])
                            .trim_start_matches(&format!("<{SH}"))
                            .trim_end_matches('>')
                            .to_owned()
                    })
                    .unwrap_or_default()
            };
            let (component, severity) =
                (local("sourceConstraintComponent"), local("resultSeverity"));
            (
                one(r, "focusNode")
                    .map(|f| neutral(manifest.term(f)))
                    .unwrap_or_default(),
                path,
                one(r, "value")
                    .map(|v| neutral(manifest.term(v)))
                    .unwrap_or_default(),
                component,
                severity,
            )
        })
        .collect()
}

#[test]
fn w3c_core_suite() {
    let mut files = Vec::new();
    manifests(&root().join("manifest.ttl"), &mut files);
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    for file in files {
        let g = load(&file);
        let (Some(entries), Some(validate), Some(ty)) = (
            iri(&g, "entries", MF),
            iri(&g, "Validate", SHT),
            g.lookup_iri("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        ) else {
            continue;
        };
        for &list in g.with_predicate(entries).iter().map(|(_, o)| o) {
            for entry in g.list(list).unwrap() {
                if !g.has(entry, ty, validate) {
                    continue;
                }
                let name = display_term(g.term(entry), &[]).replace(&iri_of(&root()), "");
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_entry(&g, entry)
                })) {
                    Ok(Verdict::Pass) => passed.push(name),
                    Ok(Verdict::Fail(why)) => failed.push(format!("{name}: {why}")),
                    Err(_) => failed.push(format!("{name}: panicked")),
                }
            }
        }
    }
    let total = passed.len() + failed.len();
    println!("W3C SHACL core: {} of {total} passed", passed.len());
    for f in &failed {
        println!("FAILED {f}");
    }
    assert!(
        total >= 98,
        "the suite has {total} entries; expected the whole core suite"
    );
    assert!(
        passed.len() >= EXPECTED_PASSES,
        "{} of {total} passed, fewer than {EXPECTED_PASSES}",
        passed.len()
    );
}
