//! The shapes graph read into shapes: their targets, path, constraints, severity and
//! messages. Terms the constraints name are interned into the data graph, so the
//! engine compares ids. An ill-formed parameter is a finding against the config, not
//! a silent skip; SHACL-SPARQL and SHACL-AF features are named as not enforced.

use std::collections::{BTreeSet, HashMap, HashSet};

use oxrdf::Term;
use regex::Regex;

use crate::graph::{display_term, Graph, Id};
use crate::path::Path;
use crate::vocab;

pub type ShapeRef = usize;

#[derive(Debug)]
pub struct Shape {
    /// The shape's node, in the data graph's ids.
    pub node: Id,
    pub label: String,
    pub targets: Vec<Target>,
    pub path: Option<Path>,
    pub constraints: Vec<Constraint>,
    pub severity: Severity,
    /// The node of a non-standard severity IRI, kept for the report.
    pub severity_iri: Option<String>,
    pub messages: Vec<Term>,
    pub deactivated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Violation,
}

#[derive(Debug)]
pub enum Target {
    Node(Id),
    Class(Id),
    SubjectsOf(Id),
    ObjectsOf(Id),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Iri,
    BlankNode,
    Literal,
    BlankNodeOrIri,
    BlankNodeOrLiteral,
    IriOrLiteral,
}

impl NodeKind {
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Iri => "sh:IRI",
            NodeKind::BlankNode => "sh:BlankNode",
            NodeKind::Literal => "sh:Literal",
            NodeKind::BlankNodeOrIri => "sh:BlankNodeOrIRI",
            NodeKind::BlankNodeOrLiteral => "sh:BlankNodeOrLiteral",
            NodeKind::IriOrLiteral => "sh:IRIOrLiteral",
        }
    }
}

#[derive(Debug)]
pub enum Constraint {
    Class(Id),
    Datatype(Id),
    NodeKind(NodeKind),
    MinCount(u64),
    MaxCount(u64),
    MinExclusive(Id),
    MinInclusive(Id),
    MaxExclusive(Id),
    MaxInclusive(Id),
    MinLength(u64),
    MaxLength(u64),
    Pattern {
        regex: Regex,
        source: String,
    },
    LanguageIn(Vec<String>),
    UniqueLang,
    Equals(Id),
    Disjoint(Id),
    LessThan(Id),
    LessThanOrEquals(Id),
    Not(ShapeRef),
    And(Vec<ShapeRef>),
    Or(Vec<ShapeRef>),
    Xone(Vec<ShapeRef>),
    Node(ShapeRef),
    Property(ShapeRef),
    QualifiedValueShape {
        shape: ShapeRef,
        min: Option<u64>,
        max: Option<u64>,
        /// `sh:qualifiedValueShapesDisjoint`: a value must not conform to a sibling too.
        disjoint: bool,
        /// The sibling qualified shapes (filled once every shape is read; empty unless
        /// disjoint).
        siblings: Vec<ShapeRef>,
    },
    Closed {
        allowed: HashSet<Id>,
    },
    HasValue(Id),
    In(Vec<Id>),
}

impl Constraint {
    /// The constraint component's local name, e.g. `MinCountConstraintComponent`.
    pub fn component(&self) -> &'static str {
        match self {
            Constraint::Class(_) => "ClassConstraintComponent",
            Constraint::Datatype(_) => "DatatypeConstraintComponent",
            Constraint::NodeKind(_) => "NodeKindConstraintComponent",
            Constraint::MinCount(_) => "MinCountConstraintComponent",
            Constraint::MaxCount(_) => "MaxCountConstraintComponent",
            Constraint::MinExclusive(_) => "MinExclusiveConstraintComponent",
            Constraint::MinInclusive(_) => "MinInclusiveConstraintComponent",
            Constraint::MaxExclusive(_) => "MaxExclusiveConstraintComponent",
            Constraint::MaxInclusive(_) => "MaxInclusiveConstraintComponent",
            Constraint::MinLength(_) => "MinLengthConstraintComponent",
            Constraint::MaxLength(_) => "MaxLengthConstraintComponent",
            Constraint::Pattern { .. } => "PatternConstraintComponent",
            Constraint::LanguageIn(_) => "LanguageInConstraintComponent",
            Constraint::UniqueLang => "UniqueLangConstraintComponent",
            Constraint::Equals(_) => "EqualsConstraintComponent",
            Constraint::Disjoint(_) => "DisjointConstraintComponent",
            Constraint::LessThan(_) => "LessThanConstraintComponent",
            Constraint::LessThanOrEquals(_) => "LessThanOrEqualsConstraintComponent",
            Constraint::Not(_) => "NotConstraintComponent",
            Constraint::And(_) => "AndConstraintComponent",
            Constraint::Or(_) => "OrConstraintComponent",
            Constraint::Xone(_) => "XoneConstraintComponent",
            Constraint::Node(_) => "NodeConstraintComponent",
            Constraint::Property(_) => "PropertyConstraintComponent",
            Constraint::QualifiedValueShape { min: Some(_), .. } => {
                "QualifiedMinCountConstraintComponent"
            }
            Constraint::QualifiedValueShape { .. } => "QualifiedMaxCountConstraintComponent",
            Constraint::Closed { .. } => "ClosedConstraintComponent",
            Constraint::HasValue(_) => "HasValueConstraintComponent",
            Constraint::In(_) => "InConstraintComponent",
        }
    }
}

