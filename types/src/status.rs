//! Run lifecycle `PENDING → RUNNING → SUCCEEDED | FAILED | CANCELED | TIMED_OUT`, its
//! public projection (`state`, `result`), step statuses and error categories — each
//! with the one wire string the database, the API and the reports use.

wire_enum!(
    /// Where a run is in its lifecycle (`runs.status`).
    RunStatus {
        Pending => "PENDING",
        Running => "RUNNING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Canceled => "CANCELED",
        TimedOut => "TIMED_OUT",
    }
);

wire_enum!(
    /// A step's status. Only `PASSED`, `FAILED` and `SKIPPED` are ever stored
    /// (`step_runs.status`); `PENDING`, `RUNNING` and `WAITING` (an asynchronous
    /// container step whose job runs elsewhere, no worker holding it) describe steps of
    /// a run in flight that have no row yet.
    StepStatus {
        Pending => "PENDING",
        Running => "RUNNING",
        Waiting => "WAITING",
        Passed => "PASSED",
        Failed => "FAILED",
        Skipped => "SKIPPED",
    }
);

wire_enum!(
    /// Why a run did not succeed (`runs.error_category`).
    ErrorCategory {
        ValidationFailed => "VALIDATION_FAILED",
        Timeout => "TIMEOUT",
        Oom => "OOM",
        RuntimeError => "RUNTIME_ERROR",
        SystemError => "SYSTEM_ERROR",
    }
);

impl RunStatus {
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

impl StepStatus {
    /// The statuses a step row can hold.
    pub const STORED: [StepStatus; 3] =
        [StepStatus::Passed, StepStatus::Failed, StepStatus::Skipped];
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

    #[test]
    fn wire_strings_round_trip_through_serde() {
        for s in StepStatus::ALL {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<StepStatus>(&json).unwrap(), *s);
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(*s));
        }
        assert!(serde_json::from_str::<ErrorCategory>("\"LATE\"").is_err());
    }
}
