//! What a container run ended as. The runner knows nothing of runs: what each
//! outcome means for the step and the run is decided by `execution::step_outcome`.

use serde::Serialize;

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

    /// What happened, in words.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Succeeded => "succeeded".into(),
            Outcome::ValidatorFailed { reason, .. } => reason.clone(),
            Outcome::TimedOut => "still running at the deadline; stopped".into(),
            Outcome::Cancelled => "cancelled".into(),
            Outcome::Oom => "killed by the engine: out of memory".into(),
            Outcome::RunnerError { reason } => reason.clone(),
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
