//! Operating an instance: probes, Prometheus metrics and JSON logs with run ids,
//! on both databases.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{json_of, Backend, Instance};
use serde_json::Value;

on_both_backends!(probes_and_metrics, json_logs_carry_run_ids);

/// The value of the first sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

fn probes_and_metrics(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    let client = reqwest::blocking::Client::new();

    let (code, health) = json_of(client.get(srv.url("/healthz")).send().unwrap());
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));
    let (code, ready) = json_of(client.get(srv.url("/readyz")).send().unwrap());
    assert_eq!(code, 200, "{ready}");
    assert_eq!(ready["checks"]["database"]["status"], "ok", "{ready}");
    assert_eq!(ready["checks"]["storage"]["status"], "ok", "{ready}");
    assert!(
        ready["checks"].get("docker").is_none(),
        "no engine configured: {ready}"
    );

    srv.create_workflow(&key, &common::invoice_workflow());
    let (pass, run) = srv.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!((pass, run["result"].as_str()), (201, Some("PASS")), "{run}");
    let (fail, run) = srv.launch_example(&key, "invoice", "invoice-invalid.json");
    assert_eq!((fail, run["result"].as_str()), (201, Some("FAIL")), "{run}");

    let resp = client.get(srv.url("/metrics")).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().unwrap();
    assert_eq!(sample(&text, r#"validibot_runs{status="SUCCEEDED"}"#), 1.0);
    assert_eq!(sample(&text, r#"validibot_runs{status="FAILED"}"#), 1.0);
    assert_eq!(sample(&text, r#"validibot_runs{status="PENDING"}"#), 0.0);
    assert_eq!(
        sample(
            &text,
            r#"validibot_runs_finished_total{status="SUCCEEDED"}"#
        ),
        1.0
    );
    assert_eq!(sample(&text, "validibot_queue_depth"), 0.0);
    assert_eq!(sample(&text, "validibot_queue_oldest_age_seconds"), 0.0);
    assert_eq!(
        sample(
            &text,
            r#"validibot_validator_latency_microseconds_count{validator="json-schema",kind="wasm"}"#
        ),
        2.0
    );
    assert!(
        sample(
            &text,
            r#"validibot_validator_latency_microseconds_sum{validator="json-schema",kind="wasm"}"#
        ) > 0.0
    );
    assert_eq!(
        sample(
            &text,
            r#"validibot_http_requests_total{method="POST",route="/api/v1/workspaces/{ws}/workflows/{slug}/runs",status="201"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            r#"validibot_license{edition="community",state="community"}"#
        ),
        1.0
    );
    assert!(text.contains("# TYPE validibot_validator_latency_microseconds histogram"));

    // A queued job shows in depth and age (no worker in this process).
    drop(srv);
    let api = inst.serve(&["--no-worker", "--launch-wait-ms", "0"]);
    let (code, run) = api.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!(code, 202, "{run}");
    std::thread::sleep(Duration::from_millis(1100));
    let text = client
        .get(api.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(sample(&text, "validibot_queue_depth"), 1.0);
    assert!(sample(&text, "validibot_queue_oldest_age_seconds") >= 1.0);

    // A worker process serves the same probes; its histograms count its own calls.
    let mut worker = inst
        .command(&["worker", "--metrics-bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(worker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let probes = line
        .trim()
        .strip_prefix("validibot worker probes on ")
        .unwrap_or_else(|| panic!("worker did not print its probe address: {line:?}"))
        .to_owned();
    api.wait_run(&key, run["url"].as_str().unwrap(), Duration::from_secs(30));
    let (code, ready) = json_of(client.get(format!("{probes}/readyz")).send().unwrap());
    assert_eq!(code, 200, "{ready}");
    let text = client
        .get(format!("{probes}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        sample(
            &text,
            r#"validibot_validator_latency_microseconds_count{validator="json-schema",kind="wasm"}"#
        ),
        1.0
    );
    assert_eq!(sample(&text, r#"validibot_runs{status="SUCCEEDED"}"#), 2.0);
    let _ = worker.kill();
    let _ = worker.wait();

    // A configured engine that does not answer makes the instance unready.
    drop(api);
    let srv = inst.serve(&["--docker-socket", "/nonexistent/docker.sock"]);
    let (code, ready) = json_of(client.get(srv.url("/readyz")).send().unwrap());
    assert_eq!(code, 503, "{ready}");
    assert_eq!(ready["status"], "unavailable");
    assert_eq!(ready["checks"]["docker"]["status"], "failed", "{ready}");
    assert_eq!(ready["checks"]["database"]["status"], "ok", "{ready}");
}

fn json_logs_carry_run_ids(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let log_path = inst.data.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let srv = inst.serve_to(
        &[],
        &[
            ("VALIDIBOT_LOG_FORMAT", "json"),
            ("VALIDIBOT_LOG", "info,validibot=debug"),
        ],
        Stdio::from(log),
    );
    srv.create_workflow(&key, &common::invoice_workflow());
    let (_, run) = srv.launch_example(&key, "invoice", "invoice-invalid.json");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let line: Value = loop {
        let text = std::fs::read_to_string(&log_path).unwrap();
        let found = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
            })
            .find(|v| v["fields"]["message"] == "run finished");
        if let Some(v) = found {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no 'run finished' line:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(line["level"], "DEBUG", "{line}");
    assert_eq!(line["fields"]["status"], "FAILED", "{line}");
    assert_eq!(line["span"]["name"], "run", "{line}");
    assert_eq!(line["span"]["run_id"], run_id.as_str(), "{line}");
    assert_eq!(line["span"]["attempt"], 1, "{line}");
    assert!(line["timestamp"].is_string(), "{line}");
}
