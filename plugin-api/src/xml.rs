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
