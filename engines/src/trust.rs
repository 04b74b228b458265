//! Detached signatures (`validibot_plugin_api::signature`) checked against an operator's
//! trusted keys (`kid:base64` each): before an extension library is loaded, and before a
//! WASM validator component is installed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use validibot_plugin_api::signature::Scheme;

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
    pub fn verify(
        &self,
        scheme: &Scheme,
        file: &[u8],
        signature_text: &str,
    ) -> Result<String, String> {
        let (kid, sig) = scheme.parse(signature_text).ok_or_else(|| {
            format!(
                "the signature is not a Validibot {} signature (it must start {:?})",
                scheme.what,
                scheme.prefix.trim_end()
            )
        })?;
        let key = self
            .0
            .iter()
            .find(|(k, _)| *k == kid)
            .map(|(_, key)| key)
            .ok_or_else(|| {
                format!("signed with key {kid:?}, which is not among the trusted keys")
            })?;
        key.verify_strict(&scheme.message(file), &Signature::from_bytes(&sig))
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
    use validibot_plugin_api::signature::{EXTENSION, PLUGIN};

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
        let msg = EXTENSION.message(&file);
        let sig = EXTENSION.line("vendor", &key.sign(&msg).to_bytes());
        assert_eq!(trusted.verify(&EXTENSION, &file, &sig).unwrap(), "vendor");
        let mut tampered = file.clone();
        tampered[5] ^= 1;
        assert!(trusted.verify(&EXTENSION, &tampered, &sig).is_err());
        let other = SigningKey::from_bytes(&[8; 32]);
        let stranger = EXTENSION.line("vendor", &other.sign(&msg).to_bytes());
        assert!(trusted.verify(&EXTENSION, &file, &stranger).is_err());
        // An extension's signature does not vouch for the same bytes as a plugin.
        let as_plugin = PLUGIN.line("vendor", &key.sign(&msg).to_bytes());
        assert!(trusted.verify(&PLUGIN, &file, &as_plugin).is_err());
        assert!(TrustedKeys::parse("nokey").is_err());
    }
}
