//! Reading an ISO Schematron schema (ISO/IEC 19757-3) into its rules.
//!
//! Everything that is text-level in the standard is resolved here, before any XPath is
//! compiled: `include` (from the step's files only — nothing is fetched), abstract
//! patterns instantiated with their `param`s, abstract rules (and rules in step files)
//! pulled in by `extends`.
//! Constructs that would change what a rule means and that are not evaluated
//! (`xsl:function`, `xsl:key`, `pattern/@documents`) are refused by name, so a schema
//! is never silently checked with rules missing.

use std::collections::HashMap;

use roxmltree::{Document, Node, ParsingOptions};
use validibot_plugin_api::Finding;

/// ISO Schematron, and the 1.5 namespace older schemas still use.
const NAMESPACES: [&str; 2] = [
    "http://purl.oclc.org/dsdl/schematron",
    "http://www.ascc.net/xml/schematron",
];
const XSL: &str = "http://www.w3.org/1999/XSL/Transform";
/// Includes may nest; a cycle ends here instead of recursing forever.
const MAX_INCLUDE_DEPTH: usize = 16;

/// A query binding is a language for the rules; all of these are XPath subsets or
/// supersets this engine evaluates as XPath 3.1.
pub const QUERY_BINDINGS: [&str; 8] = [
    "xslt", "xslt1", "xslt2", "xslt3", "xpath", "xpath2", "xpath3", "xpath31",
];

#[derive(Debug, Clone)]
pub struct Schema {
    pub namespaces: Vec<(String, String)>,
    pub lets: Vec<Let>,
    pub phases: Vec<Phase>,
    pub default_phase: Option<String>,
    pub patterns: Vec<Pattern>,
    pub diagnostics: HashMap<String, Message>,
    pub properties: HashMap<String, Message>,
}

/// `<let name value>`: a variable in scope for what follows it.
#[derive(Debug, Clone)]
pub struct Let {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub id: String,
    pub active: Vec<String>,
    pub lets: Vec<Let>,
}

#[derive(Debug, Clone)]
pub struct Pattern {
    pub id: Option<String>,
    pub lets: Vec<Let>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Option<String>,
    pub context: String,
    pub role: Option<String>,
    pub flag: Option<String>,
    pub subject: Option<String>,
    /// Lets and checks in document order (a let is in scope for what follows it).
    pub items: Vec<RuleItem>,
}

#[derive(Debug, Clone)]
pub enum RuleItem {
    Let(Let),
    Check(Check),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// Fails when the test is false.
    Assert,
    /// Fires when the test is true.
    Report,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub kind: CheckKind,
    pub test: String,
    pub id: Option<String>,
    pub role: Option<String>,
    pub flag: Option<String>,
    pub subject: Option<String>,
    pub message: Message,
    pub diagnostics: Vec<String>,
    pub properties: Vec<String>,
    /// Line of the check in its schema file, for messages about it.
    pub line: u32,
}

/// Assertion text with its `value-of` and `name` parts to evaluate.
#[derive(Debug, Clone, Default)]
pub struct Message(pub Vec<Part>);

#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    ValueOf(String),
    /// `<name/>`: the context node's name, or the name of what `path` selects.
    Name(Option<String>),
}

/// A schema that cannot be used, with where in it.
pub fn invalid(message: impl Into<String>) -> Finding {
    Finding::error("schematron.schema_invalid", message)
}

/// Reads the schema; `include` resolves `href`s to the step's files through `file`.
pub fn read(text: &str, file: &dyn Fn(&str) -> Result<String, Finding>) -> Result<Schema, Finding> {
    let doc = parse(text, "the schema")?;
    let root = doc.root_element();
    if !is_sch(root, "schema") {
        return Err(invalid(format!(
            "the root element is <{}>, not an ISO Schematron <schema> (namespace {})",
            root.tag_name().name(),
            NAMESPACES[0]
        )));
    }
    let query_binding = root
        .attribute("queryBinding")
        .unwrap_or("xslt")
        .to_ascii_lowercase();
    if !QUERY_BINDINGS.contains(&query_binding.as_str()) {
        return Err(invalid(format!(
            "queryBinding {query_binding:?} is not supported; supported: {}",
            QUERY_BINDINGS.join(", ")
        )));
    }
    let mut reader = Reader {
        file,
        schema: Schema {
            namespaces: Vec::new(),
            lets: Vec::new(),
            phases: Vec::new(),
            default_phase: root.attribute("defaultPhase").map(str::to_owned),
            patterns: Vec::new(),
            diagnostics: HashMap::new(),
            properties: HashMap::new(),
        },
        abstract_patterns: HashMap::new(),
        abstract_rules: HashMap::new(),
        instances: Vec::new(),
    };
    reader.schema_children(root, 0)?;
    reader.finish()
}

