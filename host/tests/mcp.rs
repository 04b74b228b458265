//! The MCP server at /mcp against the official MCP Python SDK (PyPI `mcp`, installed by
//! .ci/test), not the server's own types: tools, resources, errors, authentication and
//! roles, on SQLite and PostgreSQL.

mod common;

use std::process::Command;

use common::{invoice_workflow, Backend, Instance};
use serde_json::Value;

fn mcp_with_the_python_sdk(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "author");
    let viewer = inst.user("victor", "viewer");
    let server = inst.serve(&[]);
    server.create_workflow(&key, &invoice_workflow());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py");
    let out = Command::new("python3")
        .args([script, &server.url("/mcp"), &key, &viewer])
        .output()
        .expect("python3 is needed (with PyPI `mcp`: .ci/test installs it)");
    assert!(
        out.status.success(),
        "MCP client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(t["server"]["name"], "validibot");
    assert!(t["server"]["instructions"]
        .as_str()
        .unwrap()
        .contains("describe_workflow"));
    let tools = t["tools"].as_object().unwrap();
    let mut names: Vec<&str> = tools.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "describe_workflow",
            "get_report",
            "get_run",
            "list_runs",
            "list_workflows",
            "validate"
        ]
    );
    assert_eq!(tools["validate"]["read_only"], false);
    assert_eq!(tools["get_run"]["read_only"], true);
    assert_eq!(
        tools["validate"]["required"],
        serde_json::json!(["workflow"])
    );
    assert!(tools["validate"]["properties"]
        .as_array()
        .unwrap()
        .contains(&"content_base64".into()));

    // Reading workflows.
    let list = &t["list_workflows"];
    assert_eq!(list["is_error"], false, "{list}");
    assert_eq!(list["structured"]["results"][0]["slug"], "invoice");
    let described = &t["describe_workflow"]["structured"];
    assert_eq!(described["workflow"]["slug"], "invoice");
    let validators: Vec<&str> = described["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["slug"].as_str().unwrap())
        .collect();
    assert!(validators.contains(&"json-schema"), "{described}");
    let missing = &t["describe_missing"];
    assert_eq!(missing["is_error"], true);
    assert_eq!(missing["structured"]["status"], 404);
    assert_eq!(missing["structured"]["code"], "WORKFLOW_NOT_FOUND");

    // Validating: inline text and base64, the run's result and findings.
    let valid = &t["validate_valid"]["structured"];
    assert_eq!(
        t["validate_valid"]["is_error"], false,
        "{}",
        t["validate_valid"]
    );
    assert_eq!(valid["state"], "COMPLETED", "{valid}");
    assert_eq!(valid["result"], "PASS");
    assert_eq!(valid["submission"]["filename"], "valid.json");
    let invalid = &t["validate_invalid"]["structured"];
    assert_eq!(invalid["result"], "FAIL", "{invalid}");
    let findings: Vec<&Value> = invalid["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap())
        .collect();
    assert!(!findings.is_empty());
    assert!(findings
        .iter()
        .all(|f| f["code"].is_string() && f["path"].is_string()));
    for refused in ["validate_no_document", "validate_bad_base64"] {
        assert_eq!(t[refused]["is_error"], true, "{}", t[refused]);
        assert_eq!(t[refused]["structured"]["status"], 400);
    }

    // Reading runs back: the run, its reports, the list.
    assert_eq!(t["get_run"]["structured"]["id"], invalid["id"]);
    let report = t["get_report"]["text"].as_str().unwrap();
    assert!(report.contains("FAIL"), "{report}");
    let sarif: Value =
        serde_json::from_str(t["get_report_sarif"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let runs = t["list_runs"]["structured"]["results"].as_array().unwrap();
    assert_eq!(runs.len(), 2);

    // Resources: the workflow and both runs listed, templates, reads, a missing one.
    let uris: Vec<&str> = t["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(uris.contains(&"validibot://workspaces/default/workflows/invoice"));
    let run_uri = format!(
        "validibot://workspaces/default/runs/{}",
        invalid["id"].as_str().unwrap()
    );
    assert!(uris.contains(&run_uri.as_str()), "{uris:?}");
    assert_eq!(
        t["templates"],
        serde_json::json!([
            "validibot://workspaces/{workspace}/workflows/{workflow}",
            "validibot://workspaces/{workspace}/runs/{run_id}"
        ])
    );
    assert_eq!(t["read_workflow"]["mime"], "application/json");
    assert_eq!(t["read_workflow"]["json"]["slug"], "invoice");
    assert_eq!(t["read_run"]["json"]["result"], "FAIL");
    assert!(t["read_missing"].as_str().unwrap().starts_with("error:"));

    // A viewer reads but cannot launch: the API's own 403.
    assert_eq!(t["viewer_list"]["is_error"], false);
    let refused = &t["viewer_validate"];
    assert_eq!(refused["is_error"], true);
    assert_eq!(refused["structured"]["status"], 403, "{refused}");
    assert_eq!(refused["structured"]["code"], "PERMISSION_DENIED");

    // Without a key, or with a wrong one: 401 before any MCP message is read; only POST.
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}});
    for auth in [None, Some("Bearer vbk_nope_nope")] {
        let mut req = server
            .client
            .post(server.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().unwrap();
        assert_eq!(body["code"], "NOT_AUTHENTICATED");
    }
    let get = server.client.get(server.url("/mcp")).send().unwrap();
    assert_eq!(get.status(), 405);
}

on_both_backends!(mcp_with_the_python_sdk);
