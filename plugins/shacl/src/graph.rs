//! An in-memory RDF graph indexed for the lookups validation makes: objects of a
//! subject and predicate, subjects of a predicate and object, and a node's outgoing
//! triples. Terms are interned to `Id`s, so the engine compares integers.

use std::collections::{HashMap, HashSet};

use oxrdf::{NamedNode, Term};
use oxrdfio::{RdfFormat, RdfParser};

use crate::vocab;

pub type Id = u32;

#[derive(Default, Clone)]
pub struct Graph {
    terms: Vec<Term>,
    ids: HashMap<Term, Id>,
    triples: HashSet<(Id, Id, Id)>,
    objects: HashMap<(Id, Id), Vec<Id>>,
    subjects: HashMap<(Id, Id), Vec<Id>>,
    by_predicate: HashMap<Id, Vec<(Id, Id)>>,
    outgoing: HashMap<Id, Vec<(Id, Id)>>,
    /// Prefixes the documents declared, for readable paths in findings.
    pub prefixes: Vec<(String, String)>,
    /// Labels of the blank nodes documents brought in, numbered in the order they
    /// appear (the parser's own names are random), so a finding names the same node
    /// from one run to the next whatever the shapes or ontology hold.
    blank_labels: HashMap<Id, String>,
    blank_prefix: &'static str,
    blank_count: u32,
}

/// A document the parser could not read: its format's error, with where.
#[derive(Debug)]
pub struct ParseError {
    /// A DOCTYPE refused before parsing (see `dtd`), rather than a syntax error.
    pub dtd_refused: bool,
    pub message: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

impl Graph {
    /// Adds every triple of `bytes` read as `format`; named graphs are merged into one
    /// graph (SHACL validates a graph). Blank nodes are renamed apart, so two documents
    /// loaded into one graph never share one by accident.
    pub fn load(&mut self, bytes: &[u8], format: RdfFormat, base: &str) -> Result<(), ParseError> {
        if format == RdfFormat::RdfXml {
            crate::dtd::check(bytes).map_err(|r| ParseError {
                dtd_refused: true,
                message: r.message,
                line: Some(r.line),
                column: Some(1),
            })?;
        }
        let parser = RdfParser::from_format(format)
            .with_base_iri(base)
            .map_err(|e| ParseError {
                dtd_refused: false,
                message: e.to_string(),
                line: None,
                column: None,
            })?
            .rename_blank_nodes();
        let mut quads = parser.for_slice(bytes);
        for quad in quads.by_ref() {
            let quad = quad.map_err(|e| {
                let (line, column) = position(&e);
                let mut message = e.to_string();
                if message.contains("LoadDocumentCallback") {
                    message = "the JSON-LD @context is remote, and nothing is fetched: put the context in the document".into();
                }
                ParseError {
                    dtd_refused: false,
                    message,
                    line,
                    column,
                }
            })?;
            let s = self.intern_labeled(quad.subject.into());
            let p = self.intern(quad.predicate.into());
            let o = self.intern_labeled(quad.object);
            self.insert(s, p, o);
        }
        for (prefix, iri) in quads.prefixes() {
            let pair = (prefix.to_owned(), iri.to_owned());
            if !self.prefixes.contains(&pair) {
                self.prefixes.push(pair);
            }
        }
        Ok(())
    }

    pub fn intern(&mut self, term: Term) -> Id {
        if let Some(id) = self.ids.get(&term) {
            return *id;
        }
        let id = Id::try_from(self.terms.len()).expect("fewer than 2^32 terms");
        self.terms.push(term.clone());
        self.ids.insert(term, id);
        id
    }

    /// Interns a term read from a document, labelling a new blank node.
    fn intern_labeled(&mut self, term: Term) -> Id {
        let blank = matches!(term, Term::BlankNode(_));
        let before = self.terms.len();
        let id = self.intern(term);
        if blank && self.terms.len() > before {
            self.blank_count += 1;
            let label = format!("_:{}{}", self.blank_prefix_or_default(), self.blank_count);
            self.blank_labels.insert(id, label);
        }
        id
    }

    fn blank_prefix_or_default(&self) -> &'static str {
        if self.blank_prefix.is_empty() {
            "b"
        } else {
            self.blank_prefix
        }
    }

    /// Blank nodes loaded from here on are labelled `_:<prefix>1`, `_:<prefix>2`, … (the
    /// submission's `_:b…` after the ontology's `_:o…`, in a graph cloned from the base).
    pub fn label_blank_nodes(&mut self, prefix: &'static str) {
        self.blank_prefix = prefix;
        self.blank_count = 0;
    }

    pub fn iri(&mut self, iri: &str) -> Id {
        self.intern(NamedNode::new_unchecked(iri).into())
    }

    pub fn insert(&mut self, s: Id, p: Id, o: Id) {
        if !self.triples.insert((s, p, o)) {
            return;
        }
        self.objects.entry((s, p)).or_default().push(o);
        self.subjects.entry((p, o)).or_default().push(s);
        self.by_predicate.entry(p).or_default().push((s, o));
        self.outgoing.entry(s).or_default().push((p, o));
    }

    pub fn term(&self, id: Id) -> &Term {
        &self.terms[id as usize]
    }

    pub fn lookup(&self, term: &Term) -> Option<Id> {
        self.ids.get(term).copied()
    }

    pub fn lookup_iri(&self, iri: &str) -> Option<Id> {
        self.lookup(&NamedNode::new_unchecked(iri).into())
    }

