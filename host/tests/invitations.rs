//! Invitations and password resets by mail, against the real binary on SQLite and
//! PostgreSQL and a real SMTP server (`aiosmtpd`, PyPI) whose delivered messages the
//! test reads: an admin invites an address with a role, the mailed single-use link
//! creates an account (or adds a signed-in one), links are voided by a newer
//! invitation, by revocation and by expiry; a reset link mailed to an account's address
//! sets a new password once and ends every session. Who may invite, the answers'
//! schemas, the CLI without SMTP, and a mail server that refuses are covered too.

mod common;

use std::time::Duration;

use common::smtp::Smtp;
use common::*;
use serde_json::{json, Value};

on_both_backends!(invitations_by_mail, password_reset_by_mail);

const PUBLIC: &str = "https://validibot.example.com";
const INVITES: &str = "/api/v1/workspaces/default/invitations";

fn mail_env(smtp: &Smtp) -> Vec<(&'static str, String)> {
    vec![
        ("VALIDIBOT_SMTP_URL", smtp.url()),
        ("VALIDIBOT_PUBLIC_URL", format!("{PUBLIC}/")),
        (
            "VALIDIBOT_MAIL_FROM",
            "Validibot <validibot@example.com>".into(),
        ),
    ]
}

fn serve_mailing(inst: &Instance, smtp: &Smtp) -> Server {
    let env = mail_env(smtp);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    inst.serve_with_env(&[], &env)
}

/// The token of a mailed link (its last path segment).
fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_owned()
}

