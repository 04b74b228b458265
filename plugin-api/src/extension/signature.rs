//! The detached signature beside an extension file (`libx.so.sig`): the
//! [`crate::signature::EXTENSION`] scheme, kept under its original names for the
//! vendor tool.

use crate::signature::EXTENSION;

pub const SIGNATURE_DOMAIN: &[u8] = EXTENSION.domain;

pub fn signature_line(kid: &str, signature: &[u8; 64]) -> String {
    EXTENSION.line(kid, signature)
}

/// `(kid, signature)` from a signature file's text.
pub fn parse_signature_line(text: &str) -> Option<(String, [u8; 64])> {
    EXTENSION.parse(text)
}