/// Every shape of a shapes graph, and what it asks that is not enforced.
#[derive(Debug, Default)]
pub struct Shapes {
    pub shapes: Vec<Shape>,
    /// Features named in the shapes graph that this engine does not enforce.
    pub unsupported: BTreeSet<String>,
}

/// A shapes graph that cannot be used: which shape, which parameter, why.
#[derive(Debug, Clone, PartialEq)]
pub struct IllFormed {
    pub shape: String,
    pub message: String,
}

/// Parameters of SHACL-SPARQL and SHACL Advanced Features this engine does not run.
const UNSUPPORTED: &[&str] = &[
    "sparql",
    "select",
    "ask",
    "targetType",
    "target",
    "rule",
    "expression",
    "condition",
    "filterShape",
    "js",
    "jsFunctionName",
];

struct Reader<'a> {
    sg: &'a Graph,
    data: &'a mut Graph,
    index: HashMap<Id, ShapeRef>,
    shapes: Vec<Option<Shape>>,
    todo: Vec<Id>,
}

impl Shapes {
    /// Reads every shape of `sg`, interning the terms they name into `data`.
    pub fn read(sg: &Graph, data: &mut Graph) -> Result<Shapes, IllFormed> {
        let mut reader = Reader {
            sg,
            data,
            index: HashMap::new(),
            shapes: Vec::new(),
            todo: Vec::new(),
        };
        for node in shape_nodes(sg) {
            reader.shape_ref(node);
        }
        while let Some(node) = reader.todo.pop() {
            let at = reader.index[&node];
            let shape = reader.read_shape(node)?;
            reader.shapes[at] = Some(shape);
        }
        let mut shapes: Vec<Shape> = reader
            .shapes
            .into_iter()
            .map(|s| s.expect("every queued shape is read"))
            .collect();
        link_qualified_siblings(&mut shapes);
        let mut unsupported = BTreeSet::new();
        for local in UNSUPPORTED {
            if let Some(p) = sg.lookup_iri(&vocab::sh(local)) {
                if !sg.with_predicate(p).is_empty() {
                    unsupported.insert(format!("sh:{local}"));
                }
            }
        }
        Ok(Shapes {
            shapes,
            unsupported,
        })
    }
}

/// Only `true` switches a boolean parameter on: the spec names no other form, and the
/// suite checks that `"1"^^xsd:boolean` does not.
fn literal_true(term: &Term) -> bool {
    matches!(term, Term::Literal(l) if l.value() == "true")
}

/// The nodes the shapes graph makes shapes on their own (SHACL §2.1): instances of
/// sh:NodeShape / sh:PropertyShape, subjects of targets or of sh:path, objects of the
/// parameters that take shapes. Members of sh:and/or/xone are reached from their users.
fn shape_nodes(sg: &Graph) -> Vec<Id> {
    let mut nodes = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |n: Id, nodes: &mut Vec<Id>| {
        if seen.insert(n) {
            nodes.push(n);
        }
    };
    for class in ["NodeShape", "PropertyShape"] {
        if let Some(c) = sg.lookup_iri(&vocab::sh(class)) {
            for n in sg.instances(c) {
                add(n, &mut nodes);
            }
        }
    }
    for p in [
        "targetClass",
        "targetNode",
        "targetSubjectsOf",
        "targetObjectsOf",
        "path",
    ] {
        if let Some(p) = sg.lookup_iri(&vocab::sh(p)) {
            for &(s, _) in sg.with_predicate(p) {
                add(s, &mut nodes);
            }
        }
    }
    for p in ["node", "property", "not", "qualifiedValueShape"] {
        if let Some(p) = sg.lookup_iri(&vocab::sh(p)) {
            for &(_, o) in sg.with_predicate(p) {
                add(o, &mut nodes);
            }
        }
    }
    nodes
}

