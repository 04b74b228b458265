//! The container runner against a real Docker engine: every conformance
//! behaviour gives its typed outcome, and no container is left behind.
//! Needs a Docker engine (`.ci/test` installs and starts one); without it these
//! tests fail, they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use validibot_engines::containers::envelope::OutputStatus;
use validibot_engines::containers::{DockerRunner, Job, Limits, Outcome, Report};

mod common;
use common::containers::{docker, image};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn job(mode: &[&str], work: &Path, limits: Limits) -> Job {
    Job {
        run_id: format!("run-{}", uuid::Uuid::now_v7().simple()),
        validator: "conformance".into(),
        image: image().to_owned(),
        command: Some(mode.iter().map(|s| s.to_string()).collect()),
        files: vec![(
            "document.json".into(),
            "application/json".into(),
            std::sync::Arc::new(br#"{"a": 1}"#.to_vec()),
        )],
        step_files: vec![],
        env: vec![],
        config: serde_json::json!({"threshold": 3}),
        limits,
        work_dir: work.join(uuid::Uuid::now_v7().simple().to_string()),
    }
}

fn limits() -> Limits {
    Limits {
        memory_bytes: 64 << 20,
        timeout: Duration::from_secs(30),
        grace: Duration::from_secs(2),
        output_bytes: 1 << 20,
        log_bytes: 16 << 10,
        ..Limits::default()
    }
}

fn run(mode: &[&str], limits: Limits) -> (Report, PathBuf) {
    let work = tempfile::tempdir().unwrap().keep();
    let rt = runtime();
    let report = rt.block_on(async {
        let runner = DockerRunner::connect(None)
            .await
            .expect("a Docker engine (run `bash .ci/test`)");
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        runner.run(job(mode, &work, limits), cancel).await
    });
    (report, work)
}

fn leftovers() -> String {
    docker(&[
        "ps",
        "-a",
        "--filter",
        "label=org.validibot.validator=conformance",
        "--format",
        "{{.ID}}",
    ])
}

#[test]
fn conformance_behaviours_give_their_typed_outcomes() {
    let (r, _) = run(&["ok"], limits());
    assert_eq!(r.outcome, Outcome::Succeeded, "{r:?}");
    assert_eq!(r.output.as_ref().unwrap().status, OutputStatus::Success);
    assert!(r.logs.text.contains("checked"), "{r:?}");

    let (r, _) = run(&["fail-validation"], limits());
    assert_eq!(
        r.outcome,
        Outcome::Succeeded,
        "the container did its job: {r:?}"
    );
    let out = r.output.unwrap();
    assert_eq!(out.status, OutputStatus::FailedValidation);
    assert_eq!(out.messages[0].code, "conformance.bad");

    let (r, _) = run(&["exit", "3"], limits());
    assert!(
        matches!(r.outcome, Outcome::ValidatorFailed { exit_code: 3, .. }),
        "{r:?}"
    );
    assert!(r.logs.text.contains("exiting with 3"));

    let (r, _) = run(&["write-rootfs"], limits());
    assert!(
        matches!(r.outcome, Outcome::ValidatorFailed { exit_code: 5, .. }),
        "{r:?}"
    );
    assert!(r.logs.text.contains("Read-only file system"), "{r:?}");

    // A web server on the host's loopback: the same image reaches it on the host's
    // network (so the probe is real), and cannot from the runner's container.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/", server.local_addr().unwrap().port());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in server.incoming().flatten() {
            let mut request = [0u8; 1024];
            let _ = conn.read(&mut request);
            let _ = conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nreachable");
        }
    });
    // (create/start/wait/logs rather than `run`: Podman 4.3's API refuses the CLI's
    // attach-before-start; explicit limits: Podman's defaults exceed the hard limits.)
    let docker = common::containers::docker;
    let control = docker(&[
        "create",
        "--network",
        "host",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=256:256",
        image(),
        "network",
        &url,
    ]);
    docker(&["start", &control]);
    let code = docker(&["wait", &control]);
    let reached = docker(&["logs", &control]);
    docker(&["rm", "-f", &control]);
    assert_eq!(code, "0", "{reached}");
    assert!(reached.contains("reachable"), "{reached}");
    let (r, _) = run(&["network", &url], limits());
    assert!(
        matches!(r.outcome, Outcome::ValidatorFailed { exit_code: 6, .. }),
        "{r:?}"
    );

    let (r, _) = run(&["symlink-output"], limits());
    assert!(
        matches!(r.outcome, Outcome::ValidatorFailed { exit_code: 0, .. }),
        "{r:?}"
    );
    assert!(r.output.is_none());

    // A FIFO left as the output envelope: refused at once, never a blocked reader.
    let started = std::time::Instant::now();
    let (r, _) = run(&["fifo-output"], limits());
    match &r.outcome {
        Outcome::ValidatorFailed { reason, .. } => {
            assert!(reason.contains("not a regular file"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );

    let (r, _) = run(&["huge-output"], limits());
    match &r.outcome {
        Outcome::ValidatorFailed { reason, .. } => assert!(reason.contains("cap"), "{reason}"),
        other => panic!("{other:?}"),
    }

    let (r, _) = run(&["flood"], limits());
    assert_eq!(r.outcome, Outcome::Succeeded, "{r:?}");
    assert!(
        r.logs.truncated && r.logs.total_bytes >= 20_000_000,
        "{:?}",
        (r.logs.truncated, r.logs.total_bytes)
    );
    assert!(r.logs.text.len() < 20 << 10, "{}", r.logs.text.len());

    let (r, _) = run(
        &["memory"],
        Limits {
            memory_bytes: 32 << 20,
            ..limits()
        },
    );
    if common::containers::engine_is_podman() {
        // Podman with cgroupfs on cgroup v1 neither sets OOMKilled nor emits an oom
        // event, and the outcome is `oom` only when the engine reports it: the kill
        // shows as exit 137.
        assert!(
            r.outcome == Outcome::Oom || r.exit_code == Some(137),
            "{r:?}"
        );
    } else {
        assert_eq!(r.outcome, Outcome::Oom, "{r:?}");
    }

    let started = std::time::Instant::now();
    let (r, _) = run(
        &["sleep"],
        Limits {
            timeout: Duration::from_secs(2),
            grace: Duration::from_secs(1),
            ..limits()
        },
    );
    assert_eq!(r.outcome, Outcome::TimedOut, "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    assert_eq!(leftovers(), "", "containers left behind");
}

#[test]
fn cancel_stops_the_container() {
    let work = tempfile::tempdir().unwrap();
    let rt = runtime();
    let report = rt.block_on(async {
        let runner = DockerRunner::connect(None).await.expect("a Docker engine");
        let (tx, cancel) = tokio::sync::watch::channel(false);
        let j = job(&["sleep"], work.path(), limits());
        let handle = tokio::spawn(async move { runner.run(j, cancel).await });
        tokio::time::sleep(Duration::from_secs(2)).await;
        tx.send(true).unwrap();
        let cancelled = std::time::Instant::now();
        let report = handle.await.unwrap();
        // No grace period for a cancel: the result is discarded anyway.
        assert!(
            cancelled.elapsed() < Duration::from_secs(4),
            "stopped {:?} after the cancel",
            cancelled.elapsed()
        );
        report
    });
    assert_eq!(report.outcome, Outcome::Cancelled, "{report:?}");
}

#[test]
fn the_sweeper_removes_orphans_and_keeps_live_containers() {
    let img = image();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let far = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string();
    let label = |k: &str, v: &str| format!("--label=org.validibot.{k}={v}");
    let create = |runner: &str, deadline: &str| {
        docker(&[
            "create",
            &label("managed", "true"),
            &label("validator", "sweeper-test"),
            &label("run_id", "r"),
            &label("runner_instance", runner),
            &label("deadline", deadline),
            img,
            "sleep",
        ])
    };
    // A runner that died (no such pid on this host), a deadline long gone, and a live one.
    let dead = create(&format!("{}:4194000:1", host.trim()), &far);
    let expired = create("other-host:1:1", "1000");
    // This test process stands in for a live runner.
    let live = create(
        validibot_engines::containers::instance::RunnerInstance::current().id(),
        &far,
    );
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_validibot"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let planned = cli(&[
        "containers",
        "cleanup",
        "--dry-run",
        "--validator",
        "sweeper-test",
    ]);
    assert!(
        ids(&planned).contains(&dead) && ids(&planned).contains(&expired),
        "{planned}"
    );
    assert!(!ids(&planned).contains(&live), "{planned}");
    assert!(
        docker(&["ps", "-aq", "--no-trunc"]).contains(&dead),
        "dry run removed nothing"
    );
    cli(&["containers", "cleanup", "--validator", "sweeper-test"]);
    let remaining = docker(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        "label=org.validibot.validator=sweeper-test",
    ]);
    assert_eq!(remaining, live, "only the live one is left");
    // Scoped to this test's containers: the other tests' runs are live.
    cli(&[
        "containers",
        "cleanup",
        "--all",
        "--validator",
        "sweeper-test",
    ]);
    assert_eq!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            "label=org.validibot.validator=sweeper-test"
        ]),
        ""
    );
}
