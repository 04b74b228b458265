//! Container validators through the real binary and a real Docker engine:
//! registration on the allow-list (Pro), workflows with container steps, each
//! typed outcome as a run result, Community refusals, and a worker killed
//! mid-run leaving nothing behind once the sweeper has run.

mod common;

use std::time::{Duration, Instant};

use common::containers::{docker, image};
use common::pro::{payload, pro};
use common::{json_of, Backend, Instance, Server};
use serde_json::{json, Value};

fn register(server: &Server, key: &str, image: &str) -> (u16, Value) {
    json_of(
        server
            .post(key, "/api/v1/validators/containers")
            .json(&json!({ "image": image }))
            .send()
            .unwrap(),
    )
}

fn conformance_workflow(slug: &str, mode: &str, timeout: u64) -> Value {
    json!({
        "slug": slug,
        "timeout_seconds": timeout,
        "content_types": ["application/json"],
        "steps": [{"key": "container", "validator": "conformance", "config": {"mode": mode}}],
    })
}

/// A Pro instance (extension + license with advanced validators and user images).
fn pro_instance(backend: Backend) -> (Instance, String) {
    let pro = pro();
    let inst = Instance::new(backend);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    let file = inst.data.path().join("license.txt");
    std::fs::write(&file, pro.issue(&payload(1, 200, 5), None)).unwrap();
    inst.cli_with_env(
        &["license", "install", file.to_str().unwrap()],
        &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &pro.trusted_key())],
    );
    (inst, admin)
}

