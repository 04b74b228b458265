//! Export and import: a workflow (constants, assertions, a step graph) exported from one
//! instance and imported into another gives the same definition digest and the same
//! verdicts; what would run differently is refused unless accepted — on SQLite and
//! PostgreSQL, through the API and the CLI.

mod common;

use common::*;
use serde_json::{json, Value};

on_both_backends!(export_and_import_round_trip);

fn export(srv: &Server, key: &str, slug: &str) -> Value {
    let resp = srv.get(
        key,
        &format!("/api/v1/workspaces/default/workflows/{slug}/export"),
    );
    assert_eq!(resp.status(), 200);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains(&format!("{slug}-v1.workflow.json")),
        "{disposition}"
    );
    resp.json().unwrap()
}

fn import(srv: &Server, key: &str, bundle: &Value, query: &str) -> (u16, Value) {
    json_of(
        srv.post(
            key,
            &format!("/api/v1/workspaces/default/workflows/import{query}"),
        )
        .json(bundle)
        .send()
        .unwrap(),
    )
}

fn export_and_import_round_trip(backend: Backend) {
    let here = Instance::new(backend);
    let key = here.user("alice", "author");
    let srv = here.serve(&[]);
    let mut wf: Value = serde_json::from_slice(&example("invoice-gated-workflow.json")).unwrap();
    wf["steps"].as_array_mut().unwrap().push(json!({
        "key": "lines", "validator": "rules", "depends_on": [], "on_failure": "continue",
        "when": "'deep' in meta", "config": {"rules": [{"id": "n", "path": "/lines", "op": "len_le", "value": "${consts.max_qty}"}]},
    }));
    let original = srv.create_workflow(&key, &wf);
    let bundle = export(&srv, &key, "invoice-gated");
    assert_eq!(bundle["format"], "validibot.workflow-bundle.v1", "{bundle}");
    assert_eq!(bundle["source"]["digest"], original["digest"], "{bundle}");
    let pinned = &bundle["validators"][0];
    assert_eq!(
        (pinned["step"].as_str(), pinned["slug"].as_str()),
        (Some("schema"), Some("json-schema")),
        "{bundle}"
    );
    assert!(pinned["digest"].as_str().unwrap().len() == 64, "{bundle}");

    // Another instance: the same definition, digest and verdicts.
    let there = Instance::new(backend);
    let other = there.user("bob", "author");
    let srv2 = there.serve(&[]);
    let (status, imported) = import(&srv2, &other, &bundle, "");
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["digest"], original["digest"], "{imported}");
    assert_eq!(imported["constants"], original["constants"]);
    assert_eq!(imported["steps"], original["steps"]);
    let mut big: Value = serde_json::from_slice(&example("invoice-valid.json")).unwrap();
    big["lines"][0]["qty"] = json!(9);
    let verdict = |s: &Server, k: &str| {
        let (_, run) = s.launch(k, "invoice-gated", "application/json", big.to_string());
        (run["result"].clone(), finding_codes(&run))
    };
    assert_eq!(verdict(&srv2, &other), verdict(&srv, &key));

    // The slug is taken now; another slug is fine.
    let (status, body) = import(&srv2, &other, &bundle, "");
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("WORKFLOW_EXISTS")),
        "{body}"
    );
    let (status, copy) = import(&srv2, &other, &bundle, "?slug=copy");
    assert_eq!(
        (status, copy["slug"].as_str()),
        (201, Some("copy")),
        "{copy}"
    );
    assert_eq!(copy["digest"], original["digest"]);

    // A bundle pinned to a validator version this instance does not have is refused
    // with what differs, unless accepted.
    let mut elsewhere = bundle.clone();
    elsewhere["validators"][0]["version"] = json!("0.0.1");
    let (status, body) = import(&srv2, &other, &elsewhere, "?slug=older");
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("VALIDATOR_MISMATCH")),
        "{body}"
    );
    assert_eq!(body["errors"][0]["step"], "schema", "{body}");
    assert_eq!(body["errors"][0]["pinned"]["version"], "0.0.1", "{body}");
    let (status, _) = import(
        &srv2,
        &other,
        &elsewhere,
        "?slug=older&accept_validators=true",
    );
    assert_eq!(status, 201);
    let mut garbled = bundle.clone();
    garbled["format"] = json!("something-else");
    let (status, body) = import(&srv2, &other, &garbled, "?slug=x");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_BUNDLE")),
        "{body}"
    );
    let viewer = there.user("val", "viewer");
    assert_eq!(import(&srv2, &viewer, &bundle, "?slug=y").0, 403);

    // The CLI: export to a file, import under another slug.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gated.workflow.json");
    let run = |inst: &Instance, s: &Server, k: &str, args: &[&str]| {
        let mut all = args.to_vec();
        let url = s.url("");
        all.extend(["--server", &url, "--api-key", k]);
        let out = inst.command(&all).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(
        &here,
        &srv,
        &key,
        &[
            "workflows",
            "export",
            "invoice-gated",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    let said = run(
        &there,
        &srv2,
        &other,
        &[
            "workflows",
            "import",
            file.to_str().unwrap(),
            "--slug",
            "from-cli",
        ],
    );
    assert!(
        said.contains("imported from-cli v1")
            && said.contains(original["digest"].as_str().unwrap()),
        "{said}"
    );
}
