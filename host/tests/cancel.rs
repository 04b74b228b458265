//! Cancelling runs, against the real binary on SQLite and PostgreSQL: a queued run ends
//! at once and no worker picks it up; a WASM call in progress is interrupted — by a
//! worker in another process (noticed at its heartbeat) and by the server's embedded
//! worker (at once) — and the worker's late writes cannot bring the run back; who may
//! cancel what; the CLI. (A running container: `tests/container_validators.rs`.) And
//! what a live run shows of a step at work: how far it has read a large document.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

on_both_backends!(
    cancel_queued_and_running_runs,
    a_running_step_reports_how_far_it_has_read
);

fn spin_workflow() -> Value {
    // The hostile validator loops forever on the document "loop".
    json!({"slug": "spin", "content_types": ["text/plain"],
           "steps": [{"key": "spin", "validator": "hostile", "config": {}}]})
}

/// Launches without waiting; the run's URL.
fn launch_async(srv: &Server, key: &str, slug: &str, content_type: &str, body: &str) -> String {
    let (status, run) = json_of(
        srv.post(
            key,
            &format!("/api/v1/workspaces/default/workflows/{slug}/runs?wait=0"),
        )
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .unwrap(),
    );
    assert!(status == 202 || status == 201, "{status} {run}");
    run["url"].as_str().unwrap().to_owned()
}

fn cancel(srv: &Server, key: &str, url: &str) -> (u16, Value) {
    json_of(srv.post(key, &format!("{url}/cancel")).send().unwrap())
}

