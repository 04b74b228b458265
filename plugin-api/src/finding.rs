//! Typed findings and outputs, the results a validator returns.

/// How serious a finding is; a step fails when it has any `Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Info,
    Success,
}

/// One observation about the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    /// Stable dotted code, e.g. `json.schema.required`.
    pub code: String,
    pub message: String,
    /// JSON pointer, XPath or `row:col`; empty for the whole document.
    pub path: String,
    pub meta: Option<serde_json::Value>,
}

impl Finding {
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity,
            code: code.into(),
            message: message.into(),
            path: String::new(),
            meta: None,
        }
    }

    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    pub fn with_meta(mut self, meta: serde_json::Value) -> Self {
        self.meta = Some(meta);
        self
    }
}

/// A named measurement, e.g. `{"name": "error_count", "value": 3}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub value: serde_json::Value,
    pub unit: Option<String>,
}

impl Output {
    pub fn new(name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            unit: None,
        }
    }
}

/// What a successful validation call returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub outputs: Vec<Output>,
}
