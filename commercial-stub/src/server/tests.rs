//! The license server's answers, read back the way the Pro extension reads them.

use ed25519_dalek::SigningKey;
use serde_json::Value;
use validibot_types::license_server::ActivationRequest;

use super::Server;
use crate::keys::test_keys;
use crate::license::lease::{self, LeaseStatus};
use crate::license::{issue, LicenseState, Online, Payload, Status, Usage};

const DAY: i64 = 86_400;
const NOW: i64 = 1_790_000_000;
const TOKEN: &str = "vendor-admin-token-0123456789";

fn license(instances: u64) -> Payload {
    let t = |d: i64| time::OffsetDateTime::from_unix_timestamp(NOW + d * DAY).unwrap();
    Payload {
        license_id: "lic-online".into(),
        serial: 1,
        customer: "Acme".into(),
        edition: "pro".into(),
        features: vec!["workspaces.multiple".into()],
        limits: Default::default(),
        issued_at: t(-10),
        not_before: t(-10),
        expires_at: t(300),
        grace_days: 0,
        online: Some(Online {
            server: "http://license.test".into(),
            instances,
        }),
    }
}

struct Fixture {
    server: Server,
    text: String,
    _dir: tempfile::TempDir,
}

fn fixture(instances: u64) -> Fixture {
    let key: SigningKey = test_keys::trusted("server-key");
    let text = issue(&license(instances), "server-key", &key);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(
        "server-key".into(),
        key,
        TOKEN.into(),
        dir.path().join("ledger.json"),
    )
    .unwrap();
    Fixture {
        server,
        text,
        _dir: dir,
    }
}

impl Fixture {
    fn activate(&mut self, instance: &str, now: i64) -> (u16, String) {
        let body = serde_json::to_vec(&ActivationRequest {
            license: self.text.clone(),
            instance_id: instance.into(),
            instance_name: "test".into(),
            seats_in_use: 1,
            workspaces_in_use: 1,
            version: "t".into(),
        })
        .unwrap();
        let a = self
            .server
            .handle("POST", "/v1/activations", None, &body, now);
        (a.status, a.body)
    }

    fn status(&self, lease: Option<&str>, instance: &str, now: i64) -> Status {
        let payload = crate::license::verify(&self.text, &Default::default(), now).unwrap();
        lease::status_at(&payload, now, Usage::default(), lease, Some(instance))
    }
}

#[test]
fn activation_then_offline_for_six_and_eight_days() {
    let mut f = fixture(1);
    assert_eq!(
        f.status(None, "i1", NOW).state,
        LicenseState::Invalid,
        "not activated yet"
    );
    let (status, lease) = f.activate("i1", NOW);
    assert_eq!(status, 200, "{lease}");
    let on = f.status(Some(&lease), "i1", NOW);
    assert_eq!(on.state, LicenseState::Valid, "{}", on.message);
    assert_eq!(on.features, ["workspaces.multiple"]);
    let online = on.online.unwrap();
    assert_eq!(
        (online.checked_at, online.next_check_at),
        (Some(NOW), NOW + DAY)
    );
    assert_eq!(online.offline_until, Some(NOW + 7 * DAY));
    assert_eq!(
        f.status(Some(&lease), "i1", NOW + 6 * DAY).state,
        LicenseState::Valid
    );
    let off = f.status(Some(&lease), "i1", NOW + 8 * DAY);
    assert_eq!(off.state, LicenseState::Expired, "{}", off.message);
    assert!(off.features.is_empty());
    assert!(
        off.message.contains("has not answered since"),
        "{}",
        off.message
    );
    // The lease is this instance's: another instance cannot borrow it.
    assert_eq!(
        f.status(Some(&lease), "i2", NOW).state,
        LicenseState::Invalid
    );
}

#[test]
fn seats_are_instances_and_revocation_is_signed() {
    let mut f = fixture(1);
    assert_eq!(f.activate("i1", NOW).0, 200);
    let (status, body) = f.activate("i2", NOW);
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["code"],
        "INSTANCES_EXHAUSTED"
    );

    let denied = f.server.handle(
        "POST",
        "/v1/admin/licenses/lic-online/revoke",
        Some("wrong"),
        b"",
        NOW,
    );
    assert_eq!(denied.status, 401);
    let revoked = f.server.handle(
        "POST",
        "/v1/admin/licenses/lic-online/revoke",
        Some(TOKEN),
        b"",
        NOW + 1,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let (status, lease) = f.activate("i1", NOW + 2);
    assert_eq!(status, 200);
    let payload = crate::license::verify(&f.text, &Default::default(), NOW).unwrap();
    assert_eq!(
        lease::verify(&lease, &payload, "i1").unwrap().status,
        LeaseStatus::Revoked
    );
    let off = f.status(Some(&lease), "i1", NOW + 2);
    assert_eq!(off.state, LicenseState::Invalid);
    assert!(off.message.contains("revoked"), "{}", off.message);
    assert!(off.online.unwrap().revoked);
}

#[test]
fn a_tampered_lease_turns_pro_off() {
    let mut f = fixture(2);
    let (_, lease) = f.activate("i1", NOW);
    let mut doc: Value = serde_json::from_str(&lease).unwrap();
    // Move checked_at forward a year inside the signed payload.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut inner: Value =
        serde_json::from_slice(&b64.decode(doc["payload"].as_str().unwrap()).unwrap()).unwrap();
    inner["checked_at"] = (NOW + 365 * DAY).into();
    doc["payload"] = b64.encode(inner.to_string()).into();
    let off = f.status(Some(&doc.to_string()), "i1", NOW + 8 * DAY);
    assert_eq!(off.state, LicenseState::Invalid);
    assert!(off.message.contains("does not verify"), "{}", off.message);
}

#[test]
fn release_frees_the_slot_and_bad_requests_get_codes() {
    let mut f = fixture(1);
    f.activate("i1", NOW);
    let body = serde_json::json!({"license": f.text, "instance_id": "i1"}).to_string();
    assert_eq!(
        f.server
            .handle(
                "POST",
                "/v1/activations/release",
                None,
                body.as_bytes(),
                NOW
            )
            .status,
        200
    );
    assert_eq!(f.activate("i2", NOW).0, 200);
    let junk = f.server.handle("POST", "/v1/activations", None, b"{", NOW);
    assert_eq!(
        (junk.status, junk.body.contains("BAD_REQUEST")),
        (400, true)
    );
    let body = serde_json::json!({"license": "nope", "instance_id": "i1"}).to_string();
    let bad = f
        .server
        .handle("POST", "/v1/activations", None, body.as_bytes(), NOW);
    assert_eq!(
        (bad.status, bad.body.contains("LICENSE_INVALID")),
        (422, true)
    );
    let listed = f.server.handle(
        "GET",
        "/v1/admin/licenses/lic-online",
        Some(TOKEN),
        b"",
        NOW,
    );
    let listed: Value = serde_json::from_str(&listed.body).unwrap();
    assert!(
        listed["record"]["activations"]["i2"].is_object(),
        "{listed}"
    );
}
