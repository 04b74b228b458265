//! Blobs in an S3-compatible bucket (SeaweedFS, which `.ci/test` starts), end to end
//! through the binary: an API process and a worker with data dirs of their own, sharing
//! nothing but PostgreSQL and the bucket, run workflows whose submissions (small ones in
//! one request, a large one streamed and sent up in parts), step files and installed
//! component all live in the bucket; `backup` brings the bucket's blobs down and
//! `restore` puts them into another bucket prefix, from which a new instance works;
//! `config check` names a bucket it cannot write to.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="code"><xs:simpleType><xs:restriction base="xs:string">
    <xs:pattern value="[A-Z]{3}"/></xs:restriction></xs:simpleType></xs:element>
</xs:schema>"#;

/// Another process's data dir on the same database and bucket.
fn another_host(of: &Instance, env: Vec<(String, String)>) -> Instance {
    Instance {
        data: tempfile::tempdir().unwrap(),
        database_url: of.database_url.clone(),
        env,
        many_hosts: false,
    }
}

fn files_in(dir: &std::path::Path) -> usize {
    files_under(dir).len()
}

fn finished(srv: &Server, key: &str, (status, run): (u16, Value)) -> Value {
    assert!(status == 201 || status == 202, "{status} {run}");
    let url = format!(
        "/api/v1/workspaces/default/runs/{}",
        run["id"].as_str().unwrap()
    );
    srv.wait_run(key, &url, Duration::from_secs(120))
}

#[test]
fn blobs_in_a_bucket_shared_by_hosts() {
    let prefix = format!("it-{}", uuid::Uuid::now_v7().simple());
    let mut api = Instance::new(Backend::Postgres);
    api.env = hosts::bucket(&prefix);
    let admin = api.user("root", "admin");
    let author = api.user("alice", "author");
    let worker_host = another_host(&api, api.env.clone());
    let srv = api.serve(&["--no-worker"]);
    let worker = worker_host.worker(&[]);

    // A step file, read by the worker from the bucket.
    let xsd = srv.upload_file(&author, "code.xsd", "application/xml", XSD.as_bytes());
    srv.create_workflow(
        &author,
        &json!({"slug": "codes", "steps": [{"key": "xsd", "validator": "xml-schema",
            "config": {"schema_file": "code.xsd"},
            "files": [{"name": "code.xsd", "sha256": xsd}]}]}),
    );
    let good = finished(
        &srv,
        &author,
        srv.launch(&author, "codes", "application/xml", "<code>ABC</code>"),
    );
    assert_eq!(good["result"], "PASS", "{good}");
    let bad = finished(
        &srv,
        &author,
        srv.launch(&author, "codes", "application/xml", "<code>abcd</code>"),
    );
    assert_eq!(bad["result"], "FAIL", "{bad}");

    // A large submission: streamed to a temp file, sent up in parts, streamed down.
    srv.create_workflow(
        &author,
        &json!({"slug": "arrays", "steps": [{"key": "s", "validator": "json-schema",
            "config": {"schema": {"type": "array", "items": {"type": "integer"}}}}]}),
    );
    let mut big = String::with_capacity(40 << 20);
    big.push('[');
    for i in 0..4_000_000u32 {
        if i > 0 {
            big.push(',');
        }
        big.push_str(&(i * 7919).to_string());
    }
    big.push(']');
    assert!(big.len() > 33 << 20, "more than two parts: {}", big.len());
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(big.into_bytes())
            .file_name("big.json")
            .mime_str("application/json")
            .unwrap(),
    );
    let launched = json_of(
        srv.post(&author, "/api/v1/workspaces/default/workflows/arrays/runs")
            .multipart(form)
            .send()
            .unwrap(),
    );
    let run = finished(&srv, &author, launched);
    assert_eq!(run["result"], "PASS", "{run}");

    // A component installed through the API process, loaded by the worker from the bucket.
    let wasm = guest::build_guest(
        "plugins/examples/line-length",
        "validibot_example_line_length",
    );
    let (status, meta) = json_of(
        srv.post(&admin, "/api/v1/validators")
            .header("content-type", "application/wasm")
            .body(wasm)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{meta}");
    srv.create_workflow(
        &author,
        &json!({"slug": "lines", "steps": [{"key": "s", "validator": "line-length", "config": {"max": 5}}]}),
    );
    let long = finished(
        &srv,
        &author,
        srv.launch(&author, "lines", "text/plain", "short\nmuch too long\n"),
    );
    assert_eq!(long["result"], "FAIL", "{long}");

    // Nothing stored on either host: only files in flight pass through their temp dirs.
    for host in [&api, &worker_host] {
        let stored = host.data.path().join("blobs").join("sha256");
        assert_eq!(files_in(&stored), 0, "{}", stored.display());
        assert_eq!(files_in(&host.data.path().join("blobs").join("tmp")), 0);
    }
    worker.kill();
    drop(srv);

    // Backup: the bucket's blobs come down; restore: into another prefix.
    let backup = tempfile::tempdir().unwrap();
    let out = backup.path().join("b");
    api.cli(&["backup", out.to_str().unwrap()]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    // The step file, three submissions and the component.
    assert_eq!(manifest["blobs"], 6, "{manifest}");
    assert_eq!(files_in(&out.join("blobs")), 6);
    let restored = another_host(&api, hosts::bucket(&format!("{prefix}-restored")));
    let said = restored.cli(&["restore", out.to_str().unwrap()]);
    assert!(said.contains("restored 6 stored files"), "{said}");
    let srv = restored.serve(&[]);
    let file = srv.get(&author, &format!("/api/v1/workspaces/default/files/{xsd}"));
    assert_eq!(file.status(), 200);
    assert_eq!(file.text().unwrap(), XSD);
    let again = finished(
        &srv,
        &author,
        srv.launch(&author, "codes", "application/xml", "<code>XYZ</code>"),
    );
    assert_eq!(again["result"], "PASS", "{again}");
    let lines = finished(
        &srv,
        &author,
        srv.launch(&author, "lines", "text/plain", "ok\n"),
    );
    assert_eq!(lines["result"], "PASS", "{lines}");
    drop(srv);

    // A bucket it cannot write to: named by `config check`.
    let wrong = another_host(&api, hosts::bucket_with_secret(&prefix, "not-the-secret"));
    let out = wrong.command(&["config", "check"]).output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("VALIDIBOT_STORAGE_URL") && said.contains("s3://validibot-test/"),
        "{said}"
    );
}
