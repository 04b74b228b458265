//! Reading the document safely and mapping findings back to it.
//!
//! roxmltree parses first, with DTDs refused: no entity is ever expanded and no
//! external entity is ever resolved, so XXE and billion-laughs inputs become a
//! finding instead of a file read or a hang. The same tree maps the engine's
//! XPath-like paths (`/order/line[2]/@qty`) back to line and column.

use roxmltree::{Document, Node, ParsingOptions};

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
        let (line, column) = validibot_plugin_api::position::line_col(content, e.valid_up_to());
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
                let (row, col) = validibot_plugin_api::position::line_col(text.as_bytes(), at);
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

/// Line and column of the node an engine path names, when it can be found.
///
/// Steps are element local names with an optional 1-based `[n]` among
/// same-named siblings, and a final `@attribute`. An unindexed step takes the
/// first match, so a path the engine left unindexed may point at an earlier
/// sibling of the same name; the path itself is still reported verbatim.
pub fn locate(doc: &Document<'_>, path: &str) -> Option<(u32, u32)> {
    let mut steps = path.strip_prefix('/')?.split('/');
    let root = doc.root_element();
    let (name, index) = step(steps.next()?);
    if root.tag_name().name() != name || index != 1 {
        return None;
    }
    let mut at = root.range().start;
    let mut node = root;
    for raw in steps {
        if let Some(attr) = raw.strip_prefix('@') {
            at = node
                .attributes()
                .find(|a| a.name() == attr)
                .map_or(at, |a| a.range().start);
            break;
        }
        let (name, index) = step(raw);
        node = nth_child(node, name, index)?;
        at = node.range().start;
    }
    let pos = doc.text_pos_at(at);
    Some((pos.row, pos.col))
}

fn step(raw: &str) -> (&str, usize) {
    match raw.strip_suffix(']').and_then(|r| r.split_once('[')) {
        Some((name, n)) => (name, n.parse().unwrap_or(1)),
        None => (raw, 1),
    }
}

fn nth_child<'a, 'i>(node: Node<'a, 'i>, name: &str, index: usize) -> Option<Node<'a, 'i>> {
    node.children()
        .filter(|c| c.is_element() && c.tag_name().name() == name)
        .nth(index.checked_sub(1)?)
}

/// Names of the simple and complex types a schema declares.
pub fn declared_type_names<'a>(xsd: &'a Document<'_>) -> impl Iterator<Item = &'a str> {
    xsd.descendants()
        .filter(|n| matches!(n.tag_name().name(), "simpleType" | "complexType"))
        .filter_map(|n| n.attribute("name"))
}
