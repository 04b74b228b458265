//! Operating an instance: probes, Prometheus metrics and JSON logs with run ids,
//! on both databases.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{json_of, Backend, Instance};
use serde_json::Value;

on_both_backends!(probes_and_metrics, json_logs_carry_run_ids, retention_purge);

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
    // Kept open until the end: the worker prints more after its probe address.
    let mut worker_out = BufReader::new(worker.stdout.take().unwrap());
    worker_out.read_line(&mut line).unwrap();
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
    drop(worker_out);

    // A configured engine that does not answer makes the instance unready.
    drop(api);
    let srv = inst.serve(&["--docker-socket", "/nonexistent/docker.sock"]);
    let (code, ready) = json_of(client.get(srv.url("/readyz")).send().unwrap());
    assert_eq!(code, 503, "{ready}");
    assert_eq!(ready["status"], "unavailable");
    assert_eq!(ready["checks"]["docker"]["status"], "failed", "{ready}");
    assert_eq!(ready["checks"]["database"]["status"], "ok", "{ready}");
    // The unauthenticated probe names the failed check but not its error (paths, engine
    // messages): that goes to the log.
    assert!(!ready.to_string().contains("nonexistent"), "{ready}");
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
    // A first start says why it takes seconds before it compiles the built-ins.
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("compiling the built-in validators for this machine"),
        "{text}"
    );
}

