//! Crash test: workers are killed with SIGKILL mid-way through 200 queued runs;
//! the survivors and a replacement finish every run exactly once, with the right result.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

on_both_backends!(
    killed_worker_every_run_finishes_exactly_once,
    a_killed_multi_step_run_resumes_after_its_last_recorded_step,
    a_run_whose_workers_keep_dying_gives_up_after_max_attempts,
);

const RUNS: usize = 200;
const LINES: usize = 8_000;
/// Every BAD_EVERY-th line of the invalid document has qty 0 (a `minimum` error).
const BAD_EVERY: usize = 500;

fn invoice(bad: bool) -> Vec<u8> {
    let items: Vec<Value> = (0..LINES)
        .map(|i| {
            let qty = if bad && i % BAD_EVERY == 0 { 0 } else { 1 + i % 9 };
            json!({"sku": format!("ABC-{i:06}"), "qty": qty, "unit_price": 1.25, "note": "padding padding padding"})
        })
        .collect();
    serde_json::to_vec(&json!({"id": "INV-000001", "customer": {"name": "A", "email": "a@example.org"}, "lines": items, "total": 1.0})).unwrap()
}

fn completed(srv: &Server, key: &str) -> usize {
    ["SUCCEEDED", "FAILED", "TIMED_OUT"]
        .iter()
        .map(|s| {
            let (_, page) = json_of(srv.get(
                key,
                &format!("/api/v1/workspaces/default/runs?status={s}&limit=200"),
            ));
            page["results"].as_array().unwrap().len()
        })
        .sum()
}

