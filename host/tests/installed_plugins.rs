//! Installing third-party validators through the API and the CLI, then using them in
//! workflows — against the real binary on SQLite and PostgreSQL.

mod common;

use std::sync::OnceLock;

use common::*;
use serde_json::{json, Value};

on_both_backends!(
    install_through_the_api_and_run,
    install_with_the_cli_while_serving,
    signed_plugins_and_uninstall,
    disable_and_enable
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
    assert_eq!(meta["wit_version"], "1.1.0");
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

/// Components are installable only when signed by a key the operator trusts (unless the
/// operator allows unsigned ones); an installed one can be listed by version and
/// uninstalled once no workflow needs it.
fn signed_plugins_and_uninstall(backend: Backend) {
    let inst = Instance::new(backend);
    let admin = inst.user("root", "admin");
    let author = inst.user("alice", "author");
    let dir = inst.data.path();
    let wasm = dir.join("line-length.wasm");
    std::fs::write(&wasm, line_length()).unwrap();
    let other = dir.join("hostile.wasm");
    std::fs::write(&other, hostile()).unwrap();
    let strict = [("VALIDIBOT_ALLOW_UNSIGNED_PLUGINS", "false")];

    // The author's key: the public half goes to the operator.
    let keygen = |kid: &str| {
        let key = dir.join(format!("{kid}.key"));
        let out = inst.cli(&[
            "plugin",
            "keygen",
            "--kid",
            kid,
            "--out",
            key.to_str().unwrap(),
        ]);
        let public = out.lines().last().unwrap().to_owned();
        assert!(public.starts_with(&format!("{kid}:")), "{out}");
        (key, public)
    };
    let (acme_key, acme_public) = keygen("acme");
    let (mallory_key, _) = keygen("mallory");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&acme_key).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the private key is the owner's alone");
    let sign = |file: &std::path::Path, key: &std::path::Path| {
        inst.cli(&[
            "plugin",
            "sign",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        std::fs::read_to_string(format!("{}.sig", file.display())).unwrap()
    };
    let mallory_sig = sign(&wasm, &mallory_key);
    let acme_sig_other = sign(&other, &acme_key);
    let acme_sig = sign(&wasm, &acme_key);

    let srv = inst.serve_with_env(
        &[],
        &[
            strict[0],
            ("VALIDIBOT_PLUGIN_TRUSTED_KEYS", acme_public.as_str()),
        ],
    );
    let upload = |signature: Option<&str>| {
        let mut req = srv
            .post(&admin, "/api/v1/validators")
            .header("content-type", "application/wasm")
            .body(line_length().to_vec());
        if let Some(sig) = signature {
            req = req.header("x-validibot-signature", sig.trim_end());
        }
        json_of(req.send().unwrap())
    };
    let (status, err) = upload(None);
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("PLUGIN_UNSIGNED")),
        "{err}"
    );
    let (status, err) = upload(Some(&mallory_sig));
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("PLUGIN_SIGNATURE_INVALID")),
        "{err}"
    );
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("not among the trusted keys"),
        "{err}"
    );
    let (status, err) = upload(Some(&acme_sig_other));
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("PLUGIN_SIGNATURE_INVALID")),
        "{err}"
    );
    assert!(
        err["detail"].as_str().unwrap().contains("does not match"),
        "{err}"
    );
    let (status, _) = upload(Some("validibot-extension-signature v1 acme 00"));
    assert_eq!(status, 422);
    let (_, list) = json_of(srv.get(&admin, "/api/v1/validators"));
    assert!(
        !list["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["slug"] == "line-length"),
        "nothing was installed by the refused uploads"
    );
    let (status, meta) = upload(Some(&acme_sig));
    assert_eq!(status, 201, "{meta}");

    let (status, shown) = json_of(srv.get(&author, "/api/v1/validators/line-length"));
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["builtin"], false);
    let v = &shown["versions"][0];
    assert_eq!(
        (v["version"].as_str(), v["signed_by"].as_str()),
        (Some("0.1.0"), Some("acme")),
        "{shown}"
    );
    assert_eq!(v["installed_by"], "root");
    assert_eq!(v["latest"], true);
    assert_eq!(json_of(srv.get(&author, "/api/v1/validators/nope")).0, 404);

    // The command line follows the same policy; --allow-unsigned is the operator's word.
    std::fs::remove_file(format!("{}.sig", other.display())).unwrap();
    let out = inst
        .command(&["plugin", "install", other.to_str().unwrap()])
        .envs(strict)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsigned"), "{stderr}");
    let out = inst.cli_with_env(
        &[
            "plugin",
            "install",
            other.to_str().unwrap(),
            "--allow-unsigned",
        ],
        &strict,
    );
    assert!(
        out.contains("installed: hostile 0.1.0") && out.contains("unsigned"),
        "{out}"
    );
    let listed = inst.cli(&["plugin", "list"]);
    assert!(
        listed.contains("line-length 0.1.0") && listed.contains("signed by acme"),
        "{listed}"
    );
    assert!(
        listed.contains("hostile 0.1.0") && listed.contains("unsigned"),
        "{listed}"
    );

    // Uninstall: admins only, not a built-in, not while a workflow needs it.
    srv.create_workflow(
        &author,
        &step_workflow("lines", "line-length", json!({"max": 20})),
    );
    assert_eq!(
        srv.delete(&author, "/api/v1/validators/line-length")
            .status(),
        403
    );
    let (status, err) = json_of(srv.delete(&admin, "/api/v1/validators/json-schema"));
    assert_eq!(status, 409, "{err}");
    let (status, err) = json_of(srv.delete(&admin, "/api/v1/validators/line-length"));
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("VALIDATOR_IN_USE")),
        "{err}"
    );
    assert!(
        err["detail"].as_str().unwrap().contains("default/lines"),
        "{err}"
    );
    let (status, _) = json_of(
        srv.put(&author, "/api/v1/workspaces/default/workflows/lines")
            .json(&step_workflow(
                "lines",
                "json-schema",
                json!({"schema": {}}),
            ))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    let (status, err) =
        json_of(srv.delete(&admin, "/api/v1/validators/line-length/versions/9.9.9"));
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("VALIDATOR_NOT_FOUND")),
        "{err}"
    );
    assert_eq!(
        srv.delete(&admin, "/api/v1/validators/line-length/versions/0.1.0")
            .status(),
        204
    );
    assert_eq!(
        json_of(srv.get(&author, "/api/v1/validators/line-length")).0,
        404
    );
    let (_, list) = json_of(srv.get(&admin, "/api/v1/validators"));
    assert!(!list["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["slug"] == "line-length"));
    let out = inst.cli(&["plugin", "uninstall", "hostile"]);
    assert!(out.contains("uninstalled hostile (1 version)"), "{out}");
    // The server drops it at its next sync.
    assert_eq!(
        json_of(srv.get(&author, "/api/v1/validators/hostile")).0,
        404
    );
    // Reinstalling after an uninstall works (the blob was kept, the row is new).
    let (status, _) = upload(Some(&acme_sig));
    assert_eq!(status, 201);
}

fn patch(srv: &Server, key: &str, slug: &str, body: Value) -> (u16, Value) {
    json_of(
        srv.client
            .patch(srv.url(&format!("/api/v1/validators/{slug}")))
            .bearer_auth(key)
            .json(&body)
            .send()
            .unwrap(),
    )
}

/// An operator switches an installed validator off without uninstalling it: saving and
/// launching workflows on it are refused with the reason, a run queued before the
/// change ends ERROR at its step, finished runs and workflows stay; switched on again
/// (the CLI) everything works. Restricting it to workspaces is Pro.
fn disable_and_enable(backend: Backend) {
    let inst = Instance::new(backend);
    let admin = inst.user("root", "admin");
    let author = inst.user("alice", "author");
    let srv = inst.serve(&[]);
    let (status, body) = install(&srv, &admin, "application/wasm", line_length().to_vec());
    assert_eq!(status, 201, "{body}");
    srv.create_workflow(
        &author,
        &step_workflow("lines", "line-length", json!({"max": 20})),
    );
    let (status, before) = srv.launch(&author, "lines", "text/plain", "short\n");
    assert_eq!(
        (status, before["result"].as_str()),
        (201, Some("PASS")),
        "{before}"
    );

    assert_eq!(
        patch(&srv, &author, "line-length", json!({"enabled": false})).0,
        403
    );
    let (status, body) = patch(&srv, &admin, "line-length", json!({"enabled": false}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"slug": "line-length", "enabled": false, "workspaces": null})
    );
    let (_, shown) = json_of(srv.get(&author, "/api/v1/validators/line-length"));
    assert_eq!(shown["enabled"], false, "{shown}");
    let (_, list) = json_of(srv.get(&author, "/api/v1/validators"));
    let builtin = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["slug"] == "json-schema")
        .unwrap();
    assert_eq!(builtin["enabled"], true);

    let (status, err) = srv.launch(&author, "lines", "text/plain", "short\n");
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("VALIDATOR_DISABLED")),
        "{err}"
    );
    let (status, err) = json_of(
        srv.post(&author, "/api/v1/workspaces/default/workflows")
            .json(&step_workflow("lines2", "line-length", json!({"max": 5})))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("INVALID_WORKFLOW")),
        "{err}"
    );
    assert_eq!(err["errors"][0]["code"], "VALIDATOR_DISABLED", "{err}");
    // The workflow and its finished run are untouched.
    assert_eq!(
        srv.get(&author, before["url"].as_str().unwrap()).status(),
        200
    );
    assert_eq!(
        srv.get(&author, "/api/v1/workspaces/default/workflows/lines")
            .status(),
        200
    );

    // Built-ins are always on; unknown slugs and bodies say so; workspaces need Pro.
    let (status, err) = patch(&srv, &admin, "json-schema", json!({"enabled": false}));
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("VALIDATOR_BUILTIN")),
        "{err}"
    );
    assert_eq!(patch(&srv, &admin, "nope", json!({"enabled": true})).0, 404);
    assert_eq!(
        patch(&srv, &admin, "line-length", json!({"enabled": "no"})).0,
        400
    );
    assert_eq!(
        patch(&srv, &admin, "line-length", json!({"colour": 1})).0,
        400
    );
    let (status, err) = patch(
        &srv,
        &admin,
        "line-length",
        json!({"workspaces": ["default"]}),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (402, Some("PRO_FEATURE_REQUIRED")),
        "{err}"
    );
    assert!(inst.cli(&["plugin", "list"]).contains("disabled"));
    let out = inst
        .command(&["plugin", "enable", "line-length", "--workspace", "default"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "per-workspace needs Pro");

    // On again from the command line, seen by the running server at the next launch.
    assert!(inst
        .cli(&["plugin", "enable", "line-length"])
        .contains("enabled line-length"));
    let (status, run) = srv.launch(&author, "lines", "text/plain", "short\n");
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    drop(srv);

    // A run queued before the validator was disabled ends ERROR at its step.
    let srv = inst.serve(&["--no-worker"]);
    let (status, queued) = json_of(
        srv.post(
            &author,
            "/api/v1/workspaces/default/workflows/lines/runs?wait=0",
        )
        .header("content-type", "text/plain")
        .body("short\n")
        .send()
        .unwrap(),
    );
    assert_eq!(status, 202, "{queued}");
    inst.cli(&["plugin", "disable", "line-length"]);
    let worker = inst.worker(&[]);
    let run = srv.wait_run(
        &author,
        queued["url"].as_str().unwrap(),
        std::time::Duration::from_secs(60),
    );
    worker.kill();
    assert_eq!(run["result"], "ERROR", "{run}");
    assert!(
        finding_codes(&run).contains(&"validator.disabled".to_owned()),
        "{run}"
    );
}
