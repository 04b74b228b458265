//! The step config and the graphs it names. A validator has no network: shapes and
//! ontologies arrive inline or as files attached to the step, and `owl:imports` are
//! followed only to step files the config maps them to.

use std::collections::{BTreeMap, HashSet};

use oxrdf::Term;
use oxrdfio::RdfFormat;
use serde::Deserialize;
use validibot_plugin_api::{Finding, StepFile};

use crate::graph::{self, Graph};
use crate::shapes::Shapes;
use crate::vocab;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// Shapes as text (Turtle unless `shapes_format` says otherwise).
    #[serde(default)]
    pub shapes: Option<String>,
    #[serde(default)]
    pub shapes_format: Option<String>,
    /// Step files holding shapes; their format is read from the extension.
    #[serde(default)]
    pub shapes_files: Vec<String>,
    /// Step files merged into the data graph (class hierarchies `sh:class` reads).
    #[serde(default)]
    pub ontology_files: Vec<String>,
    /// `owl:imports` IRIs mapped to the step files that stand for them.
    #[serde(default)]
    pub imports: BTreeMap<String, String>,
    /// The submission's format when its media type does not say (e.g. `text/turtle`).
    #[serde(default)]
    pub data_format: Option<String>,
}

pub fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "shapes": {"type": "string", "description": "The shapes graph as text (Turtle unless shapes_format says otherwise)."},
            "shapes_format": {"type": "string", "description": "Media type of shapes: text/turtle, application/n-triples, application/rdf+xml, application/ld+json."},
            "shapes_files": {"type": "array", "items": {"type": "string"}, "description": "Names of step files holding shapes (format from the extension: .ttl, .nt, .rdf/.owl, .jsonld)."},
            "ontology_files": {"type": "array", "items": {"type": "string"}, "description": "Names of step files merged into the data graph, e.g. the class hierarchy of Brick or ASHRAE 223P that sh:class reads."},
            "imports": {"type": "object", "additionalProperties": {"type": "string"}, "description": "owl:imports IRIs mapped to the step files standing for them. Nothing is ever fetched; an unmapped import is reported."},
            "data_format": {"type": "string", "description": "The submission's media type when the upload's does not name an RDF format."}
        }
    })
}

/// The config with its graphs read: the shapes, and the graph each submission is loaded
/// into — the ontology, plus every term the shapes name (interned there, so a clone
/// of it keeps the shapes' ids valid).
pub struct Compiled {
    pub base: Graph,
    pub shapes: Shapes,
    pub data_format: Option<RdfFormat>,
    /// `owl:imports` that no step file stands for.
    pub unresolved_imports: Vec<String>,
}

fn invalid(message: impl Into<String>, at: &str) -> Finding {
    Finding::error("config.invalid", message).at(at)
}

impl StepConfig {
    pub fn parse(config: &serde_json::Value) -> Result<Self, Finding> {
        let cfg: StepConfig = serde_json::from_value(config.clone()).map_err(|e| {
            Finding::error("config.invalid", format!("invalid shacl step config: {e}"))
        })?;
        if cfg.shapes.is_none() && cfg.shapes_files.is_empty() {
            return Err(invalid(
                "give the shapes graph as text (shapes) or as step files (shapes_files)",
                "/shapes",
            ));
        }
        Ok(cfg)
    }

