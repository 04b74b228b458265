//! A schema's active phase compiled to XPath queries, once per step config.
//!
//! Every query is compiled with the schema's `ns` prefixes and exactly the variables in
//! scope where it stands (schema and phase lets, then the pattern's, then the rule's
//! earlier lets), so an undefined variable or a syntax error is a config error at save
//! time, not a surprise on the first document.

use std::collections::HashMap;

use validibot_plugin_api::Finding;
use xee_xpath::context::StaticContextBuilder;
use xee_xpath::query::SequenceQuery;
use xee_xpath::Queries;
use xot::xmlname::OwnedName;

use crate::schema::{self, CheckKind, Let, Message, Part, RuleItem, Schema};

pub struct Program {
    /// The phase compiled (`#ALL` or a phase id).
    pub phase: String,
    /// Namespace URI → the schema's prefix for it, for locations.
    pub prefixes: HashMap<String, String>,
    /// Schema and phase lets, evaluated once per document on its root.
    pub lets: Vec<Variable>,
    pub patterns: Vec<PatternProgram>,
}

pub struct Variable {
    pub name: OwnedName,
    pub query: SequenceQuery,
    /// `$name`, for an error raised while binding it.
    pub source: String,
}

pub struct PatternProgram {
    /// The pattern's id, or `pattern-<n>` (1-based, in schema order) without one.
    pub id: String,
    pub lets: Vec<Variable>,
    pub rules: Vec<RuleProgram>,
}

pub struct RuleProgram {
    pub id: Option<String>,
    pub context: String,
    /// The nodes the rule's pattern matches, from the document node, in document order
    /// (see [`matching_nodes`]).
    pub select: SequenceQuery,
    pub role: Option<String>,
    pub flag: Option<String>,
    pub subject: Option<SequenceQuery>,
    pub items: Vec<Step>,
}

pub enum Step {
    Let(Variable),
    Check(CheckProgram),
}

pub struct CheckProgram {
    pub kind: CheckKind,
    pub test_source: String,
    pub test: SequenceQuery,
    pub id: Option<String>,
    pub role: Option<String>,
    pub flag: Option<String>,
    pub subject: Option<SequenceQuery>,
    pub message: Vec<Piece>,
    pub diagnostics: Vec<(String, Vec<Piece>)>,
    pub properties: Vec<(String, Vec<Piece>)>,
}

/// A message part ready to evaluate: literal text, or a query whose string value goes in.
pub enum Piece {
    Text(String),
    Query(SequenceQuery),
}

/// Compiles the rules `phase` makes active: `None` is the schema's `defaultPhase`, else
/// `#ALL`.
pub fn compile(schema: &Schema, phase: Option<&str>) -> Result<Program, Finding> {
    let phase_id = phase
        .filter(|p| *p != "#DEFAULT")
        .or(schema.default_phase.as_deref())
        .unwrap_or("#ALL")
        .to_owned();
    let (active, phase_lets): (Option<&[String]>, &[Let]) = if phase_id == "#ALL" {
        (None, &[])
    } else {
        let Some(p) = schema.phases.iter().find(|p| p.id == phase_id) else {
            let known: Vec<&str> = schema.phases.iter().map(|p| p.id.as_str()).collect();
            return Err(Finding::error(
                "schematron.phase_unknown",
                format!(
                    "phase {phase_id:?} is not in the schema; its phases: #ALL{}",
                    known.iter().map(|k| format!(", {k}")).collect::<String>()
                ),
            )
            .at("/phase"));
        };
        (Some(&p.active), &p.lets)
    };
    if let Some(active) = active {
        for id in active {
            if !schema.patterns.iter().any(|p| p.id.as_deref() == Some(id)) {
                return Err(schema::invalid(format!(
                    "phase {phase_id:?} activates pattern {id:?}, which the schema does not have"
                )));
            }
        }
    }
    let mut c = Compiler {
        namespaces: &schema.namespaces,
        scope: Vec::new(),
        queries: Queries::default(),
    };
    let mut lets = Vec::new();
    for l in schema.lets.iter().chain(phase_lets) {
        lets.push(c.variable(l, "a schema let")?);
    }
    let mut patterns = Vec::new();
    for (n, pattern) in schema.patterns.iter().enumerate() {
        let included = match (active, &pattern.id) {
            (None, _) => true,
            (Some(active), Some(id)) => active.contains(id),
            (Some(_), None) => false,
        };
        if !included {
            continue;
        }
        let id = pattern
            .id
            .clone()
            .unwrap_or_else(|| format!("pattern-{}", n + 1));
        let outer = c.scope.len();
        let mut pattern_lets = Vec::new();
        for l in &pattern.lets {
            pattern_lets.push(c.variable(l, &format!("pattern {id}"))?);
        }
        let mut rules = Vec::new();
        for rule in &pattern.rules {
            rules.push(c.rule(rule, schema, &id)?);
        }
        c.scope.truncate(outer);
        patterns.push(PatternProgram {
            id,
            lets: pattern_lets,
            rules,
        });
    }
    let prefixes = schema
        .namespaces
        .iter()
        .map(|(p, u)| (u.clone(), p.clone()))
        .collect();
    Ok(Program {
        phase: phase_id,
        prefixes,
        lets,
        patterns,
    })
}

