//! The web UI in a real browser (headless Chromium through chromedriver): sign in,
//! create a workflow (a bad step config is refused before saving), upload an invalid
//! document and see its findings, open a run that is still running and see it finish in
//! place, fix it, upload a valid one and see PASS;
//! downloads, the dashboard, API keys and CSRF protection. Screenshots of the main pages
//! land in `target/screenshots/` (`VALIDIBOT_UPDATE_SCREENSHOTS=1` also refreshes the
//! copies in `docs/screenshots/`).

mod common;

use common::browser::Browser;
use common::{examples_dir, invoice_workflow, Backend, Instance};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

fn set_password(inst: &Instance, user: &str) {
    inst.set_password(user, PASSWORD);
}

fn main_flows(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("ann", "owner");
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "bob",
        "--role",
        "executor",
    ]);
    set_password(&inst, "ann");
    // A slow validator (the hostile test plugin sleeping, with the clock granted), so a
    // run page can be opened while its run still runs.
    inst.install_hostile(&["clock"]);
    // Webhooks go to a receiver on loopback, which the operator allows here.
    let (hook_base, hook_log) = common::receiver::start_receiver();
    let server = inst.serve_with_env(
        &[],
        &[
            ("VALIDIBOT_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32"),
            ("VALIDIBOT_WEBHOOK_POLL_MS", "50"),
        ],
    );
    let b = Browser::start();

    // Signing in: a wrong password is refused, the right one lands on the dashboard.
    b.goto(&server.url("/ui/w/default/workflows"));
    b.find("#username");
    assert!(
        b.url().contains("/ui/login?next=/ui/w/default/workflows"),
        "{}",
        b.url()
    );
    b.screenshot("login");
    b.type_into("#username", "ann");
    b.type_into("#password", "wrong password!");
    b.click("button[type=submit]");
    b.wait_text("#login-error", |t| t.contains("Wrong username or password"));
    b.type_into("#password", PASSWORD);
    b.click("button[type=submit]");
    b.wait_text("h1", |t| t == "Workflows");

    // A new workflow; the validator refuses a bad config before anything is saved.
    b.click("a.button.primary");
    b.find("#workflow-form");
    b.type_into("#wf-name", "Invoices");
    b.type_into("#wf-slug", "invoice");
    b.type_into(".step-key", "schema");
    b.type_into(".step-name", "Invoice schema");
    b.type_into(".step-validator", "json-schema");
    b.script(
        "document.querySelector('.step-config').value = arguments[0];",
        json!([r#"{"schema": {"type": 12}}"#]),
    );
    b.click("#workflow-form button[type=submit]");
    let refused = b.wait_text(".step-errors", |t| t.contains("invalid step config"));
    assert!(refused.contains("type"), "{refused}");
    b.screenshot("workflow-editor");
    let (status, _) =
        common::json_of(server.get(&key, "/api/v1/workspaces/default/workflows/invoice"));
    assert_eq!(status, 404, "nothing was saved");
    let config = invoice_workflow()["steps"][0]["config"].to_string();
    b.script(
        "document.querySelector('.step-config').value = arguments[0];",
        json!([config]),
    );
    b.click("#workflow-form button[type=submit]");
    b.wait_text("h1", |t| t == "Invoices");
    assert!(
        b.url().ends_with("/ui/w/default/workflows/invoice"),
        "{}",
        b.url()
    );

    // Upload an invalid document: the run page shows FAIL and the findings by step.
    let upload = |file: &str| {
        let path = examples_dir()
            .join(file)
            .canonicalize()
            .unwrap()
            .display()
            .to_string();
        b.choose_file("#upload-file", &path);
        b.click("#upload-form button[type=submit]");
    };
    upload("invoice-invalid.json");
    b.wait_text("#run-result", |t| t == "FAIL");
    // The run page says what ran on what, when and by whom, and links onwards.
    assert_eq!(b.text("h1"), "invoice-invalid.json · invoice v1");
    let meta = b.text(".run-meta");
    assert!(
        meta.contains(" UTC by ann · workflow invoice v1 · Validate another file"),
        "{meta}"
    );
    let failed_run_url = b.url();
    // The validator's name leads to its guide, in the product (issue 25, item 2).
    b.click("#step-schema h3 a");
    b.wait_text("h1", |t| t.starts_with("json-schema — JSON documents"));
    b.goto(&server.url("/ui/validators/rules"));
    let guide = b.text("article.guide");
    assert!(
        guide.contains("/rows/*/amount") && guide.contains("did you mean"),
        "{guide}"
    );
    b.screenshot("validator-guide");
    // A validator without a guide gets a page made from what it publishes.
    b.goto(&server.url("/ui/validators/hostile"));
    assert!(b.text("main").contains("Step config"), "{}", b.text("main"));
    b.goto(&server.url("/ui/validators"));
    assert!(b.text("main").contains("Rules"), "{}", b.text("main"));
    b.goto(&failed_run_url);
    let body = b.text("#run-body");
    assert!(body.contains("json.schema.pattern"), "{body}");
    assert!(body.contains("/customer/email"), "{body}");
    b.screenshot("run-fail");

    // Downloads work with the session.
    let run_url = b.url();
    let cookie = format!("validibot_session={}", b.cookie("validibot_session"));
    let sarif_href = b.script("return document.querySelector('.downloads a[href$=\"format=sarif\"]').getAttribute('href');", json!([]));
    let resp = server
        .client
        .get(server.url(sarif_href.as_str().unwrap()))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sarif: Value = resp.json().unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // Cookie-authenticated writes need the CSRF token.
    let resp = server
        .client
        .post(server.url("/api/v1/api-keys"))
        .header("cookie", &cookie)
        .json(&json!({"name": "forged"}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().unwrap()["code"], "CSRF_FAILED");

    // Fix: the valid document passes.
    b.goto(&server.url("/ui/w/default/workflows/invoice"));
    upload("invoice-valid.json");
    b.wait_text("#run-result", |t| t == "PASS");
    assert_ne!(b.url(), run_url);
    b.screenshot("run-pass");

    // Pasted text with a chosen content type (issue 25, item 4).
    b.goto(&server.url("/ui/w/default/workflows/invoice"));
    b.click("#paste-box summary");
    let pasted = std::fs::read_to_string(examples_dir().join("invoice-valid.json")).unwrap();
    b.type_into("#upload-text", &pasted);
    b.script(
        "document.getElementById('upload-type').value = arguments[0];",
        json!(["application/json"]),
    );
    b.screenshot("upload-paste");
    b.click("#upload-form button[type=submit]");
    b.wait_text("#run-result", |t| t == "PASS");

    // A SHACL run (issue 23): a Brick model's validation results as findings, each with
    // the constraint component as code and the focus node + path as location.
    let shacl = examples_dir().join("../plugins/shacl/fixtures");
    let shacl_config: Value =
        serde_json::from_slice(&std::fs::read(shacl.join("config.json")).unwrap()).unwrap();
    server.create_workflow(
        &key,
        &json!({"slug": "building", "name": "Building model", "steps": [{"key": "shapes", "name": "Brick shapes", "validator": "shacl", "config": shacl_config}]}),
    );
    b.goto(&server.url("/ui/w/default/workflows/building"));
    upload("../plugins/shacl/fixtures/bad.ttl");
    b.wait_text("#run-result", |t| t == "FAIL");
    let body = b.text("#run-body");
    assert!(
        body.contains("shacl.MinCountConstraintComponent")
            && body.contains("bldg:Zone-2 rdfs:label"),
        "{body}"
    );
    assert!(
        body.contains("a temperature setpoint outside 10–35 °C is unusual"),
        "{body}"
    );
    b.screenshot("run-shacl");

    // A Schematron run (issue 23): each failed assert with its rule id, the XPath
    // location and the message with its values filled in.
    let sch = examples_dir().join("../plugins/schematron/fixtures");
    let sch_config: Value =
        serde_json::from_slice(&std::fs::read(sch.join("config.json")).unwrap()).unwrap();
    server.create_workflow(
        &key,
        &json!({"slug": "ubl-invoices", "name": "UBL invoices", "steps": [{"key": "rules", "name": "Invoice rules", "validator": "schematron", "config": sch_config}]}),
    );
    b.goto(&server.url("/ui/w/default/workflows/ubl-invoices"));
    upload("../plugins/schematron/fixtures/bad.xml");
    b.wait_text("#run-result", |t| t == "FAIL");
    let body = b.text("#run-body");
    assert!(
        body.contains("INV-29") && body.contains("/ubl:Invoice[1]/cac:InvoiceLine[2]"),
        "{body}"
    );
    assert!(
        body.contains("Line 2: 1 × 350 is 350, not the line amount 305.00."),
        "{body}"
    );
    b.screenshot("run-schematron");

    // A run still running when its page loads: the page shows it running and swaps in
    // the findings when it finishes, without a reload.
    server.create_workflow(
        &key,
        &json!({"slug": "slow", "steps": [{"key": "wait", "validator": "hostile",
            "config": {"attack": "sleep 3000"}}]}),
    );
    let resp = server
        .post(&key, "/api/v1/workspaces/default/workflows/slow/runs")
        .header("content-type", "text/plain")
        .header("prefer", "respond-async")
        .body("anything")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 202);
    let run_id = resp.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let live_url = server.url(&format!("/ui/w/default/runs/{run_id}"));
    b.goto(&live_url);
    let first = b.text("#run-result");
    assert!(first == "RUNNING" || first == "PENDING", "{first}");
    b.script("window.__notReloaded = true;", json!([]));
    b.wait_text("#run-result", |t| t == "PASS");
    assert_eq!(b.url(), live_url);
    assert_eq!(
        b.script("return window.__notReloaded === true;", json!([])),
        json!(true),
        "the page was reloaded instead of updated in place"
    );

    // The dashboard counts them all (the pasted document's run too).
    b.goto(&server.url("/ui/w/default"));
    assert_eq!(b.wait_text("#count-pass", |t| !t.is_empty()), "3");
    assert_eq!(
        b.text("#count-fail"),
        "3",
        "the SHACL and Schematron runs failed too"
    );
    b.screenshot("dashboard");
    // The runs list filters as the API does.
    b.goto(&server.url("/ui/w/default/runs?workflow=invoice&status=FAILED"));
    let rows = b.text("table.runs tbody");
    assert!(rows.contains("FAIL") && !rows.contains("PASS"), "{rows}");
    assert_eq!(
        b.script(
            "return document.getElementById('filter-status').value;",
            json!([])
        ),
        "FAILED"
    );

    // A workflow whose steps form a graph: drawn on its page, and its editor keeps
    // `depends_on`, `on_failure`, `when`, the retention and whether documents are kept
    // through a save.
    let graph_def = json!({"slug": "graph", "content_types": ["application/json"],
        "retention_days": 30, "store_submission": false, "steps": [
        {"key": "a", "validator": "rules", "config": {"rules": [{"id": "r", "path": "/id", "op": "not_null"}]}},
        {"key": "b", "validator": "rules", "depends_on": [], "on_failure": "continue",
         "config": {"rules": [{"id": "r", "path": "/id", "op": "not_null"}]}},
        {"key": "c", "validator": "rules", "depends_on": ["a", "b"], "when": "'x' in meta",
         "config": {"rules": [{"id": "r", "path": "/id", "op": "not_null"}]}},
    ]});
    let saved = server.create_workflow(&key, &graph_def);
    b.goto(&server.url("/ui/w/default/workflows/graph"));
    assert_eq!(
        b.script(
            "return document.querySelectorAll('svg.step-graph g[data-step]').length;",
            json!([])
        ),
        json!(3)
    );
    b.goto(&server.url("/ui/w/default/workflows/graph/edit"));
    b.wait_text("#steps", |t| !t.is_empty());
    assert_eq!(
        b.script(
            "return [...document.querySelectorAll('.step-depends')].map(e => e.value);",
            json!([])
        ),
        json!(["", "-", "a, b"])
    );
    // The assertions editor: a row per assertion, compiled as it is typed; the error
    // shows on the row it is about.
    b.script(
        "document.querySelectorAll('.step-editor')[2].querySelector('.add-assertion').click();",
        json!([]),
    );
    b.type_into(
        ".step-editor:nth-of-type(3) .assertion-row .assertion-expr",
        "output.x > 1",
    );
    let shown = b.wait_text(
        ".step-editor:nth-of-type(3) .assertion-row .assertion-errors",
        |t| !t.is_empty(),
    );
    assert!(
        shown.contains("unknown variable `output`") && shown.contains("/assertions/0/expr"),
        "{shown}"
    );
    b.script(
        "document.querySelectorAll('.step-editor')[2].scrollIntoView();",
        json!([]),
    );
    b.screenshot("workflow-editor-assertions");
    // Each step is numbered; its Assertions and Files boxes keep their own titles.
    assert_eq!(
        b.script(
            "return [...document.querySelectorAll('#steps legend')].map(l => l.textContent);",
            json!([])
        ),
        json!([
            "Step 1",
            "Assertions",
            "Files",
            "Step 2",
            "Assertions",
            "Files",
            "Step 3",
            "Assertions",
            "Files"
        ])
    );
    b.type_into(
        ".step-editor:nth-of-type(3) .assertion-row .assertion-expr",
        "has(doc.id)",
    );
    b.wait_text("#check-status", |t| t.starts_with("Checks pass"));
    b.click(".step-editor:nth-of-type(3) .assertion-row .remove-assertion");
    b.wait_text("#check-status", |t| t.starts_with("Checks pass"));
    b.click("#workflow-form button[type=submit]");
    b.wait_text("h1", |t| t == "graph");
    let (_, after) =
        common::json_of(server.get(&key, "/api/v1/workspaces/default/workflows/graph"));
    assert_eq!(
        after["digest"], saved["digest"],
        "the editor changed the graph: {after}"
    );
    assert_eq!(
        (&after["retention_days"], &after["store_submission"]),
        (&json!(30), &json!(false)),
        "the editor dropped a setting: {after}"
    );

    // A step file attached in the editor is uploaded to the workspace and named by the
    // step: an XML Schema step reads its XSD from it.
    let dir = tempfile::tempdir().unwrap();
    let xsd = dir.path().join("order.xsd");
    std::fs::write(
        &xsd,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="order" type="xs:string"/></xs:schema>"#,
    )
    .unwrap();
    b.goto(&server.url("/ui/w/default/workflows/new"));
    // The slug follows the name; the slug pattern compiles in Chrome (a mismatch is seen).
    b.type_into("#wf-name", "Orders");
    assert_eq!(
        b.script(
            "return document.getElementById('wf-slug').value;",
            json!([])
        ),
        "orders"
    );
    b.script(
        "const s = document.getElementById('wf-slug'); s.value = 'Not A Slug'; return null;",
        json!([]),
    );
    assert_eq!(
        b.script(
            "return document.getElementById('wf-slug').validity.patternMismatch;",
            json!([])
        ),
        true
    );
    b.type_into("#wf-slug", "orders");
    b.type_into(".step-key", "xsd");
    b.script(
        "const p = document.querySelector('.step-validator'); p.value = 'xml-schema'; p.dispatchEvent(new Event('change')); document.querySelector('.step-config').value = '{\"schema_file\": \"order.xsd\"}';",
        json!([]),
    );
    b.choose_file(".step-file-input", xsd.to_str().unwrap());
    b.wait_text(".step-file-list", |t| t.contains("order.xsd"));
    b.wait_text("#check-status", |t| t.starts_with("Checks pass"));
    b.script(
        "document.querySelector('.step-files').scrollIntoView();",
        json!([]),
    );
    b.screenshot("workflow-editor-files");
    b.click("#workflow-form button[type=submit]");
    b.wait_text("h1", |t| t == "Orders");
    let (_, orders) =
        common::json_of(server.get(&key, "/api/v1/workspaces/default/workflows/orders"));
    assert_eq!(
        orders["steps"][0]["files"][0]["name"], "order.xsd",
        "{orders}"
    );
    let (_, run) = server.launch(&key, "orders", "application/xml", "<order>x</order>");
    assert_eq!(run["result"], "PASS", "{run}");
    let (_, run) = server.launch(&key, "orders", "application/xml", "<invoice/>");
    assert_eq!(run["result"], "FAIL", "{run}");

    // A new step's config gets a form from its validator's config schema; the raw
    // JSON follows it.
    b.goto(&server.url("/ui/w/default/workflows/new"));
    b.script(
        "const p = document.querySelector('.step-validator'); p.value = 'rules'; p.dispatchEvent(new Event('change'));",
        json!([]),
    );
    b.find(".step-config-form input[name=max_samples]");
    b.script(
        "const i = document.querySelector('.step-config-form input[name=max_samples]'); i.value = '3'; i.dispatchEvent(new Event('change'));",
        json!([]),
    );
    let config = b.script(
        "return JSON.parse(document.querySelector('.step-config').value);",
        json!([]),
    );
    assert_eq!(config, json!({"max_samples": 3}));

    // Archive, unarchive and delete from the workflow page (no runs yet: deletable).
    b.goto(&server.url("/ui/w/default/workflows/graph"));
    b.click("#archive-workflow");
    b.wait_text("#archived-notice", |t| t.starts_with("Archived"));
    assert!(
        !b.text("main").contains("Validate a file"),
        "no uploads while archived"
    );
    b.click("#unarchive-workflow");
    b.find("#archive-workflow");
    b.script("window.confirm = () => true;", json!([]));
    b.click("#delete-workflow");
    b.wait_text("h1", |t| t == "Workflows");
    assert_eq!(
        server
            .get(&key, "/api/v1/workspaces/default/workflows/graph")
            .status(),
        404
    );

    // The live page's Cancel button stops a run that would otherwise spin until its
    // deadline (an ERROR then, not CANCELED).
    server.create_workflow(
        &key,
        &json!({"slug": "spin", "steps": [{"key": "spin", "validator": "hostile",
            "config": {"attack": "loop"}}]}),
    );
    let resp = server
        .post(&key, "/api/v1/workspaces/default/workflows/spin/runs")
        .header("content-type", "text/plain")
        .header("prefer", "respond-async")
        .body("anything")
        .send()
        .unwrap();
    let spin_id = resp.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.goto(&server.url(&format!("/ui/w/default/runs/{spin_id}")));
    b.click("#cancel-run");
    b.wait_text("#run-result", |t| t == "CANCELED");
    assert!(
        b.text("#run-body").contains("cancelled by ann"),
        "{}",
        b.text("#run-body")
    );

    // An API key made in the UI works against the API; Community shows Pro features off.
    b.goto(&server.url("/ui/w/default/settings"));
    b.type_into("#key-name", "ci");
    b.click("#key-form button[type=submit]");
    let token = b.wait_text("#new-key-token", |t| t.starts_with("vbk_"));
    let (status, _) = common::json_of(server.get(&token, "/api/v1/workspaces"));
    assert_eq!(status, 200);
    // The new key is in the table at once, with a copy button beside the token.
    let public_id = token.split('_').nth(1).unwrap();
    assert!(
        b.text("table.keys tbody tr").contains(public_id),
        "{}",
        b.text("table.keys")
    );
    b.find("#copy-key");
    // Each role says what it may do; the nav marks the page the user is on.
    let roles = b.text("#role-help");
    assert!(
        roles.contains("executor") && roles.contains("also launches runs"),
        "{roles}"
    );
    assert_eq!(
        b.script(
            "return document.querySelector('header.top nav a[aria-current=page]').textContent;",
            json!([])
        ),
        "Settings"
    );
    let license = b.text("#license");
    assert!(
        license.contains("Teams — off: needs Validibot Pro"),
        "{license}"
    );
    b.screenshot("settings");

    // Members: change bob's role, then remove him (the confirm dialog is accepted).
    let members = || {
        server
            .get(&key, "/api/v1/workspaces/default/members")
            .json::<Value>()
            .unwrap()
    };
    b.script(
        "const s = document.querySelector('select.member-role[data-url$=\"/bob\"]'); s.value = 'author'; s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    b.wait_text("#member-status", |t| t == "Saved.");
    assert!(members()["results"]
        .as_array()
        .unwrap()
        .contains(&json!({"username": "bob", "role": "author", "mfa": false})));
    b.script("window.confirm = () => true;", json!([]));
    b.click(".remove-member[data-url$='/bob']");
    b.wait_text("#member-status", |t| t == "Removed.");
    let left = members();
    assert!(!left.to_string().contains("bob"), "{left}");

    // A sign-in form posted from another site is refused (login CSRF).
    let resp = server
        .client
        .post(server.url("/ui/login"))
        .header("origin", "http://evil.example")
        .form(&[("username", "ann"), ("password", PASSWORD)])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Webhooks: add an endpoint (its secret shown once), send it a test message, and
    // see the delivery in its log; the receiver checks the signature with that secret.
    b.goto(&server.url("/ui/w/default/settings"));
    b.click("#webhooks a");
    b.wait_text("h1", |t| t == "Webhooks");
    b.type_into("#webhook-url", "http://10.0.0.1/hook");
    b.click("#webhook-form button[type=submit]");
    let refused = b.wait_text("#webhook-status", |t| !t.is_empty());
    assert!(refused.contains("WEBHOOK_URL_REFUSED"), "{refused}");
    b.script(
        "document.getElementById('webhook-url').value = '';",
        json!([]),
    );
    b.type_into("#webhook-url", &format!("{hook_base}/ci"));
    b.type_into("#webhook-description", "CI gate");
    b.click("#webhook-form button[type=submit]");
    let secret = b.wait_text("#webhook-secret-value", |t| t.starts_with("whsec_"));
    b.click("#webhook-open");
    b.wait_text("#webhook-log h2", |t| t.contains("/ci"));
    b.click("#webhook-log .webhook-test");
    b.wait_text("#webhook-status", |t| t.starts_with("Test message queued"));
    let test = common::receiver::wait_for(
        "the test message",
        std::time::Duration::from_secs(20),
        || common::receiver::at(&hook_log, "ci").into_iter().next(),
    );
    common::receiver::verify(&secret, &test).unwrap();
    assert_eq!(test.json()["type"], "webhook.test");
    let log_url = b.url();
    common::receiver::wait_for(
        "the delivery to be logged",
        std::time::Duration::from_secs(20),
        || {
            b.goto(&log_url);
            b.text("#webhook-log").contains("HTTP 200").then_some(())
        },
    );
    let row = b.text("table.deliveries tbody tr");
    assert!(
        row.contains("webhook.test") && row.contains("delivered"),
        "{row}"
    );
    assert!(b.text("table.webhooks").contains("CI gate"));
    b.screenshot("webhooks");

    // Her own password, in Settings: a wrong current one is refused, then it changes and
    // this session stays signed in.
    b.goto(&server.url("/ui/w/default/settings"));
    b.type_into("#current-password", "not the password");
    b.type_into("#new-password", "a brand new passphrase");
    b.type_into("#repeat-password", "a brand new passphrase");
    b.click("#password-form button[type=submit]");
    let wrong = b.wait_text("#password-status", |t| !t.is_empty());
    assert!(wrong.contains("current password is wrong"), "{wrong}");
    b.script(
        "document.getElementById('current-password').value = '';",
        json!([]),
    );
    b.type_into("#current-password", PASSWORD);
    b.click("#password-form button[type=submit]");
    b.wait_text("#password-status", |t| t.starts_with("Password changed."));
    b.goto(&server.url("/ui/w/default/settings"));
    b.wait_text("h1", |t| t == "Settings");

    // Signing out ends the session.
    b.click("form.logout button");
    b.find("#username");
    let resp = server
        .client
        .get(server.url("/api/v1/workspaces"))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A viewer (issue 25, item 3): told what the role shows instead of "upload a file",
    // and a shared link to someone else's run explains itself instead of an error code.
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "vic",
        "--role",
        "viewer",
    ]);
    set_password(&inst, "vic");
    b.type_into("#username", "vic");
    b.type_into("#password", PASSWORD);
    b.click("button[type=submit]");
    b.wait_text("h1", |t| t == "Dashboard");
    b.goto(&server.url("/ui/w/default/runs"));
    let empty = b.text(".empty");
    assert!(
        empty.contains("As a viewer you see the workspace's workflows"),
        "{empty}"
    );
    assert!(!empty.contains("upload"), "{empty}");
    b.goto(&run_url);
    assert_eq!(b.text("h1"), "This run is not available to you");
    assert!(
        b.text("main").contains("You are viewer here."),
        "{}",
        b.text("main")
    );
    b.screenshot("run-not-available");
    // The dashboard's time range.
    b.goto(&server.url("/ui/w/default?range=1h"));
    assert_eq!(b.text("nav.ranges strong"), "last hour");
    let title = b.script(
        "return document.getElementById('chart-title').textContent;",
        json!([]),
    );
    assert!(title.as_str().unwrap().contains("last hour"), "{title}");
}

