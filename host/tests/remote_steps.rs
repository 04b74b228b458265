//! Asynchronous container steps end to end, on a real Docker engine and the SeaweedFS
//! bucket: the container gets only presigned URLs and a signed callback (the agent
//! fetches its inputs, runs the conformance image's own command, uploads the output
//! envelope, calls back); the step is WAITING while no worker slot is held (one slot,
//! JSON runs pass meanwhile); callbacks are recorded once (a repeat is a replay, a bad
//! token refused, a late one after cancel refused); the reconciler rules on deadlines.

mod common;

use std::time::{Duration, Instant};

use common::containers::{docker, image};
use common::pro::licensed;
use common::*;
use serde_json::{json, Value};

fn asynchronous_container_steps(backend: Backend) {
    let img = image();
    let (inst, key, srv, base) = asynchronous(
        backend,
        &["--concurrency", "1", "--reconcile-seconds", "0.5"],
    );
    let (status, body) = json_of(
        srv.post(&key, "/api/v1/validators/containers")
            .json(&json!({ "image": img }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let container_flow = |slug: &str, mode: &str, timeout: u64| {
        srv.create_workflow(
            &key,
            &json!({"slug": slug, "timeout_seconds": timeout, "steps": [
                {"key": "shape", "validator": "json-schema", "config": {"schema": {"type": "object"}}},
                {"key": "box", "validator": "conformance", "config": {"mode": mode}},
            ]}),
        );
    };
    container_flow("ok", "ok", 120);
    container_flow("bad", "fail-validation", 120);
    container_flow("broken", "symlink-output", 120);
    container_flow("files", "artifacts", 120);
    container_flow("slow", "sleep", 120);
    container_flow("late", "sleep", 4);
    srv.create_workflow(
        &key,
        &json!({"slug": "plain", "steps": [
            {"key": "shape", "validator": "json-schema", "config": {"schema": {"type": "object"}}},
        ]}),
    );
    // For a cluster: registered from the image's config, pinned by the digest it pulls
    // (after the workflows above pinned version 1.0).
    let mut inspected: Value = serde_json::from_slice(
        &std::process::Command::new("docker")
            .args(["image", "inspect", img])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    inspected[0]["Config"]["Labels"]["org.validibot.validator.version"] = json!("2.0.0");
    let digest = format!("sha256:{}", "c0".repeat(32));
    let (status, body) = json_of(
        srv.post(&key, "/api/v1/validators/containers")
            .json(&json!({"image": format!("registry.example.org/conformance@{digest}"), "image_config": inspected}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["image_id"], digest.as_str());
    assert_eq!(
        body["command"],
        json!(["/bin/sh", "/validator.sh"]),
        "{body}"
    );
    let (status, body) = json_of(
        srv.post(&key, "/api/v1/validators/containers")
            .json(
                &json!({"image": "registry.example.org/conformance:2", "image_config": inspected}),
            )
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("INVALID_IMAGE")),
        "{body}"
    );
    let launch = |slug: &str| {
        let (status, run) = srv.launch(&key, slug, "application/json", r#"{"a": 1}"#);
        assert!(status == 201 || status == 202, "{status} {run}");
        format!(
            "/api/v1/workspaces/default/runs/{}",
            run["id"].as_str().unwrap()
        )
    };
    let wait = |url: &str| srv.wait_run(&key, url, Duration::from_secs(90));

    // Through presigned URLs and a callback: the document checked by sha256 inside the
    // container, the output envelope read from the bucket.
    let ok = wait(&launch("ok"));
    assert_eq!(ok["result"], "PASS", "{ok}");
    assert_eq!(step_statuses(&ok), ["PASSED", "PASSED"]);
    assert_eq!(ok["steps"][1]["outputs"][0]["name"], "files", "{ok}");
    let bad = wait(&launch("bad"));
    assert_eq!(bad["result"], "FAIL", "{bad}");
    assert!(finding_codes(&bad).contains(&"conformance.bad".to_string()));
    // An output planted as a link is not uploaded: exit 0 without an envelope.
    let broken = wait(&launch("broken"));
    assert_eq!(broken["result"], "ERROR", "{broken}");
    assert_eq!(step_statuses(&broken), ["PASSED", "FAILED"]);
    // Artifacts through the presigned slots: a file kept, a link refused (not uploaded).
    let files = wait(&launch("files"));
    assert_eq!(files["result"], "PASS", "{files}");
    let listed: Vec<&str> = files["steps"][1]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["report.txt"], "{files}");
    let report = srv.get(
        &key,
        &format!(
            "{}/artifacts/box/report.txt",
            files["url"].as_str().unwrap()
        ),
    );
    assert_eq!(report.status(), 200);
    assert_eq!(report.text().unwrap(), "a report\n");
    assert!(
        finding_codes(&files).contains(&"container.artifact_refused".to_string()),
        "{files}"
    );

    // A callback is recorded once.
    let ok_id = ok["id"].as_str().unwrap();
    let callback_id = text(
        &inst,
        &format!("SELECT callback_id FROM remote_executions WHERE run_id = '{ok_id}'"),
    );
    let token_key = hex::decode(text(
        &inst,
        "SELECT value FROM instance_settings WHERE key = 'callbacks.hmac_key'",
    ))
    .unwrap();
    let sign = |id: &str| {
        let audience = format!("{base}/api/v1/callbacks/{id}");
        let expires = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600) as i64;
        validibot_services::remote::token::sign(&token_key, id, &audience, expires)
    };
    let call_back = |id: &str, token: &str| {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{base}/api/v1/callbacks/{id}"))
            .bearer_auth(token)
            .json(&json!({"exit_code": 0, "output": true}))
            .send()
            .unwrap();
        json_of(resp)
    };
    let (status, body) = call_back(&callback_id, &sign(&callback_id));
    assert_eq!((status, &body["replay"]), (200, &json!(true)), "{body}");
    let (status, body) = call_back(&callback_id, "v1.99999999999.bm90IGEgc2lnbmF0dXJl");
    assert_eq!(status, 401, "{body}");
    let (status, _) = call_back(&callback_id, &sign("0123456789abcdef0123456789abcdef"));
    assert_eq!(status, 401, "a token for another execution");
    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, body) = call_back(unknown, &sign(unknown));
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("CALLBACK_UNKNOWN"))
    );
    let again = srv
        .get(&key, &format!("/api/v1/workspaces/default/runs/{ok_id}"))
        .json::<Value>()
        .unwrap();
    assert_eq!(again["result"], "PASS", "a replay changes nothing");

    // WAITING holds no slot: with one, plain runs finish while the container sleeps.
    let slow = launch("slow");
    let started = Instant::now();
    loop {
        let run: Value = srv.get(&key, &slow).json().unwrap();
        if run["steps"][1]["status"] == "WAITING" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never WAITING: {run}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let passes = Instant::now();
    for _ in 0..20 {
        let run = wait(&launch("plain"));
        assert_eq!(run["result"], "PASS");
    }
    println!(
        "20 runs passed in {:?} while a container step waited",
        passes.elapsed()
    );
    assert_eq!(
        count(&inst, "SELECT COUNT(*) FROM jobs WHERE state = 'waiting'"),
        1
    );
    // Cancelled while waiting: the reconciler stops its container; its callback is late.
    let (status, body) = json_of(srv.post(&key, &format!("{slow}/cancel")).send().unwrap());
    assert_eq!(status, 200, "{body}");
    let slow_id = slow.rsplit('/').next().unwrap();
    let slow_callback = text(
        &inst,
        &format!("SELECT callback_id FROM remote_executions WHERE run_id = '{slow_id}'"),
    );
    wait_for("the canceled run's container removed", || {
        containers_of(slow_id) == 0
    });
    let (status, body) = call_back(&slow_callback, &sign(&slow_callback));
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("CALLBACK_LATE")),
        "{body}"
    );

    // Past the step's time: stopped by the reconciler, the run TIMED_OUT.
    let late = wait(&launch("late"));
    assert_eq!(late["result"], "TIMED_OUT", "{late}");
    assert_eq!(step_statuses(&late), ["PASSED", "FAILED"]);

    // Nothing left behind: no container, no waiting job, every execution ruled on.
    for run in [&ok, &bad, &broken, &files, &late] {
        assert_eq!(containers_of(run["id"].as_str().unwrap()), 0, "{run}");
    }
    assert_eq!(count(&inst, "SELECT COUNT(*) FROM jobs"), 0);
    assert_eq!(
        count(
            &inst,
            "SELECT COUNT(*) FROM remote_executions WHERE state = 'launched'"
        ),
        0
    );
    drop(srv);
}