fn run_on(server: &Server, key: &str, workflow: &str) -> Value {
    let (status, run) = server.launch(key, workflow, "application/json", r#"{"a": 1}"#);
    assert!(status == 201 || status == 202, "{status} {run}");
    let url = run["url"].as_str().unwrap().to_owned();
    server.wait_run(key, &url, Duration::from_secs(120))
}

fn container_validators_run_with_typed_outcomes(backend: Backend) {
    let img = image();
    let pro = pro();
    let (inst, admin) = pro_instance(backend);
    let server = inst.serve_with_env(
        &[],
        &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &pro.trusted_key())],
    );
    let viewer = inst.user("val", "viewer");
    let (status, body) = register(&server, &viewer, img);
    assert_eq!(status, 403, "only instance admins register images: {body}");
    let (status, body) = register(&server, &admin, "no-such-image:1");
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("INVALID_IMAGE")),
        "{body}"
    );

    let (status, body) = register(&server, &admin, img);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["slug"], "conformance");
    assert_eq!(body["image_id"], img);
    assert_eq!(body["feature"], "validators.user_images");
    assert_eq!(body["limits"]["memory_bytes"], 64 << 20);
    let (status, _) = register(&server, &admin, img);
    assert_eq!(
        status, 200,
        "registering the same image again changes nothing"
    );

    let (_, list) = json_of(server.get(&admin, "/api/v1/validators"));
    let entry = list["advanced"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["slug"] == "conformance")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(entry["available"], true, "{entry}");

    // PASS: outputs from the output envelope; the step records the image ID; the
    // step's assertions read those outputs (a WARNING one fails, the run still passes).
    let mut ok = conformance_workflow("ok", "ok", 120);
    ok["steps"][0]["assertions"] = json!([
        {"expr": "outputs.files >= 0"},
        {"expr": "outputs.files > 1000", "severity": "WARNING", "code": "few.files",
         "message": "only {{ outputs.files }} files"},
    ]);
    server.create_workflow(&admin, &ok);
    let run = run_on(&server, &admin, "ok");
    assert_eq!(run["result"], "PASS", "{run}");
    let step = &run["steps"][0];
    assert_eq!(step["validator_digest"], img, "{run}");
    assert_eq!(step["outputs"][0]["name"], "files", "{run}");
    let files = &step["outputs"][0]["value"];
    let warning = &step["findings"][0];
    assert_eq!(
        (warning["code"].as_str(), warning["message"].as_str()),
        (
            Some("few.files"),
            Some(format!("only {files} files").as_str())
        ),
        "{run}"
    );

    // FAIL: the validator's own findings, with their locations.
    server.create_workflow(&admin, &conformance_workflow("bad", "fail-validation", 120));
    let run = run_on(&server, &admin, "bad");
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(run["error_category"], "VALIDATION_FAILED", "{run}");
    let finding = &run["steps"][0]["findings"][0];
    assert_eq!(
        (finding["code"].as_str(), finding["path"].as_str()),
        (Some("conformance.bad"), Some("/a")),
        "{run}"
    );

    // The engine's OOM kill, a validator crash, the deadline: each its own category.
    let cases = [
        ("oom", "memory", 120, "ERROR", "OOM", "container.oom"),
        (
            "crash",
            "write-rootfs",
            120,
            "ERROR",
            "RUNTIME_ERROR",
            "container.validator_failed",
        ),
        (
            "slow",
            "sleep",
            3,
            "TIMED_OUT",
            "TIMEOUT",
            "container.timed_out",
        ),
    ];
    for (slug, mode, timeout, result, category, code) in cases {
        server.create_workflow(&admin, &conformance_workflow(slug, mode, timeout));
        let run = run_on(&server, &admin, slug);
        assert_eq!(
            (run["result"].as_str(), run["error_category"].as_str()),
            (Some(result), Some(category)),
            "{run}"
        );
        assert_eq!(run["steps"][0]["findings"][0]["code"], code, "{run}");
    }
    // Each outcome is counted, and container calls land in the latency histogram.
    let metrics = server.metrics();
    for (outcome, n) in [
        ("succeeded", 2),
        ("oom", 1),
        ("validator_failed", 1),
        ("timed_out", 1),
    ] {
        let series = format!(
            "validibot_container_runs_total{{validator=\"conformance\",outcome=\"{outcome}\"}} {n}"
        );
        assert!(
            metrics.lines().any(|l| l == series),
            "no {series:?} in:\n{metrics}"
        );
    }
    assert!(
        metrics.contains(
            "validibot_validator_latency_microseconds_count{validator=\"conformance\",kind=\"container\"} 5"
        ),
        "{metrics}"
    );
    let ours = |server: &Server| {
        docker(&[
            "ps",
            "-aq",
            "--filter",
            "label=org.validibot.validator=conformance",
            "--filter",
            &format!("label=org.validibot.runner_instance={}", runner_of(server)),
        ])
    };
    assert_eq!(
        ours(&server),
        "",
        "every container is removed after its run"
    );

    // Cancelling a run whose container is running stops and removes the container.
    server.create_workflow(&admin, &conformance_workflow("sleepy", "sleep", 300));
    let (status, run) = json_of(
        server
            .post(
                &admin,
                "/api/v1/workspaces/default/workflows/sleepy/runs?wait=0",
            )
            .header("content-type", "application/json")
            .body(r#"{"a": 1}"#)
            .send()
            .unwrap(),
    );
    assert!(status == 201 || status == 202, "{run}");
    let url = run["url"].as_str().unwrap().to_owned();
    let started = Instant::now();
    while ours(&server).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the container never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, cancelled) = json_of(
        server
            .post(&admin, &format!("{url}/cancel"))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("CANCELED")),
        "{cancelled}"
    );
    let stopping = Instant::now();
    while !ours(&server).is_empty() {
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "the cancelled run's container is still there"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("container gone {:?} after the cancel", stopping.elapsed());
    let run: Value = server.get(&admin, &url).json().unwrap();
    assert_eq!(run["status"], "CANCELED", "no late write: {run}");
}

/// The runner instance label of a server process (`host:pid:start`): matched by pid.
fn runner_of(server: &Server) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.child.id())).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let start = after.split(' ').nth(19).unwrap();
    format!("{}:{}:{}", host.trim(), server.child.id(), start)
}

fn community_refuses_container_validators(backend: Backend) {
    let img = image();
    let inst = Instance::new(backend);
    let admin = inst.user("admin", "owner");
    let server = inst.serve(&[]);
    let (status, body) = register(&server, &admin, img);
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["code"], "PRO_FEATURE_REQUIRED");
    assert_eq!(body["feature"], "validators.user_images");
    let (status, body) = json_of(
        server
            .post(&admin, "/api/v1/workspaces/default/workflows")
            .json(&conformance_workflow("ok", "ok", 60))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "an unregistered validator is unknown: {body}");
    let out = inst
        .command(&["containers", "register", img])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs Validibot Pro"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

on_both_backends!(
    container_validators_run_with_typed_outcomes,
    community_refuses_container_validators
);