fn wait_status(srv: &Server, key: &str, url: &str, status: &str) -> Value {
    let start = Instant::now();
    loop {
        let run: Value = srv.get(key, url).json().unwrap();
        if run["status"] == status {
            return run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never {status}: {run}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A run that was cancelled stays so, and none of its steps was recorded as run.
fn assert_stays_cancelled(srv: &Server, key: &str, url: &str) {
    let run: Value = srv.get(key, url).json().unwrap();
    assert_eq!(
        (run["status"].as_str(), run["result"].as_str()),
        (Some("CANCELED"), Some("CANCELED")),
        "{run}"
    );
    for step in run["steps"].as_array().unwrap() {
        assert!(
            step["status"] != "PASSED" && step["status"] != "FAILED",
            "a late write: {run}"
        );
    }
}

fn cancel_queued_and_running_runs(backend: Backend) {
    let inst = Instance::new(backend);
    inst.install_hostile(&[]);
    let author = inst.user("alice", "author");
    let eve = inst.user("eve", "executor");
    let bob = inst.user("bob", "executor");
    let viewer = inst.user("val", "viewer");
    // No worker yet: launches stay queued.
    let srv = inst.serve(&["--no-worker"]);
    srv.create_workflow(&author, &invoice_workflow());
    srv.create_workflow(&author, &spin_workflow());
    let valid = String::from_utf8(example("invoice-valid.json")).unwrap();

    let queued = launch_async(&srv, &eve, "invoice", "application/json", &valid);
    let (status, body) = cancel(&srv, &bob, &queued);
    assert_eq!(
        status, 404,
        "another executor does not see eve's run: {body}"
    );
    let (status, body) = cancel(&srv, &viewer, &queued);
    assert_eq!(status, 404, "{body}");
    let (status, run) = cancel(&srv, &eve, &queued);
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        (
            run["status"].as_str(),
            run["state"].as_str(),
            run["result"].as_str()
        ),
        (Some("CANCELED"), Some("COMPLETED"), Some("CANCELED")),
        "{run}"
    );
    assert_eq!(run["error_detail"], "cancelled by eve", "{run}");
    let (status, body) = cancel(&srv, &eve, &queued);
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("RUN_FINISHED")),
        "{body}"
    );
    // An author cancels anyone's run, from the CLI.
    let other = launch_async(&srv, &bob, "invoice", "application/json", &valid);
    let id = other.rsplit('/').next().unwrap();
    let out = inst
        .command(&[
            "runs",
            "cancel",
            id,
            "--server",
            &srv.url(""),
            "--api-key",
            &author,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CANCELED"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A worker in another process, one job at a time, lease heartbeat every second.
    let worker = inst.worker(&[
        "--concurrency",
        "1",
        "--lease-seconds",
        "3",
        "--validator-timeout-ms",
        "120000",
        "--poll-ms",
        "50",
    ]);
    let spin = launch_async(&srv, &author, "spin", "text/plain", "loop");
    wait_status(&srv, &author, &spin, "RUNNING");
    let (status, run) = cancel(&srv, &author, &spin);
    assert_eq!(
        (status, run["status"].as_str()),
        (200, Some("CANCELED")),
        "{run}"
    );
    // The worker's only slot frees within its heartbeat: the loop was interrupted
    // (else it would hold the slot for the 120 s deadline).
    let started = Instant::now();
    let next = launch_async(&srv, &author, "invoice", "application/json", &valid);
    let done = srv.wait_run(&author, &next, Duration::from_secs(20));
    assert_eq!(done["result"], "PASS", "{done}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the slot was held {:?}",
        started.elapsed()
    );
    // The queued runs cancelled before the worker started were never picked up, and
    // the interrupted worker's writes were fenced off.
    for url in [&queued, &other, &spin] {
        assert_stays_cancelled(&srv, &author, url);
    }
    worker.kill();
    drop(srv);

    // The server's embedded worker: stopped at once, in process.
    // It also announces the cancel to a webhook endpoint subscribed to run.canceled.
    let (hook_base, hook_log) = common::receiver::start_receiver();
    let srv = inst.serve_with_env(
        &["--concurrency", "1", "--validator-timeout-ms", "120000"],
        &[
            ("VALIDIBOT_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32"),
            ("VALIDIBOT_WEBHOOK_POLL_MS", "50"),
        ],
    );
    let admin = inst.user("ada", "admin");
    let (status, hook) = json_of(
        srv.post(&admin, "/api/v1/workspaces/default/webhooks")
            .json(&json!({"url": format!("{hook_base}/cancels"), "events": ["run.canceled"]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{hook}");
    let spin = launch_async(&srv, &eve, "spin", "text/plain", "loop");
    wait_status(&srv, &eve, &spin, "RUNNING");
    let (status, run) = cancel(&srv, &eve, &spin);
    let heard = common::receiver::wait_for("run.canceled", Duration::from_secs(20), || {
        common::receiver::at(&hook_log, "cancels")
            .into_iter()
            .next()
    });
    common::receiver::verify(hook["secret"].as_str().unwrap(), &heard).unwrap();
    assert_eq!(heard.json()["type"], "run.canceled");
    assert_eq!(
        heard.json()["data"]["run"]["id"],
        run["id"],
        "{}",
        heard.json()
    );
    assert_eq!(heard.json()["data"]["run"]["result"], "CANCELED");
    assert_eq!(
        (status, run["status"].as_str()),
        (200, Some("CANCELED")),
        "{run}"
    );
    let started = Instant::now();
    let (status, done) = srv.launch(&eve, "invoice", "application/json", valid.clone());
    assert_eq!(
        (status, done["result"].as_str()),
        (201, Some("PASS")),
        "{done}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the slot was held {:?}",
        started.elapsed()
    );
    assert_stays_cancelled(&srv, &eve, &spin);
}

/// A step reading a large document reports how far it got — the API's `read_bytes`,
/// which the run page's progress bar shows — while it runs, and not once it ended.
fn a_running_step_reports_how_far_it_has_read(backend: Backend) {
    let inst = Instance::new(backend);
    inst.install_hostile(&["clock"]);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    srv.create_workflow(
        &key,
        &json!({"slug": "slow", "content_types": ["text/plain"],
                "steps": [{"key": "read", "validator": "hostile", "config": {"attack": "read-slowly 4000"}}]}),
    );
    let size = 4 << 20;
    let url = launch_async(&srv, &key, "slow", "text/plain", &"x".repeat(size));
    let start = Instant::now();
    let run = loop {
        let run: Value = srv.get(&key, &url).json().unwrap();
        if run["steps"][0]["read_bytes"].is_u64() {
            break run;
        }
        assert!(
            run["state"] != "COMPLETED",
            "no progress was reported: {run}"
        );
        assert!(start.elapsed() < Duration::from_secs(30), "{run}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The validator sleeps after reading the first half.
    assert_eq!(run["steps"][0]["read_bytes"], size / 2, "{run}");
    assert_eq!(run["steps"][0]["status"], "RUNNING", "{run}");
    assert_eq!(run["submission"]["size"], size, "{run}");
    let done = srv.wait_run(&key, &url, Duration::from_secs(60));
    assert_eq!(done["result"], "PASS", "{done}");
    assert_eq!(first_step_output(&done, "read"), size, "{done}");
    assert!(done["steps"][0].get("read_bytes").is_none(), "{done}");
}