fn parse<'a>(text: &'a str, what: &str) -> Result<Document<'a>, Finding> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: 1_000_000,
    };
    Document::parse_with_options(text, options).map_err(|e| {
        invalid(format!(
            "{what} is not well-formed XML (DTDs are refused): {e}"
        ))
    })
}

fn is_sch(node: Node, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node
            .tag_name()
            .namespace()
            .is_some_and(|ns| NAMESPACES.contains(&ns))
}

fn line_of(node: Node) -> u32 {
    node.document().text_pos_at(node.range().start).row
}

fn attr(node: Node, name: &str) -> Option<String> {
    node.attribute(name).map(str::to_owned)
}

fn required(node: Node, name: &str) -> Result<String, Finding> {
    attr(node, name).ok_or_else(|| {
        invalid(format!(
            "<{}> at line {} has no {name} attribute",
            node.tag_name().name(),
            line_of(node)
        ))
    })
}

/// An abstract pattern's instantiation, resolved once every pattern has been read
/// (the abstract one may come later in the schema).
struct Instance {
    at: usize,
    is_a: String,
    params: Vec<(String, String)>,
    line: u32,
}

struct Reader<'f> {
    file: &'f dyn Fn(&str) -> Result<String, Finding>,
    schema: Schema,
    abstract_patterns: HashMap<String, Pattern>,
    abstract_rules: HashMap<String, Vec<RuleItem>>,
    instances: Vec<Instance>,
}

/// A rule as read, before its `extends` are resolved.
enum Pending {
    Item(RuleItem),
    /// `extends rule=…`: an abstract rule's id, and the line.
    Extends(String, u32),
    /// `extends href=…`: a step file whose root is a rule, and the line.
    ExtendsFile(String, u32),
}