impl Reader<'_> {
    fn shape_ref(&mut self, node: Id) -> ShapeRef {
        if let Some(&at) = self.index.get(&node) {
            return at;
        }
        let at = self.shapes.len();
        self.index.insert(node, at);
        self.shapes.push(None);
        self.todo.push(node);
        at
    }

    fn intern(&mut self, id: Id) -> Id {
        self.data.intern(self.sg.term(id).clone())
    }

    fn sh(&self, local: &str) -> Option<Id> {
        self.sg.lookup_iri(&vocab::sh(local))
    }

    fn values(&self, node: Id, local: &str) -> Vec<Id> {
        self.sh(local)
            .map(|p| self.sg.objects(node, p).to_vec())
            .unwrap_or_default()
    }

    fn read_shape(&mut self, node: Id) -> Result<Shape, IllFormed> {
        let label = self.sg.display(node);
        let ill = |message: String| IllFormed {
            shape: label.clone(),
            message,
        };
        let mut targets = Vec::new();
        for (local, make) in [
            ("targetNode", Target::Node as fn(Id) -> Target),
            ("targetClass", Target::Class),
            ("targetSubjectsOf", Target::SubjectsOf),
            ("targetObjectsOf", Target::ObjectsOf),
        ] {
            for v in self.values(node, local) {
                targets.push(make(self.intern(v)));
            }
        }
        // An rdfs:Class that is also a shape targets its own instances (implicit target).
        let is_class = self
            .sg
            .lookup_iri(vocab::RDFS_CLASS)
            .is_some_and(|c| self.sg.is_instance(node, c));
        if is_class && self.sg.term(node).is_named_node() {
            targets.push(Target::Class(self.intern(node)));
        }
        let path = match self.values(node, "path").as_slice() {
            [] => None,
            [p] => {
                let (sg, data) = (self.sg, &mut *self.data);
                let mut map = |id: Id| data.intern(sg.term(id).clone());
                Some(
                    Path::parse(sg, *p, &mut map)
                        .ok_or_else(|| ill("sh:path is not a well-formed SHACL path".into()))?,
                )
            }
            _ => return Err(ill("a shape has at most one sh:path".into())),
        };
        let severity_node = self.values(node, "severity").first().copied();
        let (severity, severity_iri) = match severity_node.map(|s| self.sg.term(s).clone()) {
            None => (Severity::Violation, None),
            Some(Term::NamedNode(n)) => match n.as_str().strip_prefix(vocab::SH) {
                Some("Violation") => (Severity::Violation, None),
                Some("Warning") => (Severity::Warning, None),
                Some("Info") => (Severity::Info, None),
                _ => (Severity::Violation, Some(n.as_str().to_owned())),
            },
            Some(_) => return Err(ill("sh:severity must be an IRI".into())),
        };
        let messages = self
            .values(node, "message")
            .into_iter()
            .map(|m| self.sg.term(m).clone())
            .collect();
        let deactivated = self
            .values(node, "deactivated")
            .iter()
            .any(|&d| literal_true(self.sg.term(d)));
        let constraints = self.constraints(node, path.is_some()).map_err(ill)?;
        Ok(Shape {
            node: self.intern(node),
            label,
            targets,
            path,
            constraints,
            severity,
            severity_iri,
            messages,
            deactivated,
        })
    }

    fn constraints(&mut self, node: Id, property_shape: bool) -> Result<Vec<Constraint>, String> {
        let mut out = Vec::new();
        for v in self.values(node, "class") {
            out.push(Constraint::Class(self.intern(v)));
        }
        for v in self.values(node, "datatype") {
            if !self.sg.term(v).is_named_node() {
                return Err("sh:datatype must be an IRI".into());
            }
            out.push(Constraint::Datatype(self.intern(v)));
        }
        for v in self.values(node, "nodeKind") {
            let kind = match iri_local(self.sg.term(v)) {
                Some("IRI") => NodeKind::Iri,
                Some("BlankNode") => NodeKind::BlankNode,
                Some("Literal") => NodeKind::Literal,
                Some("BlankNodeOrIRI") => NodeKind::BlankNodeOrIri,
                Some("BlankNodeOrLiteral") => NodeKind::BlankNodeOrLiteral,
                Some("IRIOrLiteral") => NodeKind::IriOrLiteral,
                _ => {
                    return Err(format!(
                        "sh:nodeKind {} is not a SHACL node kind",
                        self.sg.display(v)
                    ))
                }
            };
            out.push(Constraint::NodeKind(kind));
        }
        if property_shape {
            for v in self.values(node, "minCount") {
                out.push(Constraint::MinCount(self.count(v, "sh:minCount")?));
            }
            for v in self.values(node, "maxCount") {
                out.push(Constraint::MaxCount(self.count(v, "sh:maxCount")?));
            }
            if self
                .values(node, "uniqueLang")
                .iter()
                .any(|&v| literal_true(self.sg.term(v)))
            {
                out.push(Constraint::UniqueLang);
            }
            for v in self.values(node, "lessThan") {
                out.push(Constraint::LessThan(self.predicate(v, "sh:lessThan")?));
            }
            for v in self.values(node, "lessThanOrEquals") {
                out.push(Constraint::LessThanOrEquals(
                    self.predicate(v, "sh:lessThanOrEquals")?,
                ));
            }
            self.qualified(node, &mut out)?;
        }
        for (local, make) in [
            (
                "minExclusive",
                Constraint::MinExclusive as fn(Id) -> Constraint,
            ),
            ("minInclusive", Constraint::MinInclusive),
            ("maxExclusive", Constraint::MaxExclusive),
            ("maxInclusive", Constraint::MaxInclusive),
        ] {
            for v in self.values(node, local) {
                if !self.sg.term(v).is_literal() {
                    return Err(format!("sh:{local} must be a literal"));
                }
                out.push(make(self.intern(v)));
            }
        }
        for v in self.values(node, "minLength") {
            out.push(Constraint::MinLength(self.count(v, "sh:minLength")?));
        }
        for v in self.values(node, "maxLength") {
            out.push(Constraint::MaxLength(self.count(v, "sh:maxLength")?));
        }
        let flags = self
            .values(node, "flags")
            .first()
            .map(|&f| self.sg.term(f).clone());
        for v in self.values(node, "pattern") {
            let Term::Literal(source) = self.sg.term(v) else {
                return Err("sh:pattern must be a literal".into());
            };
            let flags = match &flags {
                Some(Term::Literal(f)) => f.value().to_owned(),
                _ => String::new(),
            };
            out.push(Constraint::Pattern {
                regex: compile_pattern(source.value(), &flags)?,
                source: source.value().to_owned(),
            });
        }
        for v in self.values(node, "languageIn") {
            let members = self.sg.list(v).ok_or("sh:languageIn must be a list")?;
            let tags = members
                .into_iter()
                .map(|m| match self.sg.term(m) {
                    Term::Literal(l) => Ok(l.value().to_owned()),
                    _ => Err("sh:languageIn members must be literals".to_string()),
                })
                .collect::<Result<_, _>>()?;
            out.push(Constraint::LanguageIn(tags));
        }
        for v in self.values(node, "equals") {
            out.push(Constraint::Equals(self.predicate(v, "sh:equals")?));
        }
        for v in self.values(node, "disjoint") {
            out.push(Constraint::Disjoint(self.predicate(v, "sh:disjoint")?));
        }
        for v in self.values(node, "not") {
            out.push(Constraint::Not(self.shape_ref(v)));
        }
        for (local, make) in [
            ("and", Constraint::And as fn(Vec<ShapeRef>) -> Constraint),
            ("or", Constraint::Or),
            ("xone", Constraint::Xone),
        ] {
            for v in self.values(node, local) {
                let members = self
                    .sg
                    .list(v)
                    .ok_or(format!("sh:{local} must be a list of shapes"))?;
                let refs = members.into_iter().map(|m| self.shape_ref(m)).collect();
                out.push(make(refs));
            }
        }
        for v in self.values(node, "node") {
            out.push(Constraint::Node(self.shape_ref(v)));
        }
        for v in self.values(node, "property") {
            out.push(Constraint::Property(self.shape_ref(v)));
        }
        if self
            .values(node, "closed")
            .iter()
            .any(|&v| literal_true(self.sg.term(v)))
        {
            let mut allowed = HashSet::new();
            for p in self.values(node, "property") {
                for path in self.values(p, "path") {
                    if self.sg.term(path).is_named_node() {
                        allowed.insert(self.intern(path));
                    }
                }
            }
            for list in self.values(node, "ignoredProperties") {
                for m in self
                    .sg
                    .list(list)
                    .ok_or("sh:ignoredProperties must be a list")?
                {
                    allowed.insert(self.intern(m));
                }
            }
            out.push(Constraint::Closed { allowed });
        }
        for v in self.values(node, "hasValue") {
            out.push(Constraint::HasValue(self.intern(v)));
        }
        for v in self.values(node, "in") {
            let members = self.sg.list(v).ok_or("sh:in must be a list")?;
            let ids = members.into_iter().map(|m| self.intern(m)).collect();
            out.push(Constraint::In(ids));
        }
        Ok(out)
    }

    fn qualified(&mut self, node: Id, out: &mut Vec<Constraint>) -> Result<(), String> {
        let shapes = self.values(node, "qualifiedValueShape");
        if shapes.is_empty() {
            return Ok(());
        }
        let min = self
            .values(node, "qualifiedMinCount")
            .first()
            .map(|&v| self.count(v, "sh:qualifiedMinCount"))
            .transpose()?;
        let max = self
            .values(node, "qualifiedMaxCount")
            .first()
            .map(|&v| self.count(v, "sh:qualifiedMaxCount"))
            .transpose()?;
        let disjoint = self
            .values(node, "qualifiedValueShapesDisjoint")
            .iter()
            .any(|&v| literal_true(self.sg.term(v)));
        for s in shapes {
            let shape = self.shape_ref(s);
            for (min, max) in [(min, None), (None, max)] {
                if min.is_some() || max.is_some() {
                    out.push(Constraint::QualifiedValueShape {
                        shape,
                        min,
                        max,
                        disjoint,
                        siblings: Vec::new(),
                    });
                }
            }
        }
        Ok(())
    }

    fn count(&self, v: Id, what: &str) -> Result<u64, String> {
        let term = self.sg.term(v);
        match term {
            Term::Literal(l) => l.value().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            format!(
                "{what} must be a non-negative integer, not {}",
                display_term(term, &self.sg.prefixes)
            )
        })
    }

    fn predicate(&mut self, v: Id, what: &str) -> Result<Id, String> {
        if !self.sg.term(v).is_named_node() {
            return Err(format!("{what} must be an IRI"));
        }
        Ok(self.intern(v))
    }
}

