//! SHACL: the built-in `shacl` validator (WASM, warm instance) and the same crate called
//! natively, against pySHACL — the reference engine — run directly on the host in the
//! same run, on one generated building model (about 10,000 triples) and 20 shapes.
//!
//!     pip install pyshacl==0.40.1
//!     cargo bench -p validibot --bench shacl
//!
//! pySHACL loads the graphs once and times `validate()` alone, so both sides compare
//! validation, not start-up. All three must agree on the number of results.

mod timing;

use std::fmt::Write as _;
use std::process::Command;

use serde_json::json;
use validibot_engines::plugins::{CallInput, Document, Limits, PluginRegistry, Runtime};
use validibot_plugin_api::{Input, Validator};
use validibot_plugin_shacl::ShaclValidator;

const PREFIXES: &str = "@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix brick: <https://brickschema.org/schema/Brick#> .
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix bldg: <urn:example:building#> .
@prefix s: <urn:example:shapes#> .
";

/// Sites → floors → zones, one AHU per floor, and points on zones; every 97th point
/// and every 31st zone break a rule.
fn building(points: usize) -> String {
    let mut t = String::from(PREFIXES);
    t.push_str("brick:Supply_Air_Temperature_Sensor rdfs:subClassOf brick:Temperature_Sensor .\nbrick:Temperature_Sensor rdfs:subClassOf brick:Point .\nbrick:Temperature_Setpoint rdfs:subClassOf brick:Point .\n");
    let zones = points / 4;
    for z in 0..zones {
        let floor = z / 10;
        let label = if z % 31 == 0 {
            String::new()
        } else {
            format!(" ; rdfs:label \"Zone {z}\"")
        };
        let area = if z % 31 == 5 { "-1.0" } else { "42.5" };
        writeln!(t, "bldg:zone{z} a brick:HVAC_Zone ; brick:isPartOf bldg:floor{floor} ; brick:area {area}{label} .").unwrap();
        if z % 10 == 0 {
            writeln!(t, "bldg:floor{floor} a brick:Floor ; rdfs:label \"Floor {floor}\" ; brick:isPartOf bldg:site .").unwrap();
            writeln!(t, "bldg:ahu{floor} a brick:AHU ; brick:feeds bldg:zone{z} ; brick:hasPoint bldg:p{z}_0 .").unwrap();
        }
    }
    writeln!(t, "bldg:site a brick:Site ; rdfs:label \"Campus\" .").unwrap();
    for p in 0..points {
        let z = p / 4;
        let bad = p % 97 == 0;
        let (class, value) = match p % 4 {
            0 => (
                "brick:Supply_Air_Temperature_Sensor",
                if bad { "99.0" } else { "18.5" },
            ),
            1 | 2 => ("brick:Temperature_Sensor", "21.0"),
            _ => (
                "brick:Temperature_Setpoint",
                if bad { "5.0" } else { "21.5" },
            ),
        };
        let unit = if bad { "unit:DEG_R" } else { "unit:DEG_C" };
        let id = if bad {
            format!("X{p}")
        } else {
            format!("TS-{:05}", p)
        };
        writeln!(t, "bldg:p{z}_{} a {class} ; brick:isPointOf bldg:zone{z} ; brick:hasUnit {unit} ; brick:value {value} ; brick:identifier \"{id}\" ; rdfs:label \"Point {p}\"@en .", p % 4).unwrap();
    }
    t
}