    /// Reads every graph the config names and the shapes in it; `files` are the step's
    /// files. Done once per config (cached), so a run only parses its submission.
    pub fn build(&self, files: &[StepFile]) -> Result<Compiled, Finding> {
        let data_format = self.data_format()?;
        let file = |name: &str, at: &str| -> Result<&StepFile, Finding> {
            files
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| invalid(format!("{name:?} is not among the step's files"), at))
        };
        let load_listed = |graph: &mut Graph, key: &str, names: &[String]| {
            names.iter().enumerate().try_for_each(|(i, name)| {
                let at = format!("/{key}/{i}");
                load_file(graph, file(name, &at)?, &at)
            })
        };
        let mut shapes = self.inline_shapes()?;
        load_listed(&mut shapes, "shapes_files", &self.shapes_files)?;
        let mut base = Graph::default();
        base.label_blank_nodes("o");
        load_listed(&mut base, "ontology_files", &self.ontology_files)?;
        let mut unresolved = Vec::new();
        for graph in [&mut shapes, &mut base] {
            let mut done = HashSet::new();
            loop {
                let pending: Vec<String> = imports_of(graph)
                    .into_iter()
                    .filter(|i| !done.contains(i))
                    .collect();
                if pending.is_empty() {
                    break;
                }
                for iri in pending {
                    done.insert(iri.clone());
                    match self.imports.get(&iri) {
                        Some(name) => {
                            let at = format!("/imports/{iri}");
                            load_file(graph, file(name, &at)?, &at)?;
                        }
                        None if !unresolved.contains(&iri) => unresolved.push(iri),
                        None => {}
                    }
                }
            }
        }
        let shapes = read_shapes(&shapes, &mut base)?;
        Ok(Compiled {
            base,
            shapes,
            data_format,
            unresolved_imports: unresolved,
        })
    }

    /// The save-time check: the step's files are not known yet, so inline shapes only
    /// must parse and read as shapes.
    pub fn check(&self) -> Result<(), Finding> {
        self.data_format()?;
        read_shapes(&self.inline_shapes()?, &mut Graph::default()).map(|_| ())
    }

    fn data_format(&self) -> Result<Option<RdfFormat>, Finding> {
        self.data_format
            .as_deref()
            .map(|m| media_format(m, "/data_format"))
            .transpose()
    }

    fn inline_shapes(&self) -> Result<Graph, Finding> {
        let mut shapes = Graph::default();
        if let Some(text) = &self.shapes {
            let format = match &self.shapes_format {
                Some(m) => media_format(m, "/shapes_format")?,
                None => RdfFormat::Turtle,
            };
            load(
                &mut shapes,
                text.as_bytes(),
                format,
                "urn:validibot:shapes",
                "/shapes",
            )?;
        }
        Ok(shapes)
    }
}

fn media_format(media_type: &str, at: &str) -> Result<RdfFormat, Finding> {
    graph::format_of(media_type, None)
        .ok_or_else(|| invalid(format!("{media_type:?} is not an RDF media type"), at))
}

/// The shapes of `sg`, their terms interned into `base`; an ill-formed shape refuses
/// the config.
fn read_shapes(sg: &Graph, base: &mut Graph) -> Result<Shapes, Finding> {
    Shapes::read(sg, base).map_err(|e| {
        Finding::error(
            "config.shapes_invalid",
            format!("shape {}: {}", e.shape, e.message),
        )
        .at("/shapes")
    })
}

fn load_file(graph: &mut Graph, file: &StepFile, at: &str) -> Result<(), Finding> {
    let format = graph::format_of("", Some(&file.name))
        .ok_or_else(|| invalid(format!("{:?}: the extension does not name an RDF format (.ttl, .nt, .nq, .trig, .rdf, .owl, .jsonld)", file.name), at))?;
    let bytes = file.read_all().map_err(|e| invalid(e.message, at))?;
    load(
        graph,
        &bytes,
        format,
        &format!("urn:validibot:file:{}", file.name),
        at,
    )
}

fn load(
    graph: &mut Graph,
    bytes: &[u8],
    format: RdfFormat,
    base: &str,
    at: &str,
) -> Result<(), Finding> {
    graph.load(bytes, format, base).map_err(|e| {
        let place = match (e.line, e.column) {
            (Some(l), Some(c)) => format!(" at {l}:{c}"),
            _ => String::new(),
        };
        Finding::error(
            "config.shapes_invalid",
            format!(
                "{at}: not readable as {}{place}: {}",
                format.name(),
                e.message
            ),
        )
        .at(at)
    })
}

fn imports_of(graph: &Graph) -> Vec<String> {
    let Some(p) = graph.lookup_iri(vocab::OWL_IMPORTS) else {
        return Vec::new();
    };
    graph
        .with_predicate(p)
        .iter()
        .filter_map(|&(_, o)| match graph.term(o) {
            Term::NamedNode(n) => Some(n.as_str().to_owned()),
            _ => None,
        })
        .collect()
}
