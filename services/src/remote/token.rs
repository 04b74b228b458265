//! Callback tokens: `v1.<expiry>.<HMAC-SHA256>` over the execution's `callback_id`, the
//! audience (the exact callback URL) and the expiry, with the instance's callback key.
//! A token is good for one execution at one URL until it expires; it grants nothing
//! else (no storage, no API).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn mac(key: &[u8], callback_id: &str, audience: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("validibot-callback-v1\n{callback_id}\n{audience}\n{expires}").as_bytes());
    mac
}

/// A token for `callback_id` at `audience`, valid until `expires` (Unix seconds).
pub fn sign(key: &[u8], callback_id: &str, audience: &str, expires: i64) -> String {
    let tag = mac(key, callback_id, audience, expires)
        .finalize()
        .into_bytes();
    format!("v1.{expires}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Malformed,
    Expired,
    BadSignature,
}

/// Checks a token for `callback_id` at `audience` at `now` (Unix seconds); the
/// signature is compared in constant time.
pub fn verify(
    key: &[u8],
    token: &str,
    callback_id: &str,
    audience: &str,
    now: i64,
) -> Result<(), Refused> {
    let mut parts = token.splitn(3, '.');
    let (Some("v1"), Some(expires), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Refused::Malformed);
    };
    let expires: i64 = expires.parse().map_err(|_| Refused::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| Refused::Malformed)?;
    mac(key, callback_id, audience, expires)
        .verify_slice(&tag)
        .map_err(|_| Refused::BadSignature)?;
    if now > expires {
        return Err(Refused::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUD: &str = "http://api:8080/api/v1/callbacks/cb1";

    #[test]
    fn a_token_is_good_for_its_execution_its_url_and_its_time_only() {
        let key = b"0123456789abcdef0123456789abcdef";
        let t = sign(key, "cb1", AUD, 1_000);
        assert_eq!(verify(key, &t, "cb1", AUD, 999), Ok(()));
        assert_eq!(verify(key, &t, "cb1", AUD, 1_000), Ok(()));
        assert_eq!(verify(key, &t, "cb1", AUD, 1_001), Err(Refused::Expired));
        assert_eq!(verify(key, &t, "cb2", AUD, 999), Err(Refused::BadSignature));
        let other = "http://evil/api/v1/callbacks/cb1";
        assert_eq!(
            verify(key, &t, "cb1", other, 999),
            Err(Refused::BadSignature)
        );
        assert_eq!(
            verify(b"another key", &t, "cb1", AUD, 999),
            Err(Refused::BadSignature)
        );
        // A later expiry cannot be written in without the key.
        let stretched = t.replacen("v1.1000.", "v1.9000.", 1);
        assert_eq!(
            verify(key, &stretched, "cb1", AUD, 999),
            Err(Refused::BadSignature)
        );
        for bad in ["", "v1", "v1.x.abc", "v2.1000.abc", "v1.1000.!!"] {
            assert_eq!(
                verify(key, bad, "cb1", AUD, 999),
                Err(Refused::Malformed),
                "{bad}"
            );
        }
    }
}
