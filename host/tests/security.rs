//! The attack review's findings (issue 17), each performed against the real binary, kept
//! together so no later change can quietly reopen one. Every test here is an attack that
//! worked before its fix.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::pro::{payload, pro};
use common::*;
use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};

on_both_backends!(members_cannot_be_acted_on_above_your_role_or_left_without_an_owner);

/// Peak resident memory of a process so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .unwrap();
    kib * 1024
}

/// Item 1: a validator's output named `artifacts` once let any run read host files and
/// other users' submissions through the artifact endpoint. Artifacts are now rows only
/// the host writes; such an output is a plain output that names nothing.
#[test]
fn forged_artifact_outputs_reach_no_file_and_no_blob() {
    let inst = Instance::new(Backend::Sqlite);
    let admin = inst.user("admin", "owner");
    let mallory = inst.user("mallory", "executor");
    let srv = inst.serve(&[]);
    // Another user's document, stored by content hash.
    srv.create_workflow(&admin, &invoice_workflow());
    let (_, theirs) = srv.launch_example(&admin, "invoice", "invoice-valid.json");
    let their_blob = theirs["submission"]["sha256"].as_str().unwrap().to_owned();
    // A host file, a FIFO and a device.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("host-secret.txt");
    std::fs::write(&secret, "host secret").unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());

    let wasm = common::guest::build_guest("host/tests/plugins/hostile", "validibot_test_hostile");
    let (status, body) = json_of(
        srv.post(&admin, "/api/v1/validators")
            .header("content-type", "application/wasm")
            .body(wasm)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    srv.create_workflow(
        &admin,
        &json!({"slug": "forge", "steps": [{"key": "h", "validator": "hostile"}]}),
    );
    for target in [
        secret.to_str().unwrap(),
        their_blob.as_str(),
        "ab",
        "ÄÖÜ",
        "/dev/zero",
        fifo.to_str().unwrap(),
        "../../../../etc/passwd",
    ] {
        let forged = json!([["artifacts", [{"name": "loot", "mime_type": "text/plain", "size": 11, "sha256": target}]]]);
        let (status, run) = srv.launch(&mallory, "forge", "text/plain", format!("forge:{forged}"));
        assert_eq!(
            (status, run["result"].as_str()),
            (201, Some("PASS")),
            "{run}"
        );
        assert!(run["steps"][0].get("artifacts").is_none(), "{run}");
        assert_eq!(run["steps"][0]["outputs"][0]["name"], "artifacts");
        let started = Instant::now();
        let (status, body) = json_of(srv.get(
            &mallory,
            &format!("{}/artifacts/h/loot", run["url"].as_str().unwrap()),
        ));
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("ARTIFACT_NOT_FOUND")),
            "{target}: {body}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{target}");
    }
    // The server is still serving.
    assert_eq!(srv.get(&admin, "/healthz").status(), 200);
}

/// Item 2: an admin could demote the owner to viewer and then remove her, leaving the
/// workspace without an owner. Both routes now refuse acting above your role, and
/// neither leaves a workspace without an owner.
fn members_cannot_be_acted_on_above_your_role_or_left_without_an_owner(backend: Backend) {
    let inst = Instance::new(backend);
    let olivia = inst.user("olivia", "owner");
    let adam = inst.user("adam", "admin");
    inst.user("ann", "author");
    let srv = inst.serve(&[]);
    let set = |key: &str, user: &str, role: &str| {
        json_of(
            srv.put(key, &format!("/api/v1/workspaces/default/members/{user}"))
                .json(&json!({ "role": role }))
                .send()
                .unwrap(),
        )
    };
    let remove = |key: &str, user: &str| {
        json_of(
            srv.client
                .delete(srv.url(&format!("/api/v1/workspaces/default/members/{user}")))
                .bearer_auth(key)
                .send()
                .unwrap(),
        )
    };
    let (status, body) = set(&adam, "olivia", "viewer");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    let (status, body) = remove(&adam, "olivia");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    assert_eq!(
        set(&adam, "ann", "owner").0,
        403,
        "never above your own role"
    );
    assert_eq!(set(&adam, "ann", "executor").0, 204, "below is fine");
    // The last owner cannot demote or remove herself ...
    let (status, body) = set(&olivia, "olivia", "admin");
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("LAST_OWNER")),
        "{body}"
    );
    assert_eq!(remove(&olivia, "olivia").0, 409);
    // ... until there is another owner.
    assert_eq!(set(&olivia, "adam", "owner").0, 204);
    assert_eq!(set(&olivia, "olivia", "admin").0, 204);
    assert_eq!(
        set(&adam, "adam", "viewer").0,
        409,
        "adam is the last owner now"
    );
    let (_, members) = json_of(srv.get(&olivia, "/api/v1/workspaces/default/members"));
    let owners = members["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .count();
    assert_eq!(owners, 1, "{members}");
}