#[test]
fn main_flows_in_a_browser() {
    main_flows(Backend::Sqlite)
}

/// Pro in the browser: the license page (state, usage against limits, extensions) with a
/// license file uploaded; creating a workspace and switching to it; teams with members
/// and a grant; and a member beyond the seat limit refused with the reason shown.
#[test]
fn pro_pages_in_a_browser() {
    use common::pro::{payload, pro};
    let pro = pro();
    let inst = Instance::new(Backend::Sqlite);
    pro.install_into(&inst.data.path().join("extensions"));
    let key = inst.user("ann", "owner");
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "bob",
        "--role",
        "viewer",
    ]);
    // Carol holds no membership, so adding her takes a seat.
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "carol",
        "--role",
        "viewer",
    ]);
    set_password(&inst, "ann");
    let trusted = pro.trusted_key();
    let server = inst.serve_with_env(&[], &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", &trusted)]);
    let resp = server
        .client
        .delete(server.url("/api/v1/workspaces/default/members/carol"))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 204);
    let b = Browser::start();
    b.goto(&server.url("/ui/w/default/license"));
    b.type_into("#username", "ann");
    b.type_into("#password", PASSWORD);
    b.click("button[type=submit]");

    // Community until a license file is installed from the page.
    b.wait_text("#license-state", |t| t.contains("community"));
    assert!(
        b.text("#license-extensions").contains("loaded, signed by"),
        "{}",
        b.text("#license-extensions")
    );
    let mut seats = payload(3, 200, 2);
    seats["limits"]["seats"] = 2.into();
    let file = inst.data.path().join("acme.lic");
    std::fs::write(&file, "not a license").unwrap();
    b.choose_file("#license-file", file.to_str().unwrap());
    b.click("#license-form button[type=submit]");
    b.wait_text("#license-status", |t| t.contains("LICENSE_INVALID"));
    std::fs::write(&file, pro.issue(&seats, None)).unwrap();
    b.choose_file("#license-file", file.to_str().unwrap());
    b.click("#license-form button[type=submit]");
    b.wait_text("#license-state", |t| {
        t.contains("valid") && t.contains("Test Customer")
    });
    assert_eq!(b.text("#usage-workspaces").trim(), "1 of 2");
    assert_eq!(b.text("#usage-seats").trim(), "2 of 2");
    assert!(b.text("#license-features").contains("Teams — on"));
    b.screenshot("license");

    // A second workspace, then the switcher takes the same page there and back.
    b.goto(&server.url("/ui/w/default/workspaces"));
    b.type_into("#workspace-slug", "lab");
    b.type_into("#workspace-name", "Lab");
    b.click("#workspace-form button[type=submit]");
    b.wait_text("#workspace-list", |t| {
        t.contains("Lab") && t.contains("owner")
    });
    assert!(b.url().ends_with("/ui/w/lab/workspaces"), "{}", b.url());
    assert!(
        b.text("#workspace-limit").contains("allows 2 workspaces"),
        "at the license's two workspaces the page says why no more: {}",
        b.text("#new-workspace")
    );
    b.screenshot("workspaces");
    b.script(
        "const s = document.getElementById('workspace-switcher'); s.value = 'default'; s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    b.wait_text("h1", |t| t == "Workspaces");
    assert!(b.url().ends_with("/ui/w/default/workspaces"), "{}", b.url());

    // Teams: create one, add bob, give it a role on lab.
    b.goto(&server.url("/ui/w/lab/teams"));
    b.type_into("#team-slug", "analysts");
    b.click("#team-form button[type=submit]");
    b.wait_text("#team-list", |t| t.contains("analysts"));
    b.type_into("#add-analysts", "bob");
    b.click(".team-member-form button[type=submit]");
    b.wait_text("#team-list", |t| t.contains("bob"));
    b.script(
        "document.getElementById('grant-analysts').value = 'author';",
        json!([]),
    );
    b.click(".team-grant-form button[type=submit]");
    b.wait_text("#team-list", |t| t.contains("lab: author"));
    b.screenshot("teams");

    // The audit log: what ann just did here (license, workspace, team), then only the
    // creations, through the page's own filter form; the export link keeps the filter.
    b.goto(&server.url("/ui/w/default/audit"));
    b.wait_text("#audit-events", |t| {
        t.contains("installLicense") && t.contains("grantTeam") && t.contains("signIn")
    });
    b.type_into("#audit-action", "create*");
    b.click("#audit-filter button[type=submit]");
    b.wait_text("#audit-events", |t| {
        t.contains("createTeam") && t.contains("createWorkspace") && !t.contains("installLicense")
    });
    let export = b.script(
        "return document.getElementById('audit-export').getAttribute('href');",
        json!([]),
    );
    assert_eq!(export, "/api/v1/audit/export?action=create%2A");
    b.screenshot("audit-log");
    b.goto(&server.url("/ui/w/lab/teams"));
    b.wait_text("#team-list", |t| t.contains("lab: author"));
    let (_, teams) = common::json_of(server.get(&key, "/api/v1/teams"));
    assert_eq!(teams["results"][0]["members"], json!(["bob"]), "{teams}");
    // Bob reaches lab through the team; revoking the grant takes it away again.
    let bob = inst
        .cli(&["admin", "create-api-key", "--username", "bob"])
        .trim()
        .to_owned();
    assert_eq!(
        server
            .get(&bob, "/api/v1/workspaces/lab/workflows")
            .status(),
        200
    );
    b.script("window.confirm = () => true;", json!([]));
    b.click(".revoke-team-grant");
    b.wait_text("#team-list", |t| !t.contains("lab: author"));
    assert_eq!(
        server
            .get(&bob, "/api/v1/workspaces/lab/workflows")
            .status(),
        404
    );

    // Deleting the team (after a confirmation) removes it from the page.
    b.goto(&server.url("/ui/w/lab/teams"));
    b.script("window.confirm = () => true;", json!([]));
    b.click(".delete-team");
    b.wait_text("#team-list", |t| !t.contains("analysts"));
    let (_, teams) = common::json_of(server.get(&key, "/api/v1/teams"));
    assert_eq!(teams["results"], json!([]), "{teams}");

    // Seats: ann and bob hold the license's two; adding carol is refused, and why is shown.
    b.goto(&server.url("/ui/w/default/settings"));
    b.type_into("#member-name", "carol");
    b.click("#member-form button[type=submit]");
    let why = b.wait_text("#member-status", |t| !t.is_empty());
    assert!(why.contains("seat"), "{why}");

    // An online license: installed from the page, activated by the license server, its
    // standing shown; "Check now" asks again, and a failed attempt says why.
    let vendor_dir = tempfile::tempdir().unwrap();
    let vendor = common::pro::LicenseServer::start(pro, vendor_dir.path(), "127.0.0.1:0", "+0d");
    let mut online = seats.clone();
    online["serial"] = 4.into();
    online["online"] = json!({"server": vendor.url, "instances": 2});
    std::fs::write(&file, pro.issue(&online, None)).unwrap();
    b.goto(&server.url("/ui/w/default/license"));
    b.choose_file("#license-file", file.to_str().unwrap());
    b.click("#license-form button[type=submit]");
    b.wait_text("#license-online", |t| {
        t.contains("active") && t.contains("1 of 2 activated")
    });
    assert!(
        b.text("#license-state").contains("valid"),
        "{}",
        b.text("#license-state")
    );
    b.screenshot("license-online");
    drop(vendor);
    b.click("#license-check");
    let error = b.wait_text("#license-online-error", |t| !t.is_empty());
    assert!(error.contains("could not be reached"), "{error}");
    assert!(
        b.text("#license-state").contains("valid"),
        "still on, offline"
    );
}

