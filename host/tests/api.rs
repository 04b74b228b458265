//! End-to-end API tests against the real binary, on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

on_every_topology!(
    valid_invalid_and_malformed_documents,
    three_launch_modes_and_input_errors,
    authentication_and_roles,
    idempotency_keys,
    async_launch_then_poll,
    cursor_pagination,
    workflow_versions_and_definition_errors,
    validator_deadline_and_memory_cap,
    workflow_time_limit,
);

fn valid_invalid_and_malformed_documents(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    srv.create_workflow(&key, &invoice_workflow());

    let (status, run) = srv.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!(status, 201, "{run}");
    assert_eq!(
        (
            run["status"].as_str(),
            run["state"].as_str(),
            run["result"].as_str()
        ),
        (Some("SUCCEEDED"), Some("COMPLETED"), Some("PASS"))
    );
    assert_eq!(run["steps"][0]["status"], "PASSED");
    assert_eq!(
        run["submission"]["size"],
        example("invoice-valid.json").len()
    );

    let (status, run) = srv.launch_example(&key, "invoice", "invoice-invalid.json");
    assert_eq!(status, 201);
    assert_eq!(run["result"], "FAIL");
    assert_eq!(run["error_category"], "VALIDATION_FAILED");
    assert_eq!(
        finding_codes(&run),
        [
            "json.schema.format",
            "json.schema.minimum",
            "json.schema.minimum",
            "json.schema.pattern",
            "json.schema.required"
        ]
    );
    let findings = run["steps"][0]["findings"].as_array().unwrap();
    let email = findings
        .iter()
        .find(|f| f["code"] == "json.schema.format")
        .unwrap();
    assert_eq!(email["path"], "/customer/email");
    assert_eq!(email["severity"], "ERROR");
    assert_eq!(run["summary"]["errors"], 5);

    // Reading it back gives the same run.
    let fetched: Value = srv.get(&key, run["url"].as_str().unwrap()).json().unwrap();
    assert_eq!(fetched, run);

    let (status, run) = srv.launch(&key, "invoice", "application/json", "{\"id\": ");
    assert_eq!(status, 201);
    assert_eq!(run["result"], "FAIL");
    assert_eq!(finding_codes(&run), ["json.parse"]);
    assert_eq!(run["steps"][0]["findings"][0]["path"], "1:7");

    // Lists count findings as the run does (issue 26, item 8: they said 0 errors).
    let list: Value = srv
        .get(&key, "/api/v1/workspaces/default/runs")
        .json()
        .unwrap();
    let listed = list["results"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{list}");
    for summary in listed {
        let full: Value = srv
            .get(&key, summary["url"].as_str().unwrap())
            .json()
            .unwrap();
        assert_eq!(summary["summary"], full["summary"], "{summary}");
    }
    assert_eq!(listed[1]["summary"]["errors"], 5, "{list}");
}

fn three_launch_modes_and_input_errors(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&["--max-inline-bytes", "4096", "--max-file-bytes", "8192"]);
    srv.create_workflow(&key, &invoice_workflow());
    let launch_path = "/api/v1/workspaces/default/workflows/invoice/runs";
    let valid = String::from_utf8(example("invoice-valid.json")).unwrap();

    // JSON envelope, utf-8 and base64.
    let env = json!({"content": valid, "content_type": "application/json", "filename": "inv.json", "metadata": {"batch": 7}});
    let (status, run) = json_of(
        srv.post(&key, launch_path)
            .header("content-type", "application/vnd.validibot.envelope+json")
            .body(env.to_string())
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    assert_eq!(run["submission"]["filename"], "inv.json");
    assert_eq!(run["submission"]["metadata"]["batch"], 7);
    let b64 = base64::engine::general_purpose::STANDARD.encode(example("invoice-invalid.json"));
    let env =
        json!({"content": b64, "content_encoding": "base64", "content_type": "application/json"});
    let (status, run) = json_of(
        srv.post(&key, launch_path)
            .header("content-type", "application/vnd.validibot.envelope+json")
            .body(env.to_string())
            .send()
            .unwrap(),
    );
    assert_eq!((status, run["result"].as_str()), (201, Some("FAIL")));

    // Multipart, content type guessed from the file name, metadata part.
    let form = reqwest::blocking::multipart::Form::new()
        .part(
            "file",
            reqwest::blocking::multipart::Part::bytes(example("invoice-valid.json"))
                .file_name("upload.json")
                .mime_str("application/octet-stream")
                .unwrap(),
        )
        .text("metadata", r#"{"source": "ci"}"#);
    let (status, run) = json_of(srv.post(&key, launch_path).multipart(form).send().unwrap());
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    assert_eq!(run["submission"]["content_type"], "application/json");
    assert_eq!(run["submission"]["filename"], "upload.json");
    assert_eq!(run["submission"]["metadata"]["source"], "ci");

    // Same bytes → same content hash, whatever the mode.
    let (_, raw) = srv.launch(&key, "invoice", "application/json", valid.clone());
    assert_eq!(raw["submission"]["sha256"], run["submission"]["sha256"]);

    // 415 for a type the workflow does not accept, in every mode.
    let (status, err) = srv.launch(&key, "invoice", "text/csv", "a,b\n1,2\n");
    assert_eq!(
        (status, err["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE"))
    );
    assert!(err["detail"].as_str().unwrap().contains("text/csv"));
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(b"a,b".to_vec())
            .file_name("x.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    assert_eq!(
        srv.post(&key, launch_path)
            .multipart(form)
            .send()
            .unwrap()
            .status(),
        415
    );

    // 413 over the inline limit (raw and envelope) and the file limit (multipart).
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(5000));
    let (status, err) = srv.launch(&key, "invoice", "application/json", big.clone());
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
    let env = json!({"content": big, "content_type": "application/json"});
    let (status, _) = json_of(
        srv.post(&key, launch_path)
            .header("content-type", "application/vnd.validibot.envelope+json")
            .body(env.to_string())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 413);
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(vec![b' '; 9000]).file_name("big.json"),
    );
    let (status, _) = json_of(srv.post(&key, launch_path).multipart(form).send().unwrap());
    assert_eq!(status, 413);
    // A multipart file between the inline and file limits is fine.
    let mut mid = example("invoice-valid.json");
    mid.extend(std::iter::repeat_n(b' ', 5000));
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(mid).file_name("mid.json"),
    );
    let (status, run) = json_of(srv.post(&key, launch_path).multipart(form).send().unwrap());
    assert_eq!((status, run["result"].as_str()), (201, Some("PASS")));

    // Malformed envelopes and multipart bodies are 400 with a code.
    let (status, err) = json_of(
        srv.post(&key, launch_path)
            .header("content-type", "application/vnd.validibot.envelope+json")
            .body("{\"content\": 1}")
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("INVALID_ENVELOPE"))
    );
    let form = reqwest::blocking::multipart::Form::new().text("other", "x");
    let (status, err) = json_of(srv.post(&key, launch_path).multipart(form).send().unwrap());
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("INVALID_MULTIPART"))
    );

    // Nothing stored was harmed: the earlier runs still read back intact.
    let (_, list) = json_of(srv.get(&key, "/api/v1/workspaces/default/runs"));
    assert_eq!(list["results"].as_array().unwrap().len(), 5);
}

