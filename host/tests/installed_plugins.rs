//! Installing third-party validators through the API and the CLI, then using them in
//! workflows — against the real binary on SQLite and PostgreSQL.

mod common;

use std::sync::OnceLock;

use common::*;
use serde_json::{json, Value};

on_both_backends!(
    install_through_the_api_and_run,
    install_with_the_cli_while_serving
);

fn line_length() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        guest::build_guest(
            "plugins/examples/line-length",
            "validibot_example_line_length",
        )
    })
}

fn hostile() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| guest::build_guest("host/tests/plugins/hostile", "validibot_test_hostile"))
}

fn install(srv: &Server, key: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    json_of(
        srv.post(key, "/api/v1/validators")
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap(),
    )
}

fn step_workflow(slug: &str, validator: &str, config: Value) -> Value {
    json!({"slug": slug, "steps": [{"key": "check", "validator": validator, "config": config}]})
}

fn install_through_the_api_and_run(backend: Backend) {
    let inst = Instance::new(backend);
    let admin = inst.user("root", "admin");
    let author = inst.user("alice", "author");
    let srv = inst.serve(&[]);

    let (status, err) = install(&srv, &author, "application/wasm", line_length().to_vec());
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let (status, _) = install(&srv, &admin, "text/plain", line_length().to_vec());
    assert_eq!(status, 415);
    let (status, err) = install(
        &srv,
        &admin,
        "application/wasm",
        b"not a component".to_vec(),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("INVALID_PLUGIN")),
        "{err}"
    );
    let v2 = wat::parse_str(r#"(component (import "validibot:validator/log@2.0.0" (instance)))"#)
        .unwrap();
    let (status, err) = install(&srv, &admin, "application/wasm", v2);
    assert_eq!(status, 422);
    let detail = err["detail"].as_str().unwrap();
    assert!(
        detail.contains("validibot:validator@2.0.0") && detail.contains("validibot:validator@1.x"),
        "{detail}"
    );

    let (status, meta) = install(&srv, &admin, "application/wasm", line_length().to_vec());
    assert_eq!(status, 201, "{meta}");
    assert_eq!(meta["slug"], "line-length");
    assert_eq!(meta["version"], "0.1.0");
    assert_eq!(meta["wit_version"], "1.0.0");
    assert_eq!(meta["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(meta["config_schema"]["required"], json!(["max"]));
    let (status, _) = install(&srv, &admin, "application/wasm", line_length().to_vec());
    assert_eq!(status, 200, "the same component again is a no-op");

    let (_, list) = json_of(srv.get(&author, "/api/v1/validators"));
    let listed: Vec<(String, bool)> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["slug"].as_str().unwrap().to_owned(),
                v["builtin"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        listed.contains(&("line-length".into(), false)),
        "{listed:?}"
    );
    assert!(listed.contains(&("json-schema".into(), true)), "{listed:?}");

    // The plugin's validate-config guards workflow definitions.
    let (status, err) = json_of(
        srv.post(&author, "/api/v1/workspaces/default/workflows")
            .json(&step_workflow("lines", "line-length", json!({"max": 0})))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("INVALID_WORKFLOW")),
        "{err}"
    );
    assert_eq!(err["errors"][0]["findings"][0]["code"], "config.max");

    let wf = srv.create_workflow(
        &author,
        &step_workflow("lines", "line-length", json!({"max": 20})),
    );
    assert_eq!(wf["steps"][0]["validator_version"], "0.1.0");
    let (status, run) = srv.launch(
        &author,
        "lines",
        "text/plain",
        "ok\nthis line is definitely too long\n",
    );
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["result"], "FAIL");
    assert_eq!(run["steps"][0]["findings"][0]["code"], "line.too_long");
    assert_eq!(run["steps"][0]["findings"][0]["path"], "2:21");
    assert_eq!(
        run["steps"][0]["outputs"][0],
        json!({"name": "lines", "value": 2})
    );
}

/// A plugin installed by the CLI (another process) is picked up by a running server,
/// and a misbehaving one ends its run with an ERROR finding while the server keeps serving.
fn install_with_the_cli_while_serving(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    let file = inst.data.path().join("hostile.wasm");
    std::fs::write(&file, hostile()).unwrap();
    let out = inst.cli(&["plugin", "install", file.to_str().unwrap()]);
    assert!(out.starts_with("installed: hostile 0.1.0"), "{out}");
    let again = inst.cli(&["plugin", "install", file.to_str().unwrap()]);
    assert!(again.starts_with("already installed"), "{again}");

    srv.create_workflow(&key, &step_workflow("attack", "hostile", json!({})));
    let (status, run) = srv.launch(&key, "attack", "text/plain", "ok");
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    let (_, run) = srv.launch(&key, "attack", "text/plain", "panic");
    assert_eq!(run["result"], "ERROR", "{run}");
    assert_eq!(finding_codes(&run), ["validator.panic"]);
    let message = run["steps"][0]["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("hostile panic number 42"), "{message}");
    let (_, run) = srv.launch(&key, "attack", "text/plain", "ok");
    assert_eq!(run["result"], "PASS");

    // Each run gets a fresh instance: a plugin that keeps the previous document in its
    // memory has nothing to show the next run (in this workspace or any other).
    for doc in ["remember:first tenant's secret", "remember:second"] {
        let (_, run) = srv.launch(&key, "attack", "text/plain", doc);
        let outputs = &run["steps"][0]["outputs"];
        assert_eq!(outputs[0]["name"], "previous", "{run}");
        assert_eq!(outputs[0]["value"], Value::Null, "{run}");
    }

    // No clock by default; the operator grants one by re-installing with --grant, and the
    // server takes it on its next sync (listing validators, saving a workflow, restart).
    let clock = |run: &Value| run["steps"][0]["outputs"][3]["value"].as_u64().unwrap();
    let (_, run) = srv.launch(&key, "attack", "text/plain", "escape");
    assert_eq!(clock(&run), 0, "{run}");
    let out = inst.cli(&[
        "plugin",
        "install",
        file.to_str().unwrap(),
        "--grant",
        "clock",
    ]);
    assert!(out.contains("granted: {\"clock\":true}"), "{out}");
    assert_eq!(srv.get(&key, "/api/v1/validators").status(), 200);
    let (_, run) = srv.launch(&key, "attack", "text/plain", "escape");
    assert!(clock(&run) > 1_700_000_000, "{run}");
}