/// Invitations and a forgotten password in the browser, with a real SMTP server: an
/// owner invites an address from Settings, the invitee opens the mailed link signed out
/// and creates an account that lands in the workspace; then someone who forgot their
/// password asks for a link from the sign-in page and sets a new one.
#[test]
fn invitations_and_password_reset_in_a_browser() {
    let inst = Instance::new(Backend::Sqlite);
    inst.user("ann", "owner");
    set_password(&inst, "ann");
    let smtp = common::smtp::Smtp::start();
    let server = inst.serve_with_env(
        &[],
        &[
            ("VALIDIBOT_SMTP_URL", &smtp.url()),
            ("VALIDIBOT_PUBLIC_URL", "https://validibot.example.com"),
        ],
    );
    // The mailed links name the public URL; the browser opens their path here.
    let here = |link: &str| server.url(&link["https://validibot.example.com".len()..]);
    let b = Browser::start();
    b.goto(&server.url("/ui/login"));
    b.type_into("#username", "ann");
    b.type_into("#password", PASSWORD);
    b.click("button[type=submit]");
    b.wait_text("header.top", |t| t.contains("ann"));
    b.goto(&server.url("/ui/w/default/settings"));
    b.type_into("#invite-email", "nia@example.com");
    b.script(
        "document.getElementById('invite-role').value = 'executor';",
        json!([]),
    );
    b.click("#invite-form button[type=submit]");
    b.wait_text("#invite-status", |t| {
        t.contains("Invitation mailed to nia@example.com")
    });
    b.wait_text("table.invitations", |t| {
        t.contains("nia@example.com") && t.contains("pending")
    });
    b.screenshot("settings-invitations");
    let link = smtp.wait_for("nia@example.com", 1).link("/ui/invitations/");

    // Signed out (a browser of her own), the invitee creates her account from the link.
    let nia = Browser::start();
    nia.goto(&here(&link));
    let offer = nia.text("#invitation");
    assert!(
        offer.contains("ann invited nia@example.com") && offer.contains("executor"),
        "{offer}"
    );
    assert_eq!(
        nia.script(
            "return document.getElementById('username').value;",
            json!([])
        ),
        "nia"
    );
    nia.screenshot("invitation");
    nia.type_into("#password", "nia's long password");
    nia.type_into("#repeat", "not the same one");
    nia.click("#signup-form button[type=submit]");
    nia.wait_text("#invitation-error", |t| t.contains("differ"));
    nia.type_into("#password", "nia's long password");
    nia.type_into("#repeat", "nia's long password");
    nia.click("#signup-form button[type=submit]");
    nia.wait_text("header.top", |t| t.contains("nia"));
    assert!(nia.url().ends_with("/ui/w/default"), "{}", nia.url());
    // The link worked once.
    nia.goto(&here(&link));
    nia.wait_text("#invitation-error", |t| t.contains("accepted already"));
    b.goto(&server.url("/ui/w/default/settings"));
    assert!(b.text("#members").contains("nia"));

    // A forgotten password: asked for from the sign-in page, set on the mailed link.
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "ola",
        "--email",
        "ola@example.com",
        "--role",
        "viewer",
    ]);
    set_password(&inst, "ola");
    let ola = Browser::start();
    ola.goto(&server.url("/ui/login"));
    ola.click("#forgot-password");
    ola.type_into("#account", "ola@example.com");
    ola.click("button[type=submit]");
    ola.wait_text("#reset-sent", |t| t.contains("a reset link was mailed"));
    let link = smtp
        .wait_for("ola@example.com", 1)
        .link("/ui/password-reset/");
    ola.goto(&here(&link));
    ola.wait_text("h1", |t| t == "Choose a new password");
    ola.screenshot("password-reset");
    ola.type_into("#new-password", "ola's new passphrase");
    ola.type_into("#repeat-password", "ola's new passphrase");
    ola.click("button[type=submit]");
    ola.wait_text("#login-notice", |t| t.contains("password was changed"));
    ola.type_into("#username", "ola");
    ola.type_into("#password", "ola's new passphrase");
    ola.click("button[type=submit]");
    ola.wait_text("header.top", |t| t.contains("ola"));
}

