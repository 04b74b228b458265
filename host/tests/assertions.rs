//! Workflows whose steps talk to each other, against the real binary on SQLite and
//! PostgreSQL: assertions on any step (over the document, the step's outputs, earlier
//! steps, the submission's metadata and the workflow's constants), checked when the
//! workflow is saved; config bindings resolved from earlier steps; `validibot check`
//! giving the same verdicts offline.

mod common;

use common::*;
use serde_json::{json, Value};

on_both_backends!(assertions_on_any_step, bindings_feed_later_steps);

/// `examples/invoice-gated-workflow.json` (the guide's first example), saved as `gated`:
/// a cross-field assertion, a gate on the JSON Schema step's own output and a metadata rule.
fn gated_invoice() -> Value {
    let mut wf: Value = serde_json::from_slice(&example("invoice-gated-workflow.json")).unwrap();
    wf["slug"] = json!("gated");
    wf
}

fn launch_with_meta(srv: &Server, key: &str, slug: &str, doc: &Value, meta: Option<&str>) -> Value {
    let mut req = srv
        .post(
            key,
            &format!("/api/v1/workspaces/default/workflows/{slug}/runs"),
        )
        .header("content-type", "application/json")
        .body(doc.to_string());
    if let Some(meta) = meta {
        req = req.header("x-validibot-metadata", meta);
    }
    let (status, run) = json_of(req.send().unwrap());
    assert!(status == 201 || status == 202, "{status} {run}");
    srv.wait_run(
        key,
        run["url"].as_str().unwrap(),
        std::time::Duration::from_secs(60),
    )
}

fn findings(run: &Value) -> Vec<(String, String, String, String)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap().clone())
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_owned();
            (s("severity"), s("code"), s("path"), s("message"))
        })
        .collect()
}

