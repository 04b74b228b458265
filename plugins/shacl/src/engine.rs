//! Validation: each shape's focus nodes, their value nodes, and every constraint
//! component of SHACL Core checked against them (SHACL §4), producing validation
//! results as the spec defines them.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use oxrdf::Term;

use crate::graph::{Graph, Id};
use crate::path::Path;
use crate::shapes::{Constraint, NodeKind, Severity, Shape, ShapeRef, Shapes, Target};
use crate::values;

/// One `sh:ValidationResult`.
#[derive(Debug, Clone)]
pub struct ValidationResult {
    pub focus: Id,
    /// The predicate `sh:closed` found undeclared (other results take the shape's path).
    pub closed_predicate: Option<Id>,
    pub value: Option<Id>,
    pub component: &'static str,
    pub shape: ShapeRef,
    pub severity: Severity,
    pub message: String,
}

impl ValidationResult {
    /// `sh:resultPath`: the shape's path, or the predicate of a closed shape's result.
    pub fn path<'s>(&self, shapes: &'s Shapes) -> Option<std::borrow::Cow<'s, Path>> {
        match self.closed_predicate {
            Some(p) => Some(std::borrow::Cow::Owned(Path::Predicate(p))),
            None => shapes.shapes[self.shape]
                .path
                .as_ref()
                .map(std::borrow::Cow::Borrowed),
        }
    }
}

/// Stops a runaway: nesting deeper than this through sh:node & co. is taken as
/// conforming (SHACL leaves recursive shapes undefined).
const MAX_DEPTH: usize = 64;

pub struct Engine<'a> {
    pub data: &'a Graph,
    pub shapes: &'a Shapes,
    /// (shape, node) pairs being checked further up the stack: recursion conforms.
    active: RefCell<HashSet<(ShapeRef, Id)>>,
    memo: RefCell<HashMap<(ShapeRef, Id), bool>>,
}

impl<'a> Engine<'a> {
    pub fn new(data: &'a Graph, shapes: &'a Shapes) -> Self {
        Self {
            data,
            shapes,
            active: RefCell::default(),
            memo: RefCell::default(),
        }
    }

    /// Every result of every active shape on its targets.
    pub fn validate(&self, limit: usize) -> Vec<ValidationResult> {
        let mut out = Vec::new();
        for (at, shape) in self.shapes.shapes.iter().enumerate() {
            if shape.deactivated || shape.targets.is_empty() {
                continue;
            }
            for focus in self.focus_nodes(shape) {
                self.check(at, focus, &mut out, 0);
                if out.len() >= limit {
                    return out;
                }
            }
        }
        out
    }

    fn focus_nodes(&self, shape: &Shape) -> Vec<Id> {
        let g = self.data;
        let mut nodes = Vec::new();
        let mut seen = HashSet::new();
        for target in &shape.targets {
            let found: Vec<Id> = match target {
                Target::Node(n) => vec![*n],
                Target::Class(c) => g.instances(*c),
                Target::SubjectsOf(p) => g.with_predicate(*p).iter().map(|(s, _)| *s).collect(),
                Target::ObjectsOf(p) => g.with_predicate(*p).iter().map(|(_, o)| *o).collect(),
            };
            nodes.extend(found.into_iter().filter(|n| seen.insert(*n)));
        }
        nodes
    }

    /// Whether `node` conforms to shape `at` (no results at all, whatever their severity).
    fn conforms(&self, at: ShapeRef, node: Id, depth: usize) -> bool {
        if self.shapes.shapes[at].deactivated || depth > MAX_DEPTH {
            return true;
        }
        if let Some(&known) = self.memo.borrow().get(&(at, node)) {
            return known;
        }
        if !self.active.borrow_mut().insert((at, node)) {
            return true;
        }
        let mut results = Vec::new();
        self.check(at, node, &mut results, depth + 1);
        self.active.borrow_mut().remove(&(at, node));
        let conforms = results.is_empty();
        self.memo.borrow_mut().insert((at, node), conforms);
        conforms
    }

