//! Running a compiled phase over a document, as ISO Schematron defines it: patterns in
//! schema order; within a pattern each node is handled by the first rule whose context
//! matches it; for that node the rule's lets are bound, then every assert whose test is
//! false and every report whose test is true is a result.

use std::collections::{HashMap, HashSet};

use xee_xpath::context::Variables;
use xee_xpath::query::SequenceQuery;
use xee_xpath::{Item, Query, Sequence};
use xot::Node;

use crate::document::Submission;
use crate::program::{CheckProgram, Piece, Program, RuleProgram, Step, Variable};
use crate::schema::CheckKind;

/// A failed assert or a fired report.
pub struct Hit {
    pub pattern: usize,
    pub rule: usize,
    pub check: usize,
    /// The node the rule fired on, or the one `subject` names.
    pub node: Node,
    pub message: String,
    pub diagnostics: Vec<(String, String)>,
    pub properties: Vec<(String, String)>,
}

/// A query that raised an XPath error (a cast that fails, a type error): reported
/// with where it happened, and the run goes on.
pub struct DynamicError {
    /// The pattern and rule it happened in; none for a schema or phase let (and no
    /// rule for a pattern's let).
    pub pattern: Option<usize>,
    pub rule: Option<usize>,
    pub node: Option<Node>,
    pub expression: String,
    pub message: String,
}

#[derive(Default, Clone)]
pub struct PatternCounts {
    pub fired_rules: usize,
    pub failed_asserts: usize,
    pub successful_reports: usize,
}

pub struct Report {
    pub results: Vec<Hit>,
    pub errors: Vec<DynamicError>,
    pub patterns: Vec<PatternCounts>,
}

/// Where a query stands: its pattern and rule, when it has them.
type At = (Option<usize>, Option<usize>);

/// Stops collecting results past this many (the counts stay exact).
const MAX_RESULTS: usize = 10_000;

pub fn run(program: &Program, doc: &mut Submission) -> Report {
    let mut run = Run {
        doc,
        order: None,
        report: Report {
            results: Vec::new(),
            errors: Vec::new(),
            patterns: vec![PatternCounts::default(); program.patterns.len()],
        },
    };
    let root = Item::Node(run.doc.root);
    let mut vars = Variables::default();
    for v in &program.lets {
        if !run.bind(v, &root, &mut vars, (None, None)) {
            return run.report;
        }
    }
    for (p, pattern) in program.patterns.iter().enumerate() {
        let mut pattern_vars = vars.clone();
        if !pattern
            .lets
            .iter()
            .all(|v| run.bind(v, &root, &mut pattern_vars, (Some(p), None)))
        {
            continue;
        }
        let mut handled: HashSet<Node> = HashSet::new();
        let mut fired: Vec<(usize, Node)> = Vec::new();
        for (r, rule) in pattern.rules.iter().enumerate() {
            let Some(nodes) = run.eval(
                &rule.select,
                &root,
                &pattern_vars,
                (Some(p), Some(r)),
                &rule.context,
            ) else {
                continue;
            };
            for item in nodes.iter() {
                if let Item::Node(n) = item {
                    if handled.insert(n) {
                        fired.push((r, n));
                    }
                }
            }
        }
        // Rules are tried per node; results come in document order, as in SVRL.
        if pattern.rules.len() > 1 {
            let order = run.document_order();
            fired.sort_by_key(|(_, n)| order.get(n).copied().unwrap_or(usize::MAX));
        }
        run.report.patterns[p].fired_rules = fired.len();
        for (r, node) in fired {
            run.fire(p, r, &pattern.rules[r], node, &pattern_vars);
        }
    }
    run.report
}

struct Run<'d> {
    doc: &'d mut Submission,
    /// Each node's position in document order, made the first time a pattern needs it.
    order: Option<HashMap<Node, usize>>,
    report: Report,
}

