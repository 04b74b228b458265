//! ASCII armor: the envelope JSON in base64, 64 columns, between BEGIN/END lines.
//! Parsing is strict (exact marker lines, canonical base64, nothing after END but
//! one line break) so that any altered byte is an error, never silently ignored.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

pub const BEGIN: &str = "-----BEGIN VALIDIBOT LICENSE-----";
pub const END: &str = "-----END VALIDIBOT LICENSE-----";

pub fn encode(envelope_json: &[u8]) -> String {
    let b64 = STANDARD.encode(envelope_json);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 80);
    out.push_str(BEGIN);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    out
}

pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let text = text.replace("\r\n", "\n");
    let body = text
        .strip_prefix(BEGIN)
        .and_then(|t| t.strip_prefix('\n'))
        .ok_or("not a Validibot license file: it must start with the BEGIN line")?;
    let body = body
        .strip_suffix('\n')
        .unwrap_or(body)
        .strip_suffix(END)
        .ok_or("license file is truncated or has text after the END line")?;
    let mut b64 = String::with_capacity(body.len());
    for line in body.split_terminator('\n') {
        if line.is_empty() || line.len() > 76 || !line.bytes().all(is_base64) {
            return Err("license body is not base64 lines".into());
        }
        b64.push_str(line);
    }
    if !body.is_empty() && !body.ends_with('\n') {
        return Err("license body must end with a line break before END".into());
    }
    STANDARD
        .decode(b64)
        .map_err(|e| format!("license body is not valid base64: {e}"))
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_trailing_text() {
        let data = vec![7u8; 200];
        let armored = encode(&data);
        assert_eq!(decode(&armored).unwrap(), data);
        assert_eq!(decode(&armored.replace('\n', "\r\n")).unwrap(), data);
        assert!(decode(&format!("{armored}x")).is_err());
        assert!(decode(&format!("x{armored}")).is_err());
        assert!(decode(&armored.replacen('A', "A ", 1)).is_err());
    }
}
