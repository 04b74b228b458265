//! Test harness: starts the real `validibot` binary against a fresh SQLite
//! file or a fresh PostgreSQL database, and talks HTTP to it.
//!
//! PostgreSQL tests need `VALIDIBOT_TEST_POSTGRES_URL` (an admin URL on a
//! server the tests may create databases on); `.ci/test` starts one. Without it
//! they fail with a message saying so — they never skip.

#![allow(dead_code)]

pub mod browser;
pub mod containers;
pub mod guest;
pub mod hosts;
pub mod oidc;
pub mod pro;
pub mod receiver;
pub mod smtp;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_validibot");

/// A client that shows redirects instead of following them (sign-in answers with one).
pub fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where cargo puts build outputs: `CARGO_TARGET_DIR` (CI keeps one outside the checkout
/// between runs) or the checkout's `target/`. Test fixtures built with cargo go there too.
pub fn target_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL and the test bucket shared by processes with data dirs of their own:
    /// `serve` starts two API processes (`serve --no-worker`, requests alternate between
    /// them) and three `worker` processes (see `hosts`).
    ManyHosts,
}

/// Generates `mod sqlite { #[test] fn name() }` and `mod postgres { … }` for each test fn.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::common::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::common::Backend::Postgres) } )*
        }
    };
}

