//! Steps as a graph, against the real binary on SQLite and PostgreSQL: independent
//! steps run at the same time, `on_failure` decides whether dependents run, `when`
//! skips a step with its reason, what a step's expressions may read of other steps is
//! what it waits for — and `validibot check` walks the same graph.

mod common;

use common::*;
use serde_json::{json, Value};

on_both_backends!(
    independent_steps_overlap,
    failures_and_conditions_follow_the_graph
);

fn status_of(run: &Value) -> Vec<(String, String)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn independent_steps_overlap(backend: Backend) {
    let inst = Instance::new(backend);
    // The hostile test validator sleeps on request (with the clock granted).
    inst.install_hostile(&["clock"]);
    let key = inst.user("alice", "author");
    let srv = inst.serve(&[]);
    srv.create_workflow(&key, &json!({
        "slug": "fan", "content_types": ["text/plain"],
        "steps": [
            {"key": "left", "validator": "hostile", "config": {"attack": "sleep 800"}, "depends_on": []},
            {"key": "right", "validator": "hostile", "config": {"attack": "sleep 800"}, "depends_on": []},
            {"key": "join", "validator": "hostile", "config": {}, "depends_on": ["left", "right"],
             "assertions": [{"expr": "steps.left.status == 'PASSED' && steps.right.status == 'PASSED'"}]},
        ],
    }));
    let (status, run) = srv.launch(&key, "fan", "text/plain", "ok");
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    let time = |step: usize, field: &str| -> String {
        run["steps"][step][field].as_str().unwrap().to_owned()
    };
    // RFC 3339 with the same precision and zone compare as text.
    assert!(
        time(0, "started_at") < time(1, "finished_at")
            && time(1, "started_at") < time(0, "finished_at"),
        "left and right did not overlap: {run}"
    );
    assert!(
        time(2, "started_at") >= time(0, "finished_at")
            && time(2, "started_at") >= time(1, "finished_at"),
        "join started before what it waits for: {run}"
    );
    let took = run["duration_ms"].as_f64().unwrap();
    assert!(took < 1500.0, "two 800 ms steps in parallel took {took} ms");
}

fn failures_and_conditions_follow_the_graph(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "author");
    let srv = inst.serve(&[]);
    let mut schema = invoice_workflow()["steps"][0].clone();
    schema["on_failure"] = json!("continue");
    let def = json!({
        "slug": "graph", "content_types": ["application/json"],
        "steps": [
            schema,
            {"key": "sane", "validator": "rules", "depends_on": ["schema"],
             "config": {"rules": [{"id": "lines", "path": "/lines", "op": "not_empty"}]}},
            {"key": "small", "validator": "rules", "depends_on": ["sane"],
             "config": {"rules": [{"id": "cap", "path": "/total", "op": "le", "value": 10}]}},
            {"key": "after-small", "validator": "rules", "depends_on": ["small"],
             "config": {"rules": [{"id": "any", "path": "/total", "op": "ge", "value": 0}]}},
            {"key": "optional", "validator": "rules", "depends_on": [], "when": "'deep' in meta && meta.deep",
             "config": {"rules": [{"id": "any", "path": "/id", "op": "not_null"}]}},
        ],
    });
    srv.create_workflow(&key, &def);
    let launch = |doc: &Value, meta: Option<&str>| -> Value {
        let mut req = srv
            .post(&key, "/api/v1/workspaces/default/workflows/graph/runs")
            .header("content-type", "application/json")
            .body(doc.to_string());
        if let Some(m) = meta {
            req = req.header("x-validibot-metadata", m);
        }
        let (status, run) = json_of(req.send().unwrap());
        assert_eq!(status, 201, "{run}");
        run
    };
    let valid: Value = serde_json::from_slice(&example("invoice-valid.json")).unwrap();
    let mut invalid = valid.clone();
    invalid["total"] = json!("lots");
    invalid["lines"][0]["qty"] = json!(0);

    // The schema fails but continues; `small` fails and stops `after-small`; no metadata
    // asks for `optional`.
    let run = launch(&invalid, None);
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(
        status_of(&run),
        pairs(&[
            ("schema", "FAILED"),
            ("sane", "PASSED"),
            ("small", "FAILED"),
            ("after-small", "SKIPPED"),
            ("optional", "SKIPPED")
        ]),
        "{run}"
    );
    let skip = &run["steps"][4]["findings"][0];
    assert_eq!(
        (skip["code"].as_str(), skip["severity"].as_str()),
        (Some("step.skipped"), Some("INFO")),
        "{run}"
    );
    assert!(
        skip["message"]
            .as_str()
            .unwrap()
            .contains("when: 'deep' in meta && meta.deep"),
        "{run}"
    );

    // With the metadata, `optional` runs at once (it waits for nothing).
    let run = launch(&valid, Some(r#"{"deep": true}"#));
    assert_eq!(
        status_of(&run),
        pairs(&[
            ("schema", "PASSED"),
            ("sane", "PASSED"),
            ("small", "FAILED"),
            ("after-small", "SKIPPED"),
            ("optional", "PASSED")
        ]),
        "{run}"
    );

    // `check` walks the same graph.
    let (_, local) = inst.check_json(&def, &invalid, &[]);
    assert_eq!(
        status_of(&local),
        status_of(&launch(&invalid, None)),
        "{local}"
    );

    // Saving: a dependency on a later step, and expressions reading steps the step does
    // not wait for (they may still be running) or outputs before it ran, are refused.
    let refused = |mut def: Value, at: usize, field: &str, value: Value| -> String {
        def["slug"] = json!("bad");
        def["steps"][at][field] = value;
        srv.refused_workflow(&key, &def).to_string()
    };
    let body = refused(def.clone(), 1, "depends_on", json!(["small"]));
    assert!(body.contains("only on steps before it"), "{body}");
    let body = refused(
        def.clone(),
        4,
        "assertions",
        json!([{"expr": "steps.schema.status == 'PASSED'"}]),
    );
    assert!(
        body.contains("`steps` has no `schema`"),
        "optional waits for nothing: {body}"
    );
    let body = refused(def.clone(), 4, "when", json!("outputs.rules > 0"));
    assert!(
        body.contains("unknown variable `outputs`") && body.contains("/when"),
        "{body}"
    );
    let body = refused(
        def,
        4,
        "config",
        json!({"rules": [{"id": "x", "path": "/total", "op": "le", "value": "${steps.sane.outputs.rules}"}]}),
    );
    assert!(body.contains("not a step this one waits for"), "{body}");
}
