//! The client CLI against the real server: `login` (0600 credentials), `workflows`,
//! `validate` with every output format and exit code (PASS 0, FAIL 1, ERROR 2, not
//! finished 3, no result 4, Ctrl-C 130), files over the inline limit (multipart),
//! `runs list|show|cancel`, the report endpoint, and the offline `check`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{examples_dir, json_of, Backend, Instance, BIN};
use serde_json::Value;

const WORKFLOW_YAML: &str = "\
slug: invoice
name: Invoice check
content_types: [application/json]
steps:
  - key: schema
    name: Invoice schema
    validator: json-schema
    config:
      schema:
        type: object
        required: [id, customer, lines, total]
        properties:
          id: {type: string, pattern: '^INV-[0-9]{6}$'}
          total: {type: number, minimum: 0}
";

/// A client command with its own credentials file (never the user's).
fn client(creds: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("VALIDIBOT_CREDENTIALS", creds)
        .env_remove("VALIDIBOT_SERVER")
        .env_remove("VALIDIBOT_API_KEY")
        .env_remove("VALIDIBOT_WORKSPACE")
        .env("XDG_CACHE_HOME", creds.parent().unwrap().join("cache"));
    cmd
}

fn run(creds: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = client(creds, args).output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn example(name: &str) -> String {
    examples_dir().join(name).display().to_string()
}

fn login_workflows_and_validate(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let server = inst.serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("config").join("credentials.json");

    // login: the key from stdin, checked, saved 0600.
    let mut login = client(&creds, &["login", "--server", &server.base])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(login.stdin.take().unwrap(), "{key}").unwrap();
    let out = login.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(saved["api_key"], key.as_str());
    // A wrong key is refused and not saved.
    let other = dir.path().join("other.json");
    let (code, _, err) = run(
        &other,
        &[
            "login",
            "--server",
            &server.base,
            "--api-key",
            "vbk_nope_nope",
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("NOT_AUTHENTICATED"), "{err}");
    assert!(!other.exists());

    // workflows create -f (YAML), list, show; an invalid step config is explained.
    let wf = dir.path().join("invoice.yaml");
    std::fs::write(&wf, WORKFLOW_YAML).unwrap();
    let (code, out, err) = run(&creds, &["workflows", "create", "-f", wf.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("created invoice v1 (1 steps, sha256:"),
        "{out}"
    );
    let (code, _, err) = run(&creds, &["workflows", "create", "-f", wf.to_str().unwrap()]);
    assert_eq!(code, 4);
    assert!(
        err.contains("WORKFLOW_EXISTS") || err.contains("409"),
        "{err}"
    );
    let (code, out, _) = run(
        &creds,
        &[
            "workflows",
            "create",
            "-f",
            wf.to_str().unwrap(),
            "--update",
        ],
    );
    assert_eq!(code, 0);
    // An unchanged file is a no-op, reported (issue 26, item 9).
    assert!(out.starts_with("unchanged: invoice v1 "), "{out}");
    let edited = dir.path().join("edited");
    std::fs::create_dir_all(&edited).unwrap();
    let edited = edited.join("invoice.yaml");
    std::fs::write(
        &edited,
        WORKFLOW_YAML.replace("Invoice check", "Invoice check (edited)"),
    )
    .unwrap();
    let (code, out, _) = run(
        &creds,
        &[
            "workflows",
            "create",
            "-f",
            edited.to_str().unwrap(),
            "--update",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("saved invoice v1 "), "{out}");
    std::fs::write(&edited, WORKFLOW_YAML).unwrap();
    let (code, out, _) = run(
        &creds,
        &[
            "workflows",
            "create",
            "-f",
            edited.to_str().unwrap(),
            "--update",
        ],
    );
    assert_eq!(
        (code, out.starts_with("saved invoice v1 ")),
        (0, true),
        "{out}"
    );
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "slug: bad\nsteps:\n  - key: s\n    validator: json-schema\n    config: {schema: {type: 12}}\n").unwrap();
    let (code, _, err) = run(
        &creds,
        &["workflows", "create", "-f", bad.to_str().unwrap()],
    );
    assert_eq!(code, 4);
    assert!(err.contains("step s: invalid step config"), "{err}");
    let (code, out, _) = run(&creds, &["workflows", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("invoice ") && l.ends_with("Invoice check")),
        "{out}"
    );
    let (code, out, _) = run(&creds, &["workflows", "show", "invoice"]);
    assert_eq!(code, 0);
    let shown: Value = serde_yaml_ng::from_str(&out).unwrap();
    assert_eq!(shown["steps"][0]["validator"], "json-schema");

    // validate: exit codes and formats.
    let (code, out, err) = run(
        &creds,
        &[
            "validate",
            &example("invoice-invalid.json"),
            "-w",
            "invoice",
            "--wait",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.starts_with("FAIL — invoice v"), "{out}");
    assert!(out.contains("json.schema.pattern at /id"), "{out}");
    let (code, out, _) = run(
        &creds,
        &[
            "validate",
            &example("invoice-valid.json"),
            "-w",
            "invoice",
            "--wait",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0);
    let run_json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run_json["result"], "PASS");
    let (code, out, _) = run(
        &creds,
        &[
            "validate",
            &example("invoice-invalid.json"),
            "-w",
            "invoice",
            "--format",
            "sarif",
        ],
    );
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["ruleId"] == "json.schema.pattern"));
    // What GitHub code scanning needs: the official schema, the file as named in the
    // repository, a line for every JSON Schema finding, fingerprints.
    let sarif_file = dir.path().join("report.sarif");
    std::fs::write(&sarif_file, &out).unwrap();
    check_sarif(&sarif_file);
    let result = &sarif["runs"][0]["results"][0];
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "examples/invoice-invalid.json"
    );
    assert!(
        location["region"]["startLine"].as_u64().unwrap() > 1,
        "{result}"
    );
    let junit_file = dir.path().join("report.xml");
    let (code, out, err) = run(
        &creds,
        &[
            "validate",
            &example("invoice-invalid.json"),
            "-w",
            "invoice",
            "--format",
            "junit",
            "-o",
            junit_file.to_str().unwrap(),
        ],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("FAIL — report written to"), "{err}");
    let xml = std::fs::read_to_string(&junit_file).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1);
    assert!(cases[0].children().any(|c| c.has_tag_name("failure")));
    // Over the server's 10 MiB inline limit: sent as a streamed multipart upload.
    let big = dir.path().join("big.json");
    write_big_invoice(&big, 11 << 20);
    assert!(std::fs::metadata(&big).unwrap().len() > 11 << 20);
    let (code, out, err) = run(
        &creds,
        &[
            "validate",
            big.to_str().unwrap(),
            "-w",
            "invoice",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let big_run: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        big_run["submission"]["size"].as_u64(),
        Some(std::fs::metadata(&big).unwrap().len())
    );
    assert!(err.contains("run page: http"), "{err}");
    // A vague label (text/plain, no file name) is judged by the bytes (issue 25, item 4).
    let (status, sniffed) = json_of(
        server
            .post(
                &key,
                "/api/v1/workspaces/default/workflows/invoice/runs?wait=10",
            )
            .header("content-type", "text/plain")
            .body(std::fs::read(example("invoice-valid.json")).unwrap())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{sniffed}");
    assert_eq!(sniffed["submission"]["content_type"], "application/json");
    assert_eq!(sniffed["result"], "PASS");
    // A request the server refuses is exit 4 (no result), with its error.
    let (code, _, err) = run(
        &creds,
        &["validate", &example("invoice-valid.json"), "-w", "nope"],
    );
    assert_eq!(code, 4);
    assert!(err.contains("WORKFLOW_NOT_FOUND"), "{err}");
    // v1 has runs now: saving the same file again still creates no version.
    let (code, out, _) = run(
        &creds,
        &[
            "workflows",
            "create",
            "-f",
            wf.to_str().unwrap(),
            "--update",
        ],
    );
    assert_eq!(
        (code, out.starts_with("unchanged: invoice v1 ")),
        (0, true),
        "{out}"
    );

    // The same reports from the API.
    let url = run_json["url"].as_str().unwrap();
    let resp = server.get(&key, &format!("{url}/report?format=junit"));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/xml");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".junit.xml\""));
    roxmltree::Document::parse(&resp.text().unwrap()).unwrap();
    let resp = server.get(&key, &format!("{url}/report?format=sarif"));
    assert_eq!(resp.headers()["content-type"], "application/sarif+json");
    let (status, body) = json_of(server.get(&key, &format!("{url}/report?format=pdf")));
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_FORMAT"))
    );
}

