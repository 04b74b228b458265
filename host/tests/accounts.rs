//! A user's own password, against the real binary on SQLite and PostgreSQL: changed
//! through the API with the current password, which a wrong guess cannot get past
//! (throttled like sign-ins); the old password stops working, the new one signs in, and
//! every other session ends.

mod common;

use common::*;
use serde_json::json;

on_both_backends!(password_change);

const FIRST: &str = "correct horse battery staple";
const SECOND: &str = "a brand new passphrase";

fn sign_in(srv: &Server, password: &str) -> Result<String, u16> {
    srv.sign_in("pat", password)
}

fn signed_in(srv: &Server, cookie: &str) -> bool {
    srv.has_session(cookie)
}

fn password_change(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("pat", "executor");
    inst.set_password("pat", FIRST);
    let srv = inst.serve(&[]);
    let earlier = sign_in(&srv, FIRST).expect("the first password signs in");
    assert!(signed_in(&srv, &earlier));
    let change = |current: &str, new: &str| {
        json_of(
            srv.post(&key, "/api/v1/account/password")
                .json(&json!({"current_password": current, "new_password": new}))
                .send()
                .unwrap(),
        )
    };

    // Refusals: too short, the same, unknown fields, a wrong current password.
    for (current, new, code) in [
        (FIRST, "short", "WEAK_PASSWORD"),
        (FIRST, FIRST, "WEAK_PASSWORD"),
        ("not the password", SECOND, "WRONG_PASSWORD"),
    ] {
        let (status, body) = change(current, new);
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(status, if code == "WRONG_PASSWORD" { 403 } else { 400 });
    }
    let (status, body) = json_of(
        srv.post(&key, "/api/v1/account/password")
            .json(&json!({"new_password": SECOND}))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_REQUEST"))
    );
    assert!(signed_in(&srv, &earlier), "a refused change ends nothing");

    // The change: the old password stops working, the new one signs in, the earlier
    // session is over.
    let (status, body) = change(FIRST, SECOND);
    assert_eq!(status, 204, "{body}");
    assert!(
        !signed_in(&srv, &earlier),
        "the earlier session survived a password change"
    );
    assert_eq!(sign_in(&srv, FIRST), Err(401));
    let now = sign_in(&srv, SECOND).expect("the new password signs in");
    assert!(signed_in(&srv, &now));

    // Guessing the current password is throttled like signing in: after the free
    // failures, 429 with Retry-After before any password is checked.
    let mut refused = 0;
    let throttled = loop {
        let resp = srv
            .post(&key, "/api/v1/account/password")
            .json(&json!({"current_password": "guess", "new_password": "yet another passphrase"}))
            .send()
            .unwrap();
        if resp.status() == 429 {
            break resp;
        }
        assert_eq!(resp.status(), 403);
        refused += 1;
        assert!(
            refused <= 12,
            "no throttling after {refused} wrong passwords"
        );
    };
    // Five free failures (the account's), then each failure blocks for a doubling time.
    assert!(
        refused >= 6,
        "throttled after only {refused} wrong passwords"
    );
    assert!(throttled.headers().contains_key("retry-after"));
    let (_, body) = json_of(throttled);
    assert_eq!(body["code"], "RATE_LIMITED", "{body}");
}