struct Compiler<'s> {
    namespaces: &'s [(String, String)],
    scope: Vec<OwnedName>,
    queries: Queries<'s>,
}

impl Compiler<'_> {
    fn query(&self, expr: &str, what: &str) -> Result<SequenceQuery, Finding> {
        let expr = &with_context_arguments(expr);
        let mut builder = StaticContextBuilder::default();
        for (prefix, uri) in self.namespaces {
            builder.add_namespace(prefix, uri);
        }
        builder.variable_names(self.scope.iter().cloned());
        self.queries
            .sequence_with_context(expr, builder.build())
            .map_err(|e| {
                schema::invalid(format!(
                    "{what}: {expr:?} is not XPath this engine can run: {e}"
                ))
            })
    }

    /// Compiles a let's value in the current scope, then brings its name into scope.
    fn variable(&mut self, l: &Let, what: &str) -> Result<Variable, Finding> {
        let query = self.query(&l.value, &format!("{what}, let {:?}", l.name))?;
        let name = self.name(&l.name)?;
        if self.scope.contains(&name) {
            return Err(schema::invalid(format!(
                "{what}: variable ${} is defined twice in the same scope",
                l.name
            )));
        }
        self.scope.push(name.clone());
        Ok(Variable {
            name,
            query,
            source: format!("${}", l.name),
        })
    }

    fn name(&self, name: &str) -> Result<OwnedName, Finding> {
        match name.split_once(':') {
            None => Ok(OwnedName::name(name)),
            Some((prefix, local)) => {
                let uri = self
                    .namespaces
                    .iter()
                    .find(|(p, _)| p == prefix)
                    .map(|(_, u)| u.clone())
                    .ok_or_else(|| {
                        schema::invalid(format!("let {name:?}: prefix {prefix:?} has no <ns>"))
                    })?;
                Ok(OwnedName::new(local.to_owned(), uri, prefix.to_owned()))
            }
        }
    }

    fn rule(
        &mut self,
        rule: &schema::Rule,
        schema: &Schema,
        pattern: &str,
    ) -> Result<RuleProgram, Finding> {
        let what = format!("pattern {pattern}, rule context {:?}", rule.context);
        let select = self.query(&matching_nodes(&rule.context), &what)?;
        let outer = self.scope.len();
        let subject = match &rule.subject {
            Some(s) => Some(self.query(s, &format!("{what}, subject"))?),
            None => None,
        };
        let mut items = Vec::new();
        for item in &rule.items {
            items.push(match item {
                RuleItem::Let(l) => Step::Let(self.variable(l, &what)?),
                RuleItem::Check(check) => Step::Check(self.check(check, schema, &what)?),
            });
        }
        self.scope.truncate(outer);
        Ok(RuleProgram {
            id: rule.id.clone(),
            context: rule.context.clone(),
            select,
            role: rule.role.clone(),
            flag: rule.flag.clone(),
            subject,
            items,
        })
    }

    fn check(
        &self,
        check: &schema::Check,
        schema: &Schema,
        rule: &str,
    ) -> Result<CheckProgram, Finding> {
        let kind = match check.kind {
            CheckKind::Assert => "assert",
            CheckKind::Report => "report",
        };
        let id = check
            .id
            .as_ref()
            .map_or(String::new(), |id| format!(" {id}"));
        let what = format!("{rule}, {kind}{id} at line {}", check.line);
        let keyed = |ids: &[String],
                     table: &HashMap<String, Message>,
                     label: &str|
         -> Result<Vec<(String, Vec<Piece>)>, Finding> {
            ids.iter()
                .map(|id| {
                    let message = table.get(id).ok_or_else(|| {
                        schema::invalid(format!("{what}: {label} {id:?} is not defined"))
                    })?;
                    Ok((id.clone(), self.message(message, &what)?))
                })
                .collect()
        };
        Ok(CheckProgram {
            kind: check.kind,
            test_source: check.test.clone(),
            test: self.query(&check.test, &format!("{what}, test"))?,
            id: check.id.clone(),
            role: check.role.clone(),
            flag: check.flag.clone(),
            subject: match &check.subject {
                Some(s) => Some(self.query(s, &format!("{what}, subject"))?),
                None => None,
            },
            message: self.message(&check.message, &what)?,
            diagnostics: keyed(&check.diagnostics, &schema.diagnostics, "diagnostic")?,
            properties: keyed(&check.properties, &schema.properties, "property")?,
        })
    }

    fn message(&self, message: &Message, what: &str) -> Result<Vec<Piece>, Finding> {
        message
            .0
            .iter()
            .map(|part| {
                Ok(match part {
                    Part::Text(t) => Piece::Text(t.clone()),
                    Part::ValueOf(e) => Piece::Query(self.query(e, &format!("{what}, value-of"))?),
                    Part::Name(None) => Piece::Query(self.query("name()", what)?),
                    Part::Name(Some(p)) => Piece::Query(
                        self.query(&format!("name(({p})[1])"), &format!("{what}, name"))?,
                    ),
                })
            })
            .collect()
    }
}