    /// The results of shape `at` on one focus node.
    fn check(&self, at: ShapeRef, focus: Id, out: &mut Vec<ValidationResult>, depth: usize) {
        let shape = &self.shapes.shapes[at];
        if shape.deactivated {
            return;
        }
        let g = self.data;
        let values = match &shape.path {
            Some(path) => path.values(g, focus),
            None => vec![focus],
        };
        let result =
            |component: &'static str, value: Option<Id>, detail: String| ValidationResult {
                focus,
                closed_predicate: None,
                value,
                component,
                shape: at,
                severity: shape.severity,
                message: message(shape, detail),
            };
        for c in &shape.constraints {
            let component = c.component();
            let mut each = |fails: &dyn Fn(Id) -> Option<String>| {
                for &v in &values {
                    if let Some(detail) = fails(v) {
                        out.push(result(component, Some(v), detail));
                    }
                }
            };
            match c {
                Constraint::Class(class) => each(&|v| {
                    (!g.is_instance(v, *class)).then(|| {
                        format!(
                            "{} is not an instance of {}",
                            g.display(v),
                            g.display(*class)
                        )
                    })
                }),
                Constraint::Datatype(dt) => each(&|v| {
                    let ok = match g.term(v) {
                        Term::Literal(l) => {
                            l.datatype().as_str() == iri_of(g, *dt) && values::well_formed(l)
                        }
                        _ => false,
                    };
                    (!ok).then(|| format!("{} is not a valid {}", g.display(v), g.display(*dt)))
                }),
                Constraint::NodeKind(kind) => each(&|v| {
                    (!node_kind_matches(g.term(v), *kind))
                        .then(|| format!("{} is not of node kind {}", g.display(v), kind.name()))
                }),
                Constraint::MinCount(min) => {
                    if (values.len() as u64) < *min {
                        out.push(result(
                            component,
                            None,
                            format!("{} values, fewer than the {min} required", values.len()),
                        ));
                    }
                }
                Constraint::MaxCount(max) => {
                    if values.len() as u64 > *max {
                        out.push(result(
                            component,
                            None,
                            format!("{} values, more than the {max} allowed", values.len()),
                        ));
                    }
                }
                Constraint::MinExclusive(b) => {
                    each(&|v| range(g, v, *b, |o| o == Ordering::Greater, ">"))
                }
                Constraint::MinInclusive(b) => {
                    each(&|v| range(g, v, *b, |o| o != Ordering::Less, ">="))
                }
                Constraint::MaxExclusive(b) => {
                    each(&|v| range(g, v, *b, |o| o == Ordering::Less, "<"))
                }
                Constraint::MaxInclusive(b) => {
                    each(&|v| range(g, v, *b, |o| o != Ordering::Greater, "<="))
                }
                Constraint::MinLength(min) => each(&|v| {
                    let ok = values::string_of(g.term(v))
                        .is_some_and(|s| s.chars().count() as u64 >= *min);
                    (!ok).then(|| format!("{} is shorter than {min} characters", g.display(v)))
                }),
                Constraint::MaxLength(max) => each(&|v| {
                    let ok = values::string_of(g.term(v))
                        .is_some_and(|s| s.chars().count() as u64 <= *max);
                    (!ok).then(|| format!("{} is longer than {max} characters", g.display(v)))
                }),
                Constraint::Pattern { regex, source } => each(&|v| {
                    let ok = values::string_of(g.term(v)).is_some_and(|s| regex.is_match(s));
                    (!ok).then(|| format!("{} does not match the pattern {source:?}", g.display(v)))
                }),
                Constraint::LanguageIn(tags) => each(&|v| {
                    let ok = match g.term(v) {
                        Term::Literal(l) => l
                            .language()
                            .is_some_and(|lang| tags.iter().any(|t| values::lang_matches(lang, t))),
                        _ => false,
                    };
                    (!ok).then(|| {
                        format!(
                            "{} is not in one of the languages {}",
                            g.display(v),
                            tags.join(", ")
                        )
                    })
                }),
                Constraint::UniqueLang => {
                    let mut counts: Vec<(String, usize)> = Vec::new();
                    for &v in &values {
                        if let Term::Literal(l) = g.term(v) {
                            if let Some(lang) = l.language() {
                                let lang = lang.to_ascii_lowercase();
                                match counts.iter_mut().find(|(t, _)| *t == lang) {
                                    Some((_, n)) => *n += 1,
                                    None => counts.push((lang, 1)),
                                }
                            }
                        }
                    }
                    for (lang, n) in counts.into_iter().filter(|(_, n)| *n > 1) {
                        out.push(result(
                            component,
                            None,
                            format!("{n} values share the language tag {lang:?}"),
                        ));
                    }
                }
                Constraint::Equals(p) => {
                    let others: HashSet<Id> = g.objects(focus, *p).iter().copied().collect();
                    let mine: HashSet<Id> = values.iter().copied().collect();
                    for &v in mine.difference(&others) {
                        out.push(result(
                            component,
                            Some(v),
                            format!("{} is not a value of {}", g.display(v), g.display(*p)),
                        ));
                    }
                    for &v in others.difference(&mine) {
                        out.push(result(
                            component,
                            Some(v),
                            format!(
                                "{} is a value of {} but not of this path",
                                g.display(v),
                                g.display(*p)
                            ),
                        ));
                    }
                }
                Constraint::Disjoint(p) => each(&|v| {
                    g.has(focus, *p, v)
                        .then(|| format!("{} is also a value of {}", g.display(v), g.display(*p)))
                }),
                Constraint::LessThan(p) | Constraint::LessThanOrEquals(p) => {
                    let strict = matches!(c, Constraint::LessThan(_));
                    for &v in &values {
                        for &o in g.objects(focus, *p) {
                            let ok = match values::compare(g.term(v), g.term(o)) {
                                Some(Ordering::Less) => true,
                                Some(Ordering::Equal) => !strict,
                                _ => false,
                            };
                            if !ok {
                                let op = if strict { "<" } else { "<=" };
                                out.push(result(
                                    component,
                                    Some(v),
                                    format!(
                                        "{} is not {op} {} ({})",
                                        g.display(v),
                                        g.display(o),
                                        g.display(*p)
                                    ),
                                ));
                            }
                        }
                    }
                }
                Constraint::Not(s) => each(&|v| {
                    self.conforms(*s, v, depth).then(|| {
                        format!(
                            "{} conforms to {}, which it must not",
                            g.display(v),
                            self.label(*s)
                        )
                    })
                }),
                Constraint::And(members) => each(&|v| {
                    (!members.iter().all(|&s| self.conforms(s, v, depth))).then(|| {
                        format!("{} does not conform to every shape of sh:and", g.display(v))
                    })
                }),
                Constraint::Or(members) => each(&|v| {
                    (!members.iter().any(|&s| self.conforms(s, v, depth))).then(|| {
                        format!("{} conforms to none of the shapes of sh:or", g.display(v))
                    })
                }),
                Constraint::Xone(members) => each(&|v| {
                    let n = members
                        .iter()
                        .filter(|&&s| self.conforms(s, v, depth))
                        .count();
                    (n != 1).then(|| {
                        format!(
                            "{} conforms to {n} of the shapes of sh:xone, not exactly one",
                            g.display(v)
                        )
                    })
                }),
                Constraint::Node(s) => each(&|v| {
                    (!self.conforms(*s, v, depth))
                        .then(|| format!("{} does not conform to {}", g.display(v), self.label(*s)))
                }),
                Constraint::Property(s) => {
                    for &v in &values {
                        if depth <= MAX_DEPTH {
                            self.check(*s, v, out, depth + 1);
                        }
                    }
                }
                Constraint::QualifiedValueShape {
                    shape: q,
                    min,
                    max,
                    siblings,
                    ..
                } => {
                    let n = values
                        .iter()
                        .filter(|&&v| {
                            self.conforms(*q, v, depth)
                                && !siblings.iter().any(|&s| self.conforms(s, v, depth))
                        })
                        .count() as u64;
                    if let Some(min) = min.filter(|m| n < *m) {
                        out.push(result(
                            component,
                            None,
                            format!("{n} values conform to {}, fewer than {min}", self.label(*q)),
                        ));
                    }
                    if let Some(max) = max.filter(|m| n > *m) {
                        out.push(result(
                            component,
                            None,
                            format!("{n} values conform to {}, more than {max}", self.label(*q)),
                        ));
                    }
                }
                Constraint::Closed { allowed } => {
                    for &v in &values {
                        for &(p, o) in g.outgoing(v) {
                            if !allowed.contains(&p) {
                                let mut r = result(
                                    component,
                                    Some(o),
                                    format!(
                                        "{} is not among the properties the closed shape allows",
                                        g.display(p)
                                    ),
                                );
                                r.closed_predicate = Some(p);
                                out.push(r);
                            }
                        }
                    }
                }
                Constraint::HasValue(h) => {
                    if !values.contains(h) {
                        out.push(result(
                            component,
                            None,
                            format!("{} is missing", g.display(*h)),
                        ));
                    }
                }
                Constraint::In(members) => each(&|v| {
                    (!members.contains(&v))
                        .then(|| format!("{} is not one of the allowed values", g.display(v)))
                }),
            }
        }
    }

    fn label(&self, at: ShapeRef) -> &str {
        &self.shapes.shapes[at].label
    }
}

