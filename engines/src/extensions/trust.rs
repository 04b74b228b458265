//! Detached signatures on extension files, checked against the operator's trusted
//! keys (`kid:base64` each) before a library is loaded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use validibot_plugin_api::extension::{parse_signature_line, SIGNATURE_DOMAIN};

#[derive(Debug, Clone, Default)]
pub struct TrustedKeys(Vec<(String, VerifyingKey)>);

impl TrustedKeys {
    /// Parses `kid:base64` entries (comma- or newline-separated).
    pub fn parse(text: &str) -> Result<TrustedKeys, String> {
        let mut keys = Vec::new();
        for entry in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (kid, b64) = entry
                .split_once(':')
                .ok_or_else(|| format!("trusted key {entry:?} is not kid:base64"))?;
            let bytes: [u8; 32] = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("trusted key {kid:?} is not 32 base64-encoded bytes"))?;
            let key = VerifyingKey::from_bytes(&bytes)
                .map_err(|e| format!("trusted key {kid:?} is not an ed25519 key: {e}"))?;
            keys.push((kid.to_owned(), key));
        }
        Ok(TrustedKeys(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks `signature_text` (the `.sig` file) over `file`'s bytes; returns the kid.
    pub fn verify(&self, file: &[u8], signature_text: &str) -> Result<String, String> {
        let (kid, sig) = parse_signature_line(signature_text)
            .ok_or("the .sig file is not a Validibot extension signature")?;
        let key = self
            .0
            .iter()
            .find(|(k, _)| *k == kid)
            .map(|(_, key)| key)
            .ok_or_else(|| {
                format!("signed with key {kid:?}, which is not among the trusted keys")
            })?;
        let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + file.len());
        message.extend_from_slice(SIGNATURE_DOMAIN);
        message.extend_from_slice(file);
        key.verify_strict(&message, &Signature::from_bytes(&sig))
            .map_err(|_| {
                "the signature does not match the file (altered or signed by another key)"
                    .to_string()
            })?;
        Ok(kid)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};
    use validibot_plugin_api::extension::signature_line;

    use super::*;

    #[test]
    fn verifies_and_refuses_tampering_and_strangers() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let trusted = TrustedKeys::parse(&format!(
            "vendor:{}",
            STANDARD.encode(key.verifying_key().as_bytes())
        ))
        .unwrap();
        let file = b"\x7fELF pretend library".to_vec();
        let mut msg = SIGNATURE_DOMAIN.to_vec();
        msg.extend_from_slice(&file);
        let sig = signature_line("vendor", &key.sign(&msg).to_bytes());
        assert_eq!(trusted.verify(&file, &sig).unwrap(), "vendor");
        let mut tampered = file.clone();
        tampered[5] ^= 1;
        assert!(trusted.verify(&tampered, &sig).is_err());
        let other = SigningKey::from_bytes(&[8; 32]);
        let stranger = signature_line("vendor", &other.sign(&msg).to_bytes());
        assert!(trusted.verify(&file, &stranger).is_err());
        assert!(TrustedKeys::parse("nokey").is_err());
    }
}