/// Two-factor authentication in the browser: the owner sets it up from Settings (QR code
/// and key, a code from the app, the recovery codes), signs out and back in through the
/// code page, and requires it for the workspace.
#[test]
fn two_factor_in_a_browser() {
    let inst = Instance::new(Backend::Sqlite);
    inst.user("ann", "owner");
    set_password(&inst, "ann");
    let server = inst.serve(&[]);
    let b = Browser::start();
    let sign_in = |b: &Browser| {
        b.goto(&server.url("/ui/login?next=/ui/w/default/settings"));
        b.type_into("#username", "ann");
        b.type_into("#password", PASSWORD);
        b.click("button[type=submit]");
    };
    sign_in(&b);
    b.wait_text("#two-factor", |t| {
        t.contains("do not ask for a second factor")
    });
    b.click("#manage-two-factor");
    b.wait_text("#mfa-state", |t| t.starts_with("Off."));
    b.type_into("#mfa-password", PASSWORD);
    b.click("#mfa-begin-form button[type=submit]");
    let secret = b.wait_text("#mfa-secret", |t| t.len() >= 32);
    assert!(!b.find("#mfa-qr svg").is_empty(), "the QR code is drawn");
    b.screenshot("two-factor-setup");
    b.type_into("#mfa-code", &common::totp(&secret, common::step_now()));
    b.click("#mfa-confirm-form button[type=submit]");
    let codes = b.wait_text("#recovery-codes-list", |t| t.lines().count() == 10);
    assert!(
        codes
            .lines()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'),
        "{codes}"
    );
    b.screenshot("two-factor-recovery-codes");

    // Signed out and in again: the password leads to the code page.
    b.click("form.logout button");
    b.wait_text("h1", |t| t == "Sign in");
    sign_in(&b);
    b.wait_text("h1", |t| t == "Two-factor authentication");
    b.screenshot("two-factor-sign-in");
    b.type_into("#code", &common::totp(&secret, common::step_now() + 1));
    b.click("button[type=submit]");
    b.wait_text("#two-factor", |t| t.contains("ask for a code"));
    assert!(b.url().ends_with("/ui/w/default/settings"), "{}", b.url());

    // The owner requires it for the workspace.
    b.click("#require-mfa");
    b.wait_text("#require-mfa-status", |t| t.contains("now required"));
    b.goto(&server.url("/ui/w/default/settings"));
    assert_eq!(
        b.script(
            "return document.getElementById('require-mfa').checked;",
            json!([])
        ),
        true
    );
    b.script(
        "document.getElementById('two-factor').scrollIntoView();",
        json!([]),
    );
    b.screenshot("settings-two-factor");
}
