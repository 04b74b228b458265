//! The Pro seam end to end against the real binary: Community without an
//! extension, the signed Pro extension with license files in every state,
//! and extensions that are refused or misbehave.

mod common;

use std::process::Command;

use common::pro::{faulty, payload, pro, shifted_clock, LicenseServer, KID};
use common::{invoice_workflow, json_of, Backend, Instance, Server};
use serde_json::{json, Value};

fn license(server: &Server, key: &str) -> Value {
    let (status, body) = json_of(server.get(key, "/api/v1/license"));
    assert_eq!(status, 200, "{body}");
    body
}

fn put_license(server: &Server, key: &str, text: &str) -> (u16, Value) {
    json_of(
        server
            .put(key, "/api/v1/license")
            .header("content-type", "text/plain")
            .body(text.to_owned())
            .send()
            .unwrap(),
    )
}

fn create_workspace(server: &Server, key: &str, slug: &str) -> (u16, Value) {
    json_of(
        server
            .post(key, "/api/v1/workspaces")
            .json(&json!({"slug": slug}))
            .send()
            .unwrap(),
    )
}

fn create_workflow_in(server: &Server, key: &str, ws: &str, slug: &str) -> (u16, Value) {
    let mut def = invoice_workflow();
    def["slug"] = slug.into();
    json_of(
        server
            .post(key, &format!("/api/v1/workspaces/{ws}/workflows"))
            .json(&def)
            .send()
            .unwrap(),
    )
}

fn set_member(server: &Server, key: &str, ws: &str, user: &str, role: &str) -> u16 {
    server
        .put(key, &format!("/api/v1/workspaces/{ws}/members/{user}"))
        .json(&json!({"role": role}))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn assert_402(resp: (u16, Value), code: &str, feature: &str, state: &str) {
    let (status, body) = resp;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["feature"], feature, "{body}");
    assert_eq!(body["license_state"], state, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

fn community_without_extension(backend: Backend) {
    let inst = Instance::new(backend);
    let admin = inst.user("admin", "owner");
    let server = inst.serve(&[]);
    let lic = license(&server, &admin);
    assert_eq!(lic["state"], "community");
    assert_eq!(lic["edition"], "community");
    assert!(
        lic["features"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == false),
        "{lic}"
    );
    assert_eq!(lic["extensions"], json!([]));

    // Pro endpoints: 402 with the feature and the state.
    assert_402(
        create_workspace(&server, &admin, "lab"),
        "PRO_FEATURE_REQUIRED",
        "workspaces.multiple",
        "community",
    );
    let (status, body) = put_license(&server, &admin, "-----BEGIN VALIDIBOT LICENSE-----\n");
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("PRO_EXTENSION_MISSING")),
        "{body}"
    );
    let (_, validators) = json_of(server.get(&admin, "/api/v1/validators"));
    assert_eq!(validators["advanced"], json!([]));
    let teams = json_of(
        server
            .post(&admin, "/api/v1/teams")
            .json(&json!({"slug": "t"}))
            .send()
            .unwrap(),
    );
    assert_402(
        teams,
        "PRO_FEATURE_REQUIRED",
        "workspaces.teams",
        "community",
    );
    // Managing the default workspace's members is Community.
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "bob",
        "--role",
        "viewer",
    ]);
    assert_eq!(set_member(&server, &admin, "default", "bob", "author"), 204);
    let (_, members) = json_of(server.get(&admin, "/api/v1/workspaces/default/members"));
    assert_eq!(
        members["results"][1],
        json!({"username": "bob", "role": "author", "mfa": false}),
        "{members}"
    );
    // Removing members: never above your own role, never the last owner.
    let carol = inst.user("carol", "admin");
    let remove = |key: &str, user: &str| {
        json_of(
            server
                .client
                .delete(server.url(&format!("/api/v1/workspaces/default/members/{user}")))
                .bearer_auth(key)
                .send()
                .unwrap(),
        )
    };
    let (status, body) = remove(&carol, "admin");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    let (status, body) = remove(&admin, "admin");
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("LAST_OWNER")),
        "{body}"
    );
    let (status, body) = remove(&admin, "nobody");
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("MEMBER_NOT_FOUND")),
        "{body}"
    );
    let resp = server
        .client
        .delete(server.url("/api/v1/workspaces/default/members/bob"))
        .bearer_auth(&carol)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (_, members) = json_of(server.get(&admin, "/api/v1/workspaces/default/members"));
    assert!(!members.to_string().contains("bob"), "{members}");

    // Community features work.
    server.create_workflow(&admin, &invoice_workflow());
    let (status, run) = server.launch_example(&admin, "invoice", "invoice-valid.json");
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["result"], "PASS", "{run}");
}

