//! Single sign-on against a real OpenID provider (npm `oidc-provider`, PKCE required,
//! claims from UserInfo as conforming providers give them): account linking by verified
//! address, provisioning, group → role mapping kept in step at each sign-in, the second
//! factor a provider reports, and the refusals (login CSRF, replays, another issuer, the
//! provider's own refusal, a disabled account, an unreachable provider) — on SQLite and
//! PostgreSQL. A browser signs in through the sign-in page's button.

mod common;

use std::collections::BTreeMap;

use common::browser::Browser;
use common::oidc::{Provider, CLIENT_ID, CLIENT_SECRET};
use common::{free_port, json_of, no_redirects, with_db, Backend, Instance, Server};
use serde_json::{json, Value};

/// Cookies by name, as a browser would keep them for two sites on one host (paths and
/// expiry aside: each request sends all).
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn absorb(&mut self, resp: &reqwest::blocking::Response) {
        for c in resp.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn get(&mut self, url: &str) -> reqwest::blocking::Response {
        let resp = no_redirects()
            .get(url)
            .header("cookie", self.header())
            .send()
            .unwrap();
        self.absorb(&resp);
        resp
    }
}

fn location(resp: &reqwest::blocking::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// A sign-in's end: the callback's answer.
struct Outcome {
    status: u16,
    location: Option<String>,
    body: String,
    /// The session cookie (`validibot_session=…`) when one was made.
    session: Option<String>,
    /// The callback URL the provider sent the browser to (to replay it).
    callback: String,
    /// The browser's cookies for Validibot at the time.
    jar: Jar,
}

/// Signs in through `provider` as an HTTP client following the redirects would,
/// typing `login`/`password` into the provider's form (ticking its second-factor box
/// when `mfa`).
fn sign_in(server: &Server, issuer: &str, provider: &str, login: &str, mfa: bool) -> Outcome {
    let mut ours = Jar::default();
    let start = ours.get(&server.url(&format!("/ui/sso/{provider}/start?next=/ui/w/default")));
    assert_eq!(start.status(), 303, "{}", start.text().unwrap());
    let mut theirs = Jar::default();
    let mut url = location(&start);
    assert!(url.starts_with(issuer), "{url}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    // The provider's redirects, to its form.
    loop {
        let resp = theirs.get(&url);
        if resp.status().is_redirection() {
            url = absolute(issuer, &location(&resp));
            continue;
        }
        assert_eq!(resp.status(), 200);
        let html = resp.text().unwrap();
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("no form: {html}"));
        url = absolute(issuer, action);
        break;
    }
    let mut form = vec![("login", login), ("password", "pw")];
    if mfa {
        form.push(("mfa", "on"));
    }
    let posted = no_redirects()
        .post(&url)
        .header("cookie", theirs.header())
        .form(&form)
        .send()
        .unwrap();
    theirs.absorb(&posted);
    assert_eq!(posted.status(), 303, "{}", posted.text().unwrap());
    let mut url = absolute(issuer, &location(&posted));
    while url.starts_with(issuer) {
        let resp = theirs.get(&url);
        assert!(resp.status().is_redirection(), "{}", resp.text().unwrap());
        url = absolute(issuer, &location(&resp));
    }
    finish(server, ours, url)
}

/// The provider's answer reaches Validibot (with the browser's cookies `jar`).
fn finish(server: &Server, mut jar: Jar, callback: String) -> Outcome {
    assert!(callback.starts_with(&server.base), "{callback}");
    let resp = jar.get(&callback);
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let session = jar
        .0
        .get("validibot_session")
        .map(|v| format!("validibot_session={v}"));
    Outcome {
        status,
        location,
        body: resp.text().unwrap(),
        session,
        callback,
        jar,
    }
}

fn absolute(issuer: &str, url: &str) -> String {
    if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{issuer}{url}")
    }
}

fn account(email: &str, verified: bool, username: &str, groups: &[&str]) -> Value {
    json!({"password": "pw", "claims": {
        "email": email, "email_verified": verified, "preferred_username": username,
        "name": username, "groups": groups}})
}