fn authentication_and_roles(backend: Backend) {
    let inst = Instance::new(backend);
    let owner = inst.user("owner", "owner");
    let viewer = inst.user("vera", "viewer");
    let exec_a = inst.user("eddie", "executor");
    let exec_b = inst.user("erin", "executor");
    let author = inst.user("arthur", "author");
    let srv = inst.serve(&[]);

    // 401 without a key, with a malformed or unknown key.
    let resp = srv
        .client
        .get(srv.url("/api/v1/workspaces"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let (_, err) = json_of(resp);
    assert_eq!(err["code"], "NOT_AUTHENTICATED");
    assert_eq!(srv.get("garbage", "/api/v1/workspaces").status(), 401);
    // One character changed (never to itself: a key ending in `x` once made this pass as valid).
    let last = if owner.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &owner[..owner.len() - 1]);
    assert_eq!(srv.get(&forged, "/api/v1/workspaces").status(), 401);

    // Authors create workflows; executors and viewers may not.
    let wf = invoice_workflow();
    for key in [&viewer, &exec_a] {
        let (status, err) = json_of(
            srv.post(key, "/api/v1/workspaces/default/workflows")
                .json(&wf)
                .send()
                .unwrap(),
        );
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("PERMISSION_DENIED"))
        );
    }
    srv.create_workflow(&author, &wf);

    // Viewers see workflows but cannot launch.
    assert_eq!(
        srv.get(&viewer, "/api/v1/workspaces/default/workflows/invoice")
            .status(),
        200
    );
    let (status, _) = srv.launch_example(&viewer, "invoice", "invoice-valid.json");
    assert_eq!(status, 403);

    // Executors launch, and see only their own runs.
    let (status, run_a) = srv.launch_example(&exec_a, "invoice", "invoice-valid.json");
    assert_eq!(status, 201);
    let (_, run_b) = srv.launch_example(&exec_b, "invoice", "invoice-valid.json");
    let url_a = run_a["url"].as_str().unwrap();
    assert_eq!(srv.get(&exec_a, url_a).status(), 200);
    let (status, err) = json_of(srv.get(&exec_b, url_a));
    assert_eq!((status, err["code"].as_str()), (404, Some("RUN_NOT_FOUND")));
    let (_, mine) = json_of(srv.get(&exec_b, "/api/v1/workspaces/default/runs"));
    let ids: Vec<&Value> = mine["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, vec![&run_b["id"]]);
    // Authors and above see everything.
    let (_, all) = json_of(srv.get(&author, "/api/v1/workspaces/default/runs"));
    assert_eq!(all["results"].as_array().unwrap().len(), 2);
    assert_eq!(srv.get(&viewer, url_a).status(), 404);

    // Unknown workspace (or one you're not in) is 404; unknown workflow and run too.
    let (status, err) = json_of(srv.get(&owner, "/api/v1/workspaces/elsewhere/workflows"));
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("WORKSPACE_NOT_FOUND"))
    );
    assert_eq!(
        srv.get(&owner, "/api/v1/workspaces/default/workflows/nope")
            .status(),
        404
    );
    assert_eq!(
        srv.get(
            &owner,
            "/api/v1/workspaces/default/runs/00000000-0000-0000-0000-000000000000"
        )
        .status(),
        404
    );
    let (status, err) = json_of(srv.get(&owner, "/api/v1/no/such/route"));
    assert_eq!((status, err["code"].as_str()), (404, Some("NOT_FOUND")));

    // Revoked keys stop working at once.
    let public_id = exec_a
        .strip_prefix("vbk_")
        .unwrap()
        .split('_')
        .next()
        .unwrap();
    inst.cli(&["admin", "revoke-api-key", "--public-id", public_id]);
    assert_eq!(srv.get(&exec_a, "/api/v1/workspaces").status(), 401);

    // The workspace list shows the caller's role.
    let (_, wss) = json_of(srv.get(&author, "/api/v1/workspaces"));
    assert_eq!(wss["results"][0]["slug"], "default");
    assert_eq!(wss["results"][0]["role"], "author");
}

