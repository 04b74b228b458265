//! Detached ed25519 signatures on the files Validibot loads: native extensions
//! (`libx.so.sig`) and WASM validator components (`x.wasm.sig`). One line,
//! `<prefix><kid> <hex signature>`, over the scheme's domain followed by the file's
//! bytes. Each kind has its own domain, so a signature made for one kind of file is
//! never accepted for the other. Authors and vendors write the line; the host checks it
//! against the operator's trusted keys.

/// What a signature is over and how its line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    pub domain: &'static [u8],
    pub prefix: &'static str,
    /// What the signed file is, for messages.
    pub what: &'static str,
}

/// Native extensions (the Pro crate and other cdylibs).
pub const EXTENSION: Scheme = Scheme {
    domain: b"validibot-extension/v1\n",
    prefix: "validibot-extension-signature v1 ",
    what: "extension",
};

/// WASM validator components (`validibot plugin sign`).
pub const PLUGIN: Scheme = Scheme {
    domain: b"validibot-plugin/v1\n",
    prefix: "validibot-plugin-signature v1 ",
    what: "plugin",
};

impl Scheme {
    /// The bytes that are signed: the domain, then the file.
    pub fn message(&self, file: &[u8]) -> Vec<u8> {
        let mut message = Vec::with_capacity(self.domain.len() + file.len());
        message.extend_from_slice(self.domain);
        message.extend_from_slice(file);
        message
    }

    /// The signature file's text.
    pub fn line(&self, kid: &str, signature: &[u8; 64]) -> String {
        let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}{kid} {hex}\n", self.prefix)
    }

    /// `(kid, signature)` from a signature file's text of this scheme.
    pub fn parse(&self, text: &str) -> Option<(String, [u8; 64])> {
        let rest = text
            .strip_suffix('\n')
            .unwrap_or(text)
            .strip_prefix(self.prefix)?;
        let (kid, hex) = rest.split_once(' ')?;
        if kid.is_empty() || kid.contains(char::is_whitespace) || hex.len() != 128 {
            return None;
        }
        let mut sig = [0u8; 64];
        for (i, byte) in sig.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some((kid.to_owned(), sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let sig: [u8; 64] = std::array::from_fn(|i| i as u8 * 3);
        let line = PLUGIN.line("k1", &sig);
        assert_eq!(PLUGIN.parse(&line), Some(("k1".into(), sig)));
        assert_eq!(PLUGIN.parse(&line.replace("v1", "v2")), None);
        assert_eq!(PLUGIN.parse(&line[..line.len() - 3]), None);
        assert_eq!(PLUGIN.parse(&line.replace('a', "g")), None);
    }

    #[test]
    fn a_line_of_one_kind_is_not_read_as_the_other() {
        let sig = [9u8; 64];
        assert_eq!(EXTENSION.parse(&PLUGIN.line("k", &sig)), None);
        assert_eq!(PLUGIN.parse(&EXTENSION.line("k", &sig)), None);
        assert_ne!(EXTENSION.message(b"x"), PLUGIN.message(b"x"));
    }
}
