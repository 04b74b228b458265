//! What a container run ended as. Each outcome maps to a step status and, when
//! the run fails because of it, the run's error category.

use serde::Serialize;

use crate::runs::ErrorCategory;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Exit code 0 and a valid output envelope.
    Succeeded,
    /// The validator exited non-zero (or exited 0 without a usable output envelope).
    ValidatorFailed {
        exit_code: i64,
        reason: String,
    },
    /// Still running at the deadline: SIGTERM, grace, SIGKILL.
    TimedOut,
    Cancelled,
    /// Only when the engine says so (`OOMKilled`); an exit 137 alone is not an OOM.
    Oom,
    /// The engine or the host failed (worth a retry).
    RunnerError {
        reason: String,
    },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::ValidatorFailed { .. } => "validator_failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
            Outcome::Oom => "oom",
            Outcome::RunnerError { .. } => "runner_error",
        }
    }

    /// The run's error category when this outcome ends it (`None`: the findings decide).
    pub fn error_category(&self) -> Option<ErrorCategory> {
        match self {
            Outcome::Succeeded | Outcome::Cancelled => None,
            Outcome::ValidatorFailed { .. } => Some(ErrorCategory::RuntimeError),
            Outcome::TimedOut => Some(ErrorCategory::Timeout),
            Outcome::Oom => Some(ErrorCategory::Oom),
            Outcome::RunnerError { .. } => Some(ErrorCategory::SystemError),
        }
    }

    /// The finding code recorded on the step for a failure.
    pub fn finding_code(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "container.succeeded",
            Outcome::ValidatorFailed { .. } => "container.validator_failed",
            Outcome::TimedOut => "container.timed_out",
            Outcome::Cancelled => "container.cancelled",
            Outcome::Oom => "container.oom",
            Outcome::RunnerError { .. } => "container.runner_error",
        }
    }
}