/// The session's API answer (the web UI calls the same API with its cookie).
fn api(server: &Server, session: &str, path: &str) -> (u16, Value) {
    json_of(
        server
            .client
            .get(server.url(path))
            .header("cookie", session)
            .send()
            .unwrap(),
    )
}

/// Each member's role in a workspace, from the database (`qa` exists without Pro here,
/// so the API would not show it).
fn roles(inst: &Instance, ws: &'static str) -> BTreeMap<String, String> {
    with_db(inst, |db| async move {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT u.username, m.role FROM memberships m JOIN users u ON u.id = m.user_id
             JOIN workspaces w ON w.id = m.workspace_id WHERE w.slug = $1",
        )
        .bind(ws)
        .fetch_all(&db)
        .await
        .unwrap();
        rows.into_iter().collect()
    })
}

/// Two providers over one real OpenID provider: `corp` links, provisions and maps
/// groups, asking `amr` for the second factor; `closed` only links existing accounts.
fn sso_config(inst: &Instance, issuer: &str, dead_port: u16) -> std::path::PathBuf {
    let path = inst.data.path().join("sso.toml");
    std::fs::write(
        inst.data.path().join("client-secret"),
        format!("{CLIENT_SECRET}\n"),
    )
    .unwrap();
    std::fs::write(
        &path,
        format!(
            r#"
[[provider]]
id = "corp"
name = "Corp login"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret_file = "client-secret"
scopes = ["groups"]
second_factor = "amr"
provision = {{ workspace = "default", role = "viewer" }}
roles = [
  {{ group = "validibot-admins", workspace = "default", role = "admin" }},
  {{ group = "validibot-authors", workspace = "default", role = "author" }},
  {{ group = "validibot-qa", workspace = "qa", role = "executor" }},
]

[[provider]]
id = "closed"
name = "Closed"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"

[[provider]]
id = "down"
name = "Down"
issuer = "http://127.0.0.1:{dead_port}"
client_id = "x"
"#
        ),
    )
    .unwrap();
    path
}