impl Reader<'_> {
    /// Runs `each` on the root element of the step file an `include` names.
    fn included(
        &mut self,
        node: Node,
        depth: usize,
        each: &mut dyn FnMut(&mut Self, Node, usize) -> Result<(), Finding>,
    ) -> Result<(), Finding> {
        within_depth("includes", depth, line_of(node))?;
        let href = required(node, "href")?;
        let text = (self.file)(&href)?;
        let doc = parse(&text, &format!("included {href:?}"))?;
        each(self, doc.root_element(), depth + 1)
    }

    fn schema_children(&mut self, node: Node, depth: usize) -> Result<(), Finding> {
        for child in node.children().filter(Node::is_element) {
            if child.tag_name().namespace() == Some(XSL) {
                return Err(unsupported_xsl(child));
            }
            if !NAMESPACES.contains(&child.tag_name().namespace().unwrap_or_default()) {
                continue; // foreign elements carry documentation, not rules
            }
            match child.tag_name().name() {
                "include" => self.included(child, depth, &mut |r, n, d| r.schema_child(n, d))?,
                _ => self.schema_child(child, depth)?,
            }
        }
        Ok(())
    }

    /// One top-level element (directly, or the root of an included file).
    fn schema_child(&mut self, node: Node, depth: usize) -> Result<(), Finding> {
        match node.tag_name().name() {
            "ns" => self
                .schema
                .namespaces
                .push((required(node, "prefix")?, required(node, "uri")?)),
            "let" => self.schema.lets.push(read_let(node)?),
            "phase" => {
                let phase = self.phase(node, depth)?;
                self.schema.phases.push(phase);
            }
            "pattern" => self.pattern(node, depth)?,
            "diagnostics" => self.keyed(node, depth, "diagnostic")?,
            "properties" => self.keyed(node, depth, "property")?,
            "schema" => self.schema_children(node, depth)?,
            "title" | "p" => {}
            other => {
                return Err(invalid(format!(
                    "<{other}> is not allowed in <schema> (line {})",
                    line_of(node)
                )))
            }
        }
        Ok(())
    }

    fn phase(&mut self, node: Node, depth: usize) -> Result<Phase, Finding> {
        let mut phase = Phase {
            id: required(node, "id")?,
            active: Vec::new(),
            lets: Vec::new(),
        };
        for child in node.children().filter(|c| c.is_element()) {
            match child.tag_name().name() {
                "active" => phase.active.push(required(child, "pattern")?),
                "let" => phase.lets.push(read_let(child)?),
                "include" => self.included(child, depth, &mut |_, n, _| {
                    match n.tag_name().name() {
                        "active" => phase.active.push(required(n, "pattern")?),
                        "let" => phase.lets.push(read_let(n)?),
                        _ => {}
                    }
                    Ok(())
                })?,
                _ => {}
            }
        }
        Ok(phase)
    }

    /// `diagnostics` / `properties`: message templates by id.
    fn keyed(&mut self, node: Node, depth: usize, item: &str) -> Result<(), Finding> {
        for child in node.children().filter(|c| c.is_element()) {
            if is_sch(child, "include") {
                let item = item.to_owned();
                self.included(child, depth, &mut |r, n, _| r.keyed_item(n, &item))?;
            } else {
                self.keyed_item(child, item)?;
            }
        }
        Ok(())
    }

    fn keyed_item(&mut self, node: Node, item: &str) -> Result<(), Finding> {
        if !is_sch(node, item) {
            return Ok(());
        }
        let id = required(node, "id")?;
        let message = read_message(node)?;
        match item {
            "diagnostic" => self.schema.diagnostics.insert(id, message),
            _ => self.schema.properties.insert(id, message),
        };
        Ok(())
    }

    fn pattern(&mut self, node: Node, depth: usize) -> Result<(), Finding> {
        if node.attribute("documents").is_some() {
            return Err(invalid(format!(
                "pattern/@documents (line {}) validates other documents, which a validator \
                 never reads; remove it",
                line_of(node)
            )));
        }
        let id = attr(node, "id");
        if let Some(is_a) = attr(node, "is-a") {
            let params = node
                .children()
                .filter(|c| is_sch(*c, "param"))
                .map(|p| Ok((required(p, "name")?, required(p, "value")?)))
                .collect::<Result<Vec<_>, Finding>>()?;
            self.instances.push(Instance {
                at: self.schema.patterns.len(),
                is_a,
                params,
                line: line_of(node),
            });
            self.schema.patterns.push(Pattern {
                id,
                lets: Vec::new(),
                rules: Vec::new(),
            });
            return Ok(());
        }
        let mut pattern = Pattern {
            id: id.clone(),
            lets: Vec::new(),
            rules: Vec::new(),
        };
        for child in node.children().filter(|c| c.is_element()) {
            if child.tag_name().namespace() == Some(XSL) {
                return Err(unsupported_xsl(child));
            }
            if is_sch(child, "include") {
                self.included(child, depth, &mut |r, n, _| {
                    r.pattern_child(n, &mut pattern)
                })?;
            } else {
                self.pattern_child(child, &mut pattern)?;
            }
        }
        let abstract_pattern = node.attribute("abstract") == Some("true");
        self.schema.patterns.push(pattern);
        if abstract_pattern {
            let Some(id) = id else {
                return Err(invalid(format!(
                    "the abstract pattern at line {} has no id",
                    line_of(node)
                )));
            };
            let pattern = self.schema.patterns.pop().expect("just pushed");
            self.abstract_patterns.insert(id, pattern);
        }
        Ok(())
    }

    fn pattern_child(&mut self, node: Node, pattern: &mut Pattern) -> Result<(), Finding> {
        match node.tag_name().name() {
            "let" => pattern.lets.push(read_let(node)?),
            "rule" => {
                let (rule, pending) = read_rule(node)?;
                if node.attribute("abstract") == Some("true") {
                    let id = required(node, "id")?;
                    let items = self.resolve_extends(pending, 0)?;
                    self.abstract_rules.insert(id, items);
                } else {
                    let mut rule = rule;
                    rule.items = self.resolve_extends(pending, 0)?;
                    pattern.rules.push(rule);
                }
            }
            "title" | "p" | "param" => {}
            other if is_sch(node, other) => {
                return Err(invalid(format!(
                    "<{other}> is not allowed in <pattern> (line {})",
                    line_of(node)
                )))
            }
            _ => {}
        }
        Ok(())
    }

    /// `extends rule=…` pulls in an abstract rule's lets and checks, `extends href=…` those
    /// of the rule a step file holds (its own `extends` resolved in turn). An abstract
    /// rule must come before the rules that extend it (as in every published schema).
    fn resolve_extends(
        &self,
        pending: Vec<Pending>,
        depth: usize,
    ) -> Result<Vec<RuleItem>, Finding> {
        let mut items = Vec::new();
        for p in pending {
            match p {
                Pending::Item(i) => items.push(i),
                Pending::Extends(id, line) => match self.abstract_rules.get(&id) {
                    Some(abstract_items) => items.extend(abstract_items.iter().cloned()),
                    None => {
                        return Err(invalid(format!(
                            "extends rule={id:?} (line {line}) names no abstract rule defined \
                             before it"
                        )))
                    }
                },
                Pending::ExtendsFile(href, line) => {
                    within_depth("extends", depth, line)?;
                    let text = (self.file)(&href)?;
                    let doc = parse(&text, &format!("extended {href:?}"))?;
                    let root = doc.root_element();
                    if !is_sch(root, "rule") {
                        return Err(invalid(format!(
                            "extends href={href:?} (line {line}) names a file whose root is \
                             not a rule"
                        )));
                    }
                    items.extend(self.resolve_extends(rule_items(root)?, depth + 1)?);
                }
            }
        }
        Ok(items)
    }

    fn finish(mut self) -> Result<Schema, Finding> {
        for instance in std::mem::take(&mut self.instances) {
            let Some(template) = self.abstract_patterns.get(&instance.is_a) else {
                return Err(invalid(format!(
                    "pattern is-a={:?} (line {}) names no abstract pattern",
                    instance.is_a, instance.line
                )));
            };
            let target = &mut self.schema.patterns[instance.at];
            target.lets = template.lets.clone();
            target.rules = template.rules.clone();
            substitute(target, &instance.params);
        }
        Ok(self.schema)
    }
}

