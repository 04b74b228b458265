//! What one `validate` call is given.

use std::sync::Arc;

pub use super::document::Document;

pub struct CallInput<'a> {
    /// Read whole by a 1.0 component, in pieces by a 1.1 one.
    pub document: &'a Document,
    pub content_type: &'a str,
    pub config: &'a str,
    pub ruleset: Option<&'a str>,
    /// The step's files (contract 1.1; a 1.0 component never gets any).
    pub files: &'a [CallFile],
    /// The workflow's base memory cap, instead of the plugin's (see `Limits::memory_for`).
    pub memory_bytes: Option<usize>,
}

/// A file attached to the step, handed to the guest as an `inputs.source`.
#[derive(Debug, Clone)]
pub struct CallFile {
    pub name: String,
    pub media_type: String,
    pub sha256: String,
    pub content: Arc<Vec<u8>>,
}