fn killed_worker_every_run_finishes_exactly_once(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&["--no-worker", "--max-inline-bytes", "50000000"]);
    srv.create_workflow(&key, &invoice_workflow());
    let (valid, invalid) = (invoice(false), invoice(true));

    let mut expected = Vec::new();
    for i in 0..RUNS {
        let bad = i % 3 == 0;
        let resp = srv
            .post(&key, "/api/v1/workspaces/default/workflows/invoice/runs")
            .header("content-type", "application/json")
            .header("prefer", "respond-async")
            .body(if bad { invalid.clone() } else { valid.clone() })
            .send()
            .unwrap();
        assert_eq!(resp.status(), 202);
        let url = resp.headers()["location"].to_str().unwrap().to_owned();
        expected.push((url, bad));
    }
    assert_eq!(completed(&srv, &key), 0, "nothing runs without a worker");

    let worker_args = [
        "--concurrency",
        "2",
        "--lease-seconds",
        "2",
        "--poll-ms",
        "20",
    ];
    let doomed = inst.worker(&worker_args);
    let survivor = inst.worker(&worker_args);
    let start = Instant::now();
    let done_at_kill = loop {
        let done = completed(&srv, &key);
        if done >= 20 {
            break done;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "workers made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    doomed.kill();
    eprintln!("{backend:?}: killed a worker after {done_at_kill} of {RUNS} runs had finished");
    assert!(
        done_at_kill < RUNS,
        "the kill must land mid-way (all {RUNS} were already done)"
    );
    let replacement = inst.worker(&worker_args);

    let start = Instant::now();
    while completed(&srv, &key) < RUNS {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "only {} of {RUNS} runs finished",
            completed(&srv, &key)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    for (url, bad) in &expected {
        let run: Value = srv.get(&key, url).json().unwrap();
        let steps = run["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 1);
        if *bad {
            assert_eq!(
                (run["result"].as_str(), steps[0]["status"].as_str()),
                (Some("FAIL"), Some("FAILED")),
                "{url}"
            );
            let codes = finding_codes(&run);
            assert_eq!(codes.len(), LINES / BAD_EVERY, "{url}: {codes:?}");
            assert!(codes.iter().all(|c| c == "json.schema.minimum"));
        } else {
            assert_eq!(
                (run["result"].as_str(), steps[0]["status"].as_str()),
                (Some("PASS"), Some("PASSED")),
                "{url}"
            );
            assert!(finding_codes(&run).is_empty());
        }
    }

    // Straight from the database: no job left, one step run per run, findings recorded once.
    assert_eq!(scalar(&inst, "SELECT COUNT(*) FROM jobs"), 0);
    assert_eq!(scalar(&inst, "SELECT COUNT(*) FROM runs"), RUNS as i64);
    assert_eq!(scalar(&inst, "SELECT COUNT(*) FROM step_runs"), RUNS as i64);
    let bad_runs = expected.iter().filter(|(_, bad)| *bad).count() as i64;
    assert_eq!(
        scalar(&inst, "SELECT COUNT(*) FROM findings"),
        bad_runs * (LINES / BAD_EVERY) as i64
    );

    survivor.kill();
    replacement.kill();
}

/// A workflow of three steps, each on its own validator, whose middle step takes a few
/// seconds (the hostile test plugin sleeping, with the clock granted).
fn three_step_instance(backend: Backend, server_args: &[&str]) -> (Instance, Server, String) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    inst.install_hostile(&["clock"]);
    let mut args = vec!["--no-worker"];
    args.extend_from_slice(server_args);
    let srv = inst.serve(&args);
    srv.create_workflow(
        &key,
        &json!({"slug": "three", "steps": [
            {"key": "first", "validator": "json-schema", "config": {"schema": {"type": "object"}}},
            {"key": "slow", "validator": "hostile", "config": {"attack": "sleep 4000"}},
            {"key": "last", "validator": "rules", "config": {"rules": [{"id": "n", "path": "/n", "op": "eq", "value": 1}]}}
        ]}),
    );
    (inst, srv, key)
}

fn launch_async(srv: &Server, key: &str) -> String {
    let resp = srv
        .post(key, "/api/v1/workspaces/default/workflows/three/runs")
        .header("content-type", "application/json")
        .header("prefer", "respond-async")
        .body(r#"{"n": 1}"#)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 202);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// Waits until the run's first step is recorded and the second is running.
fn wait_for_second_step(srv: &Server, key: &str, url: &str) -> Value {
    let start = Instant::now();
    loop {
        let run: Value = srv.get(key, url).json().unwrap();
        if run["steps"][0]["status"] == "PASSED" && run["steps"][1]["status"] == "RUNNING" {
            return run;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{run}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Calls of one validator counted by a worker's /metrics.
fn validator_calls(metrics: &str, validator: &str) -> u64 {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("validibot_validator_latency_microseconds_count")
                && l.contains(&format!("validator=\"{validator}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

const QUICK_LEASE: [&str; 6] = [
    "--concurrency",
    "1",
    "--lease-seconds",
    "2",
    "--poll-ms",
    "20",
];

/// The worker is killed while step 2 of 3 runs, after step 1 was recorded: the next
/// worker reclaims the lease, does not run step 1 again, and runs steps 2 and 3 once.
fn a_killed_multi_step_run_resumes_after_its_last_recorded_step(backend: Backend) {
    let (inst, srv, key) = three_step_instance(backend, &[]);
    let url = launch_async(&srv, &key);
    let doomed = inst.worker(&QUICK_LEASE);
    let before = wait_for_second_step(&srv, &key, &url);
    doomed.kill();

    let port = common::free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut args = QUICK_LEASE.to_vec();
    args.extend(["--metrics-bind", bind.as_str()]);
    let replacement = inst.worker(&args);
    let run = srv.wait_run(&key, &url, Duration::from_secs(120));
    assert_eq!(run["result"], "PASS", "{run}");
    assert_eq!(step_statuses(&run), ["PASSED", "PASSED", "PASSED"]);
    // Step 1 is the row the first worker wrote.
    assert_eq!(
        run["steps"][0]["started_at"],
        before["steps"][0]["started_at"]
    );
    assert_eq!(
        run["steps"][0]["finished_at"],
        before["steps"][0]["finished_at"]
    );
    // The replacement ran steps 2 and 3 once each, and step 1 not at all.
    let metrics = srv
        .client
        .get(format!("http://{bind}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(validator_calls(&metrics, "json-schema"), 0, "{metrics}");
    assert_eq!(validator_calls(&metrics, "hostile"), 1, "{metrics}");
    assert_eq!(validator_calls(&metrics, "rules"), 1, "{metrics}");
    // The first attempt's step 2 was never recorded; the second attempt's was, once.
    let rows = count_step_rows(&inst);
    assert_eq!(rows, 3);
    replacement.kill();
}

/// Every worker that takes the run dies during step 2: after `--max-attempts` the next
/// worker closes it as a system error instead of trying forever.
fn a_run_whose_workers_keep_dying_gives_up_after_max_attempts(backend: Backend) {
    let (inst, srv, key) = three_step_instance(backend, &["--max-attempts", "2"]);
    let url = launch_async(&srv, &key);
    for attempt in 1..=2 {
        let doomed = inst.worker(&QUICK_LEASE);
        // This worker's claim is the job's attempt `attempt` (read from the database),
        // then it is in step 2 (step 1 is quick, step 2 sleeps 4 s).
        let start = Instant::now();
        while job_attempts(&inst) < attempt {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "attempt {attempt} never claimed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_for_second_step(&srv, &key, &url);
        std::thread::sleep(Duration::from_millis(500));
        doomed.kill();
        eprintln!("{backend:?}: killed the worker of attempt {attempt}");
    }
    let last = inst.worker(&QUICK_LEASE);
    let run = srv.wait_run(&key, &url, Duration::from_secs(60));
    assert_eq!(
        (run["result"].as_str(), run["error_category"].as_str()),
        (Some("ERROR"), Some("SYSTEM_ERROR")),
        "{run}"
    );
    assert!(
        run["error_detail"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{run}"
    );
    assert_eq!(run["steps"][0]["status"], "PASSED", "{run}");
    last.kill();
}

fn count_step_rows(inst: &Instance) -> i64 {
    scalar(inst, "SELECT COUNT(*) FROM step_runs")
}

/// Claims so far of the (only) job.
fn job_attempts(inst: &Instance) -> i64 {
    scalar(inst, "SELECT attempts FROM jobs WHERE state = 'leased'")
}
