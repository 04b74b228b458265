//! Percent-encoding of one URI path segment or query value, both ways: the MCP tools
//! build API paths from what an agent sends, the audit log reads path parameters back.

/// `value` as one path segment or query value: unreserved characters as they are,
/// every other byte `%XX`.
pub fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `%XX` sequences decoded (a malformed one kept as it is), as UTF-8 (lossy).
pub fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_and_back() {
        assert_eq!(escape("invoice-2"), "invoice-2");
        assert_eq!(escape("../x?y"), "..%2Fx%3Fy");
        assert_eq!(unescape(&escape("a b/ü")), "a b/ü");
        assert_eq!(unescape("a%2"), "a%2");
        assert_eq!(unescape("100%"), "100%");
    }
}