fn pro_extension_lifecycle(backend: Backend) {
    let pro = pro();
    let inst = Instance::new(backend);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    let viewer = inst.user("val", "viewer");
    let trusted = pro.trusted_key();
    let server = inst.serve_with_env(&[], &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)]);

    let lic = license(&server, &admin);
    assert_eq!(lic["state"], "community", "{lic}");
    let ext = &lic["extensions"][0];
    assert_eq!(ext["loaded"], true, "{lic}");
    assert_eq!(ext["signed_by"], KID, "{lic}");
    assert!(lic["extended_hooks"]
        .as_array()
        .unwrap()
        .contains(&json!("license.status")));

    // A valid license turns Pro on.
    let (status, body) = put_license(&server, &admin, &pro.issue(&payload(2, 200, 2), None));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "valid", "{body}");
    assert_eq!(body["features"]["workspaces.multiple"], true);
    assert_eq!(body["license"]["customer"], "Test Customer");
    let (status, body) = create_workspace(&server, &admin, "lab");
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        create_workflow_in(&server, &admin, "lab", "lab-invoice").0,
        201
    );
    // Limit: two workspaces (default + lab).
    assert_402(
        create_workspace(&server, &admin, "lab2"),
        "LICENSE_LIMIT_REACHED",
        "workspaces.multiple",
        "valid",
    );
    let (_, validators) = json_of(server.get(&admin, "/api/v1/validators"));
    assert_eq!(
        validators["advanced"][0]["slug"], "energyplus",
        "{validators}"
    );
    assert_eq!(validators["advanced"][0]["enabled"], true, "{validators}");

    // Non-admins see the state and feature booleans only.
    let public = license(&server, &viewer);
    assert_eq!(public["state"], "valid");
    assert_eq!(public["features"]["workspaces.multiple"], true);
    assert!(
        public.get("license").is_none() && public.get("extensions").is_none(),
        "{public}"
    );
    let (status, _) = put_license(&server, &viewer, &pro.issue(&payload(9, 200, 2), None));
    assert_eq!(status, 403);

    // Refusals leave the installed license alone.
    let refusals = [
        (pro.issue(&payload(1, 200, 5), None), "older than serial 2"),
        (
            pro.issue(
                &payload(3, 200, 5),
                Some(&pro.stranger_key(inst.data.path())),
            ),
            "unknown key",
        ),
        (
            pro.issue(&payload(3, 200, 5), None).replacen("A", "B", 1),
            "license",
        ),
        (
            {
                let mut p = payload(3, 200, 5);
                p["issued_at"] = (time::OffsetDateTime::now_utc() + time::Duration::days(3))
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap()
                    .into();
                pro.issue(&p, None)
            },
            "future",
        ),
    ];
    for (text, why) in &refusals {
        let (status, body) = put_license(&server, &admin, text);
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("LICENSE_INVALID")),
            "{body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains(why),
            "{why}: {body}"
        );
    }
    assert_eq!(license(&server, &admin)["license"]["serial"], 2);

    // Each state, installed in order of serial.
    for (serial, days, workspaces, state, on) in [
        (3, 20, 5, "expiring_soon", true),
        (4, -3, 5, "grace", true),
        (5, 200, 1, "over_limit", true),
        (6, -30, 5, "expired", false),
    ] {
        let (status, body) = put_license(
            &server,
            &admin,
            &pro.issue(&payload(serial, days, workspaces), None),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["state"], state, "{body}");
        assert_eq!(body["features"]["workspaces.multiple"], on, "{body}");
    }

    // Expired: extra workspaces read-only, nothing deleted, the default one writable.
    assert_402(
        create_workflow_in(&server, &admin, "lab", "lab-2"),
        "PRO_FEATURE_REQUIRED",
        "workspaces.multiple",
        "expired",
    );
    let (status, list) = json_of(server.get(&admin, "/api/v1/workspaces/lab/workflows"));
    assert_eq!(status, 200);
    assert_eq!(list["results"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        create_workflow_in(&server, &admin, "default", "still-works").0,
        201
    );
    assert_402(
        create_workspace(&server, &admin, "lab3"),
        "PRO_FEATURE_REQUIRED",
        "workspaces.multiple",
        "expired",
    );

    // Renewing works while expired and restores everything.
    let (status, body) = put_license(&server, &admin, &pro.issue(&payload(7, 365, 5), None));
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("valid")),
        "{body}"
    );
    assert_eq!(create_workflow_in(&server, &admin, "lab", "lab-2").0, 201);

    // The CLI sees the same license (same database).
    drop(server);
    let shown: Value = serde_json::from_str(&inst.cli_with_env(
        &["license", "show"],
        &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)],
    ))
    .unwrap();
    assert_eq!(shown["state"], "valid", "{shown}");
    let env = [("VALIDIBOT_EXTENSION_TRUSTED_KEYS", trusted.as_str())];
    let file = inst.data.path().join("renewal.lic");
    std::fs::write(&file, pro.issue(&payload(8, 365, 5), None)).unwrap();
    let file = file.to_str().unwrap();
    let checked: Value =
        serde_json::from_str(&inst.cli_with_env(&["license", "verify", file], &env)).unwrap();
    assert_eq!(
        (
            checked["state"].as_str(),
            checked["license"]["serial"].as_u64()
        ),
        (Some("valid"), Some(8)),
        "{checked}"
    );
    assert_eq!(
        license_serial_via_cli(&inst, &env),
        7,
        "verify does not install"
    );
    inst.cli_with_env(&["license", "install", file], &env);
    assert_eq!(license_serial_via_cli(&inst, &env), 8);
    let tampered = inst.data.path().join("tampered.lic");
    std::fs::write(
        &tampered,
        std::fs::read_to_string(file).unwrap().replacen('A', "B", 1),
    )
    .unwrap();
    for cmd in ["verify", "install"] {
        let out = inst
            .command(&["license", cmd, tampered.to_str().unwrap()])
            .envs(env)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd} of a tampered file succeeded");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("license refused"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(license_serial_via_cli(&inst, &env), 8);
}