/// Files pulled in by files (includes, extends) stop at a depth, so a cycle is an error.
fn within_depth(what: &str, depth: usize, line: u32) -> Result<(), Finding> {
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(invalid(format!(
            "{what} nest deeper than {MAX_INCLUDE_DEPTH} (a cycle?) at line {line}"
        )));
    }
    Ok(())
}

fn unsupported_xsl(node: Node) -> Finding {
    invalid(format!(
        "xsl:{} (line {}) is not supported: rules are evaluated as XPath, without XSLT \
         functions or keys",
        node.tag_name().name(),
        line_of(node)
    ))
}

/// A `let` with a `value` binds that expression; one without binds its content, the XML
/// it holds, as a document node (as XSLT's `xsl:variable` with content does) — handed to
/// the engine as `parse-xml-fragment` of the content's text.
fn read_let(node: Node) -> Result<Let, Finding> {
    let name = required(node, "name")?;
    let value = match attr(node, "value") {
        Some(value) => value,
        None => format!(
            "parse-xml-fragment('{}')",
            content_xml(node).replace('\'', "''")
        ),
    };
    Ok(Let { name, value })
}

/// The element's content as XML text that stands on its own: each child element carries
/// declarations of the namespaces it inherits.
fn content_xml(node: Node) -> String {
    let text = node.document().input_text();
    node.children()
        .map(|child| {
            if child.is_element() {
                validibot_plugin_api::xml::standalone_element(child)
            } else {
                text[child.range()].to_owned()
            }
        })
        .collect()
}

fn read_rule(node: Node) -> Result<(Rule, Vec<Pending>), Finding> {
    let abstract_rule = node.attribute("abstract") == Some("true");
    let context = match attr(node, "context") {
        Some(c) => c,
        None if abstract_rule => String::new(),
        None => required(node, "context")?,
    };
    let rule = Rule {
        id: attr(node, "id"),
        context,
        role: attr(node, "role"),
        flag: attr(node, "flag"),
        subject: attr(node, "subject"),
        items: Vec::new(),
    };
    Ok((rule, rule_items(node)?))
}