/// A licensed Pro instance in a bucket, served with asynchronous container steps whose
/// containers reach the bucket and the API on this host's loopback: (instance, an
/// owner's key, the server, its base URL).
fn asynchronous(backend: Backend, flags: &[&str]) -> (Instance, String, Server, String) {
    let mut inst = Instance::new(backend);
    inst.env.extend(hosts::bucket(&format!(
        "remote-{}",
        uuid::Uuid::now_v7().simple()
    )));
    let key = licensed(&mut inst);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec!["--bind", bind.as_str()];
    args.extend_from_slice(flags);
    let srv = inst.serve_with_env(
        &args,
        &[
            ("VALIDIBOT_CONTAINER_LAUNCH", "async"),
            ("VALIDIBOT_CALLBACK_URL", &base),
            ("VALIDIBOT_CONTAINER_NETWORK", "host"),
        ],
    );
    (inst, key, srv, base)
}

fn containers_of(run_id: &str) -> usize {
    docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=org.validibot.run_id={run_id}"),
    ])
    .lines()
    .count()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: not within 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn count(inst: &Instance, sql: &str) -> i64 {
    scalar(inst, sql)
}

fn text(inst: &Instance, sql: &str) -> String {
    use sqlx::Row;
    let sql = sql.to_owned();
    with_db(inst, |pool| async move {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap()
            .get::<String, _>(0)
    })
}

