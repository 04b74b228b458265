//! The contract of a container validator: the `validibot.input.v1` envelope the
//! host writes (mounted read-only at [`INPUT_DIR`]) and the `validibot.output.v1`
//! envelope the container writes, create-only, into [`OUTPUT_DIR`]. Results come
//! only from the output envelope, never from logs. Shared by the host and by
//! validators written in Rust so both sides agree on one definition.

use serde::{Deserialize, Serialize};

pub const INPUT_SCHEMA: &str = "validibot.input.v1";
pub const OUTPUT_SCHEMA: &str = "validibot.output.v1";
/// The input envelope's file name in [`INPUT_DIR`].
pub const ENVELOPE_NAME: &str = "input.json";
/// The directory in [`INPUT_DIR`] that holds the step's files (`step_files`).
pub const STEP_FILES_DIR: &str = "step-files";
/// Where the input and output directories appear inside the container.
pub const INPUT_DIR: &str = "/validibot/input";
pub const OUTPUT_DIR: &str = "/validibot/output";
/// Environment variables the container is started with.
pub const ENV_INPUT_URI: &str = "VALIDIBOT_INPUT_URI";
pub const ENV_OUTPUT_URI: &str = "VALIDIBOT_OUTPUT_URI";
pub const ENV_RUN_ID: &str = "VALIDIBOT_RUN_ID";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputFile {
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    pub sha256: String,
    pub uri: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputEnvelope {
    pub schema_version: String,
    pub run_id: String,
    pub validator: String,
    /// The submission (the first file).
    pub files: Vec<InputFile>,
    pub config: serde_json::Value,
    /// Files the workflow author attached to the step (a weather file, a reference
    /// table), under [`STEP_FILES_DIR`]; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_files: Vec<InputFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStatus {
    Success,
    FailedValidation,
    FailedRuntime,
    Cancelled,
}

/// One finding. `severity` is `ERROR`, `WARNING` or `INFO`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub severity: String,
    pub code: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A file the validator left in its output directory for the host to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Relative to the output directory.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputEnvelope {
    pub schema_version: String,
    pub status: OutputStatus,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
}

impl OutputEnvelope {
    /// `failed_validation` when any message is an `ERROR`, else `success`.
    pub fn from_messages(messages: Vec<Message>, metrics: Vec<Metric>) -> Self {
        let failed = messages.iter().any(|m| m.severity == "ERROR");
        Self {
            schema_version: OUTPUT_SCHEMA.into(),
            status: if failed {
                OutputStatus::FailedValidation
            } else {
                OutputStatus::Success
            },
            messages,
            metrics,
            artifacts: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_errors_and_round_trips() {
        let warn = Message {
            severity: "WARNING".into(),
            code: "a.b".into(),
            text: "t".into(),
            location: None,
        };
        let ok = OutputEnvelope::from_messages(vec![warn.clone()], vec![]);
        assert_eq!(ok.status, OutputStatus::Success);
        let err = Message {
            severity: "ERROR".into(),
            ..warn
        };
        let bad = OutputEnvelope::from_messages(vec![err], vec![]);
        assert_eq!(bad.status, OutputStatus::FailedValidation);
        let text = serde_json::to_string(&bad).unwrap();
        assert!(text.contains(r#""status":"failed_validation""#));
        assert!(!text.contains("location"));
        assert_eq!(serde_json::from_str::<OutputEnvelope>(&text).unwrap(), bad);
    }
}