/// For `sh:qualifiedValueShapesDisjoint`: the sibling shapes are the qualified value
/// shapes of the other property shapes of every shape that has this one as property.
fn link_qualified_siblings(shapes: &mut [Shape]) {
    let mut parents: HashMap<ShapeRef, Vec<ShapeRef>> = HashMap::new();
    for (at, s) in shapes.iter().enumerate() {
        for c in &s.constraints {
            if let Constraint::Property(p) = c {
                parents.entry(*p).or_default().push(at);
            }
        }
    }
    let qualified_of = |shape: &Shape| -> Vec<ShapeRef> {
        shape
            .constraints
            .iter()
            .filter_map(|c| match c {
                Constraint::QualifiedValueShape { shape, .. } => Some(*shape),
                _ => None,
            })
            .collect()
    };
    let mut fills: Vec<(ShapeRef, Vec<ShapeRef>)> = Vec::new();
    for (at, s) in shapes.iter().enumerate() {
        let own = qualified_of(s);
        if own.is_empty() {
            continue;
        }
        let mut siblings = BTreeSet::new();
        for parent in parents.get(&at).into_iter().flatten() {
            for c in &shapes[*parent].constraints {
                if let Constraint::Property(p) = c {
                    for q in qualified_of(&shapes[*p]) {
                        if !own.contains(&q) {
                            siblings.insert(q);
                        }
                    }
                }
            }
        }
        fills.push((at, siblings.into_iter().collect()));
    }
    for (at, siblings) in fills {
        for c in &mut shapes[at].constraints {
            if let Constraint::QualifiedValueShape {
                disjoint: true,
                siblings: s,
                ..
            } = c
            {
                *s = siblings.clone();
            }
        }
    }
}

fn iri_local(term: &Term) -> Option<&str> {
    match term {
        Term::NamedNode(n) => n.as_str().strip_prefix(vocab::SH),
        _ => None,
    }
}

/// `sh:pattern` with `sh:flags` (XPath's `fn:matches` flags: s, m, i, x, q).
fn compile_pattern(source: &str, flags: &str) -> Result<Regex, String> {
    let mut builder_source = String::new();
    let mut inline = String::new();
    for f in flags.chars() {
        match f {
            's' | 'm' | 'i' | 'x' => inline.push(f),
            'q' => {}
            other => return Err(format!("sh:flags {other:?} is not an XPath regex flag")),
        }
    }
    if !inline.is_empty() {
        builder_source.push_str(&format!("(?{inline})"));
    }
    if flags.contains('q') {
        builder_source.push_str(&regex::escape(source));
    } else {
        builder_source.push_str(source);
    }
    regex::RegexBuilder::new(&builder_source)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("sh:pattern {source:?} does not compile: {e}"))
}