/// Runs the binary; returns (exit code, stdout, stderr).
fn run_cli(inst: &Instance, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = inst
        .command(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn retention_purge(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    srv.create_workflow(&key, &common::invoice_workflow());
    let (_, a) = srv.launch_example(&key, "invoice", "invoice-valid.json");
    let (_, b) = srv.launch_example(&key, "invoice", "invoice-invalid.json");
    let (a_url, b_url) = (a["url"].as_str().unwrap(), b["url"].as_str().unwrap());
    let purge = |args: &[&str]| -> Value {
        let mut all = vec!["purge"];
        all.extend_from_slice(args);
        let (code, out, err) = run_cli(&inst, &all, &[]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };

    // Fresh files are never swept (an upload in flight writes its file first).
    let r = purge(&["--submission-retention-days", "0"]);
    assert_eq!(r["blobs_deleted"], 0, "{r}");

    inst.age_blobs();
    let dry = purge(&["--submission-retention-days", "0", "--dry-run"]);
    assert_eq!(dry["blobs_deleted"], 2, "{dry}");
    assert_eq!(
        purge(&["--run-retention-days", "30"])["blobs_deleted"],
        0,
        "runs still need their files"
    );
    let r = purge(&["--submission-retention-days", "0"]);
    assert_eq!(
        (r["blobs_deleted"].as_u64(), r["runs_deleted"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    assert!(r["bytes_freed"].as_u64().unwrap() > 100, "{r}");
    // The runs and their findings stay; the same content can be submitted again.
    let (code, run) = json_of(srv.get(&key, b_url));
    assert_eq!((code, run["result"].as_str()), (200, Some("FAIL")), "{run}");
    let (code, again) = srv.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!(
        (code, again["result"].as_str()),
        (201, Some("PASS")),
        "{again}"
    );

    // Run retention deletes finished runs with everything they had.
    let r = purge(&["--run-retention-days", "0"]);
    assert_eq!(r["runs_deleted"], 3, "{r}");
    for url in [a_url, b_url] {
        assert_eq!(srv.get(&key, url).status(), 404);
    }
    let (_, list) = json_of(srv.get(&key, "/api/v1/workspaces/default/runs"));
    assert_eq!(list["results"], serde_json::json!([]), "{list}");
    let (code, run) = srv.launch_example(&key, "invoice", "invoice-invalid.json");
    assert_eq!((code, run["result"].as_str()), (201, Some("FAIL")), "{run}");
}

/// An instance with one finished (FAIL) run, its URL and its evidence manifest.
struct Seeded {
    inst: Instance,
    key: String,
    srv: common::Server,
    run: Value,
    url: String,
    evidence: Value,
}

fn seeded(backend: Backend) -> Seeded {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    // A short lease: a run a backup catches in flight is taken over soon after a restore.
    let srv = inst.serve(&["--lease-seconds", "3"]);
    srv.create_workflow(&key, &common::invoice_workflow());
    let (_, run) = srv.launch_example(&key, "invoice", "invoice-invalid.json");
    let url = run["url"].as_str().unwrap().to_owned();
    let evidence: Value = srv.get(&key, &format!("{url}/evidence")).json().unwrap();
    Seeded {
        inst,
        key,
        srv,
        run,
        url,
        evidence,
    }
}

fn backup_and_restore_sqlite() {
    let Seeded {
        inst,
        key,
        srv,
        run,
        url,
        evidence,
    } = seeded(Backend::Sqlite);

    // Online: launches keep writing while the snapshot is taken.
    let out = inst.data.path().join("backup-1");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (code, stdout, err, launched) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                // Distinct documents: each launch stores a submission, a run, its steps.
                let doc = format!(
                    r#"{{"id": "INV-{n:06}", "customer": {{"name": "C", "email": "c@example.com"}}, "lines": [], "total": {n}}}"#
                );
                let (status, _) = srv.launch(&key, "invoice", "application/json", doc);
                assert_eq!(status, 201);
                n += 1;
            }
            n
        });
        // Some launches before, during and after the snapshot.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (code, stdout, err) = run_cli(&inst, &["backup", out.to_str().unwrap()], &[]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        (code, stdout, err, writer.join().unwrap())
    });
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("backup written"), "{stdout}");
    assert!(
        launched > 2,
        "only {launched} launches ran around the backup"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["database"], "sqlite");
    let (_, after) = srv.launch_example(&key, "invoice", "invoice-valid.json");

    // Into a fresh data dir: same runs, same keys, same evidence signature.
    let fresh = Instance::new(Backend::Sqlite);
    let (code, stdout, err) = run_cli(&fresh, &["restore", out.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains(&format!("restored {} stored files", manifest["blobs"])),
        "{stdout}"
    );
    let restored = fresh.serve(&[]);
    let (code, got) = json_of(restored.get(&key, &url));
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["steps"], run["steps"], "{got}");
    assert_eq!(got["summary"], run["summary"], "{got}");
    // The snapshot is consistent: every run in it is whole (a completed run has its step
    // and its findings; none half-written; one in flight is resumed and completes), and
    // every submission's file came along.
    let (_, list) = json_of(restored.get(&key, "/api/v1/workspaces/default/runs?limit=200"));
    let runs = list["results"].as_array().unwrap();
    assert!(
        runs.len() > 1 && runs.len() <= launched + 1,
        "{} runs",
        runs.len()
    );
    // Blobs are taken after the database snapshot, so every run's file is there (and
    // perhaps a few of launches the snapshot missed).
    assert!(
        manifest["blobs"].as_u64().unwrap() as usize >= runs.len(),
        "{manifest}"
    );
    for listed in runs {
        // A run the snapshot caught in flight has its job in the snapshot too: the
        // restored server takes it over once the lease (3 s here) expires, and finishes it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let full = loop {
            let (code, full) = json_of(restored.get(&key, listed["url"].as_str().unwrap()));
            assert_eq!(code, 200);
            if full["state"] == "COMPLETED" || std::time::Instant::now() > deadline {
                break full;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        assert_eq!(full["state"], "COMPLETED", "{full}");
        let step = &full["steps"][0];
        assert!(
            step["status"] == "PASSED" || step["status"] == "FAILED",
            "{full}"
        );
        assert_eq!(
            full["summary"]["errors"].as_u64().unwrap() as usize,
            step["findings"].as_array().unwrap().len(),
            "{full}"
        );
        // The list agrees with the run once it has finished (a run listed while still in
        // flight had no findings yet).
        if listed["state"] == "COMPLETED" {
            assert_eq!(listed["summary"], full["summary"]);
        }
    }
    let (_, relisted) = json_of(restored.get(&key, "/api/v1/workspaces/default/runs?limit=200"));
    for listed in relisted["results"].as_array().unwrap() {
        let (_, full) = json_of(restored.get(&key, listed["url"].as_str().unwrap()));
        assert_eq!(listed["summary"], full["summary"], "{full}");
    }
    assert_eq!(
        restored
            .get(&key, &format!("{url}/evidence"))
            .json::<Value>()
            .unwrap(),
        evidence
    );
    assert_eq!(
        restored.get(&key, after["url"].as_str().unwrap()).status(),
        404,
        "taken after the backup"
    );
    let (code, new) = restored.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!((code, new["result"].as_str()), (201, Some("PASS")), "{new}");
    drop(restored);

    // An existing database is not replaced without --force; a damaged backup is refused.
    let (code, _, err) = run_cli(&fresh, &["restore", out.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");
    let first = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    };
    let blob = first(&first(&first(&out.join("blobs/sha256"))));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 1;
    std::fs::remove_file(&blob).unwrap(); // a hard link to the live file: don't write through it
    std::fs::write(&blob, bytes).unwrap();
    let other = Instance::new(Backend::Sqlite);
    let (code, _, err) = run_cli(&other, &["restore", out.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("corrupt"), "{err}");
    assert!(
        !other.data.path().join("validibot.db").exists(),
        "nothing restored from a damaged backup"
    );
}

#[test]
fn backup_and_restore() {
    backup_and_restore_sqlite()
}

/// PostgreSQL's binaries (pg_dump, pg_restore) from the server `.ci/test` starts.
fn pg_tool(name: &str) -> std::path::PathBuf {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL binaries under /usr/lib/postgresql")
        .map(|e| e.unwrap().path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| panic!("{name} not found"))
}

/// The documented PostgreSQL procedure (docs/self-hosting/backup.md): pg_dump, then
/// `validibot backup` for the files and keys; pg_restore, then `validibot restore`.
#[test]
fn backup_and_restore_postgres_with_pg_dump() {
    let Seeded {
        inst,
        key,
        srv,
        url,
        evidence,
        ..
    } = seeded(Backend::Postgres);

    let dump = inst.data.path().join("validibot.pgdump");
    let status = std::process::Command::new(pg_tool("pg_dump"))
        .args([
            "--format=custom",
            "--file",
            dump.to_str().unwrap(),
            &inst.database_url,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let files = inst.data.path().join("files-backup");
    let (code, stdout, err) = run_cli(&inst, &["backup", files.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("pg_dump"), "{stdout}");
    drop(srv);

    let fresh = Instance::new(Backend::Postgres);
    let status = std::process::Command::new(pg_tool("pg_restore"))
        .args([
            "--no-owner",
            "--dbname",
            &fresh.database_url,
            dump.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, _, err) = run_cli(&fresh, &["restore", files.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let restored = fresh.serve(&[]);
    let (code, got) = json_of(restored.get(&key, &url));
    assert_eq!((code, got["result"].as_str()), (200, Some("FAIL")), "{got}");
    assert_eq!(
        restored
            .get(&key, &format!("{url}/evidence"))
            .json::<Value>()
            .unwrap(),
        evidence
    );
    let (code, new) = restored.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!((code, new["result"].as_str()), (201, Some("PASS")), "{new}");
}

#[test]
fn config_check_reports_every_problem() {
    let inst = Instance::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("validibot.toml");
    std::fs::write(&file, "databse_url = \"x\"\ndb_pool = \"many\"\ndocker_socket = \"/nonexistent/docker.sock\"\nbind = \"127.0.0.1:9999\"\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let (code, out, err) = run_cli(
        &inst,
        &["--config-file", file_arg, "config", "check"],
        &[
            ("VALIDIBOT_POLL_MS", "fast"),
            ("VALIDIBOT_WORKR_CONCURRENCY", "3"),
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    for expected in [
        "5 problem(s)",
        "databse_url: unknown setting (did you mean \"database_url\"?)",
        "VALIDIBOT_WORKR_CONCURRENCY: unknown variable (did you mean \"VALIDIBOT_WORKER_CONCURRENCY\"?)",
        "VALIDIBOT_DB_POOL: invalid value 'many'",
        "VALIDIBOT_POLL_MS: invalid value 'fast'",
        "VALIDIBOT_DOCKER_SOCKET: the engine does not answer",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(out.contains("VALIDIBOT_BIND = 127.0.0.1:9999"), "{out}");
    // Each effective setting is listed with where it came from: the environment's value
    // under its variable, a default marked as one.
    assert!(
        out.contains(&format!(
            "  VALIDIBOT_DATA_DIR = {}\n",
            inst.data.path().display()
        )),
        "{out}"
    );
    assert!(
        out.contains("  VALIDIBOT_LAUNCH_WAIT_MS = 2000 (default)\n"),
        "{out}"
    );
    // The database URL's credentials are never printed.
    let (code, out, _) = run_cli(
        &inst,
        &["config", "check"],
        &[(
            "VALIDIBOT_DATABASE_URL",
            "postgres://u:hunter2@127.0.0.1:1/db",
        )],
    );
    assert_eq!(code, 1);
    assert!(
        !out.contains("hunter2") && out.contains("postgres://***@127.0.0.1:1/db"),
        "{out}"
    );

    // A good file passes, and serve takes its settings (flags and env still win).
    std::fs::write(&file, "db_pool = 4\nlaunch_wait_ms = 100\n").unwrap();
    let (code, out, err) = run_cli(&inst, &["--config-file", file_arg, "config", "check"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("VALIDIBOT_DB_POOL = 4") && out.ends_with("configuration OK\n"),
        "{out}"
    );
    // A subcommand's own --config (plugin bench's step config) is not the configuration file.
    let (code, out, err) = run_cli(
        &inst,
        &[
            "plugin",
            "bench",
            "x.wasm",
            "--config",
            "step-config.json",
            "--help",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    // A broken file stops serve before it starts, naming the problem.
    std::fs::write(&file, "bnid = \"x\"\n").unwrap();
    let (code, _, err) = run_cli(&inst, &["--config-file", file_arg, "serve"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bnid: unknown setting (did you mean \"bind\"?)"),
        "{err}"
    );
}

#[test]
fn configuration_reference_is_current() {
    let inst = Instance::new(Backend::Sqlite);
    let (code, reference, err) = run_cli(&inst, &["config", "reference"], &[]);
    assert_eq!(code, 0, "{err}");
    let doc = std::fs::read_to_string(
        common::examples_dir()
            .parent()
            .unwrap()
            .join("docs/self-hosting/configuration.md"),
    )
    .unwrap();
    assert!(
        doc.contains(&reference),
        "docs/self-hosting/configuration.md is out of date; paste in `validibot config reference`:\n{reference}"
    );
}
