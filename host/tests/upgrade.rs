//! Upgrading from the previous release's schema, precisely: a database is migrated with
//! this tree's migration files minus the newest (the previous release's schema), then
//! this test inserts a user, the instance secret and an API key, a workflow, a run, its
//! step and finding — rows with the columns and values the previous release's code
//! writes, inserted by hand (building that release's binary to write them would double
//! CI's compile time). The current binary then upgrades the schema; the old API key still
//! authenticates, the old data is served, and new work succeeds. On both databases.

mod common;

use std::borrow::Cow;
use std::path::PathBuf;

use common::{json_of, Backend, Instance};
use serde_json::json;

on_both_backends!(upgrade_from_previous_schema);

const OLD_INSTANCE_SECRET: &str = "the previous release's generated instance secret";
const OLD_KEY_PUBLIC_ID: &str = "oldkey000001";
const OLD_KEY_SECRET: &str = "OldSecretOfTheOldKeyOldSecretOfTheOld123";

fn upgrade_from_previous_schema(backend: Backend) {
    let inst = Instance::new(backend);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(match backend {
        Backend::Sqlite => "../migrations/sqlite",
        Backend::Postgres | Backend::ManyHosts => "../migrations/postgres",
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let applied = rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&inst.database_url).await.unwrap();
        let mut migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
        let previous = migrator.migrations.len() - 1;
        migrator.migrations = Cow::Owned(migrator.migrations[..previous].to_vec());
        migrator.run(&pool).await.unwrap();
        let config = serde_json::to_string(&common::invoice_workflow()["steps"][0]["config"]).unwrap();
        let t: i64 = 1_700_000_000_000_000;
        let v = "0.1.0";
        let rows: Vec<(&str, Vec<serde_json::Value>)> = vec![
            ("INSERT INTO workspaces (id, slug, name, is_default, created_at) VALUES ($1, 'default', 'Default', 1, $2)", vec![json!("ws1"), json!(t)]),
            ("INSERT INTO users (id, username, email, is_active, created_at) VALUES ('u1', 'olduser', NULL, 1, $1)", vec![json!(t)]),
            ("INSERT INTO memberships (user_id, workspace_id, role, created_at) VALUES ('u1', 'ws1', 'owner', $1)", vec![json!(t)]),
            ("INSERT INTO instance_settings (key, value) VALUES ('api_key_secret', $1)", vec![json!(OLD_INSTANCE_SECRET)]),
            ("INSERT INTO api_keys (id, public_id, user_id, name, secret_hash, created_at, expires_at, revoked_at, last_used_at)
              VALUES ('k1', $1, 'u1', 'cli', $2, $3, NULL, NULL, NULL)", vec![json!(OLD_KEY_PUBLIC_ID), json!(validibot_store::accounts::api_keys::hash_secret(OLD_INSTANCE_SECRET.as_bytes(), OLD_KEY_SECRET)), json!(t)]),
            ("INSERT INTO workflows (id, workspace_id, slug, version, name, description, timeout_seconds, content_types, digest, created_by, created_at, updated_at)
              VALUES ('wf1', 'ws1', 'invoice', 1, 'Invoice check', '', 60, '[\"application/json\"]', 'sha256:old', 'u1', $1, $1)", vec![json!(t)]),
            ("INSERT INTO workflow_steps (id, workflow_id, position, key, name, validator, validator_version, config, ruleset)
              VALUES ('st1', 'wf1', 0, 'schema', 'Invoice schema', 'json-schema', $1, $2, NULL)", vec![json!(v), json!(config)]),
            ("INSERT INTO submissions (id, workspace_id, sha256, size, filename, content_type, metadata, created_by, created_at, expires_at)
              VALUES ('sub1', 'ws1', '2b7a8cbd29d9a3af4f31b2c0b35e3e0f6b59c58b69b0c64e9d5f4b3f9d0e8a11', 2, 'old.json', 'application/json', '{}', 'u1', $1, NULL)", vec![json!(t)]),
            ("INSERT INTO runs (id, workspace_id, workflow_id, submission_id, status, error_category, error_detail, created_by, created_at, started_at, finished_at)
              VALUES ('run1', 'ws1', 'wf1', 'sub1', 'FAILED', 'VALIDATION_FAILED', 'step \"schema\" reported errors', 'u1', $1, $1, $1)", vec![json!(t)]),
            ("INSERT INTO step_runs (id, run_id, position, key, validator, validator_version, status, started_at, finished_at, outputs, error, validator_digest)
              VALUES ('sr1', 'run1', 0, 'schema', 'json-schema', $1, 'FAILED', $2, $2, '[]', NULL, 'sha256:x')", vec![json!(v), json!(t)]),
            ("INSERT INTO findings (run_id, step_position, position, severity, code, message, path, meta)
              VALUES ('run1', 0, 0, 'ERROR', 'schema.required', 'total is required', '/total', NULL)", vec![]),
        ];
        for (sql, args) in rows {
            let mut q = sqlx::query(sql);
            for a in args {
                q = match a {
                    serde_json::Value::Number(n) => q.bind(n.as_i64().unwrap()),
                    serde_json::Value::String(s) => q.bind(s),
                    _ => unreachable!(),
                };
            }
            q.execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        pool.close().await;
        previous
    });
    assert!(
        applied >= 5,
        "the previous release had {applied} migrations"
    );

    // The current binary upgrades the schema and serves the old data to the old key.
    inst.cli(&["migrate"]);
    let key = format!("vbk_{OLD_KEY_PUBLIC_ID}_{OLD_KEY_SECRET}");
    let srv = inst.serve(&[]);
    let (code, run) = json_of(srv.get(&key, "/api/v1/workspaces/default/runs/run1"));
    assert_eq!(code, 200, "{run}");
    assert_eq!(
        (run["status"].as_str(), run["result"].as_str()),
        (Some("FAILED"), Some("FAIL")),
        "{run}"
    );
    assert_eq!(common::finding_codes(&run), ["schema.required"], "{run}");
    let (code, wf) = json_of(srv.get(&key, "/api/v1/workspaces/default/workflows/invoice"));
    assert_eq!((code, wf["version"].as_i64()), (200, Some(1)), "{wf}");
    // New work on the old workflow, and new features on old rows (a web password).
    let (code, new) = srv.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!((code, new["result"].as_str()), (201, Some("PASS")), "{new}");
    let (code, _, err) = {
        use std::io::Write;
        let mut child = inst
            .command(&["admin", "set-password", "--username", "olduser"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "a long enough password").unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            (),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(0), "{err}");
}
