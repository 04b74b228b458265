//! A workflow's life, against the real binary on SQLite and PostgreSQL: deleted while it
//! has no runs, archived once it has (no new runs or edits, history kept, listed only on
//! request), restored; and its own run retention applied by `validibot purge`.

mod common;

use common::*;
use serde_json::{json, Value};

on_both_backends!(archive_delete_and_retention, submissions_not_stored);

fn simple(slug: &str) -> Value {
    json!({"slug": slug, "steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"type": "object"}}}]})
}

fn listed(srv: &Server, key: &str, query: &str) -> Vec<String> {
    let (_, body) = json_of(srv.get(key, &format!("/api/v1/workspaces/default/workflows{query}")));
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["slug"].as_str().unwrap().to_owned())
        .collect()
}

fn archive_delete_and_retention(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "author");
    let viewer = inst.user("val", "viewer");
    let srv = inst.serve(&[]);
    let path = |slug: &str| format!("/api/v1/workspaces/default/workflows/{slug}");

    // No runs yet: deleted, every version.
    srv.create_workflow(&key, &simple("draft"));
    let (status, _) = json_of(
        srv.put(&key, &path("draft"))
            .json(&json!({"steps": simple("draft")["steps"], "timeout_seconds": 30}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(srv.delete(&viewer, &path("draft")).status(), 403);
    assert_eq!(srv.delete(&key, &path("draft")).status(), 204);
    assert_eq!(srv.get(&key, &path("draft")).status(), 404);
    assert_eq!(srv.delete(&key, &path("draft")).status(), 404);

    // With runs: not deleted; archived instead.
    srv.create_workflow(&key, &simple("old"));
    let (_, run) = srv.launch(&key, "old", "application/json", "{}");
    assert_eq!(run["result"], "PASS", "{run}");
    let (status, body) = json_of(srv.delete(&key, &path("old")));
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("WORKFLOW_HAS_RUNS")),
        "{body}"
    );
    let (status, _) = json_of(
        srv.post(&viewer, &format!("{}/archive", path("old")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);
    let (status, archived) = json_of(
        srv.post(&key, &format!("{}/archive", path("old")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{archived}");
    assert!(archived["archived_at"].is_string(), "{archived}");
    let (status, body) = srv.launch(&key, "old", "application/json", "{}");
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("WORKFLOW_ARCHIVED")),
        "{body}"
    );
    let (status, body) = json_of(
        srv.put(&key, &path("old"))
            .json(&simple("old"))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("WORKFLOW_ARCHIVED")),
        "{body}"
    );
    assert!(!listed(&srv, &key, "").contains(&"old".to_owned()));
    assert!(listed(&srv, &key, "?archived=true").contains(&"old".to_owned()));
    let (status, kept) = json_of(srv.get(&key, run["url"].as_str().unwrap()));
    assert_eq!(
        (status, kept["result"].as_str()),
        (200, Some("PASS")),
        "the history stays"
    );
    let (status, back) = json_of(
        srv.post(&key, &format!("{}/unarchive", path("old")))
            .send()
            .unwrap(),
    );
    assert_eq!((status, back.get("archived_at")), (200, None), "{back}");
    assert_eq!(
        srv.launch(&key, "old", "application/json", "{}").1["result"],
        "PASS"
    );

    // A workflow's own retention: its runs go after `retention_days`, others stay (the
    // instance keeps runs forever here).
    let mut short = simple("short");
    short["retention_days"] = json!(1);
    let saved = srv.create_workflow(&key, &short);
    assert_eq!(saved["retention_days"], 1, "{saved}");
    let (_, expiring) = srv.launch(&key, "short", "application/json", "{}");
    let expiring_url = expiring["url"].as_str().unwrap().to_owned();
    let (_, fresh) = srv.launch(&key, "short", "application/json", "{}");
    // Under load a launch can answer 202 before its run ends, and that end would then
    // overwrite the finish time backdated below: wait for both runs to end first.
    for r in [&expiring, &fresh] {
        let url = r["url"].as_str().unwrap();
        srv.wait_run(&key, url, std::time::Duration::from_secs(60));
    }
    // Two days ago: this run of `short` and the first run of `old`.
    let two_days_ago = validibot_types::clock::now_us() - 2 * 86_400_000_000;
    with_db(&inst, |pool| async move {
        for id in [
            expiring["id"].as_str().unwrap(),
            run["id"].as_str().unwrap(),
        ] {
            sqlx::query("UPDATE runs SET finished_at = $1 WHERE id = $2")
                .bind(two_days_ago)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
    });
    let report: Value = serde_json::from_str(&inst.cli(&["purge"])).unwrap();
    assert_eq!(report["runs_deleted"], 1, "{report}");
    assert_eq!(srv.get(&key, fresh["url"].as_str().unwrap()).status(), 200);
    assert_eq!(srv.get(&key, &expiring_url).status(), 404);
    let (_, runs) = json_of(srv.get(&key, "/api/v1/workspaces/default/runs?workflow=short"));
    assert_eq!(
        runs["results"].as_array().unwrap().len(),
        1,
        "only the fresh run of short is left: {runs}"
    );
    let (_, runs) = json_of(srv.get(&key, "/api/v1/workspaces/default/runs?workflow=old"));
    assert_eq!(
        runs["results"].as_array().unwrap().len(),
        2,
        "old keeps its runs: {runs}"
    );
    // Editing the retention is an edit (a version with runs: the next version), and it
    // applies to every version's runs.
    short["retention_days"] = json!(30);
    let (status, edited) = json_of(srv.put(&key, &path("short")).json(&short).send().unwrap());
    assert_eq!(
        (
            status,
            edited["version"].as_i64(),
            edited["retention_days"].as_i64()
        ),
        (200, Some(2), Some(30)),
        "{edited}"
    );
    let (_, v1) = json_of(srv.get(&key, &format!("{}?version=1", path("short"))));
    assert_eq!(v1["retention_days"], 30, "{v1}");
}

/// Every file under `dir` whose name is `name`.
fn files_named(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_str() == Some(name) {
                found.push(path);
            }
        }
    }
    found
}

fn submissions_not_stored(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "author");
    let srv = inst.serve(&[]);
    let mut private = simple("private");
    private["store_submission"] = json!(false);
    let saved = srv.create_workflow(&key, &private);
    assert_eq!(saved["store_submission"], false, "{saved}");
    let stored = srv.create_workflow(&key, &simple("stored"));
    assert!(
        stored.get("store_submission").is_none(),
        "shown only when false: {stored}"
    );

    // Raw, envelope and multipart: each runs, keeps the hash, writes no file.
    let doc = r#"{"private": "do not keep me 7d1f"}"#;
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(doc.as_bytes()))
    };
    let (status, run) = srv.launch(&key, "private", "application/json", doc);
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    assert_eq!(run["submission"]["sha256"], sha.as_str(), "{run}");
    let envelope = json!({"content": doc, "content_type": "application/json"});
    let (status, run) = srv.launch(
        &key,
        "private",
        "application/vnd.validibot.envelope+json",
        envelope.to_string(),
    );
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(doc.as_bytes().to_vec())
            .file_name("p.json")
            .mime_str("application/json")
            .unwrap(),
    );
    let (status, run) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows/private/runs")
            .multipart(form)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    assert_eq!(
        files_named(inst.data.path(), &sha),
        Vec::<std::path::PathBuf>::new(),
        "the bytes were written"
    );
    // The same document on a storing workflow is written, as always.
    srv.launch(&key, "stored", "application/json", doc);
    assert_eq!(files_named(inst.data.path(), &sha).len(), 1);
    drop(srv);

    // A server without a worker cannot take it: the bytes could not wait in the queue.
    let api_only = inst.serve(&["--no-worker"]);
    let (status, body) = api_only.launch(&key, "private", "application/json", doc);
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("NO_LOCAL_WORKER")),
        "{body}"
    );

    // The process holding the bytes dies mid-run: the worker that takes the run over
    // fails it at once with the reason (it cannot read what was never written).
    inst.install_hostile(&["clock"]);
    let holder = inst.serve(&["--lease-seconds", "2", "--validator-timeout-ms", "60000"]);
    holder.create_workflow(
        &key,
        &json!({"slug": "slow-private", "store_submission": false,
        "content_types": ["text/plain"],
        "steps": [{"key": "s", "validator": "hostile", "config": {"attack": "sleep 30000"}}]}),
    );
    let (status, run) = json_of(
        holder
            .post(
                &key,
                "/api/v1/workspaces/default/workflows/slow-private/runs?wait=0",
            )
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .unwrap(),
    );
    assert!(status == 202 || status == 201, "{run}");
    let url = run["url"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    while api_only.get(&key, &url).json::<Value>().unwrap()["status"] != "RUNNING" {
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(holder); // SIGKILL
    let worker = inst.worker(&["--lease-seconds", "2", "--poll-ms", "100"]);
    let run = api_only.wait_run(&key, &url, std::time::Duration::from_secs(60));
    worker.kill();
    assert_eq!(
        (run["status"].as_str(), run["error_category"].as_str()),
        (Some("FAILED"), Some("SYSTEM_ERROR")),
        "{run}"
    );
    assert!(
        run["error_detail"]
            .as_str()
            .unwrap()
            .contains("never stored"),
        "{run}"
    );
}
