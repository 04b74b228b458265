//! Chaos under load: four worker processes and two API processes, each with a data dir
//! of its own and sharing nothing but PostgreSQL and the bucket, take 1,000 runs while
//! a random worker is killed with SIGKILL every couple of seconds (and replaced, as an
//! orchestrator would). Every run must finish exactly once with the right result, no
//! stored blob may be lost, and no validator container may be left behind.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::containers::{docker, image};
use common::pro::licensed;
use common::receiver::start_receiver;
use common::*;
use serde_json::{json, Value};

const RUNS: usize = 1_000;
/// Every CONTAINER_EVERY-th run goes to the workflow with a container step.
const CONTAINER_EVERY: usize = 25;
/// Every FAIL_EVERY-th run's document fails the rules step.
const FAIL_EVERY: usize = 7;
const WORKERS: usize = 4;
const KILL_EVERY: Duration = Duration::from_millis(2_000);

/// A tiny xorshift generator: which worker dies is random, and the seed is printed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }
}

#[test]
fn killed_workers_under_load_lose_nothing() {
    let img = image();
    let (hooks, _log) = start_receiver();
    let mut inst = Instance::new(Backend::ManyHosts);
    inst.env.push((
        "VALIDIBOT_WEBHOOK_ALLOWED_NETWORKS".into(),
        "127.0.0.1/32".into(),
    ));
    let key = licensed(&mut inst);
    inst.install_hostile(&["clock"]);
    // Attempts are counted per run: with kills this frequent, a run may be hit more than
    // the default three times, and must still end with its real result.
    let srv = inst.serve(&["--no-worker", "--max-attempts", "20"]);

    let (status, body) = json_of(
        srv.post(&key, "/api/v1/validators/containers")
            .json(&json!({ "image": img }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/webhooks")
            .json(&json!({"url": format!("{hooks}/ok"), "events": ["run.completed"]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let schema = json!({"type": "object", "required": ["n", "i"]});
    let rules = json!({"rules": [{"id": "n", "path": "/n", "op": "eq", "value": 1}]});
    srv.create_workflow(
        &key,
        &json!({"slug": "steps", "steps": [
            {"key": "shape", "validator": "json-schema", "config": {"schema": schema}},
            {"key": "slow", "validator": "hostile", "config": {"attack": "sleep 150"}},
            {"key": "rules", "validator": "rules", "config": rules}
        ]}),
    );
    srv.create_workflow(
        &key,
        &json!({"slug": "boxed", "timeout_seconds": 120, "steps": [
            {"key": "shape", "validator": "json-schema", "config": {"schema": schema}},
            {"key": "container", "validator": "conformance", "config": {"mode": "ok"}},
            {"key": "rules", "validator": "rules", "config": rules}
        ]}),
    );

    let worker_args = [
        "--concurrency",
        "8",
        "--lease-seconds",
        "2",
        "--poll-ms",
        "20",
    ];
    let mut workers: Vec<Worker> = (0..WORKERS).map(|_| inst.worker(&worker_args)).collect();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("chaos seed {seed}");
    let mut dice = Dice(seed);

    // Launch from four clients while a random worker dies every KILL_EVERY.
    let started = Instant::now();
    let mut kills = 0;
    // Runs a worker took over from a killed one (their job claimed more than once).
    let mut retaken: HashSet<String> = HashSet::new();
    let runs: Vec<(String, bool)> = std::thread::scope(|scope| {
        let launchers: Vec<_> = (0..4)
            .map(|client| {
                let srv = &srv;
                let key = &key;
                scope.spawn(move || {
                    (client..RUNS)
                        .step_by(4)
                        .map(|i| {
                            let fails = i % FAIL_EVERY == 0;
                            let slug = if i % CONTAINER_EVERY == 0 {
                                "boxed"
                            } else {
                                "steps"
                            };
                            let doc = json!({"n": if fails { 2 } else { 1 }, "i": i});
                            let resp = srv
                                .post(
                                    key,
                                    &format!("/api/v1/workspaces/default/workflows/{slug}/runs"),
                                )
                                .header("content-type", "application/json")
                                .header("prefer", "respond-async")
                                .body(doc.to_string())
                                .send()
                                .unwrap();
                            assert_eq!(resp.status(), 202, "run {i}");
                            let id = resp.json::<Value>().unwrap()["id"]
                                .as_str()
                                .unwrap()
                                .to_owned();
                            (id, fails)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut last_kill = Instant::now();
        loop {
            let launched = launchers.iter().all(|l| l.is_finished());
            // One connection a poll: how many ended, and which jobs are on a later claim.
            let (done, later_claims) = with_db(&inst, |pool| async move {
                let done: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM runs WHERE status NOT IN ('PENDING', 'RUNNING')",
                )
                .fetch_one(&pool)
                .await
                .unwrap();
                let later: Vec<String> =
                    sqlx::query_scalar("SELECT run_id FROM jobs WHERE attempts > 1")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                (done, later)
            });
            retaken.extend(later_claims);
            if launched && done as usize >= RUNS {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "only {done} of {RUNS} runs finished in 10 minutes"
            );
            if last_kill.elapsed() >= KILL_EVERY {
                let victim = dice.roll(WORKERS);
                workers.remove(victim).kill();
                workers.insert(victim, inst.worker(&worker_args));
                kills += 1;
                last_kill = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        launchers
            .into_iter()
            .flat_map(|l| l.join().unwrap())
            .collect()
    });
    eprintln!(
        "{RUNS} runs finished in {:.1} s; {kills} workers killed, {} runs taken over from them",
        started.elapsed().as_secs_f64(),
        retaken.len()
    );
    assert!(
        kills >= 3 && !retaken.is_empty(),
        "the kills must land on runs in flight"
    );

    // Every run ended once, with the result its document calls for.
    for (id, fails) in &runs {
        let run: Value = srv
            .get(&key, &format!("/api/v1/workspaces/default/runs/{id}"))
            .json()
            .unwrap();
        let want = if *fails { "FAIL" } else { "PASS" };
        assert_eq!(run["result"], want, "{run}");
        let last = if *fails { "FAILED" } else { "PASSED" };
        assert_eq!(step_statuses(&run), ["PASSED", "PASSED", last], "{run}");
    }
    let failing = runs.iter().filter(|(_, f)| *f).count() as i64;
    assert_eq!(scalar(&inst, "SELECT COUNT(*) FROM jobs"), 0);
    assert_eq!(
        scalar(&inst, "SELECT COUNT(*) FROM step_runs"),
        3 * RUNS as i64
    );
    assert_eq!(scalar(&inst, "SELECT COUNT(*) FROM findings"), failing);
    // One run-end event per run, queued in the transaction that ended it.
    assert_eq!(
        scalar(&inst, "SELECT COUNT(*) FROM webhook_deliveries"),
        RUNS as i64
    );
    assert_eq!(
        scalar(&inst, "SELECT COUNT(DISTINCT data) FROM webhook_deliveries"),
        RUNS as i64
    );

    // No blob lost: the backup brings every blob down from the bucket (each checked
    // against its name), and holds every submission's.
    let backup = tempfile::tempdir().unwrap();
    let to = backup.path().join("b");
    inst.cli(&["backup", to.to_str().unwrap()]);
    let stored: HashSet<String> = files_under(&to.join("blobs"))
        .into_iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let wanted: Vec<String> = with_db(&inst, |pool| async move {
        sqlx::query_scalar("SELECT DISTINCT sha256 FROM submissions")
            .fetch_all(&pool)
            .await
            .unwrap()
    });
    assert_eq!(wanted.len(), RUNS, "each document is different");
    let missing: Vec<&String> = wanted.iter().filter(|s| !stored.contains(*s)).collect();
    assert!(missing.is_empty(), "blobs lost: {missing:?}");

    // No container left behind: a killed worker's are removed by the sweeper of the
    // workers that outlive it (its runner process is gone).
    let ours: HashSet<&str> = runs.iter().map(|(id, _)| id.as_str()).collect();
    let leftover = receiver::wait_for("the sweeper", Duration::from_secs(60), || {
        let listed = docker(&[
            "ps",
            "-a",
            "--filter",
            "label=org.validibot.managed=true",
            "--format",
            "{{.Label \"org.validibot.run_id\"}}",
        ]);
        let left: Vec<String> = listed
            .lines()
            .filter(|id| ours.contains(id))
            .map(str::to_owned)
            .collect();
        left.is_empty().then_some(left)
    });
    assert!(leftover.is_empty());
    drop(workers);
}
