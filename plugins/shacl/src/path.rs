//! SHACL property paths: read from the shapes graph, evaluated over the data graph,
//! and written back in SPARQL's path syntax for findings.

use std::collections::HashSet;

use crate::graph::{Graph, Id};
use crate::vocab;

#[derive(Debug, Clone, PartialEq)]
pub enum Path {
    Predicate(Id),
    Inverse(Box<Path>),
    Sequence(Vec<Path>),
    Alternative(Vec<Path>),
    ZeroOrMore(Box<Path>),
    OneOrMore(Box<Path>),
    ZeroOrOne(Box<Path>),
}

impl Path {
    /// The path whose node is `node` in the shapes graph `sg`; predicates are mapped
    /// into the data graph's ids by `to_data`. `None` when the node is not a path.
    pub fn parse(sg: &Graph, node: Id, to_data: &mut dyn FnMut(Id) -> Id) -> Option<Path> {
        Self::parse_at(sg, node, to_data, 0)
    }

    fn parse_at(
        sg: &Graph,
        node: Id,
        to_data: &mut dyn FnMut(Id) -> Id,
        depth: usize,
    ) -> Option<Path> {
        if depth > 64 {
            return None;
        }
        if sg.term(node).is_named_node() {
            return Some(Path::Predicate(to_data(node)));
        }
        // A list is a sequence path, whatever else the node says (the suite's "strange" paths).
        if let Some(members) = sg.list(node).filter(|m| m.len() >= 2) {
            let paths = members
                .into_iter()
                .map(|m| Self::parse_at(sg, m, to_data, depth + 1))
                .collect::<Option<Vec<_>>>()?;
            return Some(Path::Sequence(paths));
        }
        let one = |local: &str| {
            sg.lookup_iri(&vocab::sh(local))
                .and_then(|p| sg.object(node, p))
        };
        if let Some(inner) = one("inversePath") {
            return Some(Path::Inverse(Box::new(Self::parse_at(
                sg,
                inner,
                to_data,
                depth + 1,
            )?)));
        }
        if let Some(list) = one("alternativePath") {
            let members = sg.list(list)?;
            let paths = members
                .into_iter()
                .map(|m| Self::parse_at(sg, m, to_data, depth + 1))
                .collect::<Option<Vec<_>>>()?;
            return (paths.len() >= 2).then_some(Path::Alternative(paths));
        }
        for (local, make) in [
            ("zeroOrMorePath", Path::ZeroOrMore as fn(Box<Path>) -> Path),
            ("oneOrMorePath", Path::OneOrMore),
            ("zeroOrOnePath", Path::ZeroOrOne),
        ] {
            if let Some(inner) = one(local) {
                return Some(make(Box::new(Self::parse_at(
                    sg,
                    inner,
                    to_data,
                    depth + 1,
                )?)));
            }
        }
        None
    }

    /// The nodes reached from `focus`, each once, in the order first reached.
    pub fn values(&self, g: &Graph, focus: Id) -> Vec<Id> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for n in self.eval(g, &[focus]) {
            if seen.insert(n) {
                out.push(n);
            }
        }
        out
    }

    fn eval(&self, g: &Graph, from: &[Id]) -> Vec<Id> {
        match self {
            Path::Predicate(p) => from
                .iter()
                .flat_map(|&n| g.objects(n, *p).iter().copied())
                .collect(),
            Path::Inverse(inner) => match inner.as_ref() {
                Path::Predicate(p) => from
                    .iter()
                    .flat_map(|&n| g.subjects(*p, n).iter().copied())
                    .collect(),
                other => inverse(other, g, from),
            },
            Path::Sequence(steps) => {
                let mut nodes = from.to_vec();
                for step in steps {
                    nodes = dedup(step.eval(g, &nodes));
                }
                nodes
            }
            Path::Alternative(paths) => paths.iter().flat_map(|p| p.eval(g, from)).collect(),
            Path::ZeroOrOne(inner) => {
                let mut nodes = from.to_vec();
                nodes.extend(inner.eval(g, from));
                nodes
            }
            Path::ZeroOrMore(inner) | Path::OneOrMore(inner) => {
                let mut reached: Vec<Id> = Vec::new();
                let mut seen = HashSet::new();
                if matches!(self, Path::ZeroOrMore(_)) {
                    for &n in from {
                        if seen.insert(n) {
                            reached.push(n);
                        }
                    }
                }
                let mut frontier = dedup(inner.eval(g, from));
                while !frontier.is_empty() {
                    let mut next = Vec::new();
                    for n in frontier {
                        if seen.insert(n) {
                            reached.push(n);
                            next.push(n);
                        }
                    }
                    frontier = dedup(inner.eval(g, &next));
                }
                reached
            }
        }
    }

    /// SPARQL 1.1 property path syntax, with prefixed names where a prefix fits.
    pub fn display(&self, g: &Graph) -> String {
        match self {
            Path::Predicate(p) => g.display(*p),
            Path::Inverse(inner) => format!("^{}", inner.display_operand(g)),
            Path::Sequence(steps) => steps
                .iter()
                .map(|s| s.display_operand(g))
                .collect::<Vec<_>>()
                .join("/"),
            Path::Alternative(paths) => paths
                .iter()
                .map(|s| s.display_operand(g))
                .collect::<Vec<_>>()
                .join("|"),
            Path::ZeroOrMore(inner) => format!("{}*", inner.display_operand(g)),
            Path::OneOrMore(inner) => format!("{}+", inner.display_operand(g)),
            Path::ZeroOrOne(inner) => format!("{}?", inner.display_operand(g)),
        }
    }

    fn display_operand(&self, g: &Graph) -> String {
        match self {
            Path::Predicate(_) | Path::Inverse(_) => self.display(g),
            _ => format!("({})", self.display(g)),
        }
    }

    /// The predicate of a path that is one IRI (what `sh:closed` counts as declared).
    pub fn predicate(&self) -> Option<Id> {
        match self {
            Path::Predicate(p) => Some(*p),
            _ => None,
        }
    }
}

/// `^path` for a complex path: the nodes from which `path` reaches one of `to`.
fn inverse(path: &Path, g: &Graph, to: &[Id]) -> Vec<Id> {
    let reversed = reverse(path);
    reversed.eval(g, to)
}

/// The path that walks `path` backwards.
fn reverse(path: &Path) -> Path {
    match path {
        Path::Predicate(p) => Path::Inverse(Box::new(Path::Predicate(*p))),
        Path::Inverse(inner) => (**inner).clone(),
        Path::Sequence(steps) => Path::Sequence(steps.iter().rev().map(reverse).collect()),
        Path::Alternative(paths) => Path::Alternative(paths.iter().map(reverse).collect()),
        Path::ZeroOrMore(inner) => Path::ZeroOrMore(Box::new(reverse(inner))),
        Path::OneOrMore(inner) => Path::OneOrMore(Box::new(reverse(inner))),
        Path::ZeroOrOne(inner) => Path::ZeroOrOne(Box::new(reverse(inner))),
    }
}

fn dedup(nodes: Vec<Id>) -> Vec<Id> {
    let mut seen = HashSet::new();
    nodes.into_iter().filter(|n| seen.insert(*n)).collect()
}