/// A rule's lets, checks and extends, in order.
fn rule_items(node: Node) -> Result<Vec<Pending>, Finding> {
    let mut pending = Vec::new();
    for child in node.children().filter(|c| c.is_element()) {
        if child.tag_name().namespace() == Some(XSL) {
            return Err(unsupported_xsl(child));
        }
        match child.tag_name().name() {
            "let" => pending.push(Pending::Item(RuleItem::Let(read_let(child)?))),
            "assert" | "report" => pending.push(Pending::Item(RuleItem::Check(read_check(child)?))),
            "extends" => {
                let line = line_of(child);
                pending.push(match attr(child, "href") {
                    Some(href) => Pending::ExtendsFile(href, line),
                    None => Pending::Extends(required(child, "rule")?, line),
                });
            }
            _ => {}
        }
    }
    Ok(pending)
}

fn read_check(node: Node) -> Result<Check, Finding> {
    let kind = if node.tag_name().name() == "assert" {
        CheckKind::Assert
    } else {
        CheckKind::Report
    };
    let ids = |name: &str| -> Vec<String> {
        node.attribute(name)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    Ok(Check {
        kind,
        test: required(node, "test")?,
        id: attr(node, "id"),
        role: attr(node, "role"),
        flag: attr(node, "flag"),
        subject: attr(node, "subject"),
        message: read_message(node)?,
        diagnostics: ids("diagnostics"),
        properties: ids("properties"),
        line: line_of(node),
    })
}

/// The mixed content of an assertion, diagnostic or property: text, with `value-of`
/// and `name` to evaluate; `emph`, `dir`, `span` and foreign elements give their text.
fn read_message(node: Node) -> Result<Message, Finding> {
    let mut parts = Vec::new();
    collect_parts(node, &mut parts)?;
    Ok(Message(parts))
}

fn collect_parts(node: Node, parts: &mut Vec<Part>) -> Result<(), Finding> {
    for child in node.children() {
        if child.is_text() {
            parts.push(Part::Text(child.text().unwrap_or_default().to_owned()));
        } else if is_sch(child, "value-of") {
            parts.push(Part::ValueOf(required(child, "select")?));
        } else if is_sch(child, "name") {
            parts.push(Part::Name(attr(child, "path")));
        } else if child.is_element() {
            collect_parts(child, parts)?;
        }
    }
    Ok(())
}

/// Instantiates an abstract pattern: each `$name` of a param is replaced by its value
/// in every query of the pattern (longest names first, so `$a` never eats `$ab`).
fn substitute(pattern: &mut Pattern, params: &[(String, String)]) {
    let mut params: Vec<&(String, String)> = params.iter().collect();
    params.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let apply = |text: &mut String| {
        for (name, value) in &params {
            *text = replace_param(text, name, value);
        }
    };
    for l in &mut pattern.lets {
        apply(&mut l.value);
    }
    for rule in &mut pattern.rules {
        apply(&mut rule.context);
        if let Some(s) = &mut rule.subject {
            apply(s);
        }
        for item in &mut rule.items {
            match item {
                RuleItem::Let(l) => apply(&mut l.value),
                RuleItem::Check(c) => {
                    apply(&mut c.test);
                    if let Some(s) = &mut c.subject {
                        apply(s);
                    }
                    for part in &mut c.message.0 {
                        match part {
                            Part::ValueOf(e) | Part::Name(Some(e)) => apply(e),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

/// `$name` replaced where it is a whole name (not followed by a name character).
fn replace_param(text: &str, name: &str, value: &str) -> String {
    let needle = format!("${name}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        let continues = after
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        out.push_str(&rest[..at]);
        out.push_str(if continues { &needle } else { value });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_param_replaces_whole_names_only() {
        assert_eq!(replace_param("$a + $ab + $a", "a", "1"), "1 + $ab + 1");
        assert_eq!(replace_param("$a-b", "a", "1"), "$a-b");
    }
}