fn assertions_on_any_step(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "author");
    let srv = inst.serve(&[]);
    let saved = srv.create_workflow(&key, &gated_invoice());
    assert_eq!(saved["constants"]["max_qty"], 5, "{saved}");
    assert_eq!(
        saved["steps"][0]["assertions"][0]["code"], "invoice.qty",
        "{saved}"
    );

    let valid: Value = serde_json::from_slice(&example("invoice-valid.json")).unwrap();
    // The document passes its schema and every assertion.
    let run = launch_with_meta(&srv, &key, "gated", &valid, Some(r#"{"source": "erp"}"#));
    assert_eq!(run["result"], "PASS", "{run}");
    assert!(findings(&run).is_empty(), "{run}");

    // A cross-field rule the schema cannot express fails the step, with the
    // assertion's code, its message rendered and where it is.
    let mut big = valid.clone();
    big["lines"][0]["qty"] = json!(9);
    let run = launch_with_meta(&srv, &key, "gated", &big, Some(r#"{"source": "portal"}"#));
    assert_eq!(
        (run["result"].as_str(), run["error_category"].as_str()),
        (Some("FAIL"), Some("VALIDATION_FAILED")),
        "{run}"
    );
    assert_eq!(
        findings(&run),
        vec![
            (
                "ERROR".into(),
                "invoice.qty".into(),
                "assertions/0".into(),
                "invoice INV-000042 orders more than 5 of one item".into()
            ),
            (
                "WARNING".into(),
                "assertion.failed".into(),
                "assertions/2".into(),
                "assertion failed: meta.source == 'erp'".into()
            ),
        ],
        "{run}"
    );
    let meta = &run["steps"][0]["findings"][0]["meta"];
    assert_eq!(
        meta["expr"], "doc.lines.all(l, l.qty <= consts.max_qty)",
        "{run}"
    );

    // The `when` guard: no metadata, no metadata rule. A schema failure still lets
    // the assertions run, over the validator's outputs.
    let mut broken = valid.clone();
    broken["total"] = json!("a lot");
    let run = launch_with_meta(&srv, &key, "gated", &broken, None);
    assert_eq!(run["result"], "FAIL", "{run}");
    let gate = findings(&run)
        .into_iter()
        .find(|f| f.2 == "assertions/1")
        .unwrap_or_else(|| panic!("{run}"));
    assert_eq!(gate.3, "1 schema errors", "{run}");

    // Saving refuses what cannot run, naming the step and the assertion.
    let mut bad = gated_invoice();
    bad["steps"][0]["assertions"] = json!([{"expr": "doc.lines.all(l, l.qty <= consts.max_qtyy)"}]);
    let body = srv.refused_workflow(&key, &bad);
    let err = &body["errors"][0];
    assert_eq!(
        (err["step"].as_i64(), err["key"].as_str()),
        (Some(0), Some("schema")),
        "{body}"
    );
    assert_eq!(err["findings"][0]["path"], "/assertions/0/expr", "{body}");
    assert!(
        err["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`consts` has no `max_qtyy`"),
        "{body}"
    );
    for (expr, says) in [
        ("doc.total >", "invalid CEL"),
        ("output.error_count == 0", "unknown variable `output`"),
        ("steps.later.status == 'PASSED'", "`steps` has no `later`"),
    ] {
        bad["steps"][0]["assertions"] = json!([{"expr": expr}]);
        let body = srv.refused_workflow(&key, &bad);
        let message = body["errors"][0]["findings"][0]["message"]
            .as_str()
            .unwrap_or("");
        assert!(message.contains(says), "{expr}: {body}");
    }
    bad["steps"][0]["assertions"] = json!([{"expr": "true", "message": "{{ doc. }}"}]);
    let body = srv.refused_workflow(&key, &bad);
    assert_eq!(
        body["errors"][0]["findings"][0]["path"], "/assertions/0/message",
        "{body}"
    );
    bad["steps"][0]["assertions"] = json!([{"expr": "true", "severity": "FATAL"}]);
    let (status, _) = json_of(
        srv.post(&key, "/api/v1/workspaces/default/workflows")
            .json(&bad)
            .send()
            .unwrap(),
    );
    assert!(
        status == 400 || status == 422,
        "an unknown severity is refused"
    );
    // A ruleset is read by the rules validator only; elsewhere it is refused, never ignored.
    let mut ruleset = invoice_workflow();
    ruleset["slug"] = json!("ruleset");
    ruleset["steps"][0]["ruleset"] = json!([{"id": "t", "path": "/total", "op": "gt", "value": 0}]);
    let body = srv.refused_workflow(&key, &ruleset);
    let detail = body["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("only read by the \"rules\" validator") && detail.contains("assertions"),
        "{body}"
    );

    // A workflow saved without assertions keeps the digest it always had.
    let plain = srv.create_workflow(&key, &json!({"slug": "plain", "steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"type": "object"}}}]}));
    let canonical = json!({
        "timeout_seconds": 300, "content_types": plain["content_types"],
        "steps": [{"key": "s", "validator": "json-schema", "validator_version": plain["steps"][0]["validator_version"],
                   "config": {"schema": {"type": "object"}}, "ruleset": null}],
    });
    use sha2::Digest;
    let digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(canonical.to_string()))
    );
    assert_eq!(
        plain["digest"],
        digest.as_str(),
        "the digest of a definition without assertions or constants changed"
    );

    // `check` runs the same assertions offline, metadata included.
    let (code, local) = inst.check_json(
        &gated_invoice(),
        &big,
        &["--metadata", r#"{"source": "portal"}"#],
    );
    assert_eq!(code, Some(1), "{local}");
    assert_eq!(
        findings(&local),
        findings(&run_for_check(&srv, &key, &big)),
        "check and the server agree"
    );
}

/// The server's verdict on `doc` with the metadata `check` was given.
fn run_for_check(srv: &Server, key: &str, doc: &Value) -> Value {
    launch_with_meta(srv, key, "gated", doc, Some(r#"{"source": "portal"}"#))
}

fn bindings_feed_later_steps(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "author");
    let srv = inst.serve(&[]);
    // Step 2's limit is step 1's output; step 3's comes from the metadata.
    let def = json!({
        "slug": "bound",
        "constants": {"min_lines": 1},
        "content_types": ["application/json"],
        "steps": [
            {"key": "count", "validator": "rules", "config": {"rules": [
                {"id": "a", "path": "/lines", "op": "len_ge", "value": "${consts.min_lines}"},
                {"id": "b", "path": "/total", "op": "ge", "value": 0}]}},
            {"key": "limit", "validator": "rules", "config": {"rules": [
                {"id": "few", "path": "/lines", "op": "len_le", "value": "${steps.count.outputs.rules}",
                 "message": "more lines than step count checked rules (${steps.count.status})"}]},
             "assertions": [{"expr": "steps.count.outputs.rules == 2 && steps.count.status == 'PASSED'"}]},
            {"key": "meta", "validator": "rules", "config": {"rules": [
                {"id": "cap", "path": "/total", "op": "le", "value": "${meta.cap}"}]}},
        ],
    });
    srv.create_workflow(&key, &def);
    let doc =
        |lines: usize, total: f64| json!({"lines": vec![json!({"qty": 1}); lines], "total": total});
    let run = launch_with_meta(&srv, &key, "bound", &doc(2, 10.0), Some(r#"{"cap": 100}"#));
    assert_eq!(run["result"], "PASS", "{run}");
    let run = launch_with_meta(&srv, &key, "bound", &doc(3, 10.0), Some(r#"{"cap": 100}"#));
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(
        findings(&run)[0].3,
        "more lines than step count checked rules (PASSED)",
        "{run}"
    );
    let run = launch_with_meta(&srv, &key, "bound", &doc(1, 500.0), Some(r#"{"cap": 100}"#));
    assert_eq!(
        (run["result"].as_str(), run["steps"][2]["status"].as_str()),
        (Some("FAIL"), Some("FAILED")),
        "{run}"
    );
    // A binding that cannot be resolved is an error of the step, saying which.
    let run = launch_with_meta(&srv, &key, "bound", &doc(1, 5.0), None);
    assert_eq!(
        (run["result"].as_str(), run["error_category"].as_str()),
        (Some("ERROR"), Some("RUNTIME_ERROR")),
        "{run}"
    );
    let f = findings(&run);
    assert_eq!(f[0].1, "binding.unresolved", "{run}");
    assert!(f[0].3.contains("${meta.cap}"), "{run}");

    // Bindings to steps that do not run first are refused when saving.
    let mut later = def.clone();
    later["slug"] = json!("later");
    later["steps"][0]["config"]["rules"][0]["value"] = json!("${steps.limit.outputs.rules}");
    let body = srv.refused_workflow(&key, &later);
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("not a step this one waits for"),
        "{body}"
    );
    later["steps"][0]["config"]["rules"][0]["value"] = json!("${consts.nope}");
    let body = srv.refused_workflow(&key, &later);
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("no such constant"),
        "{body}"
    );
}
