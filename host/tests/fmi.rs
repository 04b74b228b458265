//! The FMI validator: its image built locally (`deploy/validators/fmi/build.sh`: the
//! Rust validator on the debootstrap base), registered from the Pro catalog, and
//! FMUs built here from C source run through the real binary and a real Docker
//! engine: the analytic decay model (FMI 2.0 and 3.0), NaN, a hang, a malformed zip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::pro::serve_with_catalog_image;
use common::{first_step_output as output, Server};
use serde_json::{json, Value};

const IMAGE: &str = "validibot/validator-fmi:1.0";
const FMU: &str = "application/vnd.fmi.fmu";

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn build_image() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("deploy/validators/fmi/build.sh"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "building the FMI image failed (needs root, debootstrap, Docker, cargo): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
}

fn fmus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("validibot-host-fmus-{}", std::process::id()));
        let status = Command::new("python3")
            .arg(repo().join("deploy/validators/fmi/testdata/build_fmus.py"))
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "building the test FMUs (python3 and cc)");
        dir
    })
}

fn fmu(name: &str) -> Vec<u8> {
    std::fs::read(fmus().join(name)).unwrap()
}

fn simulate(server: &Server, key: &str, workflow: &str, body: Vec<u8>) -> Value {
    let started = Instant::now();
    let (status, run) = server.launch(key, workflow, FMU, body);
    assert!(status == 201 || status == 202, "{status} {run}");
    let run = server.wait_run(key, run["url"].as_str().unwrap(), Duration::from_secs(120));
    eprintln!("fmi run: {} in {:?}", run["result"], started.elapsed());
    run
}

#[test]
fn fmi_checks_and_simulates_in_its_container() {
    let image_id = build_image();
    let (_inst, server, admin, registered) = serve_with_catalog_image(IMAGE, image_id);
    assert_eq!(registered["limits"]["tmpfs_exec"], true, "{registered}");
    server.create_workflow(
        &admin,
        &json!({"slug": "fmu", "constants": {"min_x": 0.13, "max_x": 0.14},
            "steps": [{"key": "simulate", "validator": "fmi", "config": {"wall_clock_limit_s": 3},
            // The final value within bounds, where the simulation got that far.
            "assertions": [{"expr": "outputs['final.x'] >= consts.min_x && outputs['final.x'] <= consts.max_x",
                            "when": "'final.x' in outputs", "code": "fmu.final_x",
                            "message": "x(2) = {{ outputs['final.x'] }}"}]}]}),
    );
    server.create_workflow(
        &admin,
        &json!({"slug": "fmu-bounded", "steps": [{"key": "simulate", "validator": "fmi",
            "config": {"parameters": {"k": 0.5}, "bounds": {"x": {"min": 0.5}}}}]}),
    );

    // x(2) = exp(-2) for both FMI versions, from the FMU's own library in the container.
    for name in ["decay2.fmu", "decay3.fmu"] {
        let run = simulate(&server, &admin, "fmu", fmu(name));
        assert_eq!(run["result"], "PASS", "{name}: {run}");
        let x = output(&run, "final.x").as_f64().unwrap();
        assert!((x - (-2.0f64).exp()).abs() < 1e-9, "{name}: x(2) = {x}");
        assert_eq!(output(&run, "simulation.steps"), 200);
        assert_eq!(run["steps"][0]["findings"], json!([]), "{name}: {run}");
    }
    // Step config: k = 0.5 keeps x above 0.5 until t = 2 ln 2 ≈ 1.386.
    let run = simulate(&server, &admin, "fmu-bounded", fmu("decay2.fmu"));
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(
        common::finding_codes(&run),
        ["fmi.simulation.out_of_bounds"],
        "{run}"
    );

    let run = simulate(&server, &admin, "fmu", fmu("nan.fmu"));
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(
        common::finding_codes(&run),
        ["fmi.simulation.non_finite"],
        "{run}"
    );

    let started = Instant::now();
    let run = simulate(&server, &admin, "fmu", fmu("hang.fmu"));
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(
        common::finding_codes(&run),
        ["fmi.simulation.timeout"],
        "{run}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the wall-clock limit holds"
    );

    let run = simulate(&server, &admin, "fmu", fmu("malformed.fmu"));
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(
        common::finding_codes(&run),
        ["fmi.archive.invalid"],
        "{run}"
    );
}