/// Generates `mod sqlite`, `mod postgres` and `mod many_hosts` (PostgreSQL, the bucket,
/// two API and three worker processes, each with its own data dir) for each test fn.
#[macro_export]
macro_rules! on_every_topology {
    ($($name:ident),* $(,)?) => {
        $crate::on_both_backends!($($name),*);
        mod many_hosts {
            $( #[test] fn $name() { super::$name($crate::common::Backend::ManyHosts) } )*
        }
    };
}

/// A data dir and database that one or more processes share.
pub struct Instance {
    pub data: tempfile::TempDir,
    pub database_url: String,
    /// Set for every command (e.g. the bucket settings of `object_storage.rs`).
    pub env: Vec<(String, String)>,
    /// `serve` and `worker` start processes with data dirs of their own (`ManyHosts`).
    pub many_hosts: bool,
}

impl Instance {
    pub fn new(backend: Backend) -> Instance {
        let data = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => format!(
                "sqlite://{}?mode=rwc",
                data.path().join("validibot.db").display()
            ),
            Backend::Postgres | Backend::ManyHosts => fresh_postgres_database(),
        };
        let many_hosts = backend == Backend::ManyHosts;
        let env = match many_hosts {
            true => hosts::bucket(&format!("hosts-{}", uuid::Uuid::now_v7().simple())),
            false => vec![],
        };
        Instance {
            data,
            database_url,
            env,
            many_hosts,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("VALIDIBOT_DATA_DIR", self.data.path())
            .env("VALIDIBOT_DATABASE_URL", &self.database_url)
            .env("VALIDIBOT_LOG", "warn")
            // Most tests install unsigned test components; the signing tests turn this
            // off (installed_plugins.rs: signed_plugins_and_uninstall).
            .env("VALIDIBOT_ALLOW_UNSIGNED_PLUGINS", "true")
            // Suites launch thousands of runs from one key on loopback; the limits are
            // tested with small budgets in rate_limits.rs.
            .env("VALIDIBOT_RATE_LIMIT_KEY_LAUNCHES", "1000000")
            .env("VALIDIBOT_RATE_LIMIT_KEY_CALLS", "1000000")
            .env("VALIDIBOT_RATE_LIMIT_CLIENT_LAUNCHES", "1000000")
            .env("VALIDIBOT_RATE_LIMIT_CLIENT_CALLS", "1000000")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs a CLI command to completion; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_with_env(args, &[])
    }

    pub fn cli_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "validibot {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Makes every stored blob look written two hours ago (past the retention sweep's grace).
    #[allow(dead_code)]
    pub fn age_blobs(&self) {
        let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
        let mut stack = vec![self.data.path().join("blobs").join("sha256")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let f = std::fs::File::options().append(true).open(&p).unwrap();
                    f.set_modified(two_hours_ago).unwrap();
                }
            }
        }
    }

    /// Creates a user with a role in the default workspace and returns an API key.
    pub fn user(&self, name: &str, role: &str) -> String {
        self.cli(&["admin", "create-user", "--username", name, "--role", role]);
        self.cli(&["admin", "create-api-key", "--username", name])
            .trim()
            .to_owned()
    }

    /// Gives a user a web password, as an operator does (`admin set-password`, on stdin).
    pub fn set_password(&self, user: &str, password: &str) {
        use std::io::Write;
        let mut child = self
            .command(&["admin", "set-password", "--username", user])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        assert!(child.wait().unwrap().success());
    }

    pub fn serve(&self, extra: &[&str]) -> Server {
        self.serve_with_env(extra, &[])
    }

    pub fn serve_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Server {
        self.serve_to(extra, env, Stdio::inherit())
    }

    /// Starts `serve` with its log (stderr) going to `stderr`; with `many_hosts`, two API
    /// processes and (unless `extra` has `--no-worker`) three workers.
    pub fn serve_to(&self, extra: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Server {
        if self.many_hosts {
            return hosts::serve(self, extra, env, stderr);
        }
        let (child, base) = self.start_api(self.command(&[]), extra, env, stderr);
        Server::new(child, base)
    }

    /// `serve` from `command` (this instance's `command`, perhaps with another data dir):
    /// the child and the address it listens on.
    fn start_api(
        &self,
        mut command: Command,
        extra: &[&str],
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> (Child, String) {
        // A test that must know the port first (a redirect URI) binds it itself.
        let mut args = vec!["serve"];
        if !extra.contains(&"--bind") {
            args.extend(["--bind", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        command.args(&args).envs(env.iter().copied());
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("validibot listening on ")
            .unwrap_or_else(|| panic!("server did not start: {line:?}"))
            .to_owned();
        (child, base)
    }

    /// Installs the hostile test plugin (`host/tests/plugins/hostile`) with `grants`, as
    /// an operator would with `validibot plugin install --grant …`.
    pub fn install_hostile(&self, grants: &[&str]) {
        let wasm = guest::build_guest("host/tests/plugins/hostile", "validibot_test_hostile");
        let file = self.data.path().join("hostile.wasm");
        std::fs::write(&file, wasm).unwrap();
        let mut args = vec!["plugin", "install", file.to_str().unwrap()];
        for g in grants {
            args.extend(["--grant", g]);
        }
        self.cli(&args);
    }

    /// `validibot check` of a JSON `document` against a `workflow` definition, with
    /// `--format json` and `extra` arguments: the exit code and the report.
    #[allow(dead_code)]
    pub fn check_json(
        &self,
        workflow: &Value,
        document: &Value,
        extra: &[&str],
    ) -> (Option<i32>, Value) {
        let dir = tempfile::tempdir().unwrap();
        let wf = dir.path().join("workflow.json");
        std::fs::write(&wf, workflow.to_string()).unwrap();
        let doc = dir.path().join("document.json");
        std::fs::write(&doc, document.to_string()).unwrap();
        let mut args = vec![
            "check",
            doc.to_str().unwrap(),
            "-w",
            wf.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = self.command(&args).output().unwrap();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report)
    }

    /// A `worker` process (with `many_hosts`, on a data dir of its own).
    pub fn worker(&self, extra: &[&str]) -> Worker {
        let mut args = vec!["worker"];
        args.extend_from_slice(extra);
        let mut command = self.command(&args);
        let own = self
            .many_hosts
            .then(|| hosts::own_data_dir(&mut command, self));
        Worker(command.stdout(Stdio::null()).spawn().unwrap(), own)
    }
}

/// A `worker` process, killed when dropped: a test that panics must not leave workers
/// running against a data dir that is about to be deleted.
pub struct Worker(Child, Option<tempfile::TempDir>);

impl Worker {
    /// SIGKILL, no graceful shutdown: leases and running steps are left behind.
    pub fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Server {
    /// The (first) API process.
    pub child: Child,
    /// Its address.
    pub base: String,
    pub client: Client,
    /// `ManyHosts`: every API process's address; requests take turns.
    bases: Vec<String>,
    turn: std::sync::atomic::AtomicUsize,
    /// `ManyHosts`: the other processes and their data dirs.
    others: Vec<Child>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for c in std::iter::once(&mut self.child).chain(self.others.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Server {
    fn new(child: Child, base: String) -> Server {
        Server {
            child,
            bases: vec![base.clone()],
            base,
            client: Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            turn: Default::default(),
            others: vec![],
            _dirs: vec![],
        }
    }

    /// Signs in through the login form: the session cookie, or the status when refused.
    pub fn sign_in(&self, username: &str, password: &str) -> Result<String, u16> {
        let resp = no_redirects()
            .post(self.url("/ui/login"))
            .form(&[("username", username), ("password", password)])
            .send()
            .unwrap();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
        match cookie {
            Some(c) if resp.status().is_redirection() => Ok(c),
            _ => Err(resp.status().as_u16()),
        }
    }

    /// Whether a session cookie still reaches a page behind the sign-in.
    pub fn has_session(&self, cookie: &str) -> bool {
        let resp = no_redirects()
            .get(self.url("/ui/w/default/settings"))
            .header("cookie", cookie)
            .send()
            .unwrap();
        resp.status() == 200
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// `path` on an API process (with several, each call takes the next).
    pub fn url(&self, path: &str) -> String {
        let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}{path}", self.bases[turn % self.bases.len()])
    }
    pub fn get(&self, key: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .unwrap()
    }
    pub fn post(&self, key: &str, path: &str) -> RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(key)
    }
    pub fn put(&self, key: &str, path: &str) -> RequestBuilder {
        self.client.put(self.url(path)).bearer_auth(key)
    }
    pub fn delete(&self, key: &str, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .unwrap()
    }

    /// Creates a workflow from a definition; panics unless 201.
    pub fn create_workflow(&self, key: &str, def: &Value) -> Value {
        let resp = self
            .post(key, "/api/v1/workspaces/default/workflows")
            .json(def)
            .send()
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Uploads a file for workflow steps; panics unless 201. Returns its sha256.
    #[allow(dead_code)]
    pub fn upload_file(&self, key: &str, name: &str, media_type: &str, bytes: &[u8]) -> String {
        let (status, body) = json_of(
            self.post(
                key,
                &format!("/api/v1/workspaces/default/files?name={name}"),
            )
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .unwrap(),
        );
        assert_eq!(status, 201, "{body}");
        body["sha256"].as_str().unwrap().to_owned()
    }

    /// Saving `def` is refused as an invalid workflow (400 `INVALID_WORKFLOW`); the answer.
    #[allow(dead_code)]
    pub fn refused_workflow(&self, key: &str, def: &Value) -> Value {
        let (status, body) = json_of(
            self.post(key, "/api/v1/workspaces/default/workflows")
                .json(def)
                .send()
                .unwrap(),
        );
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("INVALID_WORKFLOW")),
            "{body}"
        );
        body
    }

    /// Launches with a raw body; returns (status, body).
    pub fn launch(
        &self,
        key: &str,
        slug: &str,
        content_type: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> (u16, Value) {
        let resp = self
            .post(
                key,
                &format!("/api/v1/workspaces/default/workflows/{slug}/runs"),
            )
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        json_of(resp)
    }

    /// Launches one of the `examples/` files as JSON on a workflow.
    pub fn launch_example(&self, key: &str, slug: &str, file: &str) -> (u16, Value) {
        self.launch(key, slug, "application/json", example(file))
    }

    /// Polls a run until it is COMPLETED.
    pub fn wait_run(&self, key: &str, url: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let run: Value = self.get(key, url).json().unwrap();
            if run["state"] == "COMPLETED" {
                return run;
            }
            assert!(start.elapsed() < timeout, "run {url} did not finish: {run}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs `f` against the instance's database directly (tests that read or tamper with
/// rows), on a runtime of its own.
#[allow(dead_code)]
pub fn with_db<T, F: std::future::Future<Output = T>>(
    inst: &Instance,
    f: impl FnOnce(sqlx::AnyPool) -> F,
) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&inst.database_url).await.unwrap();
        let out = f(pool.clone()).await;
        pool.close().await;
        out
    })
}

/// The status and the JSON body (`null` for an empty one, as with 204).
pub fn json_of(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")),
    )
}

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples")
}

pub fn example(name: &str) -> Vec<u8> {
    std::fs::read(examples_dir().join(name)).unwrap()
}

pub fn invoice_workflow() -> Value {
    serde_json::from_slice(&example("invoice-workflow.json")).unwrap()
}

/// Codes of a run's findings, sorted.
/// The value of the first step's output `name` (panics with the run if absent).
#[allow(dead_code)]
pub fn first_step_output(run: &Value, name: &str) -> Value {
    run["steps"][0]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .map(|o| o["value"].clone())
        .unwrap_or_else(|| panic!("no output {name}: {run}"))
}

/// Each step's status, in order.
pub fn step_statuses(run: &Value) -> Vec<String> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect()
}

pub fn finding_codes(run: &Value) -> Vec<String> {
    let mut codes: Vec<String> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["code"].as_str().unwrap().to_owned())
        })
        .collect();
    codes.sort();
    codes
}