fn idempotency_keys(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    srv.create_workflow(&key, &invoice_workflow());
    let path = "/api/v1/workspaces/default/workflows/invoice/runs";
    let send = |idem: &str, body: Vec<u8>| {
        srv.post(&key, path)
            .header("content-type", "application/json")
            .header("idempotency-key", idem)
            .body(body)
            .send()
            .unwrap()
    };

    let first = send("order-1", example("invoice-invalid.json"));
    assert_eq!(first.status(), 201);
    let first_body = first.text().unwrap();
    let replay = send("order-1", example("invoice-invalid.json"));
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.text().unwrap(), first_body);
    let (_, list) = json_of(srv.get(&key, "/api/v1/workspaces/default/runs"));
    assert_eq!(
        list["results"].as_array().unwrap().len(),
        1,
        "a replay must not create a run"
    );

    let (status, err) = json_of(send("order-1", example("invoice-valid.json")));
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let (status, run) = json_of(send("order-2", example("invoice-valid.json")));
    assert_eq!((status, run["result"].as_str()), (201, Some("PASS")));
}

fn async_launch_then_poll(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&["--no-worker"]);
    srv.create_workflow(&key, &invoice_workflow());
    // No worker: the launch can't finish within its budget.
    let resp = srv
        .post(
            &key,
            "/api/v1/workspaces/default/workflows/invoice/runs?wait=0.2",
        )
        .header("content-type", "application/json")
        .body(example("invoice-valid.json"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(resp.headers()["retry-after"], "1");
    let (_, run) = json_of(resp);
    assert_eq!(
        (run["state"].as_str(), run["result"].as_str()),
        (Some("PENDING"), Some("UNKNOWN"))
    );
    assert_eq!(run["steps"][0]["status"], "PENDING");
    assert_eq!(location, run["url"].as_str().unwrap());

    // `Prefer: respond-async` answers at once.
    let resp = srv
        .post(&key, "/api/v1/workspaces/default/workflows/invoice/runs")
        .header("content-type", "application/json")
        .header("prefer", "respond-async")
        .body(example("invoice-invalid.json"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 202);
    let (_, second) = json_of(resp);

    // A separate worker process picks both up.
    let worker = inst.worker(&["--poll-ms", "50"]);
    let done = srv.wait_run(&key, &location, Duration::from_secs(60));
    assert_eq!(done["result"], "PASS");
    let done2 = srv.wait_run(
        &key,
        second["url"].as_str().unwrap(),
        Duration::from_secs(60),
    );
    assert_eq!(done2["result"], "FAIL");
    assert!(done2["started_at"].is_string() && done2["finished_at"].is_string());
    worker.kill();
}

fn cursor_pagination(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    srv.create_workflow(&key, &invoice_workflow());
    let mut launched = Vec::new();
    for i in 0..7 {
        let doc = if i % 2 == 0 {
            "invoice-valid.json"
        } else {
            "invoice-invalid.json"
        };
        let (_, run) = srv.launch_example(&key, "invoice", doc);
        launched.push(run["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/workspaces/default/runs?limit=3".to_string());
    let mut pages = 0;
    while let Some(url) = next {
        let (status, page) = json_of(srv.get(&key, &url));
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        assert!(
            page["results"][0].get("steps").is_none(),
            "list entries are summaries"
        );
        next = page["next"].as_str().map(str::to_owned);
    }
    assert!(pages >= 3);
    launched.reverse();
    assert_eq!(seen, launched, "newest first, each run exactly once");
    let (_, failed) = json_of(srv.get(&key, "/api/v1/workspaces/default/runs?status=FAILED"));
    assert_eq!(failed["results"].as_array().unwrap().len(), 3);
    assert_eq!(
        srv.get(&key, "/api/v1/workspaces/default/runs?limit=0")
            .status(),
        400
    );
    assert_eq!(
        srv.get(&key, "/api/v1/workspaces/default/runs?status=BOGUS")
            .status(),
        400
    );
}

fn workflow_versions_and_definition_errors(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    let mut wf = invoice_workflow();
    let created = srv.create_workflow(&key, &wf);
    assert_eq!(created["version"], 1);
    let (status, err) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows")
            .json(&wf)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("WORKFLOW_EXISTS"))
    );

    // No runs yet: an edit changes version 1 in place.
    wf["name"] = json!("Invoice check (edited)");
    let (status, edited) = json_of(
        srv.put(&key, "/api/v1/workspaces/default/workflows/invoice")
            .json(&wf)
            .send()
            .unwrap(),
    );
    assert_eq!((status, edited["version"].as_i64()), (200, Some(1)));
    assert_eq!(edited["name"], "Invoice check (edited)");

    // After a run, version 1 is frozen and an edit creates version 2.
    let (_, run) = srv.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!(run["workflow"]["version"], 1);
    wf["steps"][0]["config"]["schema"]["required"] =
        json!(["id", "customer", "lines", "total", "currency"]);
    let (status, v2) = json_of(
        srv.put(&key, "/api/v1/workspaces/default/workflows/invoice")
            .json(&wf)
            .send()
            .unwrap(),
    );
    assert_eq!((status, v2["version"].as_i64()), (200, Some(2)));
    assert_ne!(v2["digest"], edited["digest"]);
    let (_, v1) = json_of(srv.get(
        &key,
        "/api/v1/workspaces/default/workflows/invoice?version=1",
    ));
    assert_eq!(v1["digest"], edited["digest"]);
    let (_, run2) = srv.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!(
        (
            run2["workflow"]["version"].as_i64(),
            run2["result"].as_str()
        ),
        (Some(2), Some("FAIL"))
    );
    let (_, list) = json_of(srv.get(&key, "/api/v1/workspaces/default/workflows"));
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    assert_eq!(list["results"][0]["version"], 2);

    // Definitions are checked before anything is stored.
    let bad_schema = json!({"slug": "bad", "steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"type": 12}}}]});
    let (status, err) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows")
            .json(&bad_schema)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("INVALID_WORKFLOW")),
        "{err}"
    );
    assert_eq!(
        err["errors"][0]["findings"][0]["code"],
        "config.schema_invalid"
    );
    let unknown = json!({"slug": "bad", "steps": [{"key": "s", "validator": "no-such-validator"}]});
    let (status, err) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows")
            .json(&unknown)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
    assert!(err["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("unknown validator"));
    let remote_ref = json!({"slug": "bad", "steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"$ref": "http://169.254.169.254/latest"}}}]});
    let (status, err) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows")
            .json(&remote_ref)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
    assert_eq!(
        err["errors"][0]["findings"][0]["code"], "config.remote_ref_refused",
        "{err}"
    );

    // A ruleset on a step whose validator does not read it is refused, not ignored
    // (issue 26, item 3: it was saved and a breaking document PASSED) ...
    let rule = json!({"id": "positive", "path": "/total", "op": "gt", "value": 0});
    let (status, err) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows")
            .json(
                &json!({"slug": "bad", "steps": [{"key": "schema", "validator": "json-schema",
                "config": {"schema": {"type": "object"}}, "ruleset": [rule]}]}),
            )
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("INVALID_WORKFLOW")),
        "{err}"
    );
    assert_eq!(err["errors"][0]["key"], "schema", "{err}");
    assert!(
        err["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("ruleset"),
        "{err}"
    );
    // ... and a rules step's ruleset is checked at save, findings pointing into it.
    let (status, err) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows")
            .json(&json!({"slug": "bad", "steps": [{"key": "r", "validator": "rules",
                "config": {"rules": [rule]}, "ruleset": [{"id": "b", "path": "/x", "op": "nope"}]}]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "{err}");
    assert!(
        err["errors"][0]["findings"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("/ruleset/0"),
        "{err}"
    );
    srv.create_workflow(
        &key,
        &json!({"slug": "ruled", "steps": [{"key": "r", "validator": "rules",
            "config": {"rules": [{"id": "has-id", "path": "/id", "op": "not_null"}]}, "ruleset": [rule]}]}),
    );
    let (_, run) = srv.launch(
        &key,
        "ruled",
        "application/json",
        r#"{"id": "x", "total": -1}"#,
    );
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(finding_codes(&run), ["rules.positive"]);

    // Numbers come back as they were sent, and are compared at full precision
    // (issue 26, item 4: 9.727837981879871e+26 came back as …873e+26).
    let precise = r#"{"slug": "precise", "steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"exclusiveMaximum": 9.727837981879871e+26, "properties": {"n": {"minimum": -18446744073709551615}}}}}]}"#;
    let resp = srv
        .post(&key, "/api/v1/workspaces/default/workflows")
        .header("content-type", "application/json")
        .body(precise)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    let back = srv
        .get(&key, "/api/v1/workspaces/default/workflows/precise")
        .text()
        .unwrap();
    assert!(
        back.contains("9.727837981879871e+26") && back.contains("-18446744073709551615"),
        "{back}"
    );
    let (_, run) = srv.launch(&key, "precise", "application/json", "9.727837981879871e+26");
    assert_eq!(run["result"], "FAIL", "the boundary is excluded: {run}");
    let (_, run) = srv.launch(&key, "precise", "application/json", "9.7e+26");
    assert_eq!(run["result"], "PASS", "{run}");
    let (status, err) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows")
            .body("{not json")
            .header("content-type", "application/json")
            .send()
            .unwrap(),
    );
    assert_eq!((status, err["code"].as_str()), (400, Some("INVALID_JSON")));
    assert_eq!(
        srv.get(&key, "/api/v1/workspaces/default/workflows/bad")
            .status(),
        404
    );

    let (_, validators) = json_of(srv.get(&key, "/api/v1/validators"));
    let slugs: Vec<&str> = validators["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        [
            "csv",
            "json-schema",
            "rules",
            "schematron",
            "shacl",
            "xml-schema"
        ]
    );
    for v in validators["results"].as_array().unwrap() {
        guide_covers_config_schema(v["slug"].as_str().unwrap(), &v["config_schema"]);
    }
    let v = &validators["results"][1];
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["builtin"], true);

    // A CSV workflow, end to end.
    let csv_config: Value = serde_json::from_slice(
        &std::fs::read(examples_dir().join("../plugins/csv/fixtures/config.json")).unwrap(),
    )
    .unwrap();
    srv.create_workflow(
        &key,
        &json!({"slug": "meters", "steps": [{"key": "table", "validator": "csv", "config": csv_config}]}),
    );
    let problems =
        std::fs::read(examples_dir().join("../plugins/csv/fixtures/problems.csv")).unwrap();
    let (status, run) = srv.launch(&key, "meters", "text/csv", problems);
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("FAIL")),
        "{run}"
    );
    assert!(finding_codes(&run).contains(&"csv.primary_key".to_string()));
    let (_, run) = srv.launch(
        &key,
        "meters",
        "text/csv",
        "site,date,kwh,metered\nNYC-01,2026-01-01,5,true\n",
    );
    assert_eq!(run["result"], "PASS", "{run}");
    // What Windows browsers send for a .csv (issue 25, item 4): judged by the name.
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(
            b"site,date,kwh,metered\nNYC-01,2026-01-01,5,true\n".to_vec(),
        )
        .file_name("readings.csv")
        .mime_str("application/vnd.ms-excel")
        .unwrap(),
    );
    let (status, run) = json_of(
        srv.client
            .post(srv.url("/api/v1/workspaces/default/workflows/meters/runs?wait=10"))
            .bearer_auth(&key)
            .multipart(form)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    assert_eq!(run["submission"]["content_type"], "text/csv");
    // A known alias as the raw body's type.
    let (status, run) = srv.launch(
        &key,
        "meters",
        "application/x-csv",
        "site,date,kwh,metered\n",
    );
    assert_eq!(
        (status, run["submission"]["content_type"].as_str()),
        (201, Some("text/csv")),
        "{run}"
    );
    // A rules step after the csv step reads typed cells (issue 26, item 12): `kwh` is a
    // number, so `value < 1000.0` compares numbers, with no double() conversion.
    srv.create_workflow(
        &key,
        &json!({"slug": "meters-capped", "steps": [
            {"key": "table", "validator": "csv", "config": csv_config},
            {"key": "cap", "validator": "rules", "config": {"rules": [
                {"id": "cap", "path": "/rows/*", "expr": "value.kwh < 1000.0 && value.metered == true"}]}}
        ]}),
    );
    let (_, run) = srv.launch(
        &key,
        "meters-capped",
        "text/csv",
        "site,date,kwh,metered\nNYC-01,2026-01-01,5,true\nNYC-01,2026-01-02,1500.5,true\n",
    );
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(finding_codes(&run), ["rules.cap"], "{run}");
    assert_eq!(run["steps"][1]["findings"][0]["path"], "/rows/1", "{run}");

    // An XML Schema workflow: schema violations, then an XXE attempt, then a valid file.
    let fixtures = examples_dir().join("../plugins/xml/fixtures");
    let xml_config: Value =
        serde_json::from_slice(&std::fs::read(fixtures.join("config.json")).unwrap()).unwrap();
    srv.create_workflow(
        &key,
        &json!({"slug": "readings", "steps": [{"key": "xsd", "validator": "xml-schema", "config": xml_config}]}),
    );
    for (file, code) in [
        ("bad.xml", "xml.schema.invalid"),
        ("xxe.xml", "xml.dtd_forbidden"),
    ] {
        let doc = std::fs::read(fixtures.join(file)).unwrap();
        let (status, run) = srv.launch(&key, "readings", "application/xml", doc);
        assert_eq!(
            (status, run["result"].as_str()),
            (201, Some("FAIL")),
            "{run}"
        );
        assert!(finding_codes(&run).contains(&code.to_string()), "{run}");
        assert!(
            !run.to_string().contains("root:x:0"),
            "no local file is read"
        );
    }
    let good = std::fs::read(fixtures.join("good.xml")).unwrap();
    let (_, run) = srv.launch(&key, "readings", "application/xml", good);
    assert_eq!(run["result"], "PASS", "{run}");

    // A SHACL workflow over a Brick building model (issue 23): each validation result a
    // finding with the constraint component as code, the outputs for assertions.
    let fixtures = examples_dir().join("../plugins/shacl/fixtures");
    let mut shacl_config: Value =
        serde_json::from_slice(&std::fs::read(fixtures.join("config.json")).unwrap()).unwrap();
    srv.create_workflow(
        &key,
        &json!({"slug": "building", "steps": [{"key": "shapes", "validator": "shacl", "config": shacl_config,
            "assertions": [{"expr": "outputs.warning_count == 0", "message": "no setpoint warnings"}]}]}),
    );
    let bad = std::fs::read(fixtures.join("bad.ttl")).unwrap();
    let (status, run) = srv.launch(&key, "building", "text/turtle", bad);
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("FAIL")),
        "{run}"
    );
    let findings = run["steps"][0]["findings"].as_array().unwrap();
    let min_count = findings
        .iter()
        .find(|f| {
            f["code"] == "shacl.MinCountConstraintComponent"
                && f["path"] == "bldg:Zone-2 rdfs:label"
        })
        .unwrap_or_else(|| panic!("{run}"));
    assert_eq!(min_count["severity"], "ERROR");
    let warning = findings
        .iter()
        .find(|f| f["severity"] == "WARNING")
        .unwrap();
    assert_eq!(
        warning["code"], "shacl.MaxInclusiveConstraintComponent",
        "{run}"
    );
    let outputs = run["steps"][0]["outputs"].as_array().unwrap();
    let violations = outputs
        .iter()
        .find(|o| o["name"] == "violation_count")
        .unwrap();
    assert_eq!(violations["value"], 12, "{run}");
    // Formats by media type; a DOCTYPE that reads a local file is refused, not expanded.
    let (_, run) = srv.launch(
        &key,
        "building",
        "application/ld+json",
        std::fs::read(fixtures.join("jsonld.jsonld")).unwrap(),
    );
    assert_eq!(run["result"], "PASS", "{run}");
    let (_, run) = srv.launch(
        &key,
        "building",
        "application/rdf+xml",
        std::fs::read(fixtures.join("xxe.rdf")).unwrap(),
    );
    assert!(
        finding_codes(&run).contains(&"shacl.data.dtd_forbidden".to_string()),
        "{run}"
    );
    assert!(
        !run.to_string().contains("root:x:0"),
        "no local file is read"
    );
    let (_, run) = srv.launch(
        &key,
        "building",
        "text/turtle",
        std::fs::read(fixtures.join("good.ttl")).unwrap(),
    );
    assert_eq!(run["result"], "PASS", "{run}");
    // Shapes that are not SHACL are refused when the workflow is saved.
    shacl_config["shapes"] = json!("@prefix sh: <http://www.w3.org/ns/shacl#> . <urn:s> sh:path <urn:p> ; sh:minCount \"many\" .");
    let resp = srv
        .post(&key, "/api/v1/workspaces/default/workflows")
        .json(&json!({"slug": "broken-shapes", "steps": [{"key": "s", "validator": "shacl", "config": shacl_config}]}))
        .send()
        .unwrap();
    let (status, body) = json_of(resp);
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("sh:minCount"), "{body}");

    // A Schematron workflow over UBL invoices (issue 23): the schema as a step file, the
    // phase chosen in the config, each failed assert a finding with the rule's id as code
    // and the flag as severity, per-pattern outputs for assertions.
    let fixtures = examples_dir().join("../plugins/schematron/fixtures");
    let sch_config: Value =
        serde_json::from_slice(&std::fs::read(fixtures.join("config.json")).unwrap()).unwrap();
    let schema = sch_config["schema"].as_str().unwrap();
    let sha = srv.upload_file(
        &key,
        "invoice-rules.sch",
        "application/xml",
        schema.as_bytes(),
    );
    srv.create_workflow(
        &key,
        &json!({"slug": "invoices", "steps": [{"key": "rules", "validator": "schematron",
            "config": {"schema_file": "invoice-rules.sch", "phase": "full"},
            "files": [{"name": "invoice-rules.sch", "sha256": sha}],
            "assertions": [{"expr": "outputs.patterns.totals.failed_asserts == 0", "message": "the totals reconcile"}]}]}),
    );
    let (status, run) = srv.launch(
        &key,
        "invoices",
        "application/xml",
        std::fs::read(fixtures.join("bad.xml")).unwrap(),
    );
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("FAIL")),
        "{run}"
    );
    let findings = run["steps"][0]["findings"].as_array().unwrap();
    let duplicate = findings
        .iter()
        .find(|f| f["code"] == "INV-28" && f["path"] == "/ubl:Invoice[1]/cac:InvoiceLine[3]")
        .unwrap_or_else(|| panic!("{run}"));
    assert_eq!(duplicate["severity"], "ERROR");
    assert_eq!(
        duplicate["message"],
        "Line identifier 2 is used more than once."
    );
    let unit = findings.iter().find(|f| f["code"] == "INV-25").unwrap();
    assert_eq!(unit["severity"], "WARNING", "{run}");
    assert!(run.to_string().contains("the totals reconcile"), "{run}");
    let outputs = run["steps"][0]["outputs"].as_array().unwrap();
    let failed = outputs
        .iter()
        .find(|o| o["name"] == "failed_assert_count")
        .unwrap();
    assert_eq!(failed["value"], 15, "{run}");
    let (_, run) = srv.launch(
        &key,
        "invoices",
        "application/xml",
        std::fs::read(fixtures.join("good.xml")).unwrap(),
    );
    assert_eq!(run["result"], "PASS", "{run}");
    // DTDs are refused as xml-schema refuses them: nothing is read from the machine.
    let (_, run) = srv.launch(
        &key,
        "invoices",
        "application/xml",
        std::fs::read(fixtures.join("xxe.xml")).unwrap(),
    );
    assert!(
        finding_codes(&run).contains(&"xml.dtd_forbidden".to_string()),
        "{run}"
    );
    assert!(
        !run.to_string().contains("root:x:0"),
        "no local file is read"
    );
    // A phase the schema does not have, or XPath that does not compile, is refused at save.
    for (config, needle) in [
        (
            json!({"schema": schema, "phase": "quarterly"}),
            "codes-only",
        ),
        (
            json!({"schema": schema.replace("count(../cac:InvoiceLine[cbc:ID = $id]) = 1", "count(../cac:InvoiceLine[cbc:ID = $id) = 1")}),
            "count(../cac:InvoiceLine[cbc:ID = $id) = 1",
        ),
    ] {
        let resp = srv
            .post(&key, "/api/v1/workspaces/default/workflows")
            .json(&json!({"slug": "broken-rules", "steps": [{"key": "s", "validator": "schematron", "config": config}]}))
            .send()
            .unwrap();
        let (status, body) = json_of(resp);
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains(needle), "{body}");
    }
}