/// Runs that cannot finish (no worker): the wait runs out (3), Ctrl-C is 130.
fn waits_that_run_out(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let server = inst.serve(&["--no-worker"]);
    server.create_workflow(&key, &common::invoice_workflow());
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.json");
    let server_args = ["--server", server.base.as_str(), "--api-key", key.as_str()];
    let mut args = vec!["validate", "-w", "invoice", "--timeout", "1"];
    let file = example("invoice-valid.json");
    args.push(&file);
    args.extend(server_args);
    let started = Instant::now();
    let (code, _, err) = run(&creds, &args);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("gave up waiting after 1 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // --no-wait: the id on stdout, a pointer to `runs show` and the run page.
    let mut args = vec!["validate", "-w", "invoice", "--no-wait"];
    args.push(&file);
    args.extend(server_args);
    let started = Instant::now();
    let (code, out, err) = run(&creds, &args);
    assert_eq!(code, 3, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let id = out.trim();
    assert_eq!(id.len(), 36, "{out}");
    assert!(
        err.contains(&format!("`validibot runs show {id}`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}/ui/w/default/runs/{id}", server.base)),
        "{err}"
    );
    // `runs show` waits (here: runs out), `runs list` finds it, `runs cancel` ends it.
    let mut args = vec!["runs", "show", id, "--timeout", "1"];
    args.extend(server_args);
    let (code, _, err) = run(&creds, &args);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&format!("run {id} is still PENDING")), "{err}");
    let mut args = vec!["runs", "list", "-w", "invoice", "--status", "pending"];
    args.extend(server_args);
    let (code, out, err) = run(&creds, &args);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ID "), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(id) && l.contains("invoice v1") && l.contains("PENDING")),
        "{out}"
    );
    let mut args = vec!["runs", "cancel", id];
    args.extend(server_args);
    assert_eq!(run(&creds, &args).0, 0);
    let mut args = vec!["runs", "show", id, "--format", "json"];
    args.extend(server_args);
    let (code, out, err) = run(&creds, &args);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "CANCELED"
    );
    let mut args = vec!["runs", "list", "--status", "pending"];
    args.extend(server_args);
    let (_, out, _) = run(&creds, &args);
    assert!(!out.contains(id) && out.contains("PENDING"), "{out}");
    // An unreachable server is exit 4, not a run's ERROR.
    let (code, _, err) = run(
        &creds,
        &[
            "runs",
            "list",
            "--server",
            "http://127.0.0.1:9",
            "--api-key",
            "vbk_x_y",
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("cannot reach http://127.0.0.1:9"), "{err}");

    let mut args = vec!["validate", "-w", "invoice", "--wait"];
    args.push(&file);
    args.extend(server_args);
    let child = client(&creds, &args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("the run goes on"), "{err}");
}

