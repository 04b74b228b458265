//! The signed envelope `{"v":1,"alg":"ed25519","kid","payload","sig"}`. The
//! signature covers `"validibot-license/v1\n" || payload bytes` and is checked
//! with `verify_strict` before the payload is parsed at all.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{armor, Payload};
use crate::keys;

const DOMAIN: &[u8] = b"validibot-license/v1\n";
/// A license issued further ahead than this is refused (clock skew allowance).
const MAX_FUTURE_ISSUE_SECONDS: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    v: u32,
    alg: String,
    kid: String,
    payload: String,
    sig: String,
}

/// Why a license file was refused; the message is shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    Format(String),
    UnknownKey(String),
    BadSignature,
    Payload(String),
    Superseded { serial: u64, highest: u64 },
    IssuedInFuture,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::Format(m) => write!(f, "malformed license file: {m}"),
            VerifyError::UnknownKey(kid) => write!(
                f,
                "license is signed with unknown key {kid:?} (this build trusts {:?})",
                keys::embedded_kids()
            ),
            VerifyError::BadSignature => write!(f, "license signature does not verify: the file was altered or not issued by Validibot"),
            VerifyError::Payload(m) => write!(f, "license payload is invalid: {m}"),
            VerifyError::Superseded { serial, highest } => write!(
                f,
                "license serial {serial} is older than serial {highest} already installed for this license id"
            ),
            VerifyError::IssuedInFuture => {
                write!(f, "license issued_at is more than 24 hours in the future (check the clock)")
            }
        }
    }
}

/// Signs `payload` into an armored license file.
pub fn issue(payload: &Payload, kid: &str, key: &SigningKey) -> String {
    let payload_json = serde_json::to_vec(payload).expect("payload serializes");
    armor::encode(seal(DOMAIN, &payload_json, kid, key).as_bytes())
}

/// The envelope JSON signing `payload` under `domain` (license files are this, armored;
/// license-server leases are this as is).
pub(crate) fn seal(domain: &[u8], payload: &[u8], kid: &str, key: &SigningKey) -> String {
    let mut message = domain.to_vec();
    message.extend_from_slice(payload);
    let sig = key.sign(&message);
    let envelope = Envelope {
        v: 1,
        alg: "ed25519".into(),
        kid: kid.into(),
        payload: STANDARD.encode(payload),
        sig: STANDARD.encode(sig.to_bytes()),
    };
    serde_json::to_string(&envelope).expect("envelope serializes")
}

/// The payload bytes of an envelope whose signature under `domain` verifies with an
/// embedded key (checked with `verify_strict`, before anything reads the payload).
pub(crate) fn open(domain: &[u8], envelope: &[u8]) -> Result<Vec<u8>, VerifyError> {
    open_with(domain, envelope, &keys::embedded)
}

/// [`open`] with the trusted keys given by `trusted` (the license server also trusts
/// the key it signs with).
pub(crate) fn open_with(
    domain: &[u8],
    envelope: &[u8],
    trusted: &dyn Fn(&str) -> Option<VerifyingKey>,
) -> Result<Vec<u8>, VerifyError> {
    let env: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| VerifyError::Format(format!("envelope: {e}")))?;
    if env.v != 1 {
        return Err(VerifyError::Format(format!(
            "unsupported version {}",
            env.v
        )));
    }
    if env.alg != "ed25519" {
        return Err(VerifyError::Format(format!(
            "unsupported algorithm {:?}",
            env.alg
        )));
    }
    let key = trusted(&env.kid).ok_or_else(|| VerifyError::UnknownKey(env.kid.clone()))?;
    let payload = STANDARD
        .decode(&env.payload)
        .map_err(|_| VerifyError::Format("payload is not base64".into()))?;
    let sig: [u8; 64] = STANDARD
        .decode(&env.sig)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| VerifyError::Format("sig is not 64 base64-encoded bytes".into()))?;
    let mut message = domain.to_vec();
    message.extend_from_slice(&payload);
    key.verify_strict(&message, &Signature::from_bytes(&sig))
        .map_err(|_| VerifyError::BadSignature)?;
    Ok(payload)
}

/// Verifies a license file: armor, envelope, key, signature, then the payload.
/// `highest_serials` maps license ids to the highest serial seen; `now` is Unix seconds.
pub fn verify(
    text: &str,
    highest_serials: &BTreeMap<String, u64>,
    now: i64,
) -> Result<Payload, VerifyError> {
    verify_with(text, highest_serials, now, &keys::embedded)
}

/// [`verify`] trusting the keys `trusted` knows.
pub fn verify_with(
    text: &str,
    highest_serials: &BTreeMap<String, u64>,
    now: i64,
    trusted: &dyn Fn(&str) -> Option<VerifyingKey>,
) -> Result<Payload, VerifyError> {
    let raw = armor::decode(text).map_err(VerifyError::Format)?;
    let payload = open_with(DOMAIN, &raw, trusted)?;
    let payload: Payload =
        serde_json::from_slice(&payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
    payload.check().map_err(VerifyError::Payload)?;
    if let Some(&highest) = highest_serials.get(&payload.license_id) {
        if payload.serial < highest {
            return Err(VerifyError::Superseded {
                serial: payload.serial,
                highest,
            });
        }
    }
    if payload.issued_at.unix_timestamp() > now + MAX_FUTURE_ISSUE_SECONDS {
        return Err(VerifyError::IssuedInFuture);
    }
    Ok(payload)
}