fn validator_deadline_and_memory_cap(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    // 16 MiB of guest memory however large the document, and 2 s per call: enough
    // for small documents only.
    let srv = inst.serve(&[
        "--validator-memory-mib",
        "16",
        "--validator-memory-max-mib",
        "16",
        "--validator-timeout-ms",
        "2000",
        "--max-inline-bytes",
        "50000000",
    ]);
    srv.create_workflow(&key, &invoice_workflow());

    let big = big_invoice(60_000);
    assert!(big.len() > 4 << 20);
    let (status, run) = srv.launch(&key, "invoice", "application/json", big);
    assert_eq!(status, 201, "{run}");
    assert_eq!(
        (
            run["status"].as_str(),
            run["result"].as_str(),
            run["error_category"].as_str()
        ),
        (Some("FAILED"), Some("ERROR"), Some("OOM")),
        "{run}"
    );
    assert_eq!(finding_codes(&run), ["validator.memory_exceeded"]);
    let message = run["steps"][0]["findings"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("16 MiB") && message.contains("VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB"),
        "the finding says which limit to raise: {run}"
    );

    // The server keeps serving after the failure.
    let (_, ok) = srv.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!(ok["result"], "PASS");

    // A workflow's own base cap is held to the instance's maximum, and is part of the
    // version (issue 24).
    let mut roomy = invoice_workflow();
    roomy["slug"] = json!("roomy");
    roomy["validator_memory_mib"] = json!(64);
    let refused = srv.refused_workflow(&key, &roomy);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("between 16 and 16"),
        "{refused}"
    );
    roomy["validator_memory_mib"] = json!(16);
    let saved = srv.create_workflow(&key, &roomy);
    assert_eq!(saved["validator_memory_mib"], 16, "{saved}");
    let plain: Value = srv
        .get(&key, "/api/v1/workspaces/default/workflows/invoice")
        .json()
        .unwrap();
    assert_ne!(saved["digest"], plain["digest"]);
    assert!(plain.get("validator_memory_mib").is_none(), "{plain}");
    drop(srv);

    let srv = inst.serve(&[
        "--validator-timeout-ms",
        "1",
        "--max-inline-bytes",
        "50000000",
    ]);
    let (status, run) = srv.launch(&key, "invoice", "application/json", big_invoice(20_000));
    assert_eq!(status, 201);
    assert_eq!(
        (
            run["status"].as_str(),
            run["result"].as_str(),
            run["error_category"].as_str()
        ),
        (Some("TIMED_OUT"), Some("TIMED_OUT"), Some("TIMEOUT")),
        "{run}"
    );
    assert_eq!(finding_codes(&run), ["validator.deadline_exceeded"]);
}

