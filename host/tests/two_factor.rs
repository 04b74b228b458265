//! Two-factor authentication against the real binary on SQLite and PostgreSQL: a user
//! turns TOTP on (password, then a code from the new secret), password sign-ins then
//! ask for a code on a second page; codes are good once, recovery codes are good once,
//! a challenge dies after five wrong codes; an owner requires a second factor for a
//! workspace and members without one are refused there (sessions, not API keys) until
//! they set it up; an operator resets a lost one. Codes are computed by Python's
//! standard library (RFC 6238 by hand), not by the server's TOTP crate.

mod common;

use common::*;
use serde_json::{json, Value};

on_both_backends!(two_factor_sign_in, workspaces_that_require_two_factor);

const PASSWORD: &str = "correct horse battery";

/// A signed-in browser: its session cookie and CSRF token (from a page's meta tag).
struct Session {
    cookie: String,
    csrf: String,
}

impl Session {
    fn open(srv: &Server, cookie: String) -> Session {
        let page = no_redirects()
            .get(srv.url("/ui/account/two-factor"))
            .header("cookie", &cookie)
            .send()
            .unwrap()
            .text()
            .unwrap();
        let csrf = page
            .split(r#"name="csrf-token" content=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no CSRF token in {page}"))
            .to_owned();
        Session { cookie, csrf }
    }

    fn call(&self, srv: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = no_redirects()
            .request(method.parse().unwrap(), srv.url(path))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        json_of(req.send().unwrap())
    }

    fn page_status(&self, srv: &Server, path: &str) -> (u16, String) {
        let resp = no_redirects()
            .get(srv.url(path))
            .header("cookie", &self.cookie)
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.text().unwrap())
    }
}

