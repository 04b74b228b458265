//! Element namespaces, which the schema engine does not check (it matches
//! local names only).
//!
//! The root must be in the schema's target namespace. Below it, an element may
//! be in the target namespace, an imported one, or none when the schema lets
//! local elements be unqualified. A schema with `xs:any` admits foreign
//! elements by design, so only its root is checked.

use std::collections::BTreeSet;

use roxmltree::{Document, Node};

/// Cap on namespace findings, so a document in the wrong namespace yields one
/// finding per distinct problem rather than one per element.
const MAX_FINDINGS: usize = 100;

#[derive(Debug)]
pub struct NamespacePolicy {
    target: Option<String>,
    /// `None`: anything goes below the root (the schema has `xs:any`).
    allowed: Option<BTreeSet<Option<String>>>,
}

/// One element in a namespace the schema does not allow.
pub struct Misplaced {
    pub path: String,
    pub message: String,
    pub line: u32,
    pub column: u32,
}

impl NamespacePolicy {
    /// Reads the policy from the parsed main schema.
    pub fn from_schema(doc: &Document<'_>) -> Self {
        let schema = doc.root_element();
        let target = schema
            .attribute("targetNamespace")
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let has_any = doc.descendants().any(|n| n.tag_name().name() == "any");
        let allowed = (!has_any).then(|| {
            let mut allowed: BTreeSet<Option<String>> = BTreeSet::new();
            allowed.insert(target.clone());
            let qualified = schema.attribute("elementFormDefault") == Some("qualified");
            let unqualified_local = doc
                .descendants()
                .any(|n| n.attribute("form") == Some("unqualified"));
            if !qualified || unqualified_local || target.is_none() {
                allowed.insert(None);
            }
            for import in doc
                .descendants()
                .filter(|n| n.tag_name().name() == "import")
            {
                allowed.insert(import.attribute("namespace").map(str::to_owned));
            }
            allowed
        });
        Self { target, allowed }
    }

    pub fn check(&self, doc: &Document<'_>) -> Vec<Misplaced> {
        let mut out = Vec::new();
        let root = doc.root_element();
        let name = root.tag_name().name();
        if root.tag_name().namespace() != self.target.as_deref() {
            out.push(misplaced(
                doc,
                root,
                format!("/{name}"),
                &self.expected_root(),
            ));
        }
        if let Some(allowed) = &self.allowed {
            walk(doc, root, &format!("/{name}"), allowed, &mut out);
        }
        out
    }

    fn expected_root(&self) -> String {
        match &self.target {
            Some(t) => format!("the schema's target namespace `{t}`"),
            None => "no namespace (the schema has no targetNamespace)".into(),
        }
    }
}

fn walk(
    doc: &Document<'_>,
    node: Node<'_, '_>,
    path: &str,
    allowed: &BTreeSet<Option<String>>,
    out: &mut Vec<Misplaced>,
) {
    // Siblings per name, counted once: an index is only written when a name repeats.
    let mut totals: Vec<(&str, usize)> = Vec::new();
    for child in node.children().filter(Node::is_element) {
        let name = child.tag_name().name();
        match totals.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => totals.push((name, 1)),
        }
    }
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for child in node.children().filter(Node::is_element) {
        if out.len() >= MAX_FINDINGS {
            return;
        }
        let name = child.tag_name().name();
        let index = match seen.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                seen.push((name, 1));
                1
            }
        };
        let same_named = totals
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(1, |(_, c)| *c);
        let child_path = if same_named > 1 {
            format!("{path}/{name}[{index}]")
        } else {
            format!("{path}/{name}")
        };
        let ns = child.tag_name().namespace();
        if !allowed.iter().any(|a| a.as_deref() == ns) {
            let expected = allowed
                .iter()
                .map(|n| {
                    n.as_deref()
                        .map_or("no namespace".to_owned(), |n| format!("`{n}`"))
                })
                .collect::<Vec<_>>()
                .join(" or ");
            out.push(misplaced(doc, child, child_path, &expected));
        } else {
            walk(doc, child, &child_path, allowed, out);
        }
    }
}

fn misplaced(doc: &Document<'_>, node: Node<'_, '_>, path: String, expected: &str) -> Misplaced {
    let found = node
        .tag_name()
        .namespace()
        .map_or("no namespace".to_owned(), |n| format!("namespace `{n}`"));
    let pos = doc.text_pos_at(node.range().start);
    Misplaced {
        message: format!(
            "element `{}` is in {found}; expected {expected}",
            node.tag_name().name()
        ),
        path,
        line: pos.row,
        column: pos.col,
    }
}

/// The schema text with namespace prefixes in identity-constraint XPaths
/// (`xs:selector`, `xs:field`) turned into `*:` wildcards.
///
/// The engine compiles these XPaths without the schema's prefix bindings, so a
/// namespaced schema's `unique`/`key`/`keyref` would fail to compile and
/// silently constrain nothing. `*:name` matches by local name, which is how the
/// engine matches element names everywhere else.
pub fn wildcard_identity_xpaths(xsd: &str, doc: &Document<'_>) -> String {
    let mut edits: Vec<(std::ops::Range<usize>, String)> = doc
        .descendants()
        .filter(|n| matches!(n.tag_name().name(), "selector" | "field"))
        .filter_map(|n| n.attributes().find(|a| a.name() == "xpath"))
        .map(|a| (a.range_value(), wildcard_prefixes(a.value())))
        .collect();
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = xsd.to_owned();
    for (range, value) in edits {
        out.replace_range(range, &value.replace('"', "&quot;").replace('\'', "&apos;"));
    }
    out
}

/// `.//p:m/q:n | child::p:k` → `.//*:m/*:n | child::*:k`; axes (`child::`) are kept.
fn wildcard_prefixes(xpath: &str) -> String {
    let chars: Vec<char> = xpath.chars().collect();
    let mut out = String::with_capacity(xpath.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
            {
                i += 1;
            }
            let is_prefix = i + 1 < chars.len() && chars[i] == ':' && chars[i + 1] != ':';
            if is_prefix {
                out.push_str("*:");
                i += 1;
            } else {
                out.extend(&chars[start..i]);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_become_wildcards_and_axes_stay() {
        assert_eq!(
            wildcard_prefixes(".//p:m/q:n | child::p:k"),
            ".//*:m/*:n | child::*:k"
        );
        assert_eq!(wildcard_prefixes("@p:id"), "@*:id");
        assert_eq!(wildcard_prefixes("attribute::id"), "attribute::id");
        let xsd = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:unique name="u"><xs:selector xpath="p:m"/><xs:field xpath='@p:id'/></xs:unique></xs:schema>"#;
        let tree = crate::document::parse(xsd).unwrap();
        let out = wildcard_identity_xpaths(xsd, &tree);
        assert!(
            out.contains(r#"xpath="*:m""#) && out.contains("xpath='@*:id'"),
            "{out}"
        );
    }
}