on_both_backends!(login_workflows_and_validate, waits_that_run_out);

/// `check` needs no server: the same reports and exit codes from the embedded validators.
#[test]
fn check_runs_locally() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("none.json");
    let wf = dir.path().join("invoice.yaml");
    std::fs::write(&wf, WORKFLOW_YAML).unwrap();
    let wf = wf.to_str().unwrap();
    let (code, out, err) = run(
        &creds,
        &["check", &example("invoice-invalid.json"), "--workflow", wf],
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("json.schema.pattern at /id"), "{out}");
    // The first run says why it takes seconds; later ones load the compiled validators.
    assert!(err.contains("compiling the built-in validators"), "{err}");
    let (code, out, err) = run(
        &creds,
        &[
            "check",
            &example("invoice-valid.json"),
            "--workflow",
            wf,
            "--format",
            "sarif",
        ],
    );
    assert_eq!(code, 0);
    assert!(!err.contains("compiling"), "{err}");
    let sarif: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 0);
    let (code, out, _) = run(
        &creds,
        &[
            "check",
            &example("invoice-invalid.json"),
            "--workflow",
            wf,
            "--format",
            "junit",
        ],
    );
    assert_eq!(code, 1);
    roxmltree::Document::parse(&out).unwrap();
    // An invalid workflow or a document of the wrong type is exit 2, with the reason.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "steps:\n  - key: s\n    validator: json-schema\n    config: {schema: {type: 12}}\n",
    )
    .unwrap();
    let (code, _, err) = run(
        &creds,
        &[
            "check",
            &example("invoice-valid.json"),
            "--workflow",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("invalid step config"), "{err}");
    // ... and with a machine format, a report CI can parse (issue 26, item 11).
    for format in ["json", "sarif", "junit"] {
        let (code, out, _) = run(
            &creds,
            &[
                "check",
                &example("invoice-valid.json"),
                "--workflow",
                bad.to_str().unwrap(),
                "--format",
                format,
            ],
        );
        assert_eq!(code, 2, "{format}");
        match format {
            "json" => {
                let report: Value = serde_json::from_str(&out).unwrap();
                assert_eq!(report["result"], "ERROR");
                let codes: Vec<&str> = report["steps"][0]["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["code"].as_str().unwrap())
                    .collect();
                assert_eq!(
                    codes,
                    ["workflow.refused", "config.schema_invalid"],
                    "{report}"
                );
                assert_eq!(
                    report["steps"][0]["findings"][1]["path"],
                    "/steps/0/config/schema/type"
                );
            }
            "sarif" => {
                let sarif: Value = serde_json::from_str(&out).unwrap();
                assert!(
                    sarif["runs"][0]["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["ruleId"] == "config.schema_invalid"),
                    "{sarif}"
                );
            }
            _ => {
                let doc = roxmltree::Document::parse(&out).unwrap();
                assert!(
                    doc.descendants()
                        .any(|n| n.has_tag_name("failure") || n.has_tag_name("error")),
                    "{out}"
                );
            }
        }
    }
    // A JSON workflow with an integer beyond 64 bits is read as JSON (issue 26, item 7).
    let big = dir.path().join("big.json");
    std::fs::write(
        &big,
        r#"{"steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"type": "object", "properties": {"n": {"minimum": -18446744073709551615}}}}}]}"#,
    )
    .unwrap();
    let (code, out, err) = run(
        &creds,
        &[
            "check",
            &example("invoice-valid.json"),
            "--workflow",
            big.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let (code, _, err) = run(&creds, &["check", csv.to_str().unwrap(), "--workflow", wf]);
    assert_eq!(code, 2);
    assert!(err.contains("accepts application/json"), "{err}");

    // The validators' memory caps are settings of `check` too (issue 24): a document too
    // big for a small maximum is an ERROR that names the setting to raise, and passes
    // under the defaults (the cap grows with the document).
    let big = dir.path().join("big.json");
    write_big_invoice(&big, 8 << 20);
    let big = big.to_str().unwrap();
    let (code, out, err) = run(
        &creds,
        &[
            "check",
            big,
            "-f",
            wf,
            "--validator-memory-mib",
            "16",
            "--validator-memory-max-mib",
            "16",
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("validator.memory_exceeded"), "{out}");
    assert!(out.contains("--validator-memory-max-mib"), "{out}");
    // A workflow sets its own base cap (issue 24), held to the maximum: with 16 MiB the
    // cap for this document is 8× its size, 64 MiB — too little, where the instance's
    // 256 MiB base does — and the finding names the workflow's setting; more than the
    // maximum is refused.
    let mut small: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(wf).unwrap()).unwrap();
    small["validator_memory_mib"] = 16.into();
    let small_wf = dir.path().join("small-memory.json");
    std::fs::write(&small_wf, small.to_string()).unwrap();
    let small_wf = small_wf.to_str().unwrap();
    let (code, out, err) = run(
        &creds,
        &[
            "check",
            big,
            "-f",
            small_wf,
            "--validator-memory-max-mib",
            "16",
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("validator_memory_mib"), "{out}");
    small["validator_memory_mib"] = 4096.into();
    std::fs::write(small_wf, small.to_string()).unwrap();
    let (code, out, err) = run(&creds, &["check", big, "-f", small_wf]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("validator_memory_mib must be between 16 and 1024"),
        "{out}{err}"
    );
    let (code, out, err) = run(&creds, &["check", big, "-f", wf]);
    assert_eq!(code, 0, "{out}{err}");

    // A CSV is read a chunk at a time (issue 24): 40 MB with a unique column checks
    // under a 32 MiB cap (a million ids take 12 MB of it), which could not hold the file
    // whole; a repeat names its first line.
    let table = dir.path().join("table.csv");
    let mut text = String::from("id,name\n");
    let rows = 1_000_000;
    for i in 1..=rows {
        text.push_str(&format!("{i},customer number {i:0>20}\n"));
    }
    text.push_str("17,again\n");
    std::fs::write(&table, &text).unwrap();
    assert!(text.len() > 40 << 20, "{}", text.len());
    let table_wf = dir.path().join("table.json");
    let config = serde_json::json!({"schema": {"fields": [
        {"name": "id", "type": "integer", "constraints": {"unique": true}},
        {"name": "name", "constraints": {"maxLength": 40}}]}});
    std::fs::write(
        &table_wf,
        serde_json::json!({"slug": "table", "steps": [{"key": "t", "validator": "csv", "config": config}]})
            .to_string(),
    )
    .unwrap();
    let (code, out, err) = run(
        &creds,
        &[
            "check",
            table.to_str().unwrap(),
            "-f",
            table_wf.to_str().unwrap(),
            "--validator-memory-mib",
            "32",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let step = &report["steps"][0];
    assert_eq!(step["outputs"][0]["value"], rows + 1, "{step}");
    let findings = step["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["message"], "id = \"17\" repeats line 18");
    assert_eq!(findings[0]["path"], format!("{}:1", rows + 2));

    // JSON records are read one at a time too (issue 24): 12,000 invoices (about 13 MB)
    // under `type: array` + `items` check under a fixed 16 MiB cap that the same array parsed
    // whole (`uniqueItems` keeps the tree path) overflows; as JSON Lines, a bad invoice
    // is found at its line.
    let invoice_schema = serde_json::from_str::<Value>(
        &std::fs::read_to_string(example("invoice-workflow.json")).unwrap(),
    )
    .unwrap()["steps"][0]["config"]["schema"]
        .clone();
    let item = r#"{"sku": "ABC-1000", "qty": 2, "unit_price": 19.5, "note": "standard delivery"}"#;
    let invoice = |qty: u32| {
        format!(
            r#"{{"id": "INV-000042", "customer": {{"name": "Ada", "email": "ada@example.org"}}, "lines": [{}, {{"sku": "X", "qty": {qty}, "unit_price": 1}}], "total": 39.0}}"#,
            [item; 12].join(", ")
        )
    };
    let count = 12_000;
    let records: Vec<String> = (1..=count)
        .map(|i| invoice(if i == 7_000 { 0 } else { 1 }))
        .collect();
    let array = dir.path().join("invoices.json");
    std::fs::write(&array, format!("[\n{}\n]\n", records.join(",\n"))).unwrap();
    assert!(std::fs::metadata(&array).unwrap().len() > 12 << 20);
    let lines = dir.path().join("invoices.jsonl");
    std::fs::write(&lines, records.join("\n")).unwrap();
    // `check` under a fixed 16 MiB cap: a one-step workflow of `validator` with `config`.
    let check_capped = |doc: &Path, validator: &str, config: Value| {
        let workflow = dir.path().join("capped.json");
        std::fs::write(
            &workflow,
            serde_json::json!({"slug": "capped", "steps": [{"key": "s", "validator": validator, "config": config}]})
                .to_string(),
        )
        .unwrap();
        let (code, out, err) = run(
            &creds,
            &[
                "check",
                doc.to_str().unwrap(),
                "-f",
                workflow.to_str().unwrap(),
                "--validator-memory-mib",
                "16",
                "--validator-memory-max-mib",
                "16",
                "--format",
                "json",
            ],
        );
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
        (code, report["steps"][0].clone())
    };
    let check_json = |doc: &Path, schema: Value| {
        check_capped(doc, "json-schema", serde_json::json!({ "schema": schema }))
    };
    let (code, step) = check_json(
        &array,
        serde_json::json!({"type": "array", "items": invoice_schema}),
    );
    assert_eq!(code, 1, "{step}");
    let findings = step["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["code"], "json.schema.minimum");
    assert_eq!(findings[0]["path"], "/6999/lines/12/qty");
    assert_eq!(findings[0]["meta"]["line"], 7_001);
    assert_eq!(step["outputs"][1]["value"], count);
    let (code, step) = check_json(
        &array,
        serde_json::json!({"type": "array", "items": invoice_schema, "uniqueItems": false}),
    );
    assert_eq!(code, 2, "{step}");
    assert!(
        step.to_string().contains("validator.memory_exceeded"),
        "{step}"
    );
    let (code, step) = check_json(&lines, invoice_schema);
    assert_eq!(code, 1, "{step}");
    let findings = step["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["path"], "/6999/lines/12/qty");
    assert_eq!(findings[0]["meta"]["line"], 7_000);

    // XML well-formedness streams too: 160,000 orders (about 19 MB) check under the same
    // 16 MiB cap; a bad reference deep in the file is found at its line; with an XSD the
    // tree is built and the same cap is too small.
    let orders = |bad: Option<u32>| {
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<orders>\n");
        for i in 1..=160_000u32 {
            let note = if Some(i) == bad { "&bogus;" } else { "&amp;" };
            xml.push_str(&format!(
                "  <order id=\"ORD-{i:07}\" date=\"2024-01-02\">\n    <customer email=\"c{i}@example.org\">Customer {i} {note}</customer>\n  </order>\n"
            ));
        }
        xml + "</orders>\n"
    };
    let good = dir.path().join("orders.xml");
    std::fs::write(&good, orders(None)).unwrap();
    assert!(std::fs::metadata(&good).unwrap().len() > 16 << 20);
    let bad = dir.path().join("orders-bad.xml");
    std::fs::write(&bad, orders(Some(100_000))).unwrap();
    let check_xml = |doc: &Path, config: Value| check_capped(doc, "xml-schema", config);
    let (code, step) = check_xml(&good, serde_json::json!({}));
    assert_eq!(code, 0, "{step}");
    let elements = step["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "element_count")
        .map(|o| o["value"].clone());
    assert_eq!(elements, Some(serde_json::json!(320_001)), "{step}");
    let (code, step) = check_xml(&bad, serde_json::json!({}));
    assert_eq!(code, 1, "{step}");
    let findings = step["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["code"], "xml.malformed");
    assert_eq!(
        findings[0]["meta"]["line"],
        2 + 3 * 99_999 + 2,
        "{findings:?}"
    );
    let xsd = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="orders"/></xs:schema>"#;
    let (code, step) = check_xml(&good, serde_json::json!({"schema": xsd}));
    assert_eq!(code, 2, "{step}");
    assert!(
        step.to_string().contains("validator.memory_exceeded"),
        "{step}"
    );
}

/// Masks what differs between two runs of the same document (ids, times, durations, the
/// workflow version `check` does not have) so the rest of a report can be compared.
fn normalized(report: &str) -> String {
    // ISO timestamps and run ids/URLs; durations are numbers after `duration_ms`,
    // `time=` or before ` ms`.
    let patterns = [
        r#"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z?"#,
        r#"(local-)?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}"#,
        r#"local-[0-9a-f]{12}"#,
        r#""duration_ms": ?[0-9.e+-]+"#,
        r#"time="[0-9.]+""#,
        r#"[0-9.]+ ?ms"#,
        r#""version": ?[0-9]+"#,
        r#" v[0-9]+\b| \(local file\)"#,
        r#"/api/v1/workspaces/default/runs/[^"\s]+"#,
        // Who and where: `check` has no user, workspace or stored submission.
        r#""(created_by|workspace|url)": ("[^"]*"|null)"#,
        r#""id": "[^"]*""#,
    ];
    let re: Vec<regex::Regex> = patterns
        .iter()
        .map(|p| regex::Regex::new(p).unwrap())
        .collect();
    let mut text = report.to_owned();
    for r in &re {
        text = r.replace_all(&text, "«»").into_owned();
    }
    text
}

/// ARCHITECTURE.md: the server's report endpoint, `validate` and `check` render the same
/// reports. `validate` prints the server's bytes exactly; `check` runs the same workflow
/// locally, so its reports equal the server's but for ids, times and durations.
#[test]
fn the_api_validate_and_check_print_the_same_reports() {
    let inst = Instance::new(Backend::Sqlite);
    let key = inst.user("alice", "owner");
    let server = inst.serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.json");
    let (code, _, err) = run(
        &creds,
        &["login", "--server", &server.base, "--api-key", &key],
    );
    assert_eq!(code, 0, "{err}");
    let wf = dir.path().join("invoice.yaml");
    std::fs::write(&wf, WORKFLOW_YAML).unwrap();
    let wf = wf.to_str().unwrap();
    assert_eq!(run(&creds, &["workflows", "create", "-f", wf]).0, 0);
    for format in ["text", "json", "sarif", "junit"] {
        for document in ["invoice-valid.json", "invoice-invalid.json"] {
            let (code, printed, err) = run(
                &creds,
                &[
                    "validate",
                    &example(document),
                    "-w",
                    "invoice",
                    "--wait",
                    "--format",
                    format,
                ],
            );
            assert!(code == 0 || code == 1, "{err}");
            // The run `validate` just made is the newest.
            let (_, list) = json_of(server.get(&key, "/api/v1/workspaces/default/runs?limit=1"));
            let url = list["results"][0]["url"].as_str().unwrap();
            let served = server
                .get(&key, &format!("{url}/report?format={format}"))
                .text()
                .unwrap();
            // SARIF names the file as the user did (repository-relative); the server
            // knows only its name.
            let printed = if format == "sarif" {
                let in_repo = format!("examples/{document}");
                assert!(
                    printed.contains(&format!("\"uri\": \"{in_repo}\"")),
                    "{printed}"
                );
                // It links the validators' pages on the server it talked to.
                let mut log: Value = serde_json::from_str(&printed).unwrap();
                let driver = log["runs"][0]["tool"]["driver"].as_object_mut().unwrap();
                let pages = format!("{}/ui/validators", server.base);
                assert_eq!(
                    driver.remove("informationUri"),
                    Some(Value::from(pages.clone()))
                );
                for rule in driver["rules"].as_array_mut().unwrap() {
                    let help = rule.as_object_mut().unwrap().remove("helpUri");
                    assert_eq!(help, Some(Value::from(format!("{pages}/json-schema"))));
                }
                (serde_json::to_string_pretty(&log).unwrap() + "\n").replace(&in_repo, document)
            } else {
                printed
            };
            assert_eq!(printed, served, "validate --format {format} vs the API");
            let (check_code, local, err) = run(
                &creds,
                &[
                    "check",
                    &example(document),
                    "--workflow",
                    wf,
                    "--format",
                    format,
                ],
            );
            assert_eq!(check_code, code, "{err}");
            let local = local.replace(&format!("examples/{document}"), document);
            assert_eq!(
                normalized(&local),
                normalized(&served),
                "check --format {format} vs the API for {document}"
            );
        }
    }
}

/// The envelope launch mode refuses a content type the workflow does not take (415),
/// like the other modes.
#[test]
fn an_envelope_of_the_wrong_type_is_415() {
    let inst = Instance::new(Backend::Sqlite);
    let key = inst.user("alice", "owner");
    let server = inst.serve(&[]);
    server.create_workflow(&key, &common::invoice_workflow());
    let env = serde_json::json!({"content": "a,b\n1,2\n", "content_type": "text/csv"});
    let (status, body) = json_of(
        server
            .post(&key, "/api/v1/workspaces/default/workflows/invoice/runs")
            .header("content-type", "application/vnd.validibot.envelope+json")
            .body(env.to_string())
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE")),
        "{body}"
    );
    assert!(
        body["accepted"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("application/json")),
        "{body}"
    );
}

/// Client commands' help shows client options and the exit codes; the instance's
/// first user is an owner, later ones need a role (and the refusal explains the roles).
#[test]
fn help_and_first_user() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    for cmd in [
        &["validate", "--help"][..],
        &["check", "--help"],
        &["runs", "show", "--help"],
        &["login", "--help"],
    ] {
        let text = help(cmd);
        for server_side in [
            "--database-url",
            "--secret-key",
            "--db-pool",
            "--docker-socket",
            "--data-dir",
        ] {
            assert!(
                !text.contains(server_side),
                "{cmd:?} shows {server_side}:\n{text}"
            );
        }
    }
    let validate = help(&["validate", "--help"]);
    assert!(validate.contains("Exit codes:\n  0    PASS"), "{validate}");
    assert!(validate.contains("--no-wait"), "{validate}");
    assert!(help(&["check", "--help"]).contains("-f, --workflow-file <WORKFLOW_FILE>"));
    assert!(help(&["login", "--help"]).contains("http://localhost:8080"));
    assert!(
        help(&["workflows", "create", "--help"]).contains("The workflow definition (YAML or JSON")
    );
    assert!(help(&["serve", "--help"]).contains("--database-url"));

    let inst = Instance::new(Backend::Sqlite);
    let out = inst.cli(&["admin", "create-user", "--username", "first"]);
    assert_eq!(
        out.trim(),
        "created user first (owner of workspace default)"
    );
    let refused = inst
        .command(&["admin", "create-user", "--username", "second"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        err.contains("--role is needed for every user after the first one"),
        "{err}"
    );
    assert!(err.contains("executor  also launches runs"), "{err}");
    let out = inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "second",
        "--role",
        "viewer",
    ]);
    assert_eq!(
        out.trim(),
        "created user second (viewer of workspace default)"
    );
}

/// The SARIF log passes the official 2.1.0 schema and GitHub's needs (`tests/sarif`).
fn check_sarif(path: &Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sarif/check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(path)
        .arg("--lines")
        .output()
        .expect("python3 with jsonschema is needed (.ci/test installs it)");
    assert!(
        out.status.success(),
        "the SARIF log fails the SARIF 2.1.0 schema or code scanning's needs:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A valid invoice of about `bytes` bytes (its line items repeated).
fn write_big_invoice(path: &Path, bytes: usize) {
    let line = r#"{"sku": "ABC-1000", "qty": 2, "unit_price": 19.5},"#;
    let lines = line.repeat(bytes / line.len());
    std::fs::write(
        path,
        format!(
            r#"{{"id": "INV-000042", "customer": {{"name": "A"}}, "lines": [{}], "total": 1}}"#,
            lines.trim_end_matches(',')
        ),
    )
    .unwrap();
}
