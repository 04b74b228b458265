//! License verification and states, with keys generated here.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::*;
use crate::keys::test_keys;

const DAY: i64 = 86_400;
const NOW: i64 = 1_790_000_000;

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap()
}

fn payload(expires_in_days: i64) -> Payload {
    Payload {
        license_id: "lic-1".into(),
        serial: 5,
        customer: "Acme Energy".into(),
        edition: "pro".into(),
        features: vec!["workspaces.multiple".into(), "validators.advanced".into()],
        limits: Limits {
            workspaces: Some(3),
            seats: Some(10),
        },
        issued_at: at(NOW - 400 * DAY),
        not_before: at(NOW - 400 * DAY),
        expires_at: at(NOW + expires_in_days * DAY),
        grace_days: 14,
        online: None,
    }
}

fn state_of(p: &Payload, usage: Usage) -> (LicenseState, Vec<String>) {
    let key = test_keys::trusted("state-key");
    let text = issue(p, "state-key", &key);
    let verified = verify(&text, &BTreeMap::new(), NOW).unwrap();
    let status = Status::of(&verified, NOW, usage);
    (status.state, status.features)
}

#[test]
fn every_state_at_a_moment() {
    let small = Usage {
        workspaces: 2,
        seats: 4,
    };
    let (s, f) = state_of(&payload(200), small);
    assert_eq!(s, LicenseState::Valid);
    assert_eq!(f.len(), 2);
    assert_eq!(state_of(&payload(20), small).0, LicenseState::ExpiringSoon);
    let (s, f) = state_of(&payload(-3), small);
    assert_eq!(s, LicenseState::Grace);
    assert_eq!(f.len(), 2, "features stay on in grace");
    let (s, f) = state_of(&payload(-15), small);
    assert_eq!(s, LicenseState::Expired);
    assert!(f.is_empty(), "features off once expired");
    let big = Usage {
        workspaces: 4,
        seats: 4,
    };
    let (s, f) = state_of(&payload(200), big);
    assert_eq!(s, LicenseState::OverLimit);
    assert_eq!(f.len(), 2, "over the limit blocks growth, not use");
    let mut early = payload(200);
    early.not_before = at(NOW + DAY);
    assert_eq!(state_of(&early, small).0, LicenseState::Invalid);
}

#[test]
fn refusals_name_their_reason() {
    let key = test_keys::trusted("k-refuse");
    let p = payload(200);
    let good = issue(&p, "k-refuse", &key);
    let none = BTreeMap::new();
    assert!(verify(&good, &none, NOW).is_ok());

    // Signed by a key this build does not trust.
    let stranger = crate::keys::KeyFile::generate("x")
        .unwrap()
        .signing_key()
        .unwrap();
    let unknown = issue(&p, "not-trusted", &stranger);
    assert!(matches!(
        verify(&unknown, &none, NOW),
        Err(VerifyError::UnknownKey(_))
    ));
    // Trusted kid, wrong key: the signature fails.
    let forged = issue(&p, "k-refuse", &stranger);
    assert_eq!(verify(&forged, &none, NOW), Err(VerifyError::BadSignature));

    let seen = BTreeMap::from([("lic-1".to_string(), 6u64)]);
    assert_eq!(
        verify(&good, &seen, NOW),
        Err(VerifyError::Superseded {
            serial: 5,
            highest: 6
        })
    );
    let same = BTreeMap::from([("lic-1".to_string(), 5u64)]);
    assert!(
        verify(&good, &same, NOW).is_ok(),
        "reinstalling the same serial is fine"
    );

    let mut future = payload(200);
    future.issued_at = at(NOW + 2 * DAY);
    let future = issue(&future, "k-refuse", &key);
    assert_eq!(
        verify(&future, &none, NOW),
        Err(VerifyError::IssuedInFuture)
    );
    let mut skewed = payload(200);
    skewed.issued_at = at(NOW + 3600);
    assert!(
        verify(&issue(&skewed, "k-refuse", &key), &none, NOW).is_ok(),
        "an hour of skew is tolerated"
    );
}

#[test]
fn envelope_fields_are_exact() {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let key = test_keys::trusted("k-env");
    let good = issue(&payload(200), "k-env", &key);
    let env: serde_json::Value = serde_json::from_slice(&armor::decode(&good).unwrap()).unwrap();
    let rewrap = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut e = env.clone();
        f(&mut e);
        armor::encode(&serde_json::to_vec(&e).unwrap())
    };
    let none = BTreeMap::new();
    for alg in ["Ed25519", "ed25519ph", "none"] {
        let t = rewrap(&|e| e["alg"] = alg.into());
        assert!(
            matches!(verify(&t, &none, NOW), Err(VerifyError::Format(_))),
            "{alg}"
        );
    }
    let t = rewrap(&|e| e["v"] = 2.into());
    assert!(matches!(
        verify(&t, &none, NOW),
        Err(VerifyError::Format(_))
    ));
    let t = rewrap(&|e| e["extra"] = 1.into());
    assert!(matches!(
        verify(&t, &none, NOW),
        Err(VerifyError::Format(_))
    ));
    // A payload swapped in from elsewhere does not carry the signature.
    let other = serde_json::to_vec(&payload(900)).unwrap();
    let t = rewrap(&|e| e["payload"] = STANDARD.encode(&other).into());
    assert_eq!(verify(&t, &none, NOW), Err(VerifyError::BadSignature));
}

/// Flipping any bit pattern of any byte of a signed file makes it fail.
#[test]
fn any_altered_byte_fails_verification() {
    let key = test_keys::trusted("k-flip");
    let good = issue(&payload(200), "k-flip", &key).into_bytes();
    let none = BTreeMap::new();
    let mut checked = 0;
    for i in 0..good.len() {
        for mask in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            let text = String::from_utf8_lossy(&bad);
            assert!(
                verify(&text, &none, NOW).is_err(),
                "byte {i} ^ {mask:#04x} still verifies"
            );
            checked += 1;
        }
    }
    assert!(checked > 3000, "{checked}");
}
