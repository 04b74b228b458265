//! API keys: `vbk_<public id>_<secret>`. Only HMAC-SHA256(instance secret, secret)
//! is stored, so a database leak alone does not yield usable keys.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use validibot_types::ids::random_token;

/// The longest expiry a key can be given (ten years).
pub const MAX_EXPIRY_DAYS: u32 = 3650;

const PREFIX: &str = "vbk_";
const PUBLIC_ID_LEN: usize = 12;
const SECRET_LEN: usize = 40;

pub struct NewKey {
    pub public_id: String,
    /// The full key, shown once.
    pub token: String,
    pub secret_hash: String,
}

pub fn generate(instance_secret: &[u8]) -> NewKey {
    let public_id = random_token(PUBLIC_ID_LEN).to_lowercase();
    let secret = random_token(SECRET_LEN);
    NewKey {
        token: format!("{PREFIX}{public_id}_{secret}"),
        secret_hash: hash_secret(instance_secret, &secret),
        public_id,
    }
}

/// Splits a presented key into (public id, secret); `None` if it is not shaped like a key.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (public_id, secret) = rest.split_once('_')?;
    (public_id.len() == PUBLIC_ID_LEN && !secret.is_empty() && secret.len() <= 128)
        .then_some((public_id, secret))
}

pub fn hash_secret(instance_secret: &[u8], secret: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(instance_secret).expect("HMAC accepts any key length");
    mac.update(secret.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn verify(instance_secret: &[u8], secret: &str, stored_hash: &str) -> bool {
    let computed = hash_secret(instance_secret, secret);
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips() {
        let k = generate(b"instance");
        let (public_id, secret) = parse(&k.token).unwrap();
        assert_eq!(public_id, k.public_id);
        assert!(verify(b"instance", secret, &k.secret_hash));
        assert!(!verify(b"other-instance", secret, &k.secret_hash));
        assert!(!verify(b"instance", "wrong", &k.secret_hash));
    }

    #[test]
    fn rejects_malformed_tokens() {
        assert!(parse("abc").is_none());
        assert!(parse("vbk_short_secret").is_none());
        assert!(parse("vbk_abcdefghijkl_").is_none());
    }
}
