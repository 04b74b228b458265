//! Reading an XML document safely, shared by the XML validators (feature `xml`).
//!
//! roxmltree parses, with DTDs refused: no entity is ever expanded and no external
//! entity is ever resolved, so XXE and billion-laughs inputs become a finding instead
//! of a file read or a hang. Validators that read XML with another parser run this
//! first, so every one of them refuses the same documents with the same codes.

use roxmltree::{Document, ParsingOptions};

/// Bounds the tree so a flat but huge document fails as a finding, not an OOM.
const NODES_LIMIT: u32 = 5_000_000;

/// Why a text is not accepted as XML, with where it went wrong.
#[derive(Debug)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// The document as UTF-8 text (a UTF-8 byte-order mark is dropped).
pub fn decode(content: &[u8]) -> Result<&str, Refusal> {
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    std::str::from_utf8(content).map_err(|e| {
        let (line, column) = crate::position::line_col(content, e.valid_up_to());
        Refusal {
            code: "xml.encoding",
            message: format!("the document is not UTF-8 text: {e}"),
            line: line as u32,
            column: column as u32,
        }
    })
}

/// Parses with DTDs refused; any error carries its position.
pub fn parse(text: &str) -> Result<Document<'_>, Refusal> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
    };
    Document::parse_with_options(text, options).map_err(|e| {
        let mut pos = e.pos();
        if matches!(e, roxmltree::Error::DtdDetected) {
            // roxmltree gives no position for this one; point at the DOCTYPE itself.
            if let Some(at) = text.find("<!DOCTYPE") {
                let (row, col) = crate::position::line_col(text.as_bytes(), at);
                pos = roxmltree::TextPos::new(row as u32, col as u32);
            }
        }
        let (code, message) = match e {
            roxmltree::Error::DtdDetected => {
                let r = dtd_refusal();
                (r.code, r.message)
            }
            roxmltree::Error::NodesLimitReached => (
                "xml.too_large",
                format!("the document has more than {NODES_LIMIT} nodes"),
            ),
            other => (
                "xml.malformed",
                format!("the document is not well-formed XML: {other}"),
            ),
        };
        Refusal {
            code,
            message,
            line: pos.row,
            column: pos.col,
        }
    })
}

/// The refusal of a document with a DOCTYPE (its position is the caller's to fill).
pub fn dtd_refusal() -> Refusal {
    Refusal {
        code: "xml.dtd_forbidden",
        message: "the document has a DOCTYPE; DTDs are never processed (no entity expansion, \
                  no external entities), so documents with one are refused"
            .to_owned(),
        line: 0,
        column: 0,
    }
}

/// A document that cannot be read safely is a validation failure, not a crash: one
/// error finding at the position, with line and column in its meta.
pub fn refused(r: Refusal) -> crate::Outcome {
    crate::Outcome {
        findings: vec![crate::Finding::error(r.code, r.message)
            .at(format!("{}:{}", r.line, r.column))
            .with_meta(serde_json::json!({ "line": r.line, "column": r.column }))],
        outputs: vec![],
    }
}

/// An element's source text as XML that stands on its own: the element as written, with
/// declarations added for the namespaces it inherits from its ancestors — for handing a
/// part of a document (an embedded schema, a let's content) to another parser.
pub fn standalone_element(node: roxmltree::Node) -> String {
    let text = node.document().input_text();
    let range = node.range();
    let own = &text[range.clone()];
    let head_end = node.first_child().map_or(range.end, |c| c.range().start) - range.start;
    let name_end = own
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(own.len());
    let mut declarations = String::new();
    for ns in node.namespaces() {
        let attribute = match ns.name() {
            Some("xml") => continue,
            Some(prefix) => format!("xmlns:{prefix}"),
            None => "xmlns".to_owned(),
        };
        if !declares(&own[..head_end], &attribute) {
            let uri = ns.uri().replace('&', "&amp;").replace('"', "&quot;");
            declarations.push_str(&format!(" {attribute}=\"{uri}\""));
        }
    }
    format!("{}{declarations}{}", &own[..name_end], &own[name_end..])
}

/// Whether a start tag declares the attribute: its name after white space, then `=`
/// (XML allows white space around it).
fn declares(start_tag: &str, name: &str) -> bool {
    start_tag.match_indices(name).any(|(at, _)| {
        start_tag[..at].ends_with(char::is_whitespace)
            && start_tag[at + name.len()..].trim_start().starts_with('=')
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_standalone_element_declares_what_it_inherits_and_nothing_twice() {
        let doc = roxmltree::Document::parse(
            r#"<a xmlns="urn:d" xmlns:p="urn:p"><p:b x="1"><c xmlns="urn:e">t</c></p:b><d/></a>"#,
        )
        .unwrap();
        let b = doc.root_element().first_child().unwrap();
        assert_eq!(
            super::standalone_element(b),
            r#"<p:b xmlns="urn:d" xmlns:p="urn:p" x="1"><c xmlns="urn:e">t</c></p:b>"#
        );
        let d = doc.root_element().last_child().unwrap();
        assert_eq!(
            super::standalone_element(d),
            r#"<d xmlns="urn:d" xmlns:p="urn:p"/>"#
        );
        let spaced = roxmltree::Document::parse(
            r#"<a xmlns:p="urn:p"><b xmlns:p = "urn:q" pp="xmlns:p"/></a>"#,
        )
        .unwrap();
        assert_eq!(
            super::standalone_element(spaced.root_element().first_child().unwrap()),
            r#"<b xmlns:p = "urn:q" pp="xmlns:p"/>"#,
            "a declaration with white space around = is seen; an attribute named pp is not one"
        );
        let text = super::standalone_element(b);
        let reparsed = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(
            reparsed.root_element().tag_name().namespace(),
            Some("urn:p")
        );
    }
}