fn license_serial_via_cli(inst: &Instance, env: &[(&str, &str)]) -> u64 {
    let shown: Value = serde_json::from_str(&inst.cli_with_env(&["license", "show"], env)).unwrap();
    shown["license"]["serial"].as_u64().unwrap()
}

fn extension_refusals_and_faults(backend: Backend) {
    let pro = pro();
    let trusted = pro.trusted_key();

    // Unsigned: refused unless explicitly allowed.
    let inst = Instance::new(backend);
    let dir = inst.data.path().join("extensions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&pro.library, dir.join("libvalidibot_commercial.so")).unwrap();
    let admin = inst.user("admin", "owner");
    let lic = license(
        &inst.serve_with_env(&[], &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)]),
        &admin,
    );
    assert_eq!(lic["extensions"][0]["loaded"], false, "{lic}");
    assert!(
        lic["extensions"][0]["error"]
            .as_str()
            .unwrap()
            .contains("unsigned"),
        "{lic}"
    );
    assert_eq!(lic["state"], "community");

    // Tampered after signing: refused.
    std::fs::copy(&pro.signature, dir.join("libvalidibot_commercial.so.sig")).unwrap();
    let mut bytes = std::fs::read(&pro.library).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(dir.join("libvalidibot_commercial.so"), bytes).unwrap();
    let lic = license(
        &inst.serve_with_env(&[], &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)]),
        &admin,
    );
    assert_eq!(lic["extensions"][0]["loaded"], false, "{lic}");
    assert!(
        lic["extensions"][0]["error"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{lic}"
    );

    // A different hook payload schema: a clean refusal naming both fingerprints.
    std::fs::remove_file(dir.join("libvalidibot_commercial.so")).unwrap();
    std::fs::remove_file(dir.join("libvalidibot_commercial.so.sig")).unwrap();
    std::fs::copy(faulty(), dir.join("libfaulty.so")).unwrap();
    let server = inst.serve_with_env(
        &["--allow-unsigned-extensions"],
        &[("FAULTY_EXTENSION_MODE", "mismatch")],
    );
    let lic = license(&server, &admin);
    let error = lic["extensions"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("fingerprint mismatch")
            && error.contains("schema 99")
            && error.contains("host [abi 1.0; hooks 1; rustc "),
        "{lic}"
    );
    drop(server);

    // The same ABI and hook schema from another compiler: it loads (issue 26, item 13).
    let server = inst.serve_with_env(
        &["--allow-unsigned-extensions"],
        &[("FAULTY_EXTENSION_MODE", "other-compiler")],
    );
    let lic = license(&server, &admin);
    assert_eq!(lic["extensions"][0]["loaded"], true, "{lic}");
    drop(server);

    // Hooks that panic: the host keeps serving, with the Community answers.
    let server = inst.serve_with_env(&["--allow-unsigned-extensions"], &[]);
    for _ in 0..3 {
        let lic = license(&server, &admin);
        assert_eq!(lic["extensions"][0]["loaded"], true, "{lic}");
        assert_eq!(lic["state"], "community", "{lic}");
        assert_402(
            create_workspace(&server, &admin, "lab"),
            "PRO_FEATURE_REQUIRED",
            "workspaces.multiple",
            "community",
        );
        std::thread::sleep(std::time::Duration::from_millis(5200 / 3));
    }
    let (status, body) = put_license(&server, &admin, "anything");
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("LICENSE_INVALID")),
        "{body}"
    );
    server.create_workflow(&admin, &invoice_workflow());
    let (status, run) = server.launch_example(&admin, "invoice", "invoice-valid.json");
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
}

