//! What an RDF/XML document's DOCTYPE may declare. OWL files written by Protégé and
//! others abbreviate namespaces with internal entities (`<!ENTITY owl "http://…#">`),
//! so a DOCTYPE is not refused outright as `xml-schema` does; but nothing that reads
//! outside the document or multiplies itself gets through: external subsets and
//! entities, parameter entities, and entities whose value refers to another entity
//! (the billion-laughs shape) are refused before the parser sees the document.

/// Longest entity value accepted: a namespace IRI, not a payload.
const MAX_ENTITY_VALUE: usize = 512;

/// Why a DOCTYPE is refused, and the line it starts on.
#[derive(Debug, PartialEq)]
pub struct Refused {
    pub message: String,
    pub line: u64,
}

pub fn check(bytes: &[u8]) -> Result<(), Refused> {
    let Some(start) = find(bytes, b"<!DOCTYPE") else {
        return Ok(());
    };
    let line = 1 + bytes[..start].iter().filter(|&&b| b == b'\n').count() as u64;
    let refuse = |message: &str| {
        Err(Refused {
            message: message.to_owned(),
            line,
        })
    };
    let rest = &bytes[start + 9..];
    // The external ID comes before any internal subset.
    let head_end = rest
        .iter()
        .position(|&b| b == b'[' || b == b'>')
        .unwrap_or(rest.len());
    let head = &rest[..head_end];
    if find(head, b"SYSTEM").is_some() || find(head, b"PUBLIC").is_some() {
        return refuse("the DOCTYPE names an external DTD; nothing outside the document is read");
    }
    if rest.get(head_end) != Some(&b'[') {
        return Ok(());
    }
    let subset = &rest[head_end + 1..];
    let Some(end) = find(subset, b"]") else {
        return refuse("the DOCTYPE's internal subset does not end");
    };
    let mut decls = &subset[..end];
    while let Some(at) = find(decls, b"<!ENTITY") {
        decls = &decls[at + 8..];
        let body_end = decls.iter().position(|&b| b == b'>').unwrap_or(decls.len());
        let body = std::str::from_utf8(&decls[..body_end]).unwrap_or("");
        let mut words = body.split_whitespace();
        match (words.next(), words.next()) {
            (Some("%"), _) => return refuse("parameter entities are not accepted"),
            (Some(_), Some(w)) if w == "SYSTEM" || w == "PUBLIC" => {
                return refuse(
                    "external entities are not accepted; nothing outside the document is read",
                )
            }
            _ => {}
        }
        let value = body.split_once(['"', '\'']).map(|(_, v)| v).unwrap_or("");
        if value.contains(['&', '%', '<']) {
            return refuse("an entity may not refer to other entities or hold markup (entity expansion is bounded)");
        }
        if value.len() > MAX_ENTITY_VALUE {
            return refuse("an entity value is longer than 512 bytes");
        }
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn namespace_abbreviations_pass_and_the_rest_is_refused() {
        let ok = br#"<?xml version="1.0"?><!DOCTYPE rdf:RDF [ <!ENTITY owl "http://www.w3.org/2002/07/owl#" > <!ENTITY xsd 'http://www.w3.org/2001/XMLSchema#'> ]><rdf:RDF/>"#;
        assert_eq!(check(ok), Ok(()));
        assert_eq!(check(b"<rdf:RDF/>"), Ok(()));
        for bad in [
            &br#"<!DOCTYPE r [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]><r/>"#[..],
            br#"<!DOCTYPE r SYSTEM "http://example.org/r.dtd"><r/>"#,
            br#"<!DOCTYPE r [ <!ENTITY % p "x"> ]><r/>"#,
            br#"<!DOCTYPE r [ <!ENTITY a "ha"> <!ENTITY b "&a;&a;"> ]><r/>"#,
        ] {
            assert!(check(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
