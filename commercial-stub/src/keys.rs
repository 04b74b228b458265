//! Key handling shared by the extension (embedded public keys) and the vendor
//! tool (key files). Text form of a public key: `kid:base64(32 bytes)`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

include!(concat!(env!("OUT_DIR"), "/keys.rs"));

/// The embedded public key for `kid`, if any.
pub fn embedded(kid: &str) -> Option<VerifyingKey> {
    #[cfg(test)]
    if let Some(key) = test_keys::get(kid) {
        return Some(key);
    }
    EMBEDDED_KEYS
        .iter()
        .find(|(k, _)| *k == kid)
        .and_then(|(_, b64)| parse_public(b64).ok())
}

/// The kids this build trusts (for diagnostics).
pub fn embedded_kids() -> Vec<&'static str> {
    EMBEDDED_KEYS.iter().map(|(k, _)| *k).collect()
}

pub fn parse_public(b64: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("public key is not base64: {e}"))?
        .try_into()
        .map_err(|_| "public key must be 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an ed25519 public key: {e}"))
}

pub fn public_line(kid: &str, key: &VerifyingKey) -> String {
    format!("{kid}:{}", STANDARD.encode(key.as_bytes()))
}

/// A private key file (`<kid>.key`, mode 0600): JSON so it says what it is.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub kid: String,
    pub alg: String,
    pub secret: String,
}

impl KeyFile {
    pub fn generate(kid: &str) -> Result<KeyFile, String> {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|e| format!("no OS randomness: {e}"))?;
        Ok(KeyFile {
            kid: kid.to_owned(),
            alg: "ed25519".into(),
            secret: STANDARD.encode(secret),
        })
    }

    pub fn signing_key(&self) -> Result<SigningKey, String> {
        if self.alg != "ed25519" {
            return Err(format!("unsupported key algorithm {:?}", self.alg));
        }
        let bytes: [u8; 32] = STANDARD
            .decode(&self.secret)
            .map_err(|e| format!("secret is not base64: {e}"))?
            .try_into()
            .map_err(|_| "secret must be 32 bytes".to_string())?;
        Ok(SigningKey::from_bytes(&bytes))
    }
}

/// Unit tests trust keys they generate themselves (integration tests build the
/// library with `VALIDIBOT_LICENSE_EXTRA_KEYS` instead).
#[cfg(test)]
pub mod test_keys {
    use std::sync::Mutex;

    use ed25519_dalek::{SigningKey, VerifyingKey};

    static KEYS: Mutex<Vec<(String, VerifyingKey)>> = Mutex::new(Vec::new());

    pub fn get(kid: &str) -> Option<VerifyingKey> {
        let keys = KEYS.lock().unwrap();
        keys.iter().find(|(k, _)| k == kid).map(|(_, v)| *v)
    }

    /// A fresh signing key, trusted under `kid`.
    pub fn trusted(kid: &str) -> SigningKey {
        let key = super::KeyFile::generate(kid)
            .unwrap()
            .signing_key()
            .unwrap();
        let mut keys = KEYS.lock().unwrap();
        keys.retain(|(k, _)| k != kid);
        keys.push((kid.to_owned(), key.verifying_key()));
        key
    }
}