fn single_sign_on(backend: Backend) {
    let inst = Instance::new(backend);
    let owner = inst.user("owner", "owner");
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "ann",
        "--email",
        "Ann@Example.com",
        "--role",
        "viewer",
    ]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let idp = Provider::start(
        &["corp", "closed"].map(|p| format!("{base}/ui/sso/{p}/callback")),
        json!({
            "ann": account("ann@example.com", true, "ann", &["validibot-authors"]),
            "ben": account("ben@example.com", true, "ben", &["validibot-admins"]),
            "cat": account("cat@example.com", false, "cat", &[]),
            "dan": account("ann@example.com", false, "ann", &[]),
            "eve": account("eve@example.com", true, "eve", &[]),
        }),
    );
    let config = sso_config(&inst, &idp.issuer, free_port());
    let bind = format!("127.0.0.1:{port}");
    let server = inst.serve_with_env(
        &["--bind", &bind],
        &[
            ("VALIDIBOT_SSO_CONFIG", config.to_str().unwrap()),
            ("VALIDIBOT_PUBLIC_URL", &base),
        ],
    );
    // A second workspace (made in the database: the Community edition has one).
    with_db(&inst, |db| async move {
        sqlx::query("INSERT INTO workspaces (id, slug, name, is_default, created_at) VALUES ('ws-qa', 'qa', 'QA', 0, 0)")
            .execute(&db)
            .await
            .unwrap();
    });

    // The sign-in page offers each provider.
    let page = server
        .client
        .get(server.url("/ui/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for id in ["sso-corp", "sso-closed", "sso-down"] {
        assert!(page.contains(id), "{id} not on the sign-in page");
    }

    // ann: an account with the same address (any case), verified by the provider →
    // linked. Her membership is the admin's: the authors group does not change it.
    let ann = sign_in(&server, &idp.issuer, "corp", "ann", false);
    assert_eq!(ann.status, 303, "{}", ann.body);
    assert_eq!(ann.location.as_deref(), Some("/ui/w/default"));
    let session = ann.session.clone().expect("a session");
    assert!(
        !ann.jar.0.contains_key("validibot_sso"),
        "the state cookie is cleared"
    );
    let (status, list) = api(&server, &session, "/api/v1/workspaces");
    assert_eq!(status, 200, "{list}");
    let home = server
        .client
        .get(server.url("/ui/w/default"))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert!(home.text().unwrap().contains("ann"));
    assert_eq!(roles(&inst, "default")["ann"], "viewer");

    // The callback replayed (the code and state again) finishes nothing.
    let replay = finish(&server, ann.jar, ann.callback.clone());
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert!(replay.body.contains("expired"), "{}", replay.body);

    // ben: no account → provisioned; the admins group makes him admin of default.
    let ben = sign_in(&server, &idp.issuer, "corp", "ben", true);
    assert_eq!(ben.status, 303, "{}", ben.body);
    assert_eq!(roles(&inst, "default")["ben"], "admin");
    // Groups change at the provider: the role follows at the next sign-in.
    let accounts = |ben_groups: &[&str]| {
        json!({
            "ann": account("ann@example.com", true, "ann", &["validibot-authors"]),
            "ben": account("ben@example.com", true, "ben", ben_groups),
            "cat": account("cat@example.com", false, "cat", &[]),
            "dan": account("ann@example.com", false, "ann", &[]),
            "eve": account("eve@example.com", true, "eve", &[]),
        })
    };
    idp.set_accounts(accounts(&["validibot-qa"]));
    assert_eq!(
        sign_in(&server, &idp.issuer, "corp", "ben", true).status,
        303
    );
    assert_eq!(
        roles(&inst, "default")["ben"],
        "viewer",
        "back to the provisioning role"
    );
    assert_eq!(roles(&inst, "qa")["ben"], "executor");
    idp.set_accounts(accounts(&[]));
    assert_eq!(
        sign_in(&server, &idp.issuer, "corp", "ben", true).status,
        303
    );
    assert!(!roles(&inst, "qa").contains_key("ben"), "removed from qa");
    // An admin's change takes the membership out of the provider's hands.
    let (status, body) = json_of(
        server
            .put(&owner, "/api/v1/workspaces/default/members/ben")
            .json(&json!({"role": "author"}))
            .send()
            .unwrap(),
    );
    assert!(status == 200 || status == 204, "{status} {body}");
    idp.set_accounts(accounts(&["validibot-admins"]));
    assert_eq!(
        sign_in(&server, &idp.issuer, "corp", "ben", true).status,
        303
    );
    assert_eq!(roles(&inst, "default")["ben"], "author");

    // The second factor: default requires one; corp counts only what amr says.
    with_db(&inst, |db| async move {
        sqlx::query("UPDATE workspaces SET require_mfa = 1 WHERE slug = 'default'")
            .execute(&db)
            .await
            .unwrap();
    });
    let without = sign_in(&server, &idp.issuer, "corp", "ben", false);
    let (status, body) = api(
        &server,
        &without.session.unwrap(),
        "/api/v1/workspaces/default/workflows",
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("MFA_REQUIRED")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("through your provider"),
        "{body}"
    );
    let with = sign_in(&server, &idp.issuer, "corp", "ben", true);
    let (status, body) = api(
        &server,
        &with.session.unwrap(),
        "/api/v1/workspaces/default/workflows",
    );
    assert_eq!(status, 200, "{body}");
    with_db(&inst, |db| async move {
        sqlx::query("UPDATE workspaces SET require_mfa = 0 WHERE slug = 'default'")
            .execute(&db)
            .await
            .unwrap();
    });

    // cat: an unverified address is not kept; dan: an unverified address that matches
    // ann's links nothing, and his wanted name is taken → ann-2.
    assert_eq!(
        sign_in(&server, &idp.issuer, "corp", "cat", false).status,
        303
    );
    assert_eq!(
        sign_in(&server, &idp.issuer, "corp", "dan", false).status,
        303
    );
    let (cat_email, identities) = with_db(&inst, |db| async move {
        let email: Option<String> =
            sqlx::query_scalar("SELECT email FROM users WHERE username = 'cat'")
                .fetch_one(&db)
                .await
                .unwrap();
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT i.provider, i.subject, u.username FROM sso_identities i JOIN users u ON u.id = i.user_id ORDER BY i.subject",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        (email, rows)
    });
    assert_eq!(cat_email, None);
    let linked: Vec<(&str, &str)> = identities
        .iter()
        .map(|(_, s, u)| (s.as_str(), u.as_str()))
        .collect();
    assert_eq!(
        linked,
        [
            ("ann", "ann"),
            ("ben", "ben"),
            ("cat", "cat"),
            ("dan", "ann-2")
        ]
    );
    assert!(identities.iter().all(|(p, _, _)| p == "corp"));

    // closed: eve has no account and closed does not provision → refused, no account.
    let eve = sign_in(&server, &idp.issuer, "closed", "eve", false);
    assert_eq!(eve.status, 403, "{}", eve.body);
    assert!(
        eve.body.contains("no account here matches eve@example.com"),
        "{}",
        eve.body
    );
    assert!(eve.session.is_none());
    // ann through closed: linked by her address to the same account (another identity).
    let again = sign_in(&server, &idp.issuer, "closed", "ann", false);
    assert_eq!(again.status, 303, "{}", again.body);

    // A disabled account is refused even through its linked identity.
    with_db(&inst, |db| async move {
        sqlx::query("UPDATE users SET is_active = 0 WHERE username = 'ann'")
            .execute(&db)
            .await
            .unwrap();
    });
    let disabled = sign_in(&server, &idp.issuer, "corp", "ann", false);
    assert_eq!(disabled.status, 403);
    assert!(disabled.body.contains("disabled"), "{}", disabled.body);

    refusals(&server, &idp.issuer);

    // Every sign-in and refusal is in the audit log, with the provider and how.
    let events: Vec<(String, String)> = with_db(&inst, |db| async move {
        sqlx::query_as(
            "SELECT action, detail FROM audit_events WHERE action LIKE 'signIn%' ORDER BY at, id",
        )
        .fetch_all(&db)
        .await
        .unwrap()
    });
    let ins: Vec<Value> = events
        .iter()
        .filter(|(a, _)| a == "signIn")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(ins[0]["provider"], "corp");
    assert_eq!(ins[0]["account"], "email");
    assert_eq!(ins[1]["account"], "provisioned");
    assert_eq!(ins[1]["memberships"][0]["change"], "added as admin");
    assert!(ins.iter().any(|d| d["second_factor"] == false));
    let failed = events.iter().filter(|(a, _)| a == "signInFailed").count();
    assert!(failed >= 5, "{events:?}");
}

