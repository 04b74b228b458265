//! The benchmark commands `docs/benchmarks.md` records still run: each once, with tiny
//! sizes, checking only that it works and prints its table (timings are measured by
//! running them by hand, never asserted in tests).

mod common;

use common::{examples_dir, Backend, Instance, BIN};

fn bench(inst: &Instance, args: &[&str]) -> String {
    let out = inst.command(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "validibot {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn launch_bench_on_sqlite_and_postgresql() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let inst = Instance::new(backend);
        let mut args = vec!["bench", "--requests", "20", "--clients", "2"];
        if backend == Backend::Postgres {
            args.extend(["--database-url", inst.database_url.as_str()]);
        }
        let table = bench(&inst, &args);
        assert!(
            table.contains("| phase | runs/s | p50 ms | p99 ms |"),
            "{table}"
        );
        assert!(
            table.contains("baseline: bare WASM validate call"),
            "{table}"
        );
        assert!(table.contains("ratios:"), "{table}");
    }
}

#[test]
fn plugin_bench_of_a_builtin() {
    let inst = Instance::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let workflow: serde_json::Value = serde_json::from_slice(
        &std::fs::read(examples_dir().join("invoice-workflow.json")).unwrap(),
    )
    .unwrap();
    let config = dir.path().join("inv-config.json");
    std::fs::write(&config, workflow["steps"][0]["config"].to_string()).unwrap();
    let document = examples_dir().join("invoice-valid.json");
    let table = bench(
        &inst,
        &[
            "plugin",
            "bench",
            "json-schema",
            "--document",
            document.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--iterations",
            "20",
        ],
    );
    assert!(
        table.contains("| warm instance (how built-ins run) |"),
        "{table}"
    );
    assert!(table.contains("ratio: fresh / warm"), "{table}");
}

#[test]
fn container_bench_against_the_engine() {
    let image = common::containers::image();
    let inst = Instance::new(Backend::Sqlite);
    let table = bench(
        &inst,
        &[
            "bench",
            "--container-image",
            image,
            "--container-rounds",
            "1",
        ],
    );
    assert!(
        table.contains("| `docker run --rm` (baseline) |"),
        "{table}"
    );
    assert!(table.contains("| Validibot runner |"), "{table}");
}

/// `host/benches/postgres_write_paths.sh` (PostgreSQL's ceiling per way of sending a
/// launch's statements, issue 20) runs: every pgbench variant completes without an
/// aborted client, and the product's launch bench runs on the same database.
#[test]
fn postgres_write_paths_bench() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new("bash")
        .arg(root.join("host/benches/postgres_write_paths.sh"))
        .args([BIN, "1", "1", "40"])
        .env("PORT", "55441")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "| statements |",
        "| pipelined |",
        "| function |",
        "| batch8 |",
    ] {
        assert!(stdout.contains(row), "{row} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("CPU per launch, 16 clients: server process"),
        "{stdout}"
    );
}