/// A run that outlives its workflow's `timeout_seconds` ends TIMED_OUT, with the
/// steps it never reached SKIPPED, close to the limit rather than after every step.
fn workflow_time_limit(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&["--max-inline-bytes", "50000000"]);
    let mut wf = invoice_workflow();
    wf["slug"] = json!("slow");
    wf["timeout_seconds"] = json!(1);
    let step = wf["steps"][0].clone();
    wf["steps"] = json!((0..50)
        .map(|i| {
            let mut s = step.clone();
            s["key"] = json!(format!("s{i}"));
            s
        })
        .collect::<Vec<_>>());
    srv.create_workflow(&key, &wf);

    let (status, run) = srv.launch(&key, "slow", "application/json", big_invoice(60_000));
    assert_eq!(status, 201, "{run}");
    assert_eq!(
        (
            run["status"].as_str(),
            run["result"].as_str(),
            run["error_category"].as_str()
        ),
        (Some("TIMED_OUT"), Some("TIMED_OUT"), Some("TIMEOUT")),
        "{run}"
    );
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 50);
    assert_eq!(steps[0]["status"], "PASSED", "the first step fits in 1 s");
    assert_eq!(steps[49]["status"], "SKIPPED");
    let ms = run["duration_ms"].as_f64().unwrap();
    assert!(ms < 2_500.0, "stopped {ms} ms after the start, limit 1 s");
}

