//! The OpenAPI description against the live server: the document is valid OpenAPI 3.1,
//! every documented operation is routed (and asks for the documented authentication),
//! every other method on a documented path is 405, and real responses match the
//! documented schemas.

mod common;

use std::process::Command;

use common::{invoice_workflow, json_of, Backend, Instance};
use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{ws}" => "default",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn documented_routes_are_the_live_routes(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let server = inst.serve(&[]);
    let (status, doc) = json_of(
        server
            .client
            .get(server.url("/api/v1/openapi.json"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{} paths", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        let url = server.url(&concrete(path));
        for method in METHODS {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let resp = server.client.request(m, &url).send().unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().unwrap();
            match item.get(method.to_lowercase()) {
                Some(op) => {
                    operations += 1;
                    let needs_auth = op["security"].as_array().is_some_and(|s| !s.is_empty());
                    if needs_auth {
                        assert_eq!(status, 401, "{method} {path} without a key: {body}");
                        assert!(
                            op["responses"]["401"].is_object(),
                            "{method} {path} documents 401"
                        );
                    } else {
                        // Public, so never 401; a made-up token may be a documented 4xx.
                        assert!(
                            status < 400
                                || (status != 401
                                    && op["responses"][status.to_string()].is_object()),
                            "{method} {path} is public but answered {status}: {body}"
                        );
                    }
                }
                None => assert_eq!(
                    status, 405,
                    "{method} {path} is not documented but answered {status}: {body}"
                ),
            }
        }
    }
    assert!(operations >= 28, "{operations} operations");
    // An undocumented path is the API's 404 in the error shape.
    let (status, body) = json_of(server.get(&key, "/api/v1/nope"));
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));

    // Real responses match their documented schemas.
    let dir = tempfile::tempdir().unwrap();
    let save = |name: &str, value: &Value| {
        let p = dir.path().join(format!("{name}.json"));
        std::fs::write(&p, value.to_string()).unwrap();
        p.display().to_string()
    };
    let workflow = server.create_workflow(&key, &invoice_workflow());
    let (_, run) = server.launch_example(&key, "invoice", "invoice-invalid.json");
    let (_, runs) = json_of(server.get(&key, "/api/v1/workspaces/default/runs"));
    let (_, workflows) = json_of(server.get(&key, "/api/v1/workspaces/default/workflows"));
    let (_, workspaces) = json_of(server.get(&key, "/api/v1/workspaces"));
    let (_, validators) = json_of(server.get(&key, "/api/v1/validators"));
    let (_, license) = json_of(server.get(&key, "/api/v1/license"));
    let (_, members) = json_of(server.get(&key, "/api/v1/workspaces/default/members"));
    let (_, keys) = json_of(server.get(&key, "/.well-known/validibot-keys.json"));
    let (_, api_keys) = json_of(server.get(&key, "/api/v1/api-keys"));
    let (_, error) = json_of(server.get(&key, "/api/v1/workspaces/default/runs/nope"));
    let evidence_url = format!("{}/evidence", run["url"].as_str().unwrap());
    let (_, evidence) = json_of(server.get(&key, &evidence_url));
    // A public address written as one: saving it resolves nothing.
    let hooks = "/api/v1/workspaces/default/webhooks";
    let (status, webhook) = json_of(
        server
            .post(&key, hooks)
            .json(&serde_json::json!({"url": "https://93.184.215.14/hooks", "events": ["run.completed"]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{webhook}");
    let one = format!("{hooks}/{}", webhook["id"].as_str().unwrap());
    let (_, webhooks) = json_of(server.get(&key, hooks));
    let (_, sent) = json_of(server.post(&key, &format!("{one}/test")).send().unwrap());
    let (_, secret) = json_of(
        server
            .post(&key, &format!("{one}/rotate-secret"))
            .send()
            .unwrap(),
    );
    let (_, deliveries) = json_of(server.get(&key, &format!("{one}/deliveries")));
    let (_, endpoint) = json_of(server.get(&key, &one));
    let checks = [
        ("Workflow", save("workflow", &workflow)),
        ("Run", save("run", &run)),
        ("RunList", save("runs", &runs)),
        ("WorkflowList", save("workflows", &workflows)),
        ("WorkspaceList", save("workspaces", &workspaces)),
        ("ValidatorList", save("validators", &validators)),
        ("License", save("license", &license)),
        ("MemberList", save("members", &members)),
        ("PublishedKeys", save("keys", &keys)),
        ("Error", save("error", &error)),
        ("ApiKeyList", save("api_keys", &api_keys)),
        ("Evidence", save("evidence", &evidence)),
        ("NewWebhook", save("new_webhook", &webhook)),
        ("Webhook", save("webhook", &endpoint)),
        ("WebhookList", save("webhooks", &webhooks)),
        ("WebhookEventRef", save("webhook_test", &sent)),
        ("WebhookSecret", save("webhook_secret", &secret)),
        (
            "WebhookDeliveryList",
            save("webhook_deliveries", &deliveries),
        ),
        (
            "WorkflowDefinition",
            save("definition", &invoice_workflow()),
        ),
    ];
    let doc_path = save("openapi", &doc);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi/check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&doc_path)
        .args(checks.iter().map(|(name, path)| format!("{name}={path}")))
        .output()
        .expect("python3 is needed (with openapi-spec-validator: .ci/test installs it)");
    assert!(
        out.status.success(),
        "OpenAPI check failed (pip install openapi-spec-validator if the module is missing):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

on_both_backends!(documented_routes_are_the_live_routes);