on_both_backends!(asynchronous_container_steps);

/// The benchmark of docs/benchmarks.md ("Asynchronous container steps hold no slot"):
/// 1,000 JSON runs on 32 worker slots, first alone (the baseline), then while 100
/// container steps sleep for an hour each (an EnergyPlus-like simulation) — WAITING,
/// holding no slot. Measured, not asserted:
/// `cargo test --release --test remote_steps -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_waiting_steps_hold_no_slots() {
    const WAITING: usize = 100;
    const RUNS: usize = 1_000;
    let img = image();
    // The conformance image with an hour's time limit.
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {img}\nLABEL org.validibot.validator.slug=\"hour\" org.validibot.validator.timeout=\"3600\"\n"),
    )
    .unwrap();
    docker(&[
        "build",
        "-q",
        "-t",
        "validibot-hour:test",
        context.path().to_str().unwrap(),
    ]);
    let (inst, key, srv, _) = asynchronous(Backend::Postgres, &["--concurrency", "32"]);
    let (status, body) = json_of(
        srv.post(&key, "/api/v1/validators/containers")
            .json(&json!({ "image": "validibot-hour:test" }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    srv.create_workflow(
        &key,
        &json!({"slug": "simulation", "timeout_seconds": 7200, "steps": [
            {"key": "simulate", "validator": "hour", "config": {"mode": "sleep-hour"}},
        ]}),
    );
    srv.create_workflow(
        &key,
        &json!({"slug": "plain", "steps": [
            {"key": "shape", "validator": "json-schema", "config": {"schema": {"type": "object", "required": ["a"]}}},
        ]}),
    );
    // Four clients, each launching and waiting for its share.
    let json_runs = |label: &str| {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..RUNS / 4 {
                        let (status, run) =
                            srv.launch(&key, "plain", "application/json", r#"{"a": 1}"#);
                        assert!(status == 201 || status == 202, "{status} {run}");
                        let url = format!(
                            "/api/v1/workspaces/default/runs/{}",
                            run["id"].as_str().unwrap()
                        );
                        let done = srv.wait_run(&key, &url, Duration::from_secs(300));
                        assert_eq!(done["result"], "PASS");
                    }
                });
            }
        });
        let took = started.elapsed();
        println!(
            "{label}: {RUNS} JSON runs in {took:.2?} ({:.0} runs/s)",
            RUNS as f64 / took.as_secs_f64()
        );
        took
    };
    let baseline = json_runs("baseline, nothing waiting");
    let launching = Instant::now();
    let sims: Vec<String> = (0..WAITING)
        .map(|_| {
            let (status, run) = srv.launch(&key, "simulation", "application/json", r#"{"a": 1}"#);
            assert!(status == 201 || status == 202, "{status} {run}");
            format!(
                "/api/v1/workspaces/default/runs/{}",
                run["id"].as_str().unwrap()
            )
        })
        .collect();
    wait_for_long("every simulation WAITING", Duration::from_secs(600), || {
        count(&inst, "SELECT COUNT(*) FROM jobs WHERE state = 'waiting'") == WAITING as i64
    });
    println!(
        "{WAITING} hour-long container steps launched and WAITING in {:.2?}",
        launching.elapsed()
    );
    let running = docker(&["ps", "-q", "--filter", "label=org.validibot.validator=hour"])
        .lines()
        .count();
    let loaded = json_runs(&format!(
        "with {WAITING} steps waiting ({running} containers running)"
    ));
    for url in &sims {
        let run: Value = srv.get(&key, url).json().unwrap();
        assert_eq!(run["steps"][0]["status"], "WAITING", "{run}");
        srv.post(&key, &format!("{url}/cancel")).send().unwrap();
    }
    wait_for_long(
        "the simulations' containers stopped",
        Duration::from_secs(600),
        || {
            docker(&[
                "ps",
                "-aq",
                "--filter",
                "label=org.validibot.validator=hour",
            ])
            .is_empty()
        },
    );
    let after = json_runs("after, nothing waiting");
    println!(
        "ratio (with waiting / mean of the two without): {:.2}",
        2.0 * loaded.as_secs_f64() / (baseline + after).as_secs_f64()
    );
}

fn wait_for_long(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
