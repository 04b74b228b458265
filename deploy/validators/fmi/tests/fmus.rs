//! The validator binary on FMUs built here from `testdata/models.c` (FMI 2.0 and
//! 3.0 Co-Simulation), outside any container: the analytic decay model against
//! its exact solution, NaN, a hang, a crash, broken rules and hostile archives.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

fn fmus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("validibot-fmi-test-fmus-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/build_fmus.py");
        let status = Command::new("python3")
            .arg(script)
            .arg(&dir)
            .status()
            .expect("python3 is needed");
        assert!(
            status.success(),
            "building the test FMUs (needs python3 and a C compiler)"
        );
        dir
    })
}

fn check(fmu: &str, config: Value) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_validibot-fmi"))
        .arg("check")
        .arg(fmus().join(fmu))
        .arg(config.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn codes(out: &Value) -> Vec<String> {
    out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap().to_owned())
        .collect()
}

fn metric(out: &Value, name: &str) -> f64 {
    out["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["value"].as_f64())
        .unwrap_or_else(|| panic!("no metric {name}: {out}"))
}

#[test]
fn decay_matches_its_exact_solution_in_fmi2_and_fmi3() {
    for fmu in ["decay2.fmu", "decay3.fmu"] {
        let out = check(fmu, json!({}));
        assert_eq!(out["status"], "success", "{fmu}: {out}");
        assert_eq!(codes(&out), Vec::<String>::new(), "{fmu}");
        let x = metric(&out, "final.x");
        assert!((x - (-2.0f64).exp()).abs() < 1e-9, "{fmu}: x(2) = {x}");
        assert_eq!(metric(&out, "simulation.steps"), 200.0);
        // Parameters set before initialization: k = 0.5 over [0, 3] with 0.25 s steps.
        let out = check(
            fmu,
            json!({"parameters": {"k": 0.5}, "stop_time": 3.0, "step_size": 0.25}),
        );
        let x = metric(&out, "final.x");
        assert!((x - (-1.5f64).exp()).abs() < 1e-9, "{fmu}: x(3) = {x}");
        assert_eq!(metric(&out, "simulation.steps"), 12.0);
    }
}

#[test]
fn bounds_declared_and_configured_are_checked_at_every_step() {
    // x0 = 2 starts above x's declared max of 1 and stays there until t = ln 2.
    let out = check("decay2.fmu", json!({"parameters": {"x0": 2.0}}));
    assert_eq!(codes(&out), ["fmi.simulation.out_of_bounds"]);
    let text = out["messages"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("above its max 1") && text.contains("70 samples"),
        "{text}"
    );
    let out = check("decay3.fmu", json!({"bounds": {"x": {"min": 0.5}}}));
    assert_eq!(
        codes(&out),
        ["fmi.simulation.out_of_bounds"],
        "x falls below 0.5 at t = ln 2"
    );
    let out = check(
        "decay3.fmu",
        json!({"bounds": {"nope": {"min": 0.5}}, "parameters": {"x": 1.0}}),
    );
    assert_eq!(
        codes(&out),
        ["fmi.config.unknown_variable", "fmi.config.unknown_variable"]
    );
    let out = check("decay3.fmu", json!({"stop": 1}));
    assert_eq!(codes(&out), ["fmi.config.invalid"]);
}

#[test]
fn nan_hang_and_crash_are_findings() {
    let out = check("nan.fmu", json!({}));
    assert_eq!(codes(&out), ["fmi.simulation.non_finite"]);
    assert!(out["messages"][0]["text"]
        .as_str()
        .unwrap()
        .contains("t=0.5"));
    let started = std::time::Instant::now();
    let out = check("hang.fmu", json!({"wall_clock_limit_s": 1.5}));
    assert_eq!(codes(&out), ["fmi.simulation.timeout"]);
    assert!(
        started.elapsed().as_secs_f64() < 10.0,
        "the limit is enforced"
    );
    let out = check("crash.fmu", json!({}));
    assert_eq!(codes(&out), ["fmi.simulation.crashed"]);
}

#[test]
fn static_problems_stop_before_any_code_runs() {
    let out = check("rules.fmu", json!({}));
    assert_eq!(
        codes(&out),
        [
            "fmi.variables.duplicate_name",
            "fmi.variables.illegal_combination",
            "fmi.variables.missing_start",
            "fmi.variables.start_out_of_range"
        ]
    );
    assert!(
        out["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["name"] != "simulation.steps"),
        "not simulated"
    );
    assert_eq!(
        codes(&check("windows-only.fmu", json!({}))),
        ["fmi.binary.missing"]
    );
    assert_eq!(
        codes(&check("malformed.fmu", json!({}))),
        ["fmi.archive.invalid"]
    );
    assert_eq!(
        codes(&check("bomb.fmu", json!({}))),
        ["fmi.archive.compression_ratio"]
    );
    assert_eq!(
        codes(&check("traversal.fmu", json!({}))),
        ["fmi.archive.unsafe_path"]
    );
    assert_eq!(
        codes(&check("decay2.fmu", json!({"max_fmu_bytes": 100}))),
        ["fmi.archive.too_large"]
    );
}
