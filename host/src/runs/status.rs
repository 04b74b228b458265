//! Run lifecycle `PENDING → RUNNING → SUCCEEDED | FAILED | CANCELED | TIMED_OUT`
//! and its public projection (`state`, `result`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
    TimedOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    ValidationFailed,
    Timeout,
    Oom,
    RuntimeError,
    SystemError,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Canceled,
        RunStatus::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "PENDING",
            RunStatus::Running => "RUNNING",
            RunStatus::Succeeded => "SUCCEEDED",
            RunStatus::Failed => "FAILED",
            RunStatus::Canceled => "CANCELED",
            RunStatus::TimedOut => "TIMED_OUT",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "PENDING" => RunStatus::Pending,
            "RUNNING" => RunStatus::Running,
            "SUCCEEDED" => RunStatus::Succeeded,
            "FAILED" => RunStatus::Failed,
            "CANCELED" => RunStatus::Canceled,
            "TIMED_OUT" => RunStatus::TimedOut,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Pending | RunStatus::Running)
    }

    /// Public `state`: `PENDING | RUNNING | COMPLETED`.
    pub fn state(self) -> &'static str {
        match self {
            RunStatus::Pending => "PENDING",
            RunStatus::Running => "RUNNING",
            _ => "COMPLETED",
        }
    }

    /// Public `result`: `PASS | FAIL | ERROR | TIMED_OUT | CANCELED | UNKNOWN`.
    pub fn result(self, category: Option<ErrorCategory>) -> &'static str {
        match (self, category) {
            (RunStatus::Succeeded, _) => "PASS",
            (RunStatus::Failed, Some(ErrorCategory::ValidationFailed)) => "FAIL",
            (RunStatus::Failed, _) => "ERROR",
            (RunStatus::TimedOut, _) => "TIMED_OUT",
            (RunStatus::Canceled, _) => "CANCELED",
            (RunStatus::Pending | RunStatus::Running, _) => "UNKNOWN",
        }
    }
}

impl ErrorCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCategory::ValidationFailed => "VALIDATION_FAILED",
            ErrorCategory::Timeout => "TIMEOUT",
            ErrorCategory::Oom => "OOM",
            ErrorCategory::RuntimeError => "RUNTIME_ERROR",
            ErrorCategory::SystemError => "SYSTEM_ERROR",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorCategory> {
        Some(match s {
            "VALIDATION_FAILED" => ErrorCategory::ValidationFailed,
            "TIMEOUT" => ErrorCategory::Timeout,
            "OOM" => ErrorCategory::Oom,
            "RUNTIME_ERROR" => ErrorCategory::RuntimeError,
            "SYSTEM_ERROR" => ErrorCategory::SystemError,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection() {
        assert_eq!(RunStatus::Succeeded.result(None), "PASS");
        assert_eq!(
            RunStatus::Failed.result(Some(ErrorCategory::ValidationFailed)),
            "FAIL"
        );
        assert_eq!(RunStatus::Failed.result(Some(ErrorCategory::Oom)), "ERROR");
        assert_eq!(
            RunStatus::TimedOut.result(Some(ErrorCategory::Timeout)),
            "TIMED_OUT"
        );
        assert_eq!(RunStatus::Running.state(), "RUNNING");
        assert_eq!(RunStatus::Canceled.state(), "COMPLETED");
        assert_eq!(RunStatus::Pending.result(None), "UNKNOWN");
    }
}