fn iri_of(g: &Graph, id: Id) -> &str {
    match g.term(id) {
        Term::NamedNode(n) => n.as_str(),
        _ => "",
    }
}

fn node_kind_matches(term: &Term, kind: NodeKind) -> bool {
    let (iri, blank, literal) = (
        term.is_named_node(),
        term.is_blank_node(),
        term.is_literal(),
    );
    match kind {
        NodeKind::Iri => iri,
        NodeKind::BlankNode => blank,
        NodeKind::Literal => literal,
        NodeKind::BlankNodeOrIri => blank || iri,
        NodeKind::BlankNodeOrLiteral => blank || literal,
        NodeKind::IriOrLiteral => iri || literal,
    }
}

/// A range constraint: `Some(detail)` when `v` fails `ok(compare(v, bound))`.
fn range(g: &Graph, v: Id, bound: Id, ok: impl Fn(Ordering) -> bool, op: &str) -> Option<String> {
    let passes = values::compare(g.term(v), g.term(bound)).is_some_and(ok);
    (!passes).then(|| format!("{} is not {op} {}", g.display(v), g.display(bound)))
}

/// The shape's `sh:message` (English or untagged first) or the engine's own words.
fn message(shape: &Shape, detail: String) -> String {
    let pick = shape
        .messages
        .iter()
        .filter_map(|m| match m {
            Term::Literal(l) => Some(l),
            _ => None,
        })
        .min_by_key(|l| match l.language() {
            None => 0,
            Some(lang) if values::lang_matches(lang, "en") => 1,
            Some(_) => 2,
        });
    match pick {
        Some(l) => l.value().to_owned(),
        None => detail,
    }
}
