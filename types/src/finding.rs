//! Findings: what validators say about a document. A step fails if it has any `ERROR`.

use serde::{Deserialize, Serialize};

wire_enum!(
    /// How much a finding matters; a step with an `ERROR` fails.
    Severity {
        Error => "ERROR",
        Warning => "WARNING",
        Info => "INFO",
        Success => "SUCCESS",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

impl Finding {
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            code: code.into(),
            message: message.into(),
            path: String::new(),
            meta: None,
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
}

/// A named measurement from a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub name: String,
    pub value: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}
