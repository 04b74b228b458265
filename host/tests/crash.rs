//! Crash test: workers are killed with SIGKILL mid-way through 200 queued runs;
//! the survivors and a replacement finish every run exactly once, with the right result.

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

on_both_backends!(killed_worker_every_run_finishes_exactly_once);

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

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL: no graceful shutdown, leases are left behind
    child.wait().unwrap();
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
    kill(doomed);
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&inst.database_url).await.unwrap();
        let count = |sql: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .get::<i64, _>(0)
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM jobs").await, 0);
        assert_eq!(count("SELECT COUNT(*) FROM runs").await, RUNS as i64);
        assert_eq!(count("SELECT COUNT(*) FROM step_runs").await, RUNS as i64);
        let bad_runs = expected.iter().filter(|(_, bad)| *bad).count() as i64;
        assert_eq!(
            count("SELECT COUNT(*) FROM findings").await,
            bad_runs * (LINES / BAD_EVERY) as i64
        );
    });

    kill(survivor);
    kill(replacement);
}