fn fresh_postgres_database() -> String {
    let admin = std::env::var("VALIDIBOT_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("PostgreSQL tests need VALIDIBOT_TEST_POSTGRES_URL (e.g. postgres://validibot@127.0.0.1:5433/postgres); run `bash .ci/test`, which starts one")
    });
    let name = format!("vb_test_{}", uuid::Uuid::now_v7().simple());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("connecting to {admin}: {e}"));
        sqlx::Executor::execute(
            &mut conn,
            sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
        )
        .await
        .unwrap();
    });
    let (prefix, _) = admin.rsplit_once('/').expect("admin URL ends with /DBNAME");
    format!("{prefix}/{name}")
}

/// Every file under `dir` (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// One number read straight from the database (0 when there is no row).
pub fn scalar(inst: &Instance, sql: &str) -> i64 {
    use sqlx::Row;
    let sql = sql.to_owned();
    with_db(inst, |pool| async move {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_optional(&pool)
            .await
            .unwrap()
            .map_or(0, |r| r.get::<i64, _>(0))
    })
}

/// Validates answers against the served document's schemas (`tests/openapi/check.py`).
#[allow(dead_code)]
pub fn check_schemas(doc: &Value, answers: &[(&str, &Value)]) {
    let dir = tempfile::tempdir().unwrap();
    let save = |name: &str, v: &Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p.display().to_string()
    };
    let doc = save("openapi.json", doc);
    let args: Vec<String> = answers
        .iter()
        .enumerate()
        .map(|(i, (schema, v))| format!("{schema}={}", save(&format!("{i}.json"), v)))
        .collect();
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/openapi/check.py"
        ))
        .arg(&doc)
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret for 30-second `step`,
/// computed by Python's standard library: independent of the server's TOTP crate.
#[allow(dead_code)]
pub fn totp(secret: &str, step: u64) -> String {
    let script = r#"
import base64, hashlib, hmac, struct, sys
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
mac = hmac.new(key, struct.pack(">Q", int(sys.argv[2])), hashlib.sha1).digest()
off = mac[-1] & 15
print("%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 1000000))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, secret, &step.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[allow(dead_code)]
pub fn step_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}