fn pro_teams_and_members(backend: Backend) {
    let pro = pro();
    let inst = Instance::new(backend);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    let alice = inst.user("alice", "viewer");
    let bob = inst.user("bob", "viewer");
    let trusted = pro.trusted_key();
    let server = inst.serve_with_env(&[], &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)]);
    assert_eq!(
        put_license(&server, &admin, &pro.issue(&payload(1, 200, 5), None)).0,
        200
    );
    assert_eq!(create_workspace(&server, &admin, "lab").0, 201);

    // A team granted `author` on lab makes its members authors there.
    let (status, body) = json_of(
        server
            .post(&admin, "/api/v1/teams")
            .json(&json!({"slug": "analysts"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let put = |key: &str, path: &str, body: Value| {
        server
            .put(key, path)
            .json(&body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        put(&admin, "/api/v1/teams/analysts/members/alice", json!(null)),
        204
    );
    assert_eq!(
        put(&alice, "/api/v1/teams/analysts/members/bob", json!(null)),
        403,
        "only instance admins manage teams"
    );
    assert_eq!(
        put(
            &admin,
            "/api/v1/workspaces/lab/teams/analysts",
            json!({"role": "author"})
        ),
        204
    );
    let (_, mine) = json_of(server.get(&alice, "/api/v1/workspaces"));
    assert!(
        mine["results"].as_array().unwrap().contains(
            &json!({"slug": "lab", "name": "lab", "is_default": false, "require_mfa": false, "role": "author"})
        ),
        "{mine}"
    );
    assert_eq!(
        create_workflow_in(&server, &alice, "lab", "by-alice").0,
        201
    );
    let (_, teams) = json_of(server.get(&admin, "/api/v1/teams"));
    assert_eq!(teams["results"][0]["members"], json!(["alice"]), "{teams}");
    assert_eq!(
        teams["results"][0]["grants"],
        json!([{"workspace": "lab", "role": "author"}]),
        "{teams}"
    );

    // Direct membership in an extra workspace (Pro), never above the granter's role.
    assert_eq!(set_member(&server, &admin, "lab", "bob", "executor"), 204);
    let (status, members) = json_of(server.get(&bob, "/api/v1/workspaces/lab/members"));
    assert_eq!(status, 200, "{members}");
    assert_eq!(members["results"].as_array().unwrap().len(), 2, "{members}");
    assert_eq!(set_member(&server, &bob, "lab", "alice", "owner"), 403);

    // Expired: team grants stop counting (rows kept), teams endpoints answer 402.
    assert_eq!(
        put_license(&server, &admin, &pro.issue(&payload(2, -30, 5), None)).0,
        200
    );
    assert_eq!(
        server
            .get(&alice, "/api/v1/workspaces/lab/workflows")
            .status(),
        404
    );
    let teams = json_of(
        server
            .post(&admin, "/api/v1/teams")
            .json(&json!({"slug": "x"}))
            .send()
            .unwrap(),
    );
    assert_402(teams, "PRO_FEATURE_REQUIRED", "workspaces.teams", "expired");
    assert_eq!(
        server
            .get(&bob, "/api/v1/workspaces/lab/workflows")
            .status(),
        200,
        "direct members still read"
    );
    // Renewed: the team's access is back.
    assert_eq!(
        put_license(&server, &admin, &pro.issue(&payload(3, 200, 5), None)).0,
        200
    );
    assert_eq!(
        server
            .get(&alice, "/api/v1/workspaces/lab/workflows")
            .status(),
        200
    );

    // Deleting the team takes its grants with it; members keep their own roles.
    let team = teams_slug(&server, &admin);
    assert_eq!(
        server
            .delete(&alice, &format!("/api/v1/teams/{team}"))
            .status(),
        403
    );
    assert_eq!(
        server
            .delete(&admin, &format!("/api/v1/teams/{team}"))
            .status(),
        204
    );
    assert_eq!(
        server
            .delete(&admin, &format!("/api/v1/teams/{team}"))
            .status(),
        404
    );
    assert_eq!(
        server
            .get(&alice, "/api/v1/workspaces/lab/workflows")
            .status(),
        404
    );
    assert_eq!(
        server
            .get(&bob, "/api/v1/workspaces/lab/workflows")
            .status(),
        200
    );
    let (_, teams) = json_of(server.get(&admin, "/api/v1/teams"));
    assert_eq!(teams["results"], json!([]), "{teams}");
}

fn teams_slug(server: &Server, key: &str) -> String {
    let (_, teams) = json_of(server.get(key, "/api/v1/teams"));
    teams["results"][0]["slug"].as_str().unwrap().to_owned()
}

/// Rewrites the stored license-server answer as someone editing the database would:
/// `checked_at` a year later inside the signed payload (the signature stays).
fn tamper_with_lease(inst: &Instance) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    common::with_db(inst, |pool| async move {
        let lease: String =
            sqlx::query_scalar("SELECT value FROM instance_settings WHERE key = 'license.lease'")
                .fetch_one(&pool)
                .await
                .unwrap();
        let mut envelope: Value = serde_json::from_str(&lease).unwrap();
        let mut inner: Value =
            serde_json::from_slice(&b64.decode(envelope["payload"].as_str().unwrap()).unwrap())
                .unwrap();
        inner["checked_at"] = (inner["checked_at"].as_i64().unwrap() + 365 * 86_400).into();
        envelope["payload"] = b64.encode(inner.to_string()).into();
        sqlx::query("UPDATE instance_settings SET value = $1 WHERE key = 'license.lease'")
            .bind(envelope.to_string())
            .execute(&pool)
            .await
            .unwrap();
    });
}

/// Online licensing against the real license server process (`validibot-license
/// serve`), with the clock of both moved by libfaketime: activation on install, a
/// second instance refused while the only slot is taken, release and re-activation,
/// the server down for 6 days (Pro stays on) and for 8 (off exactly as expired,
/// nothing deleted), back on when it answers, a tampered stored answer, and a
/// revocation taking effect at the instance's next scheduled check.
fn online_licensing(backend: Backend) {
    let pro = pro();
    let vendor_dir = tempfile::tempdir().unwrap();
    let vendor = LicenseServer::start(pro, vendor_dir.path(), "127.0.0.1:0", "+0d");
    let vendor_addr = vendor.addr().to_owned();
    let mut p = payload(1, 200, 5);
    p["license_id"] = "lic-online".into();
    p["online"] = json!({"server": vendor.url, "instances": 1});
    let text = pro.issue(&p, None);
    let trusted = pro.trusted_key();
    let env_at = |offset: &str| {
        let mut env = shifted_clock(offset);
        env.push(("VALIDIBOT_EXTENSION_TRUSTED_KEYS", trusted.clone()));
        env
    };
    let start = |inst: &Instance, offset: &str| {
        let env = env_at(offset);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        inst.serve_with_env(&[], &env)
    };
    let check = |server: &Server, key: &str| {
        json_of(server.post(key, "/api/v1/license/check").send().unwrap())
    };

    // Instance A activates when the license is installed.
    let a = Instance::new(backend);
    pro.install_into(&a.data.path().join("extensions"));
    let a_admin = a.user("admin", "owner");
    let server_a = start(&a, "+0d");
    let (status, body) = put_license(&server_a, &a_admin, &text);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "valid", "{body}");
    assert_eq!(body["online"]["activated"], true, "{body}");
    assert_eq!(body["online"]["instances_used"], 1, "{body}");
    assert_eq!(body["online"]["instances_max"], 1, "{body}");

    // Instance B: the license allows one instance, and A holds it.
    let b = Instance::new(backend);
    pro.install_into(&b.data.path().join("extensions"));
    let b_admin = b.user("admin", "owner");
    let server_b = start(&b, "+0d");
    let (status, body) = put_license(&server_b, &b_admin, &text);
    assert_eq!(status, 200, "the file itself verifies: {body}");
    assert_eq!(body["state"], "invalid", "{body}");
    assert!(
        body["online"]["last_error"]
            .as_str()
            .unwrap()
            .contains("INSTANCES_EXHAUSTED"),
        "{body}"
    );
    assert_402(
        create_workspace(&server_b, &b_admin, "early"),
        "PRO_FEATURE_REQUIRED",
        "workspaces.multiple",
        "invalid",
    );

    // A gives its activation back (the CLI, as an operator moving the license); B takes it.
    let a_env = env_at("+0d");
    let a_env: Vec<(&str, &str)> = a_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let released: Value =
        serde_json::from_str(&a.cli_with_env(&["license", "release"], &a_env)).unwrap();
    assert_eq!(released["state"], "invalid", "{released}");
    drop(server_a);
    let (status, body) = check(&server_b, &b_admin);
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("valid")),
        "{body}"
    );
    let (_, ledger) = vendor.admin(reqwest::Method::GET, "/v1/admin/licenses/lic-online");
    let activations = ledger["record"]["activations"].as_object().unwrap();
    assert_eq!(activations.len(), 1, "{ledger}");
    assert_eq!(
        activations.values().next().unwrap()["seats_in_use"],
        1,
        "{ledger}"
    );

    // The license server goes away. Six days later Pro is still on, on the stored answer.
    drop(vendor);
    drop(server_b);
    let server_b = start(&b, "+6d");
    let (status, body) = check(&server_b, &b_admin);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "valid", "{body}");
    assert!(
        body["online"]["last_error"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{body}"
    );
    assert_eq!(create_workspace(&server_b, &b_admin, "six").0, 201);

    // Eight days: off exactly as an expired license, and nothing is deleted.
    drop(server_b);
    let server_b = start(&b, "+8d");
    let body = license(&server_b, &b_admin);
    assert_eq!(body["state"], "expired", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("has not answered since"),
        "{body}"
    );
    assert_402(
        create_workspace(&server_b, &b_admin, "eight"),
        "PRO_FEATURE_REQUIRED",
        "workspaces.multiple",
        "expired",
    );
    let (_, list) = json_of(server_b.get(&b_admin, "/api/v1/workspaces"));
    assert!(list.to_string().contains("\"six\""), "{list}");

    // The server answers again: Pro is back at once.
    let vendor = LicenseServer::start(pro, vendor_dir.path(), &vendor_addr, "+8d");
    let (status, body) = check(&server_b, &b_admin);
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("valid")),
        "{body}"
    );
    assert!(body["online"].get("last_error").is_none(), "{body}");

    // A stored answer edited in the database does not verify: Pro off until the server
    // answers again.
    drop(vendor);
    drop(server_b);
    tamper_with_lease(&b);
    let server_b = start(&b, "+8d");
    let body = license(&server_b, &b_admin);
    assert_eq!(body["state"], "invalid", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{body}"
    );
    let vendor = LicenseServer::start(pro, vendor_dir.path(), &vendor_addr, "+8d");
    assert_eq!(check(&server_b, &b_admin).1["state"], "valid");

    // Revocation: the instance keeps its answer until its next check, 24 hours later,
    // which the server process makes on its own.
    let (status, body) = vendor.admin(
        reqwest::Method::POST,
        "/v1/admin/licenses/lic-online/revoke",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(license(&server_b, &b_admin)["state"], "valid");
    drop(server_b);
    drop(vendor);
    let vendor = LicenseServer::start(pro, vendor_dir.path(), &vendor_addr, "+218h");
    let server_b = start(&b, "+218h");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let body = loop {
        let body = license(&server_b, &b_admin);
        if body["state"] != "valid" || std::time::Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(body["state"], "invalid", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    assert_eq!(body["online"]["revoked"], true, "{body}");
    drop(vendor);
}

on_both_backends!(
    online_licensing,
    pro_plugin_per_workspace,
    community_without_extension,
    pro_extension_lifecycle,
    pro_teams_and_members,
    pro_seat_limit,
    extension_refusals_and_faults,
    license_file_at_start
);

/// `limits.seats` caps the users who hold a membership: a new member beyond it is 402
/// `SEAT_LIMIT` (API) or refused (CLI); role changes of members already in, and the
/// members themselves, are untouched when a license lowers the limit.
fn pro_seat_limit(backend: Backend) {
    let pro = pro();
    let inst = Instance::new(backend);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    // Two users who hold no seat yet: created, then taken out of the default workspace.
    inst.user("b1", "viewer");
    inst.user("b2", "viewer");
    let trusted = pro.trusted_key();
    let server = inst.serve_with_env(&[], &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)]);
    for name in ["b1", "b2"] {
        let path = format!("/api/v1/workspaces/default/members/{name}");
        let resp = server
            .client
            .delete(server.url(&path))
            .bearer_auth(&admin)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 204);
    }
    let with_seats = |serial: u64, seats: u64| {
        let mut p = payload(serial, 200, 5);
        p["limits"]["seats"] = seats.into();
        pro.issue(&p, None)
    };
    let member = |name: &str, role: &str| {
        json_of(
            server
                .put(
                    &admin,
                    &format!("/api/v1/workspaces/default/members/{name}"),
                )
                .json(&json!({"role": role}))
                .send()
                .unwrap(),
        )
    };
    let (status, body) = put_license(&server, &admin, &with_seats(1, 2));
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("valid")),
        "{body}"
    );

    assert_eq!(member("b1", "viewer").0, 204);
    let refused = member("b2", "viewer");
    assert!(
        refused.1["detail"]
            .as_str()
            .unwrap()
            .contains("allows 2 seats"),
        "{}",
        refused.1
    );
    assert_402(refused, "SEAT_LIMIT", "limits.seats", "valid");
    // A member already in changes role freely.
    assert_eq!(member("b1", "author").0, 204);
    // The operator's CLI counts seats the same way.
    let out = inst
        .command(&[
            "admin",
            "create-user",
            "--username",
            "carol",
            "--role",
            "viewer",
        ])
        .env("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("allows 2 seats"),
        "{stderr}"
    );

    // A license with fewer seats than in use removes nobody.
    let (status, body) = put_license(&server, &admin, &with_seats(2, 1));
    assert_eq!(status, 200, "{body}");
    let (_, members) = json_of(server.get(&admin, "/api/v1/workspaces/default/members"));
    for name in ["admin", "b1"] {
        assert!(members.to_string().contains(name), "{members}");
    }
    assert_eq!(member("b1", "viewer").0, 204);
    assert_eq!(member("b2", "viewer").0, 402);
    // More seats let the next member in.
    assert_eq!(put_license(&server, &admin, &with_seats(3, 3)).0, 200);
    assert_eq!(member("b2", "viewer").0, 204);
}