/// An invoice with `lines` line items (about 110 bytes each).
pub fn big_invoice(lines: usize) -> Vec<u8> {
    let items: Vec<Value> = (0..lines).map(|i| json!({"sku": format!("ABC-{i:06}"), "qty": 1 + i % 9, "unit_price": 1.25, "note": "padding padding padding"})).collect();
    serde_json::to_vec(&json!({"id": "INV-000001", "customer": {"name": "A", "email": "a@example.org"}, "lines": items, "total": 1.0})).unwrap()
}

/// `docs/validators/<slug>.md` names every key of the validator's published config
/// schema (at any depth) and every value of its enumerations, as `` `key` ``: the guide
/// is checked against the schema the editor's form is built from.
fn guide_covers_config_schema(slug: &str, schema: &Value) {
    let path = common::examples_dir()
        .parent()
        .unwrap()
        .join(format!("docs/validators/{slug}.md"));
    let guide = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{slug} has no guide at {}: {e}", path.display()));
    let mut missing = Vec::new();
    let mut stack = vec![schema];
    while let Some(node) = stack.pop() {
        if let Some(props) = node["properties"].as_object() {
            for (key, sub) in props {
                if !guide.contains(&format!("`{key}`")) {
                    missing.push(key.clone());
                }
                stack.push(sub);
            }
        }
        for value in node["enum"].as_array().into_iter().flatten() {
            if let Some(v) = value.as_str() {
                if !guide.contains(&format!("`{v}`")) {
                    missing.push(v.to_owned());
                }
            }
        }
        if node["items"].is_object() {
            stack.push(&node["items"]);
        }
    }
    assert!(
        missing.is_empty(),
        "{} does not name {missing:?}",
        path.display()
    );
}
