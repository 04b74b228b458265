//! `Backend::ManyHosts`: an instance spread over processes that share nothing but
//! PostgreSQL and the test bucket (SeaweedFS, which `.ci/test` starts) — two API
//! processes (`serve --no-worker`) taking requests in turn and three `worker` processes,
//! each with a data dir of its own, as on separate machines.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::{Instance, Server};

/// API processes, and workers unless the test asks for none.
const API_PROCESSES: usize = 2;
const WORKER_PROCESSES: usize = 3;

/// The test S3 server's endpoint.
pub fn endpoint() -> String {
    std::env::var("VALIDIBOT_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("bucket tests need VALIDIBOT_TEST_S3_ENDPOINT (e.g. http://127.0.0.1:8333); run `bash .ci/test`, which starts one")
    })
}

/// The settings that put an instance's blobs under `prefix` in the test bucket.
pub fn bucket(prefix: &str) -> Vec<(String, String)> {
    bucket_with_secret(prefix, "validibot-test-secret")
}

/// As [`bucket`], with another secret key (a wrong one, to see it refused).
pub fn bucket_with_secret(prefix: &str, secret: &str) -> Vec<(String, String)> {
    [
        (
            "VALIDIBOT_STORAGE_URL",
            format!("s3://validibot-test/{prefix}"),
        ),
        ("VALIDIBOT_S3_ENDPOINT", endpoint()),
        ("VALIDIBOT_S3_REGION", "us-east-1".into()),
        ("VALIDIBOT_S3_ACCESS_KEY_ID", "validibot".into()),
        ("VALIDIBOT_S3_SECRET_ACCESS_KEY", secret.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The built-in validators compiled for this machine, as a host that has started
/// before keeps them in its data dir (`cache/wasm`): a fresh data dir compiles them
/// first (~10 s, far longer with five processes at once on two cores), which a test
/// would otherwise wait through at every start. Made once per test binary by a `serve`
/// on a throw-away SQLite instance.
fn compiled_validators() -> &'static Path {
    static WARM: OnceLock<tempfile::TempDir> = OnceLock::new();
    WARM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("warm.db").display());
        let mut child = Command::new(super::BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--no-worker"])
            .env("VALIDIBOT_DATA_DIR", dir.path())
            .env("VALIDIBOT_DATABASE_URL", db)
            .env("VALIDIBOT_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening"), "warm-up server: {line:?}");
        child.kill().unwrap();
        child.wait().unwrap();
        dir
    })
    .path()
}

/// Points `command` at a fresh data dir (returned: it lives as long as the process) that
/// holds the compiled built-in validators, as on a host that has run this build before,
/// and at the instance's extensions, as an operator installs the same extension on each
/// host.
pub fn own_data_dir(command: &mut Command, inst: &Instance) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let warm = compiled_validators().join("cache").join("wasm");
    let cache = dir.path().join("cache").join("wasm");
    std::fs::create_dir_all(&cache).unwrap();
    for f in std::fs::read_dir(&warm).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), cache.join(f.file_name())).unwrap();
    }
    command.env("VALIDIBOT_DATA_DIR", dir.path()).env(
        "VALIDIBOT_EXTENSIONS_DIR",
        inst.data.path().join("extensions"),
    );
    dir
}

/// The `serve` flags in `extra` that `worker` takes too (validator limits, leases …),
/// with their values.
fn worker_flags<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    static HELP: OnceLock<String> = OnceLock::new();
    let help = HELP.get_or_init(|| {
        let out = Command::new(super::BIN)
            .args(["worker", "--help"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    });
    let takes =
        |flag: &str| help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n"));
    let mut out = vec![];
    let mut keep = false;
    for arg in extra {
        if arg.starts_with("--") {
            let name = arg.split('=').next().unwrap();
            keep = name != "--no-worker" && takes(name);
        }
        if keep {
            out.push(*arg);
        }
    }
    out
}

/// Two API processes (the first logging to `stderr`) and, unless `extra` has
/// `--no-worker`, three workers.
pub fn serve(inst: &Instance, extra: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Server {
    let mut api_extra = extra.to_vec();
    if !api_extra.contains(&"--no-worker") {
        api_extra.push("--no-worker");
    }
    let mut dirs = vec![];
    let mut apis = vec![];
    let mut stderr = Some(stderr);
    for _ in 0..API_PROCESSES {
        let mut command = inst.command(&[]);
        dirs.push(own_data_dir(&mut command, inst));
        let log = stderr.take().unwrap_or_else(Stdio::inherit);
        apis.push(inst.start_api(command, &api_extra, env, log));
    }
    let mut others = vec![];
    if !extra.contains(&"--no-worker") {
        let mut args = vec!["worker"];
        args.extend(worker_flags(extra));
        for _ in 0..WORKER_PROCESSES {
            let mut command = inst.command(&args);
            command.envs(env.iter().copied());
            dirs.push(own_data_dir(&mut command, inst));
            others.push(command.stdout(Stdio::null()).spawn().unwrap());
        }
    }
    let mut apis = apis.into_iter();
    let (child, base) = apis.next().unwrap();
    let mut server = Server::new(child, base);
    for (child, base) in apis {
        server.bases.push(base);
        server.others.push(child);
    }
    server.others.extend(others);
    server._dirs = dirs;
    server
}