    pub fn has(&self, s: Id, p: Id, o: Id) -> bool {
        self.triples.contains(&(s, p, o))
    }

    pub fn objects(&self, s: Id, p: Id) -> &[Id] {
        self.objects.get(&(s, p)).map_or(&[], Vec::as_slice)
    }

    pub fn object(&self, s: Id, p: Id) -> Option<Id> {
        self.objects(s, p).first().copied()
    }

    pub fn subjects(&self, p: Id, o: Id) -> &[Id] {
        self.subjects.get(&(p, o)).map_or(&[], Vec::as_slice)
    }

    pub fn with_predicate(&self, p: Id) -> &[(Id, Id)] {
        self.by_predicate.get(&p).map_or(&[], Vec::as_slice)
    }

    pub fn outgoing(&self, s: Id) -> &[(Id, Id)] {
        self.outgoing.get(&s).map_or(&[], Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.triples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.triples.is_empty()
    }

    /// The members of the RDF list starting at `head`, or `None` when it is not a
    /// well-formed list (a member missing, a cycle, a branch).
    pub fn list(&self, head: Id) -> Option<Vec<Id>> {
        let (first, rest, nil) = (
            self.lookup_iri(vocab::RDF_FIRST),
            self.lookup_iri(vocab::RDF_REST),
            self.lookup_iri(vocab::RDF_NIL),
        );
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        let mut node = head;
        while Some(node) != nil {
            let (first, rest) = (first?, rest?);
            if !seen.insert(node) {
                return None;
            }
            match (self.objects(node, first), self.objects(node, rest)) {
                ([item], [next]) => {
                    items.push(*item);
                    node = *next;
                }
                _ => return None,
            }
        }
        Some(items)
    }

    /// `node` and every class it is a subclass of (`rdfs:subClassOf*`).
    pub fn superclasses(&self, class: Id) -> HashSet<Id> {
        let mut found = HashSet::from([class]);
        let Some(sub) = self.lookup_iri(vocab::RDFS_SUBCLASS_OF) else {
            return found;
        };
        let mut todo = vec![class];
        while let Some(c) = todo.pop() {
            for &sup in self.objects(c, sub) {
                if found.insert(sup) {
                    todo.push(sup);
                }
            }
        }
        found
    }

    /// Every node that is a SHACL instance of `class`: typed with it or a subclass.
    pub fn instances(&self, class: Id) -> Vec<Id> {
        let (Some(ty), sub) = (
            self.lookup_iri(vocab::RDF_TYPE),
            self.lookup_iri(vocab::RDFS_SUBCLASS_OF),
        ) else {
            return Vec::new();
        };
        let mut classes = vec![class];
        let mut seen = HashSet::from([class]);
        let mut i = 0;
        while i < classes.len() {
            if let Some(sub) = sub {
                for &c in self.subjects(sub, classes[i]) {
                    if seen.insert(c) {
                        classes.push(c);
                    }
                }
            }
            i += 1;
        }
        let mut out = Vec::new();
        let mut had = HashSet::new();
        for c in classes {
            for &n in self.subjects(ty, c) {
                if had.insert(n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// Whether `node` is a SHACL instance of `class`.
    pub fn is_instance(&self, node: Id, class: Id) -> bool {
        let Some(ty) = self.lookup_iri(vocab::RDF_TYPE) else {
            return false;
        };
        self.objects(node, ty)
            .iter()
            .any(|&t| self.superclasses(t).contains(&class))
    }

    /// A short, readable form of a term: a prefixed name when a declared prefix fits.
    /// Blank nodes read as their label (see `label_blank_nodes`), or `_:n<id>` for
    /// one no document brought in (a shape's, interned from the shapes graph).
    pub fn display(&self, id: Id) -> String {
        match self.term(id) {
            Term::BlankNode(_) => self
                .blank_labels
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("_:n{id}")),
            term => display_term(term, &self.prefixes),
        }
    }
}

pub fn display_term(term: &Term, prefixes: &[(String, String)]) -> String {
    match term {
        Term::NamedNode(n) => compact(n.as_str(), prefixes),
        Term::BlankNode(b) => format!("_:{}", b.as_str()),
        Term::Literal(l) => {
            if let Some(lang) = l.language() {
                format!("{:?}@{lang}", l.value())
            } else if l.datatype().as_str() == "http://www.w3.org/2001/XMLSchema#string" {
                format!("{:?}", l.value())
            } else {
                format!(
                    "{:?}^^{}",
                    l.value(),
                    compact(l.datatype().as_str(), prefixes)
                )
            }
        }
    }
}

pub fn compact(iri: &str, prefixes: &[(String, String)]) -> String {
    prefixes
        .iter()
        .filter(|(_, ns)| !ns.is_empty() && iri.starts_with(ns.as_str()))
        .max_by_key(|(_, ns)| ns.len())
        .map(|(p, ns)| format!("{p}:{}", &iri[ns.len()..]))
        .unwrap_or_else(|| format!("<{iri}>"))
}

fn position(e: &oxrdfio::RdfSyntaxError) -> (Option<u64>, Option<u64>) {
    match e.location() {
        Some(range) => (Some(range.start.line + 1), Some(range.start.column + 1)),
        None => (None, None),
    }
}

/// The RDF format of a media type (parameters ignored) or, failing that, a file name's
/// extension.
pub fn format_of(media_type: &str, name: Option<&str>) -> Option<RdfFormat> {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    RdfFormat::from_media_type(essence).or_else(|| {
        let ext = name?.rsplit_once('.')?.1;
        RdfFormat::from_extension(ext)
    })
}