/// The ID of the running container matching `filter`, waiting up to 60 s from `since`.
fn running_container(filter: &str, since: Instant, failure: &str) -> String {
    loop {
        let id = docker(&["ps", "-q", "--no-trunc", "--filter", filter]);
        if !id.is_empty() {
            return id;
        }
        assert!(since.elapsed() < Duration::from_secs(60), "{failure}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// kill -9 of the worker mid-run: its container is an orphan (its runner is
/// gone), the sweeper at the next start removes it, and the run is retried.
#[test]
fn a_killed_worker_leaves_no_container_behind() {
    let img = image();
    let pro = pro();
    let trusted = [("VALIDIBOT_EXTENSION_TRUSTED_KEYS", pro.trusted_key())];
    let env: Vec<(&str, &str)> = trusted.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (inst, admin) = pro_instance(Backend::Sqlite);
    inst.cli_with_env(&["containers", "register", img], &env);
    let listed: Value = serde_json::from_str(&inst.cli(&["containers", "list"])).unwrap();
    assert_eq!(listed[0]["slug"], "conformance", "{listed}");

    let mut server = inst.serve_with_env(&["--lease-seconds", "2", "--launch-wait-ms", "0"], &env);
    server.create_workflow(&admin, &conformance_workflow("slow", "sleep", 600));
    let (status, run) = server.launch(&admin, "slow", "application/json", "{}");
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let by_run = format!("label=org.validibot.run_id={run_id}");
    let orphan = running_container(&by_run, Instant::now(), "no container started");

    server.child.kill().unwrap(); // SIGKILL: no chance to clean up
    server.child.wait().unwrap();
    assert!(docker(&["ps", "-aq", "--no-trunc", "--filter", &by_run]).contains(&orphan));
    let planned: Value = serde_json::from_str(&inst.cli(&[
        "containers",
        "cleanup",
        "--dry-run",
        "--validator",
        "conformance",
    ]))
    .unwrap();
    let entry = planned
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == orphan.as_str())
        .unwrap_or_else(|| panic!("the orphan is not planned for removal: {planned}"));
    assert!(
        entry["reason"].as_str().unwrap().contains("is gone"),
        "{entry}"
    );

    // The next start sweeps; the lease expires and the run is taken up again.
    let server = inst.serve_with_env(&["--lease-seconds", "2"], &env);
    let swept = Instant::now();
    while docker(&["ps", "-aq", "--no-trunc", "--filter", &by_run]).contains(&orphan) {
        assert!(
            swept.elapsed() < Duration::from_secs(30),
            "the sweeper left {orphan}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let retried = running_container(&by_run, swept, "the run was not retried");
    assert_ne!(retried, orphan);
    drop(server);
    // This test's own leftover (the retried run's container, its server killed too).
    inst.cli(&["containers", "cleanup", "--validator", "conformance"]);
    assert_eq!(docker(&["ps", "-aq", "--filter", &by_run]), "");
}

/// `validibot containers conformance IMAGE`, as an image author runs it: no server, no
/// license, only the engine. A well-behaved mode passes every check (the garbage
/// document included); a misbehaving one fails, saying which check.
#[test]
fn conformance_command_reports_what_passes() {
    let image = common::containers::image();
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("ok.json");
    std::fs::write(&doc, r#"{"a": 1}"#).unwrap();
    let run = |mode: &str| {
        let out = std::process::Command::new(common::BIN)
            .args(["containers", "conformance", image, "--document"])
            .arg(&doc)
            .args(["--config", &format!(r#"{{"mode": "{mode}"}}"#)])
            .env_remove("VALIDIBOT_DATA_DIR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    let (ok, out, err) = run("ok");
    assert!(ok, "{out}{err}");
    for line in [
        "PASS  labels: conformance 1.0 for application/json (memory 64 MiB",
        "PASS  ok.json: output envelope: validibot.output.v1, status success",
        "PASS  ok.json: server verdict: step PASSED, run continues",
        "PASS  (garbage bytes): a verdict, not a crash",
        "PASS  deterministic",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    assert!(!out.contains("FAIL "), "{out}");

    let (ok, out, err) = run("fail-validation");
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("ok.json: server verdict: step FAILED, run FAILED (VALIDATION_FAILED)"),
        "{out}"
    );

    // Exiting without an envelope, and planting a symlink as the envelope, both fail.
    for mode in ["exit", "symlink-output"] {
        let (ok, out, err) = run(mode);
        assert!(!ok, "{mode}: {out}");
        assert!(
            out.contains("FAIL  ok.json: output envelope"),
            "{mode}: {out}"
        );
        assert!(err.contains("does not conform"), "{mode}: {err}");
    }
}