/// The first step of a sign-in: `Ok(challenge cookie)` when a code is asked for next,
/// `Err(session cookie)` when the password alone signed in.
fn password_step(srv: &Server, user: &str) -> Result<String, String> {
    let resp = no_redirects()
        .post(srv.url("/ui/login"))
        .form(&[("username", user), ("password", PASSWORD)])
        .send()
        .unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .expect("a cookie");
    if resp.status().is_redirection() {
        return Err(cookie);
    }
    assert_eq!(resp.status(), 200);
    let page = resp.text().unwrap();
    assert!(page.contains(r#"action="/ui/login/code""#), "{page}");
    assert!(cookie.starts_with("validibot_mfa="), "{cookie}");
    Ok(cookie)
}

/// The second step: the session cookie, or the status and page when refused.
fn code_step(srv: &Server, challenge: &str, code: &str) -> Result<String, (u16, String)> {
    let resp = no_redirects()
        .post(srv.url("/ui/login/code"))
        .header("cookie", challenge)
        .form(&[("code", code), ("next", "/ui/w/default")])
        .send()
        .unwrap();
    let status = resp.status();
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("validibot_session="));
    match session {
        Some(c) if status.is_redirection() => {
            assert_eq!(resp.headers()["location"], "/ui/w/default");
            Ok(c)
        }
        _ => Err((status.as_u16(), resp.text().unwrap())),
    }
}

/// Turns a signed-in user's second factor on through the API; (secret, recovery codes).
fn enrol(srv: &Server, s: &Session) -> (String, Vec<String>, Value) {
    let (status, setup) = s.call(
        srv,
        "POST",
        "/api/v1/account/two-factor",
        Some(json!({"password": PASSWORD})),
    );
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let (status, done) = s.call(
        srv,
        "POST",
        "/api/v1/account/two-factor/confirm",
        Some(json!({"code": totp(&secret, step_now())})),
    );
    assert_eq!(status, 200, "{done}");
    let codes = done["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes, setup)
}

/// A 6-digit code that is none of the codes good around now.
fn wrong_code(secret: &str) -> String {
    let now = step_now();
    let good: Vec<String> = (now - 2..=now + 2).map(|s| totp(secret, s)).collect();
    (0..)
        .map(|n| format!("{:06}", 123_456 + n))
        .find(|c| !good.contains(c))
        .unwrap()
}

fn two_factor_sign_in(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("olga", "owner");
    inst.set_password("olga", PASSWORD);
    let srv = inst.serve(&[]);
    let anon = reqwest::blocking::Client::new();

    // Off: the password alone signs in.
    let cookie = password_step(&srv, "olga").expect_err("no second factor yet");
    let s = Session::open(&srv, cookie);
    let (_, off) = s.call(&srv, "GET", "/api/v1/account/two-factor", None);
    assert_eq!(off, json!({"enabled": false, "recovery_codes_left": 0}));

    // Setting up asks for the password; nothing changes until a code confirms it.
    let (status, e) = s.call(
        &srv,
        "POST",
        "/api/v1/account/two-factor",
        Some(json!({"password": "not the password"})),
    );
    assert_eq!((status, e["code"].as_str()), (403, Some("WRONG_PASSWORD")));
    let (status, setup) = s.call(
        &srv,
        "POST",
        "/api/v1/account/two-factor",
        Some(json!({"password": PASSWORD})),
    );
    assert_eq!(status, 200, "{setup}");
    let pending = setup["secret"].as_str().unwrap();
    assert!(password_step(&srv, "olga").is_err(), "pending is not on");
    let (status, e) = s.call(
        &srv,
        "POST",
        "/api/v1/account/two-factor/confirm",
        Some(json!({"code": wrong_code(pending)})),
    );
    assert_eq!((status, e["code"].as_str()), (403, Some("WRONG_CODE")));
    // Starting again replaces the pending secret: the enrolment that counts is this one.
    let (secret, recovery, setup) = enrol(&srv, &s);
    assert_ne!(secret, pending);
    assert_eq!(recovery.len(), 10);
    assert!(
        setup["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Validibot:olga?"),
        "{setup}"
    );
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    let (_, on) = s.call(&srv, "GET", "/api/v1/account/two-factor", None);
    assert_eq!(on, json!({"enabled": true, "recovery_codes_left": 10}));
    let (status, e) = s.call(
        &srv,
        "POST",
        "/api/v1/account/two-factor",
        Some(json!({"password": PASSWORD})),
    );
    assert_eq!(
        (status, e["code"].as_str()),
        (409, Some("MFA_ALREADY_ENABLED"))
    );

    // On: a right password alone is no session; the code that confirmed is used up.
    let confirmed_with = totp(&secret, step_now());
    let challenge = password_step(&srv, "olga").expect("a code is asked for");
    let (status, page) = code_step(&srv, &challenge, &confirmed_with).unwrap_err();
    assert_eq!(status, 401);
    assert!(page.contains("Wrong or already used code"), "{page}");
    let next = totp(&secret, step_now() + 1);
    let session = code_step(&srv, &challenge, &next).expect("the next code signs in");
    assert!(srv.has_session(&session));
    // A challenge is good once, and the code too.
    assert_eq!(code_step(&srv, &challenge, &next).unwrap_err().0, 401);
    let challenge = password_step(&srv, "olga").unwrap();
    assert_eq!(code_step(&srv, &challenge, &next).unwrap_err().0, 401);
    // A recovery code, as typed from paper, signs in once.
    let typed = recovery[0].to_uppercase().replace('-', " ");
    assert!(code_step(&srv, &challenge, &typed).is_ok());
    let challenge = password_step(&srv, "olga").unwrap();
    assert_eq!(
        code_step(&srv, &challenge, &recovery[0]).unwrap_err().0,
        401
    );
    // Five wrong codes end the challenge: even a right one is then too late.
    for _ in 0..4 {
        let wrong = wrong_code(&secret);
        assert_eq!(code_step(&srv, &challenge, &wrong).unwrap_err().0, 401);
    }
    let (status, page) = code_step(&srv, &challenge, &recovery[1]).unwrap_err();
    assert_eq!(status, 401);
    assert!(page.contains("That sign-in expired"), "{page}");
    // No challenge cookie at all: back to the password.
    let resp = no_redirects()
        .post(srv.url("/ui/login/code"))
        .form(&[("code", recovery[1].as_str())])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);

    // New recovery codes need a code; the old ones stop working.
    let s = Session::open(
        &srv,
        code_step(&srv, &password_step(&srv, "olga").unwrap(), &recovery[1]).unwrap(),
    );
    let (status, fresh) = s.call(
        &srv,
        "POST",
        "/api/v1/account/two-factor/recovery-codes",
        Some(json!({"code": recovery[2]})),
    );
    assert_eq!(status, 200, "{fresh}");
    let fresh: Vec<String> = serde_json::from_value(fresh["recovery_codes"].clone()).unwrap();
    let challenge = password_step(&srv, "olga").unwrap();
    assert_eq!(
        code_step(&srv, &challenge, &recovery[3]).unwrap_err().0,
        401
    );
    assert!(code_step(&srv, &challenge, &fresh[0]).is_ok());

    // The answers match the documented schemas.
    let (_, status) = s.call(&srv, "GET", "/api/v1/account/two-factor", None);
    let (_, doc) = json_of(anon.get(srv.url("/api/v1/openapi.json")).send().unwrap());
    check_schemas(
        &doc,
        &[
            ("TwoFactorStatus", &status),
            ("TwoFactorSetup", &setup),
            ("RecoveryCodes", &json!({"recovery_codes": fresh})),
        ],
    );

    // Turning it off asks for the password and a code; then the password alone works.
    let (status, e) = s.call(
        &srv,
        "POST",
        "/api/v1/account/two-factor/disable",
        Some(json!({"password": PASSWORD, "code": wrong_code(&secret)})),
    );
    assert_eq!((status, e["code"].as_str()), (403, Some("WRONG_CODE")));
    let (status, _) = s.call(
        &srv,
        "POST",
        "/api/v1/account/two-factor/disable",
        Some(json!({"password": PASSWORD, "code": fresh[1]})),
    );
    assert_eq!(status, 204);
    assert!(password_step(&srv, "olga").is_err());
    // An API key can read the state too (no session needed to ask).
    let (_, off) = json_of(srv.get(&key, "/api/v1/account/two-factor"));
    assert_eq!(off["enabled"], false);
}

fn workspaces_that_require_two_factor(backend: Backend) {
    let inst = Instance::new(backend);
    let olga = inst.user("olga", "owner");
    let oscar = inst.user("oscar", "owner");
    let max = inst.user("max", "author");
    for u in ["olga", "max"] {
        inst.set_password(u, PASSWORD);
    }
    let srv = inst.serve(&[]);
    let require = |key: &str, on: bool| {
        json_of(
            srv.client
                .patch(srv.url("/api/v1/workspaces/default"))
                .bearer_auth(key)
                .json(&json!({"require_mfa": on}))
                .send()
                .unwrap(),
        )
    };
    // Only owners, and only one whose own second factor is on.
    let (status, e) = require(&max, true);
    assert_eq!(
        (status, e["code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let (status, e) = require(&oscar, true);
    assert_eq!((status, e["code"].as_str()), (409, Some("MFA_NOT_ENABLED")));
    let olga_session = Session::open(&srv, password_step(&srv, "olga").unwrap_err());
    enrol(&srv, &olga_session);
    let (status, ws) = require(&olga, true);
    assert_eq!(status, 200, "{ws}");
    assert_eq!(ws["require_mfa"], true);

    // Max signs in with the password alone: the workspace refuses the session, pages
    // and API calls alike, and points to the set-up page; his API key still works.
    let max_session = Session::open(&srv, password_step(&srv, "max").unwrap_err());
    let (status, page) = max_session.page_status(&srv, "/ui/w/default");
    assert_eq!(status, 403);
    assert!(
        page.contains("MFA_REQUIRED") && page.contains("/ui/account/two-factor"),
        "{page}"
    );
    let (status, e) = max_session.call(&srv, "GET", "/api/v1/workspaces/default/workflows", None);
    assert_eq!((status, e["code"].as_str()), (403, Some("MFA_REQUIRED")));
    assert_eq!(
        srv.get(&max, "/api/v1/workspaces/default/workflows")
            .status(),
        200
    );
    let (status, page) = max_session.page_status(&srv, "/ui/account/two-factor");
    assert_eq!(status, 200);
    assert!(page.contains("Required by Default"), "{page}");
    // Once he has set it up, the same session gets in.
    enrol(&srv, &max_session);
    assert_eq!(max_session.page_status(&srv, "/ui/w/default").0, 200);
    let (_, members) = json_of(srv.get(&olga, "/api/v1/workspaces/default/members"));
    let mfa_of = |name: &str| {
        members["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["username"] == name)
            .unwrap()["mfa"]
            .clone()
    };
    assert_eq!(
        (mfa_of("olga"), mfa_of("max"), mfa_of("oscar")),
        (json!(true), json!(true), json!(false))
    );
    let (_, list) = json_of(srv.get(&olga, "/api/v1/workspaces"));
    assert_eq!(list["results"][0]["require_mfa"], true);
    let (_, doc) = json_of(
        reqwest::blocking::Client::new()
            .get(srv.url("/api/v1/openapi.json"))
            .send()
            .unwrap(),
    );
    check_schemas(
        &doc,
        &[
            ("Workspace", &ws),
            ("WorkspaceList", &list),
            ("MemberList", &members),
        ],
    );

    // Max lost his phone and his codes: an operator turns his second factor off, and the
    // workspace refuses him again until he sets up a new one.
    let out = inst.cli(&["admin", "reset-two-factor", "--username", "max"]);
    assert!(out.contains("turned off for max"), "{out}");
    let session = password_step(&srv, "max").expect_err("the password alone again");
    assert_eq!(
        Session::open(&srv, session)
            .page_status(&srv, "/ui/w/default")
            .0,
        403
    );

    // Lifting the requirement lets sessions without a second factor in again.
    let (status, ws) = require(&olga, false);
    assert_eq!((status, ws["require_mfa"].clone()), (200, json!(false)));
    assert_eq!(max_session.page_status(&srv, "/ui/w/default").0, 200);
}