fn invitations_by_mail(backend: Backend) {
    let inst = Instance::new(backend);
    let admin = inst.user("ada", "admin");
    let author = inst.user("aut", "author");
    let smtp = Smtp::start();
    let srv = serve_mailing(&inst, &smtp);
    let invite = |key: &str, email: &str, role: &str| {
        json_of(
            srv.post(key, INVITES)
                .json(&json!({"email": email, "role": role}))
                .send()
                .unwrap(),
        )
    };
    let anon = reqwest::blocking::Client::new();
    let preview = |token: &str| {
        json_of(
            anon.get(srv.url(&format!("/api/v1/invitations/{token}")))
                .send()
                .unwrap(),
        )
    };
    let signup = |token: &str, username: &str, password: &str| {
        json_of(
            anon.post(srv.url(&format!("/api/v1/invitations/{token}/signup")))
                .json(&json!({"username": username, "password": password}))
                .send()
                .unwrap(),
        )
    };

    // Who: admins invite, up to their own role; an author may not even list.
    assert_eq!(srv.get(&author, INVITES).status(), 403);
    let (status, body) = invite(&author, "x@example.com", "viewer");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    let (status, body) = invite(&admin, "x@example.com", "owner");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    for bad in ["not-an-address", "a@", "Ada <a@example.com>"] {
        let (status, body) = invite(&admin, bad, "viewer");
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("INVALID_EMAIL")),
            "{bad}: {body}"
        );
    }
    assert_eq!(
        smtp.messages().len(),
        0,
        "a refused invitation mailed nobody"
    );

    // The invitation is mailed: from the configured sender, to the address, with a
    // single link on the public URL (never the request's Host).
    let (status, first) = invite(&admin, "Grace@Example.com", "author");
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (first["state"].as_str(), first["role"].as_str()),
        (Some("pending"), Some("author"))
    );
    assert_eq!(first["invited_by"], "ada");
    let mail = smtp.wait_for("Grace@Example.com", 1);
    assert_eq!(
        mail.header("From"),
        Some("Validibot <validibot@example.com>")
    );
    assert!(
        mail.header("Subject").unwrap().contains("Default"),
        "{mail:?}"
    );
    assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
    let link = mail.link("/ui/invitations/");
    assert!(
        link.starts_with(&format!("{PUBLIC}/ui/invitations/vbi_")),
        "{link}"
    );
    assert!(
        mail.body.contains("ada invited you") && mail.body.contains("as author"),
        "{}",
        mail.body
    );
    let old_token = token_of(&link);
    let (status, shown) = preview(&old_token);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["workspace"]["slug"], "default");
    assert_eq!(
        (shown["state"].as_str(), shown["invited_by"].as_str()),
        (Some("pending"), Some("ada"))
    );

    // Inviting the address again (any case) mails a new link and voids the old one.
    let (status, second) = invite(&admin, "grace@example.com", "author");
    assert_eq!(status, 201, "{second}");
    let token = token_of(
        &smtp
            .wait_for("grace@example.com", 2)
            .link("/ui/invitations/"),
    );
    assert_ne!(token, old_token);
    assert_eq!(preview(&old_token).1["state"], "revoked");
    let (status, body) = signup(&old_token, "grace", "a long enough password");
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("INVITATION_NOT_PENDING")),
        "{body}"
    );

    // Sign-up: the username and password are checked, a taken name leaves the
    // invitation pending (the account, membership and use are one change).
    let (status, body) = signup(&token, "bad name!", "a long enough password");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_USERNAME")),
        "{body}"
    );
    let (status, body) = signup(&token, "grace", "short");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("WEAK_PASSWORD")),
        "{body}"
    );
    let (status, body) = signup(&token, "ada", "a long enough password");
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("USERNAME_TAKEN")),
        "{body}"
    );
    assert_eq!(preview(&token).1["state"], "pending");
    let (status, accepted) = signup(&token, "grace", "a long enough password");
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(
        (accepted["username"].as_str(), accepted["role"].as_str()),
        (Some("grace"), Some("author"))
    );
    let (status, body) = signup(&token, "grace2", "a long enough password");
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("INVITATION_NOT_PENDING")),
        "the link works once: {body}"
    );
    assert_eq!(preview(&token).1["state"], "accepted");
    let cookie = srv
        .sign_in("grace", "a long enough password")
        .expect("the new account signs in");
    assert!(srv.has_session(&cookie));
    let (_, members) = json_of(srv.get(&admin, "/api/v1/workspaces/default/members"));
    assert!(members.to_string().contains("grace"), "{members}");

    // An address that already belongs to a member is not invited again.
    let (status, body) = invite(&admin, "GRACE@example.com", "viewer");
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("ALREADY_MEMBER")),
        "{body}"
    );

    // A signed-in account accepts with its key; a higher role it holds stays.
    let (status, _) = invite(&admin, "someone@example.com", "viewer");
    assert_eq!(status, 201);
    let token = token_of(
        &smtp
            .wait_for("someone@example.com", 1)
            .link("/ui/invitations/"),
    );
    let (status, joined) = json_of(
        srv.post(&admin, &format!("/api/v1/invitations/{token}/accept"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{joined}");
    let (_, members) = json_of(srv.get(&admin, "/api/v1/workspaces/default/members"));
    let ada = members["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "ada")
        .cloned();
    assert_eq!(
        ada.map(|m| m["role"].clone()),
        Some(json!("admin")),
        "{members}"
    );

    // Revoking voids the link; expiry does too.
    let (_, revoked) = invite(&admin, "dave@example.com", "executor");
    let token = token_of(
        &smtp
            .wait_for("dave@example.com", 1)
            .link("/ui/invitations/"),
    );
    let one = format!("{INVITES}/{}", revoked["id"].as_str().unwrap());
    assert_eq!(srv.delete(&admin, &one).status(), 204);
    assert_eq!(srv.delete(&admin, &one).status(), 404);
    assert_eq!(preview(&token).1["state"], "revoked");
    assert_eq!(signup(&token, "dave", "a long enough password").0, 410);
    let (_, late) = invite(&admin, "erin@example.com", "viewer");
    let token = token_of(
        &smtp
            .wait_for("erin@example.com", 1)
            .link("/ui/invitations/"),
    );
    with_db(&inst, |pool| async move {
        sqlx::query("UPDATE invitations SET expires_at = 1 WHERE email = 'erin@example.com'")
            .execute(&pool)
            .await
            .unwrap();
    });
    assert_eq!(preview(&token).1["state"], "expired");
    assert_eq!(signup(&token, "erin", "a long enough password").0, 410);
    // Resending an expired invitation mails a fresh link that works.
    let (status, _) = json_of(
        srv.post(
            &admin,
            &format!("{INVITES}/{}/resend", late["id"].as_str().unwrap()),
        )
        .send()
        .unwrap(),
    );
    assert_eq!(status, 201);
    let token = token_of(
        &smtp
            .wait_for("erin@example.com", 2)
            .link("/ui/invitations/"),
    );
    assert_eq!(signup(&token, "erin", "a long enough password").0, 201);
    assert_eq!(preview("vbi_made-up").0, 404);

    // The answers match the documented schemas.
    let (_, list) = json_of(srv.get(&admin, INVITES));
    assert!(list["results"].as_array().unwrap().len() >= 6, "{list}");
    let (_, doc) = json_of(anon.get(srv.url("/api/v1/openapi.json")).send().unwrap());
    check_schemas(
        &doc,
        &[
            ("Invitation", &first),
            ("InvitationList", &list),
            ("InvitationPreview", &shown),
            ("Accepted", &accepted),
            ("Accepted", &joined),
        ],
    );

    // Without SMTP: the API says so; the operator's CLI prints a link that works.
    drop(srv);
    let plain = inst.serve(&[]);
    let (status, body) = json_of(
        plain
            .post(&admin, INVITES)
            .json(&json!({"email": "f@example.com", "role": "viewer"}))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("MAIL_NOT_CONFIGURED")),
        "{body}"
    );
    let link = inst.cli_with_env(
        &[
            "admin",
            "invite",
            "--email",
            "frank@example.com",
            "--role",
            "executor",
        ],
        &[("VALIDIBOT_PUBLIC_URL", PUBLIC)],
    );
    let link = link.trim();
    assert!(
        link.starts_with(&format!("{PUBLIC}/ui/invitations/vbi_")),
        "{link}"
    );
    let (status, body) = json_of(
        anon.post(plain.url(&format!("/api/v1/invitations/{}/signup", token_of(link))))
            .json(&json!({"username": "frank", "password": "a long enough password"}))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["role"].as_str()),
        (201, Some("executor")),
        "{body}"
    );
    assert!(inst
        .cli(&["admin", "invitations"])
        .contains("frank@example.com"));

    // A mail server that refuses: nobody is invited (no link exists nobody received).
    drop(plain);
    let dead = inst.serve_with_env(
        &[],
        &[
            (
                "VALIDIBOT_SMTP_URL",
                &format!("smtp://127.0.0.1:{}", free_port()),
            ),
            ("VALIDIBOT_PUBLIC_URL", PUBLIC),
            ("VALIDIBOT_SMTP_TIMEOUT_SECONDS", "3"),
        ],
    );
    let (status, body) = json_of(
        dead.post(&admin, INVITES)
            .json(&json!({"email": "gone@example.com", "role": "viewer"}))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("MAIL_FAILED")),
        "{body}"
    );
    let (_, list) = json_of(dead.get(&admin, INVITES));
    let gone: Vec<&Value> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["email"] == "gone@example.com")
        .collect();
    assert!(gone.iter().all(|i| i["state"] == "revoked"), "{list}");
    drop(dead);

    // SMTP without a public URL is refused at start (links never come from Host).
    let out = inst
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("VALIDIBOT_SMTP_URL", smtp.url())
        .env_remove("VALIDIBOT_PUBLIC_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("VALIDIBOT_PUBLIC_URL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn password_reset_by_mail(backend: Backend) {
    let inst = Instance::new(backend);
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "pat",
        "--email",
        "pat@example.com",
        "--role",
        "author",
    ]);
    inst.cli(&[
        "admin",
        "create-user",
        "--username",
        "noaddr",
        "--role",
        "viewer",
    ]);
    inst.set_password("pat", "the first password");
    let smtp = Smtp::start();
    let srv = serve_mailing(&inst, &smtp);
    let anon = reqwest::blocking::Client::new();
    let ask = |account: &str| {
        let resp = anon
            .post(srv.url("/api/v1/password-reset"))
            .json(&json!({"account": account}))
            .send()
            .unwrap();
        let retry = resp.headers().get("retry-after").is_some();
        let (status, body) = json_of(resp);
        (status, body, retry)
    };
    let reset = |token: &str, password: &str| {
        json_of(
            anon.post(srv.url(&format!("/api/v1/password-reset/{token}")))
                .json(&json!({"new_password": password}))
                .send()
                .unwrap(),
        )
    };
    let earlier = srv.sign_in("pat", "the first password").unwrap();

    // Asked by address (any case) or by username: the same answer as for nobody.
    let (status, answer, _) = ask("PAT@example.com");
    assert_eq!(status, 202, "{answer}");
    let first = smtp.wait_for("pat@example.com", 1);
    assert_eq!(
        first.header("Subject"),
        Some("Reset your Validibot password")
    );
    let first_link = first.link("/ui/password-reset/");
    assert!(
        first_link.starts_with(&format!("{PUBLIC}/ui/password-reset/vbr_")),
        "{first_link}"
    );
    for nobody in ["nobody@example.com", "noaddr", "someone"] {
        let (status, body, _) = ask(nobody);
        assert_eq!((status, &body), (202, &answer), "{nobody}");
    }
    assert_eq!(ask("pat").0, 202);
    let second = smtp
        .wait_for("pat@example.com", 2)
        .link("/ui/password-reset/");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.messages().len(), 2, "only pat's address got mail");

    // The link sets a password once; the weak one is refused without using it up.
    let (status, body) = reset(&token_of(&second), "short");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("WEAK_PASSWORD")),
        "{body}"
    );
    let (status, done) = reset(&token_of(&second), "the second password");
    assert_eq!(
        (status, done["username"].as_str()),
        (200, Some("pat")),
        "{done}"
    );
    let (status, body) = reset(&token_of(&second), "a third password here");
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("RESET_LINK_NOT_GOOD")),
        "{body}"
    );
    // The older link died with it, every session ended, and only the new password works.
    assert_eq!(
        reset(&token_of(&first_link), "a third password here").0,
        410
    );
    assert!(!srv.has_session(&earlier), "a session survived the reset");
    assert_eq!(srv.sign_in("pat", "the first password"), Err(401));
    assert!(srv.sign_in("pat", "the second password").is_ok());
    assert_eq!(reset("vbr_made-up", "whatever password").0, 410);

    // Requests for one account are throttled (a mailbox cannot be flooded).
    let throttled = (0..8)
        .map(|_| ask("pat@example.com"))
        .find(|(s, _, _)| *s == 429);
    let (_, body, retry) = throttled.expect("a burst of reset requests was throttled");
    assert_eq!(body["code"], "RATE_LIMITED");
    assert!(retry, "429 carries Retry-After");

    let (_, doc) = json_of(anon.get(srv.url("/api/v1/openapi.json")).send().unwrap());
    check_schemas(&doc, &[("Detail", &answer), ("PasswordResetDone", &done)]);

    // `config check` talks to the SMTP server, and never shows its password.
    let check = |url: &str| {
        let out = inst
            .command(&["config", "check"])
            .env("VALIDIBOT_SMTP_URL", url)
            .env("VALIDIBOT_PUBLIC_URL", PUBLIC)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("hunter2"), "{text}");
        (out.status.success(), text)
    };
    let (ok, text) = check(&smtp.url());
    assert!(ok, "{text}");
    // aiosmtpd offers no AUTH: credentials it cannot take are a problem too.
    let (ok, text) = check(&format!("smtp://mailer:hunter2@127.0.0.1:{}", smtp.port));
    assert!(!ok && text.contains("authentication"), "{text}");
    let (ok, text) = check(&format!("smtp://mailer:hunter2@127.0.0.1:{}", free_port()));
    assert!(!ok && text.contains("✗ VALIDIBOT_SMTP_URL"), "{text}");
}