/// 20 shapes: node and property shapes over the classes above, with cardinality,
/// datatype, range, pattern, sh:in, sh:class, paths, sh:or, sh:not and qualified shapes.
fn shapes() -> String {
    let mut t = String::from(PREFIXES);
    t.push_str(r#"
s:Site a sh:NodeShape ; sh:targetClass brick:Site ; sh:property s:label1 .
s:label1 sh:path rdfs:label ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:string .
s:Floor a sh:NodeShape ; sh:targetClass brick:Floor ; sh:property s:label1 , s:floorSite .
s:floorSite sh:path brick:isPartOf ; sh:minCount 1 ; sh:class brick:Site .
s:Zone a sh:NodeShape ; sh:targetClass brick:HVAC_Zone ; sh:property s:label1 , s:zoneFloor , s:area , s:zoneSite .
s:zoneFloor sh:path brick:isPartOf ; sh:minCount 1 ; sh:maxCount 1 ; sh:class brick:Floor .
s:area sh:path brick:area ; sh:datatype xsd:decimal ; sh:minExclusive 0 ; sh:maxInclusive 100000 .
s:zoneSite sh:path ( brick:isPartOf brick:isPartOf ) ; sh:minCount 1 ; sh:class brick:Site .
s:Point a sh:NodeShape ; sh:targetClass brick:Point ; sh:property s:pointOf , s:unit , s:ident , s:pointLabel , s:value ; sh:not s:Orphan .
s:pointOf sh:path brick:isPointOf ; sh:minCount 1 ; sh:nodeKind sh:IRI ; sh:or ( [ sh:class brick:HVAC_Zone ] [ sh:class brick:AHU ] ) .
s:unit sh:path brick:hasUnit ; sh:minCount 1 ; sh:in ( unit:DEG_C unit:DEG_F unit:K ) .
s:ident sh:path brick:identifier ; sh:maxCount 1 ; sh:pattern "^TS-[0-9]{5}$" ; sh:maxLength 12 .
s:pointLabel sh:path rdfs:label ; sh:uniqueLang true ; sh:languageIn ( "en" "fr" ) .
s:value sh:path brick:value ; sh:maxCount 1 ; sh:datatype xsd:decimal .
s:Orphan a sh:NodeShape ; sh:property [ sh:path brick:isPointOf ; sh:maxCount 0 ] .
s:Setpoint a sh:NodeShape ; sh:targetClass brick:Temperature_Setpoint ; sh:property s:setpointValue .
s:setpointValue sh:path brick:value ; sh:minInclusive 10 ; sh:maxInclusive 35 ; sh:severity sh:Warning .
s:SAT a sh:NodeShape ; sh:targetClass brick:Supply_Air_Temperature_Sensor ; sh:property [ sh:path brick:value ; sh:minInclusive 5 ; sh:maxInclusive 45 ] .
s:AHU a sh:NodeShape ; sh:targetClass brick:AHU ; sh:property [ sh:path brick:feeds ; sh:minCount 1 ; sh:class brick:HVAC_Zone ] , [ sh:path brick:hasPoint ; sh:qualifiedValueShape [ sh:class brick:Supply_Air_Temperature_Sensor ] ; sh:qualifiedMinCount 1 ] .
s:Fed a sh:NodeShape ; sh:targetObjectsOf brick:feeds ; sh:class brick:HVAC_Zone ; sh:property [ sh:path [ sh:inversePath brick:isPointOf ] ; sh:minCount 1 ] .
"#);
    t
}

fn main() {
    let data = building(1400);
    let shapes = shapes();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.ttl"), &data).unwrap();
    std::fs::write(dir.path().join("shapes.ttl"), &shapes).unwrap();
    let config = json!({ "shapes": shapes }).to_string();

    let native = || {
        ShaclValidator::validate(Input {
            content: data.as_bytes(),
            content_type: "text/turtle",
            config: &config,
            ruleset: None,
            files: &[],
        })
        .unwrap()
    };
    let first = native();
    let output = |name: &str| {
        first
            .outputs
            .iter()
            .find(|o| o.name == name)
            .unwrap()
            .value
            .clone()
    };
    let triples = output("triple_count");
    let results =
        output("violation_count").as_u64().unwrap() + output("warning_count").as_u64().unwrap();
    let shape_count = output("shape_count");

    let runtime = Runtime::new(None).unwrap();
    let registry = PluginRegistry::builtin(&runtime, Limits::default()).unwrap();
    let plugin = registry.get("shacl").unwrap();
    let document = Document::from(data.clone().into_bytes());
    let wasm = || {
        let input = CallInput {
            document: &document,
            content_type: "text/turtle",
            config: &config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        };
        plugin
            .validate(&input, std::time::Duration::from_secs(60))
            .unwrap()
    };
    let wasm_first = wasm();
    let iterations = 20;
    let native_ms = timing::p50_ms(iterations, &|| {
        native();
    });
    let wasm_ms = timing::p50_ms(iterations, &|| {
        wasm();
    });

    let script = format!(
        r#"
import time, statistics, rdflib, pyshacl
d = rdflib.Graph().parse(r"{dir}/data.ttl", format="turtle")
s = rdflib.Graph().parse(r"{dir}/shapes.ttl", format="turtle")
times = []
for _ in range(5):
    t = time.perf_counter()
    conforms, report, _ = pyshacl.validate(d, shacl_graph=s, inference="none", advanced=False)
    times.append((time.perf_counter() - t) * 1000)
n = len(list(report.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/shacl#ValidationResult"))))
print(statistics.median(times), n, pyshacl.__version__)
"#,
        dir = dir.path().display()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "pySHACL is needed (pip install pyshacl==0.40.1): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut fields = text.split_whitespace();
    let py_ms: f64 = fields.next().unwrap().parse().unwrap();
    let py_results: u64 = fields.next().unwrap().parse().unwrap();
    let py_version = fields.next().unwrap_or("?");
    assert_eq!(
        py_results, results,
        "pySHACL and the built-in disagree on the number of results"
    );
    let wasm_findings = wasm_first.findings.len();
    println!("{triples} triples, {shape_count} shapes (20 named), {results} results (pySHACL {py_version} agrees; WASM {wasm_findings} findings)");
    println!("| engine | p50 ms per validation | vs pySHACL |");
    println!("|---|---:|---:|");
    println!("| pySHACL {py_version} (host, graphs pre-parsed) | {py_ms:.1} | 1.00 |");
    println!(
        "| shacl, native (parse + validate) | {native_ms:.1} | {:.3} |",
        native_ms / py_ms
    );
    println!(
        "| shacl, WASM built-in (parse + validate) | {wasm_ms:.1} | {:.3} |",
        wasm_ms / py_ms
    );
}
