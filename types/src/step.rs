//! What a step left behind once its outcome was decided: the recorded result, how the
//! run ends when a step (or the clock) ends it, and the files a container stored.

use serde::{Deserialize, Serialize};

use crate::{ErrorCategory, Finding, Output, RunStatus, StepStatus};

/// A file a container validator left for the user, stored as a blob by the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredArtifact {
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    pub sha256: String,
}

/// A step's recorded result.
pub struct StepResult {
    pub status: StepStatus,
    pub started_at: i64,
    pub finished_at: i64,
    pub outputs: Vec<Output>,
    pub findings: Vec<Finding>,
    pub error: Option<String>,
    /// sha256 of the component (or the image ID) that ran, for the evidence manifest.
    pub digest: Option<String>,
    /// Files the host collected from a container's output directory (never anything a
    /// validator's outputs name).
    pub artifacts: Vec<StoredArtifact>,
}

impl StepResult {
    /// A step the run never reached.
    pub fn skipped(at: i64) -> StepResult {
        StepResult {
            status: StepStatus::Skipped,
            started_at: at,
            finished_at: at,
            outputs: vec![],
            findings: vec![],
            error: None,
            digest: None,
            artifacts: vec![],
        }
    }
}

/// How the run ends, when a step (or the clock) ends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Final {
    pub status: RunStatus,
    pub category: Option<ErrorCategory>,
    pub detail: Option<String>,
}

impl Final {
    pub fn succeeded() -> Final {
        Final {
            status: RunStatus::Succeeded,
            category: None,
            detail: None,
        }
    }

    /// The run's time limit passed before the next step could start.
    pub fn out_of_time() -> Final {
        Final {
            status: RunStatus::TimedOut,
            category: Some(ErrorCategory::Timeout),
            detail: Some("the run exceeded its workflow's time limit".into()),
        }
    }

    /// Attempts exhausted by worker losses or host failures.
    pub fn system_error(detail: String) -> Final {
        Final {
            status: RunStatus::Failed,
            category: Some(ErrorCategory::SystemError),
            detail: Some(detail),
        }
    }
}
