//! The audit log against the real binary with the Pro extension, on SQLite and
//! PostgreSQL: what is recorded (API changes, web sign-ins, the CLI's admin commands),
//! what is not (reads, launches, typed secrets), who, how and from where; reading it
//! (Pro and instance admins only), filters, pages, the JSON-lines export, append-only,
//! and its own retention.

mod common;

use std::collections::BTreeSet;

use common::pro::{payload, pro, shifted_clock};
use common::{invoice_workflow, json_of, no_redirects, Backend, Instance, Server};
use serde_json::{json, Value};

fn audit(server: &Server, key: &str, query: &str) -> (u16, Value) {
    json_of(server.get(key, &format!("/api/v1/audit{query}")))
}

fn actions(events: &Value) -> Vec<String> {
    events["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

/// The first event with `action` (newest first).
fn event<'a>(events: &'a Value, action: &str) -> &'a Value {
    events["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} in {events}"))
}

fn audit_log(backend: Backend) {
    let pro = pro();
    let inst = Instance::new(backend);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    let viewer = inst.user("victor", "viewer");
    inst.set_password("admin", "correct horse battery");
    let trusted = pro.trusted_key();
    let server = inst.serve_with_env(
        &[],
        &[
            ("VALIDIBOT_EXTENSION_TRUSTED_KEYS", trusted.as_str()),
            ("VALIDIBOT_CLIENT_IP_HEADER", "X-Forwarded-For"),
        ],
    );

    // Community: recorded, but reading it needs the feature.
    let (status, body) = audit(&server, &admin, "");
    assert_eq!(
        (status, body["code"].as_str()),
        (402, Some("PRO_FEATURE_REQUIRED"))
    );
    assert_eq!(body["feature"], "audit.log");
    let (status, body) = json_of(
        server
            .put(&admin, "/api/v1/license")
            .header("content-type", "text/plain")
            .header("x-forwarded-for", "198.51.100.4")
            .body(pro.issue(&payload(1, 200, 5), None))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");

    // Changes through the API, by two users; reads and launches.
    server.create_workflow(&admin, &invoice_workflow());
    let mut edited = invoice_workflow();
    edited["name"] = "Invoices, edited".into();
    let (status, _) = json_of(
        server
            .put(&admin, "/api/v1/workspaces/default/workflows/invoice")
            .json(&edited)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    let (status, key) = json_of(
        server
            .post(&admin, "/api/v1/api-keys")
            .json(&json!({"name": "ci"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201);
    let public_id = key["public_id"].as_str().unwrap();
    assert_eq!(
        server
            .delete(&admin, &format!("/api/v1/api-keys/{public_id}"))
            .status(),
        204
    );
    let (status, _) = json_of(
        server
            .post(&viewer, "/api/v1/workspaces/default/workflows")
            .json(&invoice_workflow())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);
    server.launch_example(&admin, "invoice", "invoice-valid.json");
    server.get(&admin, "/api/v1/workspaces/default/workflows");
    // Not authenticated: nobody to record.
    let anonymous = server
        .client
        .post(server.url("/api/v1/workspaces/default/workflows"))
        .json(&invoice_workflow())
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The web: a wrong password for a real account, a password typed as a name, a
    // sign-in and a sign-out, from an address the proxy names.
    let web = no_redirects();
    let sign_in = |user: &str, password: &str| {
        web.post(server.url("/ui/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .form(&[("username", user), ("password", password)])
            .send()
            .unwrap()
    };
    assert_eq!(sign_in("admin", "wrong password").status(), 401);
    assert_eq!(sign_in("hunter2-is-my-password", "x").status(), 401);
    let ok = sign_in("admin", "correct horse battery");
    assert!(ok.status().is_redirection());
    let cookie = ok.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = web
        .get(server.url("/ui/w/default/audit"))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("id=\"audit-events\""), "{page}");
    assert!(page.contains("signIn"));
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let out = web
        .post(server.url("/ui/logout"))
        .header("cookie", &cookie)
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert!(out.status().is_redirection());

    // What the log says.
    let (status, log) = audit(&server, &admin, "?limit=1000");
    assert_eq!(status, 200, "{log}");
    let all = actions(&log);
    for expected in [
        "adminCreateUser",
        "adminSetPassword",
        "installLicense",
        "createWorkflow",
        "updateWorkflow",
        "createApiKey",
        "revokeApiKey",
        "signInFailed",
        "signIn",
        "signOut",
    ] {
        assert!(
            all.contains(&expected.to_owned()),
            "{expected} missing: {all:?}"
        );
    }
    for unrecorded in ["launchRun", "listWorkflows", "listAuditEvents"] {
        assert!(
            !all.contains(&unrecorded.to_owned()),
            "{unrecorded}: {all:?}"
        );
    }
    let cli = event(&log, "adminCreateUser");
    assert_eq!(cli["via"], "cli");
    assert_eq!(cli["target"], "username=victor", "newest first: {cli}");
    assert_eq!(cli["detail"]["role"], "viewer");
    let license = event(&log, "installLicense");
    assert_eq!(
        (license["actor"].as_str(), license["via"].as_str()),
        (Some("admin"), Some("api_key"))
    );
    assert_eq!(license["client"], "198.51.100.4");
    assert_eq!(license["status"], 200);
    let update = event(&log, "updateWorkflow");
    assert_eq!(update["workspace"], "default");
    assert_eq!(update["target"], "slug=invoice");
    assert_eq!(update["detail"]["method"], "PUT");
    assert_eq!(
        event(&log, "revokeApiKey")["target"],
        format!("public_id={public_id}")
    );
    let refused: Vec<&Value> = log["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "createWorkflow" && e["actor"] == "victor")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["status"], 403);
    assert_eq!(
        log["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "createWorkflow")
            .count(),
        2,
        "the 401 is not recorded"
    );
    let signed_in = event(&log, "signIn");
    assert_eq!(
        (
            signed_in["actor"].as_str(),
            signed_in["via"].as_str(),
            signed_in["client"].as_str()
        ),
        (Some("admin"), Some("session"), Some("203.0.113.9"))
    );
    let failures: Vec<&Value> = log["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "signInFailed")
        .collect();
    assert_eq!(failures.len(), 2);
    let named: BTreeSet<Option<&str>> = failures.iter().map(|e| e["actor"].as_str()).collect();
    assert_eq!(named, BTreeSet::from([None, Some("admin")]));
    assert_eq!(event(&log, "signOut")["actor"], "admin");

    // Filters and pages.
    let (_, mine) = audit(&server, &admin, "?actor=victor");
    assert!(
        actions(&mine).iter().all(|a| a == "createWorkflow"),
        "{mine}"
    );
    let (_, signs) = audit(&server, &admin, "?action=sign*");
    let signs: BTreeSet<String> = actions(&signs).into_iter().collect();
    assert_eq!(
        signs,
        BTreeSet::from(["signIn".into(), "signInFailed".into(), "signOut".into()])
    );
    let (_, later) = audit(&server, &admin, "?since=2999-01-01T00:00:00Z");
    assert!(actions(&later).is_empty());
    let (status, bad) = audit(&server, &admin, "?since=yesterday");
    assert_eq!((status, bad["code"].as_str()), (400, Some("INVALID_TIME")));
    let mut paged = Vec::new();
    let mut url = "/api/v1/audit?limit=3".to_owned();
    loop {
        let (status, page) = json_of(server.get(&admin, &url));
        assert_eq!(status, 200, "{page}");
        paged.extend(actions(&page));
        match page["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    // listAuditEvents is not recorded, so the log did not grow while it was read.
    assert_eq!(paged, all);

    // The export: every event, one JSON object per line.
    let resp = server.get(&admin, "/api/v1/audit/export");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let text = resp.text().unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), all.len());
    assert_eq!(lines[0]["id"], log["results"][0]["id"]);
    // Nothing typed at a sign-in is kept, and no key.
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains(key["token"].as_str().unwrap()));

    // Only instance admins read it.
    let (status, body) = audit(&server, &viewer, "");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );

    // The answers match the documented schemas.
    let (_, doc) = json_of(
        server
            .client
            .get(server.url("/api/v1/openapi.json"))
            .send()
            .unwrap(),
    );
    common::check_schemas(&doc, &[("AuditEventList", &log)]);

    // Append-only: the database refuses to change an event.
    let changed = common::with_db(&inst, |pool| async move {
        sqlx::query("UPDATE audit_events SET actor = 'mallory'")
            .execute(&pool)
            .await
    });
    assert!(
        format!("{:?}", changed.unwrap_err()).contains("append-only"),
        "an UPDATE went through"
    );

    // Retention: its own setting. Two days from now, with one day's retention, every
    // event is past it (the clock moved by libfaketime for the purge only).
    drop(server);
    let env = shifted_clock("+2d");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dry: Value = serde_json::from_str(
        &inst.cli_with_env(&["purge", "--audit-retention-days", "1", "--dry-run"], &env),
    )
    .unwrap();
    assert_eq!(dry["audit_events_deleted"], all.len(), "{dry}");
    let kept: Value =
        serde_json::from_str(&inst.cli_with_env(&["purge", "--dry-run"], &env)).unwrap();
    assert_eq!(
        kept["audit_events_deleted"], 0,
        "365 days by default: {kept}"
    );
    let done: Value =
        serde_json::from_str(&inst.cli_with_env(&["purge", "--audit-retention-days", "1"], &env))
            .unwrap();
    assert_eq!(done["audit_events_deleted"], all.len());
    let left = common::with_db(&inst, |pool| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events")
            .fetch_one(&pool)
            .await
            .unwrap()
    });
    assert_eq!(left, 0);
}

on_both_backends!(audit_log);
