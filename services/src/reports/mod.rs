//! Run reports for people and CI: plain text, JSON, SARIF 2.1.0 and JUnit XML.
//!
//! Reports read the run the way the API returns it ([`ReportRun`] deserializes a
//! `GET …/runs/{id}` body), so the server, `validibot validate` and the offline
//! `validibot check` render byte-identical reports from the same data.

mod junit;
mod sarif;
mod text;

use serde::{Deserialize, Serialize};
use validibot_types::ids::RunId;

use validibot_types::{Finding, Output, RunStatus, Severity, StepStatus};

/// The output formats of `--format` and `GET …/runs/{id}/report?format=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Junit,
}

impl Format {
    /// `text`, `json`, `sarif` or `junit` (the `--format` names).
    pub const NAMES: [&'static str; 4] = ["text", "json", "sarif", "junit"];

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            "sarif" => Some(Format::Sarif),
            "junit" => Some(Format::Junit),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; charset=utf-8",
            Format::Json => "application/json",
            Format::Sarif => "application/sarif+json",
            Format::Junit => "application/xml",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit.xml",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportWorkflow {
    pub slug: String,
    pub version: i64,
    #[serde(default)]
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportSubmission {
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportStep {
    pub key: String,
    pub name: String,
    pub validator: String,
    #[serde(default)]
    pub validator_version: String,
    pub status: StepStatus,
    #[serde(default)]
    pub duration_ms: Option<f64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub outputs: Vec<Output>,
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// The parts of a run every report needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportRun {
    pub id: RunId,
    pub workflow: ReportWorkflow,
    pub status: RunStatus,
    pub result: String,
    #[serde(default)]
    pub error_detail: Option<String>,
    pub submission: ReportSubmission,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<f64>,
    #[serde(default)]
    pub steps: Vec<ReportStep>,
    /// Where the document is for the reader of the report (the CLI: its path relative to
    /// the repository root), used as SARIF's artifact URI instead of the file's name.
    #[serde(skip)]
    pub document_uri: Option<String>,
    /// Where the validators' pages are (`https://host/ui/validators`), when the renderer
    /// knows the server's address: SARIF links the tool and each rule there.
    #[serde(skip)]
    pub help_base: Option<String>,
}

impl ReportRun {
    /// The document's name in reports (SARIF artifact URI, text header).
    pub fn document(&self) -> &str {
        self.submission
            .filename
            .as_deref()
            .filter(|f| !f.is_empty())
            .unwrap_or("submission")
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.steps
            .iter()
            .flat_map(|s| &s.findings)
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Renders `run` (the API's JSON for it is passed for the `json` format, unchanged).
pub fn render(format: Format, run: &ReportRun, raw: &serde_json::Value) -> String {
    match format {
        Format::Text => text::render(run),
        Format::Json => serde_json::to_string_pretty(raw).unwrap_or_default() + "\n",
        Format::Sarif => {
            serde_json::to_string_pretty(&sarif::render(run)).unwrap_or_default() + "\n"
        }
        Format::Junit => junit::render(run),
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A FAIL run with one failed step (two findings), one passed step and one skipped.
    pub fn failed_run() -> ReportRun {
        serde_json::from_value(serde_json::json!({
            "id": "0192-run",
            "workflow": {"slug": "invoices", "version": 3, "digest": "sha256:ab"},
            "status": "FAILED", "result": "FAIL",
            "error_detail": "step \"schema\" reported errors",
            "submission": {"filename": "inv<1>.json", "sha256": "ff00", "size": 12},
            "created_at": "2026-11-23T10:00:00Z", "duration_ms": 12.5,
            "steps": [
                {"key": "schema", "name": "Schema & shape", "validator": "json-schema",
                 "validator_version": "1.0.0", "status": "FAILED", "duration_ms": 2.0,
                 "findings": [
                    {"severity": "ERROR", "code": "json_schema.required", "message": "\"total\" is required", "path": "$.items[0]"},
                    {"severity": "WARNING", "code": "json_schema.format", "message": "odd \u{1} date", "path": "$.date", "meta": {"line": 4, "column": 9}}
                 ]},
                {"key": "rules", "name": "Rules", "validator": "rules", "status": "PASSED", "duration_ms": 1.0,
                 "findings": [{"severity": "INFO", "code": "rules.note", "message": "3 rules", "path": ""}]},
                {"key": "sim", "name": "Simulation", "validator": "energyplus", "status": "SKIPPED"}
            ]
        }))
        .unwrap()
    }
}