/// The query for the nodes a rule context (an XSLT pattern) matches: `//(P)` from the
/// document node (XSLT 2.0 §5.5.3). When every branch of the pattern starts at the root
/// (`/Invoice[…]`), that is just `P`, evaluated once instead of once per node.
fn matching_nodes(pattern: &str) -> String {
    let absolute = top_level_branches(pattern)
        .iter()
        .all(|b| b.trim_start().starts_with('/'));
    if absolute {
        pattern.to_owned()
    } else {
        format!("//({pattern})")
    }
}

/// `a | b[x | y] | 'c|d'` → `a `, ` b[x | y] `, ` 'c|d'`.
fn top_level_branches(pattern: &str) -> Vec<&str> {
    let mut branches = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None, 0);
    for (i, c) in pattern.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, '|') if depth == 0 => {
                branches.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    branches.push(&pattern[start..]);
    branches
}

/// xee 0.1 does not convert the context item when `normalize-space()` or
/// `string-length()` is called without an argument (a node raises XPTY0004 instead of
/// being atomized), so the call is written out as the spec defines it: `f(string(.))`.
/// String literals are left alone.
fn with_context_arguments(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while !rest.is_empty() {
        let quote = rest.find(['"', '\'']);
        let (code, tail) = rest.split_at(quote.unwrap_or(rest.len()));
        let mut code = code.to_owned();
        for f in ["normalize-space", "string-length"] {
            code = rewrite_empty_call(&code, f);
        }
        out.push_str(&code);
        rest = tail;
        if let Some(q) = rest.chars().next() {
            // Copy the literal through its closing quote (a doubled quote is an escape
            // and reads as two literals back to back, which copies the same).
            let end = rest[1..].find(q).map_or(rest.len(), |e| e + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out
}

fn rewrite_empty_call(code: &str, name: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].trim_start();
        let own_name =
            !before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
        out.push_str(&rest[..at + name.len()]);
        rest = &rest[at + name.len()..];
        if own_name {
            if let Some(args) = after.strip_prefix('(') {
                if let Some(close) = args.trim_start().strip_prefix(')') {
                    out.push_str("(string(.))");
                    rest = close;
                }
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::with_context_arguments as w;

    #[test]
    fn rooted_patterns_are_evaluated_once_and_others_from_every_node() {
        use super::matching_nodes as m;
        assert_eq!(m("/a/b[c]"), "/a/b[c]");
        assert_eq!(m("/a | //b"), "/a | //b");
        assert_eq!(m("/a | b"), "//(/a | b)");
        assert_eq!(m("b[x | /y]"), "//(b[x | /y])");
        assert_eq!(m("@id"), "//(@id)");
    }

    #[test]
    fn argument_less_string_functions_get_the_context_item_outside_literals() {
        assert_eq!(
            w("cbc:ID[normalize-space()]"),
            "cbc:ID[normalize-space(string(.))]"
        );
        assert_eq!(w("string-length( ) > 3"), "string-length(string(.)) > 3");
        assert_eq!(w("normalize-space(x)"), "normalize-space(x)");
        assert_eq!(w("'normalize-space()' = ."), "'normalize-space()' = .");
        assert_eq!(w("my-normalize-space()"), "my-normalize-space()");
    }
}