/// Item 3 (Pro): a workspace admin granted his team `owner`, became owner through it,
/// then removed the real owner. A grant may not exceed the granter's role.
#[test]
fn team_grants_never_exceed_the_granter() {
    let pro = pro();
    let inst = Instance::new(Backend::Sqlite);
    pro.install_into(&inst.data.path().join("extensions"));
    let root = inst.user("root", "owner");
    let adam = inst.user("adam", "viewer");
    let trusted = pro.trusted_key();
    let srv = inst.serve_with_env(&[], &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)]);
    let put = |key: &str, path: &str, body: Value| {
        json_of(srv.put(key, path).json(&body).send().unwrap())
    };
    let (status, body) = json_of(
        srv.put(&root, "/api/v1/license")
            .header("content-type", "text/plain")
            .body(pro.issue(&payload(1, 200, 5), None))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let created = srv
        .post(&root, "/api/v1/workspaces")
        .json(&json!({"slug": "lab", "name": "Lab"}))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        put(
            &root,
            "/api/v1/workspaces/lab/members/adam",
            json!({"role": "admin"})
        )
        .0,
        204
    );
    let team = srv
        .post(&root, "/api/v1/teams")
        .json(&json!({"slug": "crew"}))
        .send()
        .unwrap();
    assert_eq!(team.status(), 201);
    assert_eq!(
        put(&root, "/api/v1/teams/crew/members/adam", json!(null)).0,
        204
    );

    let (status, body) = put(
        &adam,
        "/api/v1/workspaces/lab/teams/crew",
        json!({"role": "owner"}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    assert_eq!(
        put(
            &adam,
            "/api/v1/workspaces/lab/teams/crew",
            json!({"role": "admin"})
        )
        .0,
        204
    );
    // An owner's grant (to a team adam is not in) is out of his reach, to change or to
    // revoke.
    let board = srv
        .post(&root, "/api/v1/teams")
        .json(&json!({"slug": "board"}))
        .send()
        .unwrap();
    assert_eq!(board.status(), 201);
    assert_eq!(
        put(
            &root,
            "/api/v1/workspaces/lab/teams/board",
            json!({"role": "owner"})
        )
        .0,
        204
    );
    assert_eq!(
        put(
            &adam,
            "/api/v1/workspaces/lab/teams/board",
            json!({"role": "viewer"})
        )
        .0,
        403
    );
    let revoke = srv
        .client
        .delete(srv.url("/api/v1/workspaces/lab/teams/board"))
        .bearer_auth(&adam)
        .send()
        .unwrap();
    assert_eq!(revoke.status(), 403);
    let (_, mine) = json_of(srv.get(&adam, "/api/v1/workspaces"));
    assert!(
        mine["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["slug"] == "lab" && w["role"] == "admin"),
        "{mine}"
    );
    // And the real owner stays out of his reach.
    let (status, _) = put(
        &adam,
        "/api/v1/workspaces/lab/members/root",
        json!({"role": "viewer"}),
    );
    assert_eq!(status, 403);
}

/// A reader of `n` bytes: `{"a":"xxx…` (never valid JSON), produced as it is read.
struct Flood {
    left: u64,
    started: bool,
}

impl Read for Flood {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(b'x');
        if !self.started && n >= 6 {
            buf[..6].copy_from_slice(b"{\"a\":\"");
            self.started = true;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Item 4: a 300 MB multipart `metadata` part was read whole before its 64 KiB limit
/// was checked (RSS 0.33 → 1.14 GB). It is now read in chunks and refused at the limit.
#[test]
fn a_huge_multipart_metadata_part_is_refused_without_being_buffered() {
    let inst = Instance::new(Backend::Sqlite);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    srv.create_workflow(&key, &invoice_workflow());
    let before = peak_rss(srv.child.id());
    let form = reqwest::blocking::multipart::Form::new()
        .part(
            "metadata",
            reqwest::blocking::multipart::Part::reader(Flood {
                left: 300 << 20,
                started: false,
            }),
        )
        .part(
            "file",
            reqwest::blocking::multipart::Part::bytes(example("invoice-valid.json"))
                .file_name("invoice.json")
                .mime_str("application/json")
                .unwrap(),
        );
    let answer = srv
        .post(&key, "/api/v1/workspaces/default/workflows/invoice/runs")
        .multipart(form)
        .send();
    // The server answers 400 as soon as the limit is passed; the client may still be
    // sending, so it can see the connection closed instead of the answer.
    if let Ok(resp) = answer {
        let (status, body) = json_of(resp);
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("INVALID_METADATA")),
            "{body}"
        );
    }
    let grew = peak_rss(srv.child.id()).saturating_sub(before);
    assert!(grew < 64 << 20, "the server grew by {} MiB", grew >> 20);
    assert_eq!(srv.get(&key, "/healthz").status(), 200);
}

/// Item 5: four parallel 700 MB uploads peaked at 5.5 GB (each run held its document
/// and the validator a copy). Runs now take a share of a memory budget before loading.
#[test]
fn parallel_large_runs_stay_within_the_memory_budget() {
    const DOC: usize = 100 << 20;
    const BUDGET_MIB: u64 = 256;
    let inst = Instance::new(Backend::Sqlite);
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[
        "--memory-budget-mib",
        &BUDGET_MIB.to_string(),
        "--validator-memory-mib",
        "512",
        "--validator-timeout-ms",
        "120000",
    ]);
    srv.create_workflow(
        &key,
        &json!({"slug": "table", "timeout_seconds": 600, "steps": [{"key": "t", "validator": "csv",
            "config": {"schema": {"fields": [{"name": "text", "type": "string"}]}}}]}),
    );
    let mut doc = b"text\n".to_vec();
    let row = format!("{}\n", "y".repeat(999));
    while doc.len() < DOC {
        doc.extend_from_slice(row.as_bytes());
    }
    let before = peak_rss(srv.child.id());
    let urls: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (srv, key, doc) = (&srv, &key, &doc);
                s.spawn(move || {
                    // Each upload differs, so four blobs are stored and loaded.
                    let mut mine = doc.clone();
                    mine.extend_from_slice(format!("{i}\n").as_bytes());
                    let form = reqwest::blocking::multipart::Form::new().part(
                        "file",
                        reqwest::blocking::multipart::Part::bytes(mine)
                            .file_name("big.csv")
                            .mime_str("text/csv")
                            .unwrap(),
                    );
                    let (status, run) = json_of(
                        srv.post(key, "/api/v1/workspaces/default/workflows/table/runs")
                            .header("prefer", "respond-async")
                            .multipart(form)
                            .send()
                            .unwrap(),
                    );
                    assert!(status == 201 || status == 202, "{run}");
                    run["url"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for url in &urls {
        let run = srv.wait_run(&key, url, Duration::from_secs(600));
        assert_eq!(run["result"], "PASS", "{run}");
    }
    let grew = peak_rss(srv.child.id()).saturating_sub(before);
    eprintln!(
        "4 parallel runs of {} MiB with a {BUDGET_MIB} MiB budget: peak RSS grew {} MiB",
        DOC >> 20,
        grew >> 20
    );
    // Unbounded, four runs hold 4 × 2 × 100 MiB at once; within the budget, one run's
    // 2 × 100 MiB plus the validator's working memory and the server's own.
    assert!(
        grew < (BUDGET_MIB << 20) + (192 << 20),
        "peak RSS grew {} MiB",
        grew >> 20
    );
}

/// Item 6: the raw HTTP method was a metric label, so made-up methods grew `/metrics`
/// without bound (94 KB → 584 MB), unauthenticated.
#[test]
fn made_up_methods_do_not_grow_the_metrics() {
    let inst = Instance::new(Backend::Sqlite);
    let srv = inst.serve(&[]);
    for i in 0..500 {
        let method = reqwest::Method::from_bytes(format!("ATTACK{i}").as_bytes()).unwrap();
        let _ = srv
            .client
            .request(method, srv.url("/healthz"))
            .send()
            .unwrap();
    }
    let text = srv
        .client
        .get(srv.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!text.contains("ATTACK"), "made-up methods became labels");
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(text.len() < 256 << 10, "{} bytes", text.len());
}

fn login(
    client: &Client,
    srv: &Server,
    username: &str,
    password: &str,
    origin: Option<&str>,
) -> Response {
    let host = srv.base.trim_start_matches("http://").to_owned();
    let mut req = client.post(srv.url("/ui/login")).form(&[
        ("username", username),
        ("password", password),
        ("next", "/ui"),
    ]);
    req = req.header(
        "origin",
        origin.map_or(format!("http://{host}"), str::to_owned),
    );
    req.send().unwrap()
}

fn session_cookie(resp: &Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("validibot_session=") && !c.starts_with("validibot_session=;"))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

/// Item 7: 240 wrong passwords in 4.3 s and then the right one worked; `Origin: null`
/// was accepted; a password typed into the username field was logged; sessions survived
/// a password change.
#[test]
fn sign_in_is_throttled_and_typed_secrets_are_not_logged() {
    let inst = Instance::new(Backend::Sqlite);
    inst.user("alice", "owner");
    inst.set_password("alice", "correct horse battery");
    let log_path = inst.data.path().join("server.log");
    let srv = inst.serve_to(
        &[],
        &[("VALIDIBOT_LOG", "info")],
        Stdio::from(std::fs::File::create(&log_path).unwrap()),
    );
    let client = no_redirects();

    // A password typed into the username field never reaches the log.
    let typo = "Tr0ub4dor&3-typed-in-the-wrong-box";
    assert_eq!(login(&client, &srv, typo, "x", None).status(), 401);
    // Opaque origins are another site.
    assert_eq!(
        login(
            &client,
            &srv,
            "alice",
            "correct horse battery",
            Some("null")
        )
        .status(),
        403
    );

    // Five free failures, then waits that double; the right password does not get
    // checked while the account waits.
    for _ in 0..6 {
        assert_eq!(login(&client, &srv, "alice", "wrong", None).status(), 401);
    }
    let blocked = login(&client, &srv, "alice", "correct horse battery", None);
    assert_eq!(blocked.status(), 429);
    let wait: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    // Another account is not held up by alice's.
    assert_eq!(login(&client, &srv, "bob", "wrong", None).status(), 401);
    std::thread::sleep(Duration::from_secs(wait));
    let ok = login(&client, &srv, "alice", "correct horse battery", None);
    assert_eq!(ok.status(), 303);
    let cookie = session_cookie(&ok).expect("a session cookie");
    assert!(!ok.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));
    let page = |cookie: &str| {
        client
            .get(srv.url("/ui/w/default"))
            .header("cookie", cookie)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(page(&cookie), 200);
    // A new password ends the sessions signed in with the old one.
    inst.set_password("alice", "a brand new passphrase");
    assert_ne!(page(&cookie), 200);

    // One client guessing across many accounts is held up too (20 free failures per
    // address; this one has spent 8 above).
    for i in 0..13 {
        let status = login(&client, &srv, &format!("nobody{i}"), "wrong", None).status();
        assert_eq!(status, 401, "attempt {i}");
    }
    let held = login(&client, &srv, "nobody-else", "wrong", None);
    assert_eq!(held.status(), 429, "the client address waits now");

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("web sign-in refused"), "{log}");
    assert!(!log.contains(typo), "a typed secret was logged");
}

/// Sessions also end when their user is removed from the last workspace they could reach.
#[test]
fn removing_a_user_from_everything_ends_their_sessions() {
    let inst = Instance::new(Backend::Sqlite);
    let owner = inst.user("olivia", "owner");
    inst.user("vic", "viewer");
    inst.set_password("vic", "vic's long passphrase");
    let srv = inst.serve(&[]);
    let client = no_redirects();
    let resp = login(&client, &srv, "vic", "vic's long passphrase", None);
    let cookie = session_cookie(&resp).unwrap();
    let api = |cookie: &str| {
        client
            .get(srv.url("/api/v1/workspaces"))
            .header("cookie", cookie)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(api(&cookie), 200);
    let removed = srv
        .client
        .delete(srv.url("/api/v1/workspaces/default/members/vic"))
        .bearer_auth(&owner)
        .send()
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(api(&cookie), 401);
}

/// Suspected item: `expires_in_days: 4294967295` overflowed into a key that never
/// expires, and a short-lived key could mint a permanent one.
#[test]
fn key_expiry_is_bounded_and_keys_cannot_outlive_the_key_that_made_them() {
    let inst = Instance::new(Backend::Sqlite);
    inst.user("alice", "owner");
    let short = inst
        .cli(&[
            "admin",
            "create-api-key",
            "--username",
            "alice",
            "--expires-in-days",
            "1",
        ])
        .trim()
        .to_owned();
    let forever = inst
        .cli(&["admin", "create-api-key", "--username", "alice"])
        .trim()
        .to_owned();
    let srv = inst.serve(&[]);
    let create = |key: &str, body: Value| {
        json_of(
            srv.post(key, "/api/v1/api-keys")
                .json(&body)
                .send()
                .unwrap(),
        )
    };
    let (status, body) = create(
        &forever,
        json!({"name": "x", "expires_in_days": 4294967295u64}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_EXPIRY")),
        "{body}"
    );
    assert_eq!(
        create(&forever, json!({"name": "x", "expires_in_days": 3650})).0,
        201
    );
    let (status, body) = create(&short, json!({"name": "x"}));
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_EXPIRY")),
        "{body}"
    );
    assert_eq!(
        create(&short, json!({"name": "x", "expires_in_days": 2})).0,
        400
    );
    let (status, body) = create(&short, json!({"name": "x", "expires_in_days": 1}));
    assert_eq!(
        status, 400,
        "one day from now is later than the minting key's expiry: {body}"
    );
    let out = inst
        .command(&[
            "admin",
            "create-api-key",
            "--username",
            "alice",
            "--expires-in-days",
            "4294967295",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Suspected items: missing security headers; the session cookie's `Secure` followed only
/// `X-Forwarded-Proto`.
#[test]
fn answers_carry_security_headers_and_https_instances_set_secure_cookies() {
    let inst = Instance::new(Backend::Sqlite);
    inst.user("alice", "owner");
    inst.set_password("alice", "correct horse battery");
    let srv = inst.serve(&["--public-url", "https://validibot.example.com"]);
    let client = no_redirects();
    for path in ["/ui/login", "/api/v1/openapi.json", "/healthz"] {
        let resp = client.get(srv.url(path)).send().unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
    }
    let ok = login(&client, &srv, "alice", "correct horse battery", None);
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

/// Suspected item: `validibot.db` (key and password hashes) was created 0644 in a
/// world-readable data dir.
#[test]
fn the_database_and_the_data_dir_are_private() {
    let inst = Instance::new(Backend::Sqlite);
    std::fs::set_permissions(inst.data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = inst.user("alice", "owner");
    let srv = inst.serve(&[]);
    srv.create_workflow(&key, &invoice_workflow());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(inst.data.path()), 0o700);
    let db = inst.data.path().join("validibot.db");
    assert_eq!(mode(&db), 0o600);
    let wal = inst.data.path().join("validibot.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
    // An existing database is tightened too.
    drop(srv);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    inst.cli(&["migrate"]);
    assert_eq!(mode(&db), 0o600);
}
