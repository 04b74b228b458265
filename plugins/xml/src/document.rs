//! Reading the document safely (the SDK's `xml` module: roxmltree, DTDs refused) and
//! mapping findings back to it: the same tree maps the engine's XPath-like paths
//! (`/order/line[2]/@qty`) back to line and column.

use roxmltree::{Document, Node};
pub use validibot_plugin_api::xml::{decode, dtd_refusal, parse, Refusal};

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
