//! The detached signature beside an extension file (`libx.so.sig`): one line
//! `validibot-extension-signature v1 <kid> <hex ed25519 signature>`, over
//! [`SIGNATURE_DOMAIN`] followed by the file's bytes. The vendor tool writes it;
//! the host checks it against the operator's trusted keys before loading.

pub const SIGNATURE_DOMAIN: &[u8] = b"validibot-extension/v1\n";
const PREFIX: &str = "validibot-extension-signature v1 ";

pub fn signature_line(kid: &str, signature: &[u8; 64]) -> String {
    let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{kid} {hex}\n")
}

/// `(kid, signature)` from a signature file's text.
pub fn parse_signature_line(text: &str) -> Option<(String, [u8; 64])> {
    let rest = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .strip_prefix(PREFIX)?;
    let (kid, hex) = rest.split_once(' ')?;
    if kid.is_empty() || hex.len() != 128 {
        return None;
    }
    let mut sig = [0u8; 64];
    for (i, byte) in sig.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((kid.to_owned(), sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let sig: [u8; 64] = std::array::from_fn(|i| i as u8 * 3);
        let line = signature_line("k1", &sig);
        assert_eq!(parse_signature_line(&line), Some(("k1".into(), sig)));
        assert_eq!(parse_signature_line(&line.replace("v1", "v2")), None);
        assert_eq!(parse_signature_line(&line[..line.len() - 3]), None);
        assert_eq!(parse_signature_line(&line.replace('a', "g")), None);
    }
}