/// The Community binary does not link the commercial crate in any way.
#[test]
fn community_build_has_no_dependency_on_the_commercial_crate() {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "-p",
            "validibot",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains("validibot-plugin-api"), "{tree}");
    assert!(!tree.contains("validibot-commercial"), "{tree}");
}

/// The Pro crate is plain synchronous code: it cannot reach the host's async runtime.
#[test]
fn the_commercial_crate_has_no_async_runtime() {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "-p",
            "validibot-commercial",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains("ed25519-dalek"), "{tree}");
    for runtime in ["tokio", "async-std", "smol"] {
        assert!(
            !tree.lines().any(|l| l.starts_with(&format!("{runtime} "))),
            "{runtime} in {tree}"
        );
    }
}

/// `VALIDIBOT_LICENSE_FILE` (a Kubernetes Secret, a compose bind mount): installed at
/// start when it changed; a refused file leaves the stored license; an unreadable one
/// stops the start, naming it.
fn license_file_at_start(backend: Backend) {
    let pro = pro();
    let inst = Instance::new(backend);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    let trusted = pro.trusted_key();
    let file = inst.data.path().join("license.lic");
    let file_env = file.to_str().unwrap().to_owned();
    let env = [
        ("VALIDIBOT_EXTENSION_TRUSTED_KEYS", trusted.as_str()),
        ("VALIDIBOT_LICENSE_FILE", file_env.as_str()),
    ];
    let serial = |server: &Server| license(server, &admin)["license"]["serial"].clone();

    std::fs::write(&file, pro.issue(&payload(2, 200, 2), None)).unwrap();
    let server = inst.serve_with_env(&[], &env);
    assert_eq!(license(&server, &admin)["state"], "valid");
    assert_eq!(serial(&server), 2);
    drop(server);
    // The same file again: nothing to do (and nothing refused).
    let server = inst.serve_with_env(&[], &env);
    assert_eq!(serial(&server), 2);
    drop(server);
    // A tampered file: the server starts on the stored license.
    std::fs::write(
        &file,
        pro.issue(&payload(3, 200, 2), None).replacen('A', "B", 1),
    )
    .unwrap();
    let server = inst.serve_with_env(&[], &env);
    assert_eq!(serial(&server), 2);
    assert_eq!(license(&server, &admin)["state"], "valid");
    drop(server);
    // A renewal: replace the file, restart.
    std::fs::write(&file, pro.issue(&payload(4, 365, 2), None)).unwrap();
    let server = inst.serve_with_env(&[], &env);
    assert_eq!(serial(&server), 4);
    drop(server);
    // A Secret that is not mounted is a deployment error: said, and the start stops.
    let missing = inst.data.path().join("not-mounted/license.lic");
    let out = inst
        .command(&["worker"])
        .envs([
            ("VALIDIBOT_EXTENSION_TRUSTED_KEYS", trusted.as_str()),
            ("VALIDIBOT_LICENSE_FILE", missing.to_str().unwrap()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("VALIDIBOT_LICENSE_FILE") && stderr.contains("not-mounted"),
        "{stderr}"
    );
}

/// Pro: an installed validator made available in chosen workspaces only. A workspace
/// it is not enabled in cannot launch or save workflows on it; the restriction lifts
/// again from the command line.
fn pro_plugin_per_workspace(backend: Backend) {
    let pro = pro();
    let inst = Instance::new(backend);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    let trusted = pro.trusted_key();
    let env = [("VALIDIBOT_EXTENSION_TRUSTED_KEYS", trusted.as_str())];
    let server = inst.serve_with_env(&[], &env);
    assert_eq!(
        put_license(&server, &admin, &pro.issue(&payload(1, 200, 5), None)).0,
        200
    );
    assert_eq!(create_workspace(&server, &admin, "lab").0, 201);
    let wasm = common::guest::build_guest(
        "plugins/examples/line-length",
        "validibot_example_line_length",
    );
    let (status, body) = json_of(
        server
            .post(&admin, "/api/v1/validators")
            .header("content-type", "application/wasm")
            .body(wasm)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let lines = json!({"slug": "lines", "steps": [{"key": "check", "validator": "line-length", "config": {"max": 20}}]});
    let save = |ws: &str| {
        json_of(
            server
                .post(&admin, &format!("/api/v1/workspaces/{ws}/workflows"))
                .json(&lines)
                .send()
                .unwrap(),
        )
    };
    let launch = |ws: &str| {
        json_of(
            server
                .post(
                    &admin,
                    &format!("/api/v1/workspaces/{ws}/workflows/lines/runs"),
                )
                .header("content-type", "text/plain")
                .body("short\n")
                .send()
                .unwrap(),
        )
    };
    assert_eq!(save("default").0, 201);
    let patch = |body: Value| {
        json_of(
            server
                .client
                .patch(server.url("/api/v1/validators/line-length"))
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .unwrap(),
        )
    };
    let (status, body) = patch(json!({"workspaces": ["lab"]}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["workspaces"], json!(["lab"]));
    let (status, err) = patch(json!({"workspaces": ["nowhere"]}));
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("WORKSPACE_NOT_FOUND")),
        "{err}"
    );

    let (status, err) = launch("default");
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("VALIDATOR_NOT_ENABLED")),
        "{err}"
    );
    assert_eq!(save("lab").0, 201);
    let (status, run) = launch("lab");
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    let listed = inst.cli_with_env(&["plugin", "list"], &env);
    assert!(listed.contains("enabled in lab"), "{listed}");

    // The command line lifts it (and can set it: Pro is on here).
    inst.cli_with_env(
        &["plugin", "enable", "line-length", "--workspace", "default"],
        &env,
    );
    assert_eq!(launch("default").1["result"], "PASS");
    assert_eq!(launch("lab").1["code"], "VALIDATOR_NOT_ENABLED");
    inst.cli_with_env(
        &["plugin", "enable", "line-length", "--all-workspaces"],
        &env,
    );
    assert_eq!(launch("lab").1["result"], "PASS");
}