/// What must not sign anyone in.
fn refusals(server: &Server, issuer: &str) {
    // No such provider; a provider that does not answer.
    let resp = no_redirects()
        .get(server.url("/ui/sso/nope/start"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = no_redirects()
        .get(server.url("/ui/sso/down/start"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.text().unwrap().contains("cannot be reached"));

    // The state cookie is missing (another browser: login CSRF) → nothing, and the
    // started sign-in is not consumed by the attempt.
    let (jar, state) = started(server);
    let foreign = finish(
        server,
        Jar::default(),
        server.url(&format!("/ui/sso/corp/callback?code=x&state={state}")),
    );
    assert_eq!(foreign.status, 401, "{}", foreign.body);
    assert!(foreign.session.is_none());

    // The provider's own refusal is shown.
    let refused = finish(
        server,
        jar,
        server.url(&format!(
            "/ui/sso/corp/callback?error=access_denied&error_description=no+thanks&state={state}"
        )),
    );
    assert_eq!(refused.status, 401);
    assert!(
        refused.body.contains("access_denied (no thanks)"),
        "{}",
        refused.body
    );

    // An answer naming another issuer (a mix-up) is refused before any code is used.
    let (jar, state) = started(server);
    let mixed = finish(
        server,
        jar,
        server.url(&format!(
            "/ui/sso/corp/callback?code=x&state={state}&iss=https%3A%2F%2Fevil.example"
        )),
    );
    assert_eq!(mixed.status, 502, "{}", mixed.body);
    assert!(mixed.body.contains("another issuer"));

    // A made-up code is refused by the provider's token endpoint.
    let (jar, state) = started(server);
    let iss = urlencode(issuer);
    let forged = finish(
        server,
        jar,
        server.url(&format!(
            "/ui/sso/corp/callback?code=forged&state={state}&iss={iss}"
        )),
    );
    assert_eq!(forged.status, 502, "{}", forged.body);
    assert!(forged.session.is_none());
}

/// A sign-in started at `corp` by a fresh browser: its cookies and the state.
fn started(server: &Server) -> (Jar, String) {
    let mut jar = Jar::default();
    let start = jar.get(&server.url("/ui/sso/corp/start"));
    (jar, query_param(&location(&start), "state"))
}

fn query_param(url: &str, name: &str) -> String {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .to_owned()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

on_both_backends!(single_sign_on);

/// Chromium signs in through the sign-in page's button and the provider's own form,
/// and lands in the workspace (SQLite; the flow's storage is covered on both above).
#[test]
fn signing_in_with_a_provider_in_a_browser() {
    let inst = Instance::new(Backend::Sqlite);
    inst.user("owner", "owner");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let idp = Provider::start(
        &[format!("{base}/ui/sso/corp/callback")],
        json!({"fay": account("fay@example.com", true, "fay", &["validibot-authors"])}),
    );
    let config = sso_config(&inst, &idp.issuer, free_port());
    let bind = format!("127.0.0.1:{port}");
    let server = inst.serve_with_env(
        &["--bind", &bind],
        &[
            ("VALIDIBOT_SSO_CONFIG", config.to_str().unwrap()),
            ("VALIDIBOT_PUBLIC_URL", &base),
        ],
    );
    let browser = Browser::start();
    browser.goto(&server.url("/ui/w/default/workflows"));
    browser.wait_text("#sso-corp", |t| t.contains("Corp login"));
    browser.screenshot("sso-sign-in");
    browser.click("#sso-corp");
    browser.wait_text("h1", |t| t.contains("Test provider"));
    browser.type_into("#idp-login", "fay");
    browser.type_into("#idp-password", "pw");
    browser.click("#idp-mfa");
    browser.click("#idp-submit");
    // Back at the page first asked for, signed in as the provisioned author.
    browser.wait_text("h1", |t| t.contains("Workflows"));
    assert!(
        browser.url().ends_with("/ui/w/default/workflows"),
        "{}",
        browser.url()
    );
    let header = browser.text("header");
    assert!(header.contains("fay"), "{header}");
    // Settings list the provider she signs in through.
    browser.goto(&server.url("/ui/w/default/settings"));
    let identities = browser.wait_text("#sso-identities", |t| t.contains("corp"));
    assert!(identities.contains("fay@example.com"), "{identities}");
}

/// `validibot config check` names every problem in the providers' file and each
/// provider it cannot reach; `serve` refuses to start with a broken file.
#[test]
fn configuration_problems_are_named() {
    let inst = Instance::new(Backend::Sqlite);
    let broken = inst.data.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[[provider]]\nid = \"Corp\"\nname = \"Corp\"\nissuer = \"http://login.example.com\"\nclient_id = \"c\"\n",
    )
    .unwrap();
    let env = [
        ("VALIDIBOT_SSO_CONFIG", broken.to_str().unwrap()),
        ("VALIDIBOT_PUBLIC_URL", "http://127.0.0.1:1"),
    ];
    let out = inst
        .command(&["config", "check"])
        .envs(env)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("VALIDIBOT_SSO_CONFIG"), "{text}");
    assert!(
        text.contains("id must be 1-40 lower-case letters"),
        "{text}"
    );
    assert!(
        text.contains("must be https (http only on localhost)"),
        "{text}"
    );
    let out = inst
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .envs(env)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("id must be 1-40"));

    // A good file whose provider does not answer.
    let down = inst.data.path().join("down.toml");
    let port = free_port();
    std::fs::write(
        &down,
        format!("[[provider]]\nid = \"down\"\nname = \"Down\"\nissuer = \"http://127.0.0.1:{port}\"\nclient_id = \"c\"\n"),
    )
    .unwrap();
    let out = inst
        .command(&["config", "check"])
        .env("VALIDIBOT_SSO_CONFIG", &down)
        .env("VALIDIBOT_PUBLIC_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("provider \"down\": the provider cannot be reached"),
        "{text}"
    );
    // Without a public URL there are no redirect URIs.
    let out = inst
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("VALIDIBOT_SSO_CONFIG", &down)
        .env_remove("VALIDIBOT_PUBLIC_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs VALIDIBOT_PUBLIC_URL"));
}