impl Run<'_> {
    fn eval(
        &mut self,
        query: &SequenceQuery,
        item: &Item,
        vars: &Variables,
        at: At,
        source: &str,
    ) -> Option<Sequence> {
        let mut builder = query.dynamic_context_builder(&self.doc.documents);
        builder.context_item(item.clone());
        builder.variables(vars.clone());
        let context = builder.build();
        match query.execute_with_context(&mut self.doc.documents, &context) {
            Ok(s) => Some(s),
            Err(e) => {
                self.report.errors.push(DynamicError {
                    pattern: at.0,
                    rule: at.1,
                    node: item.to_node().ok(),
                    expression: source.to_owned(),
                    message: e.to_string(),
                });
                None
            }
        }
    }

    fn bind(&mut self, v: &Variable, item: &Item, vars: &mut Variables, at: At) -> bool {
        match self.eval(&v.query, item, vars, at, &v.source) {
            Some(value) => {
                vars.insert(v.name.clone(), value);
                true
            }
            None => false,
        }
    }

    fn fire(&mut self, p: usize, r: usize, rule: &RuleProgram, node: Node, outer: &Variables) {
        let item = Item::Node(node);
        let mut vars = outer.clone();
        let rule_subject = rule
            .subject
            .as_ref()
            .and_then(|s| self.first_node(s, &item, &vars, (Some(p), Some(r))));
        for (c, step) in rule.items.iter().enumerate() {
            match step {
                Step::Let(v) => {
                    if !self.bind(v, &item, &mut vars, (Some(p), Some(r))) {
                        return;
                    }
                }
                Step::Check(check) => {
                    let Some(value) = self.eval(
                        &check.test,
                        &item,
                        &vars,
                        (Some(p), Some(r)),
                        &check.test_source,
                    ) else {
                        continue;
                    };
                    let truth = match value.effective_boolean_value() {
                        Ok(t) => t,
                        Err(e) => {
                            self.report.errors.push(DynamicError {
                                pattern: Some(p),
                                rule: Some(r),
                                node: Some(node),
                                expression: check.test_source.clone(),
                                message: e.to_string(),
                            });
                            continue;
                        }
                    };
                    let counts = &mut self.report.patterns[p];
                    match (check.kind, truth) {
                        (CheckKind::Assert, false) => counts.failed_asserts += 1,
                        (CheckKind::Report, true) => counts.successful_reports += 1,
                        _ => continue,
                    }
                    if self.report.results.len() >= MAX_RESULTS {
                        continue;
                    }
                    let result = self.result(p, r, c, check, node, rule_subject, &vars);
                    self.report.results.push(result);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn result(
        &mut self,
        p: usize,
        r: usize,
        c: usize,
        check: &CheckProgram,
        node: Node,
        rule_subject: Option<Node>,
        vars: &Variables,
    ) -> Hit {
        let item = Item::Node(node);
        let subject = check
            .subject
            .as_ref()
            .and_then(|s| self.first_node(s, &item, vars, (Some(p), Some(r))))
            .or(rule_subject)
            .unwrap_or(node);
        let message = self.text(&check.message, &item, vars, (Some(p), Some(r)));
        let mut keyed = |list: &[(String, Vec<Piece>)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(id, pieces)| {
                    (
                        id.clone(),
                        self.text(pieces, &item, vars, (Some(p), Some(r))),
                    )
                })
                .collect()
        };
        let diagnostics = keyed(&check.diagnostics);
        let properties = keyed(&check.properties);
        Hit {
            pattern: p,
            rule: r,
            check: c,
            node: subject,
            message,
            diagnostics,
            properties,
        }
    }

    fn first_node(
        &mut self,
        q: &SequenceQuery,
        item: &Item,
        vars: &Variables,
        at: At,
    ) -> Option<Node> {
        let seq = self.eval(q, item, vars, at, "subject")?;
        let first = seq.iter().next();
        first.and_then(|i| i.to_node().ok())
    }

    /// A message with its queries' string values in place and white space collapsed.
    fn text(&mut self, pieces: &[Piece], item: &Item, vars: &Variables, at: At) -> String {
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Query(q) => {
                    if let Some(seq) = self.eval(q, item, vars, at, "value-of") {
                        let xot = self.doc.xot();
                        let values: Vec<String> = seq
                            .iter()
                            .filter_map(|i| i.string_value(xot).ok())
                            .collect();
                        out.push_str(&values.join(" "));
                    }
                }
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Each node's position in document order (attributes after their element).
    fn document_order(&mut self) -> &HashMap<Node, usize> {
        let (xot, root) = (self.doc.xot(), self.doc.root);
        self.order.get_or_insert_with(|| {
            let mut order = HashMap::new();
            for n in xot.descendants(root) {
                order.insert(n, order.len());
                for a in xot.attribute_nodes(n) {
                    order.insert(a, order.len());
                }
            }
            order
        })
    }
}
