//! What XML 1.0 allows as characters and names, checked on the stream.
//!
//! [`checked`] runs over every window of the document before the parser sees it:
//! it refuses, at its byte offset, text that is not UTF-8 or holds a character XML
//! forbids (C0 controls other than tab, newline and carriage return; U+FFFE; U+FFFF).

/// Why a window is not XML text, at a byte offset of the document.
#[derive(Debug)]
pub struct BadText {
    pub code: &'static str,
    pub message: String,
    pub offset: u64,
}

/// `window` (at document offset `base`) as text, when it is UTF-8 made of XML
/// characters. Windows end before a `<`, so a character is never split between two.
pub fn checked(window: &[u8], base: u64) -> Result<&str, BadText> {
    let text = std::str::from_utf8(window).map_err(|e| BadText {
        code: "xml.encoding",
        message: format!("the document is not UTF-8 text: {e}"),
        offset: base + e.valid_up_to() as u64,
    })?;
    let bytes = text.as_bytes();
    if let Some(at) = first_control(bytes) {
        return Err(forbidden(char::from(bytes[at]), base + at as u64));
    }
    // U+FFFE and U+FFFF are EF BF BE / EF BF BF.
    for at in memchr::memchr_iter(0xEF, bytes) {
        if let Some(&[0xBF, last]) = bytes.get(at + 1..at + 3) {
            if last == 0xBE || last == 0xBF {
                let c = text[at..].chars().next().expect("a character");
                return Err(forbidden(c, base + at as u64));
            }
        }
    }
    Ok(text)
}

/// The first C0 control other than tab, newline and carriage return. Eight bytes at
/// a time: most text has no byte below 0x20 but those three.
fn first_control(bytes: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let forbidden = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        // A byte below 0x20 has its high bit set in `x - 0x20…` and clear in `x`.
        if x.wrapping_sub(0x20 * LOW) & !x & HIGH != 0 {
            if let Some(i) = word.iter().position(|&b| forbidden(b)) {
                return Some(at + i);
            }
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| forbidden(b))
        .map(|i| at + i)
}

fn forbidden(c: char, offset: u64) -> BadText {
    BadText {
        code: "xml.malformed",
        message: format!(
            "the document is not well-formed XML: character U+{:04X} is not allowed in XML",
            u32::from(c)
        ),
        offset,
    }
}

/// XML 1.0 `Char`.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// For a namespaces `QName` (an XML name with at most one colon, not at either end),
/// its prefix if it has one; `None` for anything else.
pub fn qname_prefix(name: &str) -> Option<Option<&str>> {
    let bytes = name.as_bytes();
    // Most names are ASCII: one pass over the bytes.
    if bytes.is_ascii() {
        let mut colon = None;
        let mut part_start = true;
        for (i, &b) in bytes.iter().enumerate() {
            let ok = if part_start {
                b.is_ascii_alphabetic() || b == b'_'
            } else if b == b':' {
                if colon.is_some() {
                    return None;
                }
                colon = Some(i);
                part_start = true;
                continue;
            } else {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
            };
            if !ok {
                return None;
            }
            part_start = false;
        }
        return (!part_start).then(|| colon.map(|c| &name[..c]));
    }
    match name.split_once(':') {
        None => is_ncname(name).then_some(None),
        Some((prefix, local)) => (is_ncname(prefix) && is_ncname(local)).then_some(Some(prefix)),
    }
}

/// XML 1.0 `Name` without colons.
pub fn is_ncname(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_ascii() {
        return bytes
            .first()
            .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
            && bytes
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    }
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

pub fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | 'a'..='z' | '_' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

pub fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}
