//! The submitted document: refused exactly as `xml-schema` refuses it (roxmltree reads
//! it first, DTDs never processed), then held as a xot tree with source spans, so every
//! node a rule fires on has an XPath location and a line:column.

use std::collections::HashMap;

use validibot_plugin_api::xml::{self, Refusal};
use xee_xpath::Documents;
use xot::{Node, SpanInfo, SpanInfoKey, Value, Xot};

pub struct Submission {
    pub documents: Documents,
    pub root: Node,
    spans: SpanInfo,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl Submission {
    pub fn read(content: &[u8]) -> Result<Submission, Refusal> {
        let text = xml::decode(content)?;
        xml::parse(text)?;
        let mut documents = Documents::new();
        let (root, spans) = documents
            .xot_mut()
            .parse_with_span_info(text)
            .map_err(|e| Refusal {
                code: "xml.malformed",
                message: format!("the document is not well-formed XML: {e}"),
                line: 0,
                column: 0,
            })?;
        documents
            .documents()
            .borrow_mut()
            .add_root(None, root)
            .map_err(|e| Refusal {
                code: "xml.malformed",
                message: format!("the document could not be loaded: {e}"),
                line: 0,
                column: 0,
            })?;
        let mut line_starts = vec![0];
        line_starts.extend(newline_ends(text.as_bytes()));
        Ok(Submission {
            documents,
            root,
            spans,
            line_starts,
        })
    }

    pub fn xot(&self) -> &Xot {
        self.documents.xot()
    }

    /// 1-based line and column where `node` starts in the source, when it has a span
    /// (the document node and namespace nodes have none).
    pub fn line_column(&self, node: Node) -> Option<(usize, usize)> {
        let xot = self.xot();
        let span = match xot.value(node) {
            Value::Element(_) => self.spans.get(SpanInfoKey::ElementStart(node)),
            Value::Text(_) => self.spans.get(SpanInfoKey::Text(node)),
            Value::Comment(_) => self.spans.get(SpanInfoKey::Comment(node)),
            Value::ProcessingInstruction(_) => self.spans.get(SpanInfoKey::PiTarget(node)),
            Value::Attribute(a) => {
                let parent = xot.parent(node)?;
                self.spans.get(SpanInfoKey::AttributeName(parent, a.name()))
            }
            Value::Document | Value::Namespace(_) => None,
        }?;
        // An element's span is its name; the tag starts one byte before.
        let offset = match xot.value(node) {
            Value::Element(_) => span.start.saturating_sub(1),
            _ => span.start,
        };
        let line = self.line_starts.partition_point(|&s| s <= offset);
        Some((line, offset - self.line_starts[line - 1] + 1))
    }

    /// An XPath to `node` from the root: `/inv:Invoice/cac:InvoiceLine[3]/cbc:Note[1]`,
    /// `…/@currencyID`, `…/text()[2]`. Names use the schema's prefix for their namespace,
    /// else the document's, else `Q{uri}local`.
    pub fn location(&self, node: Node, prefixes: &HashMap<String, String>) -> String {
        let xot = self.xot();
        let mut steps = Vec::new();
        let mut at = node;
        loop {
            match xot.value(at) {
                Value::Document => break,
                Value::Element(e) => {
                    let index = xot
                        .preceding_siblings(at)
                        .filter(|s| s != &at)
                        .filter(|s| xot.element(*s).is_some_and(|o| o.name() == e.name()))
                        .count()
                        + 1;
                    steps.push(format!("{}[{index}]", self.name(at, e.name(), prefixes)));
                }
                Value::Attribute(a) => {
                    steps.push(format!("@{}", self.name(at, a.name(), prefixes)))
                }
                Value::Text(_) => steps.push(format!("text()[{}]", self.index_of_kind(at))),
                Value::Comment(_) => steps.push(format!("comment()[{}]", self.index_of_kind(at))),
                Value::ProcessingInstruction(_) => steps.push(format!(
                    "processing-instruction()[{}]",
                    self.index_of_kind(at)
                )),
                Value::Namespace(_) => steps.push("namespace::*".to_owned()),
            }
            match xot.parent(at) {
                Some(p) => at = p,
                None => break,
            }
        }
        if steps.is_empty() {
            return "/".to_owned();
        }
        steps.reverse();
        format!("/{}", steps.join("/"))
    }

    fn index_of_kind(&self, node: Node) -> usize {
        let xot = self.xot();
        let kind = xot.value_type(node);
        xot.preceding_siblings(node)
            .filter(|s| s != &node && xot.value_type(*s) == kind)
            .count()
            + 1
    }

    /// The qualified name of `node` (an element or attribute) for a location.
    pub fn name(
        &self,
        node: Node,
        name: xot::NameId,
        prefixes: &HashMap<String, String>,
    ) -> String {
        let xot = self.xot();
        let (local, uri) = xot.name_ns_str(name);
        if uri.is_empty() {
            return local.to_owned();
        }
        if let Some(prefix) = prefixes.get(uri) {
            return format!("{prefix}:{local}");
        }
        let own = xot
            .prefix_for_namespace(node, xot.namespace_for_name(name))
            .map(|p| xot.prefix_str(p).to_owned());
        match own {
            Some(p) if !p.is_empty() => format!("{p}:{local}"),
            _ => format!("Q{{{uri}}}{local}"),
        }
    }
}

fn newline_ends(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    text.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
}
