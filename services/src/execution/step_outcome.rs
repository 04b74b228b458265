//! The one place that decides a step's outcome: its status, its findings, its error,
//! and — when it ends the run — the run's status and error category. Every engine
//! (a WASM component, a container image) and every caller (the worker, `validibot
//! check`) reports what happened as an [`Ended`] and gets the verdict from [`decide`].

use validibot_types::{
    ErrorCategory, Final, Finding, Output, RunStatus, Severity, StepResult, StepStatus,
};

use validibot_engines::containers::envelope::{self, OutputStatus};
use validibot_engines::containers::{Outcome, Report};
use validibot_engines::plugins::CallError;
use validibot_store::workflows::Step;

/// What happened when a step's validator was called, whichever engine ran it.
pub enum Ended {
    /// The validator ran to completion and reported (a WASM component's answer).
    Reported {
        findings: Vec<Finding>,
        outputs: Vec<Output>,
    },
    /// The WASM call failed: trap, deadline, memory, a host failure.
    Wasm(CallError),
    /// A container ran; its typed outcome and output envelope.
    Container(Report),
    /// The step could not start (unknown validator, a Pro feature without a license).
    Refused { finding: Finding, error: String },
}

/// A validator call's facts: when it ran, what ran, how it ended.
pub struct Call {
    pub started_at: i64,
    pub finished_at: i64,
    pub digest: Option<String>,
    pub ended: Ended,
}

/// A failure of the host rather than of the step: worth a retry, never recorded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostFailure(pub String);

/// The verdict on a step that could not start (`Ended::Refused`), refused at once.
pub fn refused(
    step: &Step,
    started_at: i64,
    finding: Finding,
    error: String,
) -> Result<(StepResult, Option<Final>), HostFailure> {
    let call = Call {
        started_at,
        finished_at: validibot_types::clock::now_us(),
        digest: None,
        ended: Ended::Refused { finding, error },
    };
    decide(step, call)
}

/// The verdict on a step whose `when` could not be evaluated: an error of the step
/// (a host failure is retried, as for any call).
pub fn when_failed(
    step: &Step,
    started_at: i64,
    e: CallError,
) -> Result<(StepResult, Option<Final>), HostFailure> {
    if let CallError::Host(msg) = &e {
        return Err(HostFailure(format!(
            "plugin host failure in the `when` of step {:?}: {msg}",
            step.key
        )));
    }
    let finding = Finding::error(
        "when.error",
        format!("the step's `when` could not be evaluated: {e}"),
    );
    refused(step, started_at, finding, e.to_string())
}

/// A step whose `when` is false: SKIPPED, the reason as an INFO finding.
pub fn skipped_by_when(started_at: i64, reason: String) -> (StepResult, Option<Final>) {
    let mut result = StepResult::skipped(started_at);
    result.finished_at = validibot_types::clock::now_us();
    let mut finding = Finding::error("step.skipped", reason);
    finding.severity = Severity::Info;
    result.findings.push(finding);
    (result, None)
}

/// A step whose container runs elsewhere (an asynchronous launch): `WAITING`, never
/// recorded; the run resumes when the container calls back or the reconciler rules.
pub fn waiting(started_at: i64) -> (StepResult, Option<Final>) {
    let mut result = StepResult::skipped(started_at);
    result.status = StepStatus::Waiting;
    (result, None)
}

/// The verdict on a step: its result, and the run's end when the step ends it.
pub fn decide(step: &Step, call: Call) -> Result<(StepResult, Option<Final>), HostFailure> {
    let mut result = StepResult {
        status: StepStatus::Passed,
        started_at: call.started_at,
        finished_at: call.finished_at,
        outputs: vec![],
        findings: vec![],
        error: None,
        digest: call.digest,
        artifacts: vec![],
    };
    let fin = match call.ended {
        Ended::Reported { findings, outputs } => {
            result.findings = findings;
            result.outputs = outputs;
            has_errors(&result.findings).then(|| validation_failed(step))
        }
        Ended::Wasm(CallError::Host(msg)) => {
            return Err(HostFailure(format!(
                "plugin host failure in step {:?}: {msg}",
                step.key
            )))
        }
        Ended::Wasm(CallError::Cancelled) => Some(Final {
            status: RunStatus::Canceled,
            category: None,
            detail: Some(format!("step {:?} was cancelled", step.key)),
        }),
        Ended::Wasm(e) => {
            let (status, category) = wasm_failure(&e);
            result.findings.push(Finding::error(
                e.code(),
                format!("validator {:?} failed: {e}", step.validator),
            ));
            Some(step_error(status, category, e.to_string()))
        }
        Ended::Refused { finding, error } => {
            result.findings.push(finding);
            Some(step_error(
                RunStatus::Failed,
                ErrorCategory::RuntimeError,
                error,
            ))
        }
        Ended::Container(report) => container(step, report, &mut result)?,
    };
    if let Some(fin) = &fin {
        result.status = StepStatus::Failed;
        // A document that failed validation is not an error of the step.
        if fin.category != Some(ErrorCategory::ValidationFailed) {
            result.error = fin.detail.clone();
        }
    }
    Ok((result, fin))
}

/// Whether the step's validator ran to a verdict on the document (passed, or failed
/// validation): only then are its outputs worth asserting on.
pub fn validator_completed(fin: &Option<Final>) -> bool {
    fin.as_ref()
        .is_none_or(|f| f.category == Some(ErrorCategory::ValidationFailed))
}

/// The verdict on a step once its assertions were evaluated (`ended` is the evaluator's
/// answer): failed assertions of ERROR severity fail a passing step; an evaluator that
/// could not finish makes the step an error, as a validator would.
pub fn with_assertions(
    step: &Step,
    verdict: (StepResult, Option<Final>),
    finished_at: i64,
    ended: Ended,
) -> Result<(StepResult, Option<Final>), HostFailure> {
    let (mut result, mut fin) = verdict;
    result.finished_at = finished_at;
    match ended {
        Ended::Reported { findings, .. } => {
            let findings = crate::workflows::assertions::run_findings(step, findings);
            let failed = has_errors(&findings);
            result.findings.extend(findings);
            if failed && fin.is_none() {
                fin = Some(validation_failed(step));
            }
        }
        Ended::Wasm(CallError::Host(msg)) => {
            return Err(HostFailure(format!(
                "plugin host failure in the assertions of step {:?}: {msg}",
                step.key
            )))
        }
        Ended::Wasm(e) => {
            let (status, category) = wasm_failure(&e);
            result.findings.push(Finding::error(
                "assertion.error",
                format!("the step's assertions could not be evaluated: {e}"),
            ));
            fin = Some(step_error(status, category, e.to_string()));
        }
        Ended::Refused { finding, error } => {
            result.findings.push(finding);
            fin = Some(step_error(
                RunStatus::Failed,
                ErrorCategory::RuntimeError,
                error,
            ));
        }
        Ended::Container(_) => unreachable!("assertions are evaluated by a WASM validator"),
    }
    if let Some(f) = &fin {
        result.status = StepStatus::Failed;
        if f.category != Some(ErrorCategory::ValidationFailed) {
            result.error = f.detail.clone();
        }
    }
    Ok((result, fin))
}

/// How a failed WASM call ends the run.
fn wasm_failure(e: &CallError) -> (RunStatus, ErrorCategory) {
    match e {
        CallError::DeadlineExceeded(_) => (RunStatus::TimedOut, ErrorCategory::Timeout),
        CallError::MemoryExceeded { .. } => (RunStatus::Failed, ErrorCategory::Oom),
        _ => (RunStatus::Failed, ErrorCategory::RuntimeError),
    }
}

fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

fn validation_failed(step: &Step) -> Final {
    Final {
        status: RunStatus::Failed,
        category: Some(ErrorCategory::ValidationFailed),
        detail: Some(format!("step {:?} reported errors", step.key)),
    }
}

fn step_error(status: RunStatus, category: ErrorCategory, detail: String) -> Final {
    Final {
        status,
        category: Some(category),
        detail: Some(detail),
    }
}

/// A container's typed outcome and output envelope → findings, outputs and the run's end.
fn container(
    step: &Step,
    report: Report,
    result: &mut StepResult,
) -> Result<Option<Final>, HostFailure> {
    let outcome = report.outcome;
    if let Outcome::RunnerError { reason } = &outcome {
        return Err(HostFailure(format!(
            "container runner failed in step {:?}: {reason}",
            step.key
        )));
    }
    let status = match (&outcome, report.output) {
        (Outcome::Succeeded, Some(out)) => {
            let status = out.status;
            (result.outputs, result.findings) = envelope::results(out);
            Some(status)
        }
        (outcome, _) => {
            let mut f = Finding::error(
                outcome.finding_code(),
                format!("validator {:?}: {}", step.validator, outcome.describe()),
            );
            f.meta = Some(serde_json::json!({
                "exit_code": report.exit_code,
                "log": report.logs.text,
                "log_truncated": report.logs.truncated,
            }));
            result.findings.push(f);
            None
        }
    };
    let errors = has_errors(&result.findings);
    let mut add_error_unless_present = |code: &str, message: &str| {
        if !errors {
            result.findings.push(Finding::error(code, message));
        }
    };
    Ok(match (&outcome, status) {
        (Outcome::Succeeded, Some(OutputStatus::Success)) if !errors => None,
        (Outcome::Succeeded, Some(OutputStatus::Success | OutputStatus::FailedValidation)) => {
            add_error_unless_present(
                "container.failed_validation",
                "the validator reported the document invalid",
            );
            Some(validation_failed(step))
        }
        (Outcome::Succeeded, Some(OutputStatus::FailedRuntime)) => {
            add_error_unless_present(
                "container.failed_runtime",
                "the validator could not complete",
            );
            Some(step_error(
                RunStatus::Failed,
                ErrorCategory::RuntimeError,
                format!("step {:?}: the validator could not complete", step.key),
            ))
        }
        (Outcome::Succeeded, Some(OutputStatus::Cancelled)) | (Outcome::Cancelled, _) => {
            Some(Final {
                status: RunStatus::Canceled,
                category: None,
                detail: Some(format!("step {:?} was cancelled", step.key)),
            })
        }
        (Outcome::TimedOut, _) => Some(step_error(
            RunStatus::TimedOut,
            ErrorCategory::Timeout,
            outcome.describe(),
        )),
        (Outcome::Oom, _) => Some(step_error(
            RunStatus::Failed,
            ErrorCategory::Oom,
            outcome.describe(),
        )),
        // Exited non-zero, or exited 0 without a usable envelope.
        (_, _) => Some(step_error(
            RunStatus::Failed,
            ErrorCategory::RuntimeError,
            outcome.describe(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use validibot_engines::containers::envelope::{Message, Metric, OutputEnvelope};
    use validibot_engines::containers::logs::CapturedLog;

    fn step() -> Step {
        Step {
            position: 0,
            key: "sim".into(),
            name: "sim".into(),
            validator: "energyplus".into(),
            validator_version: "25.2".into(),
            config: serde_json::json!({}),
            config_text: "{}".into(),
            ruleset: None,
            assertions: vec![],
            depends_on: None,
            on_failure: Default::default(),
            run_when: None,
            files: vec![],
        }
    }

    fn container(outcome: Outcome, output: Option<OutputEnvelope>) -> Call {
        Call {
            started_at: 0,
            finished_at: 1,
            digest: Some("sha256:abc".into()),
            ended: Ended::Container(Report {
                outcome,
                output,
                logs: CapturedLog::default(),
                exit_code: Some(0),
                elapsed: Duration::from_secs(1),
            }),
        }
    }

    fn envelope(status: OutputStatus, severity: &str) -> OutputEnvelope {
        OutputEnvelope {
            schema_version: "validibot.output.v1".into(),
            status,
            messages: vec![Message {
                severity: severity.into(),
                code: "eplus.severe".into(),
                text: "x".into(),
                location: Some("Zone 1".into()),
            }],
            metrics: vec![Metric {
                name: "eui".into(),
                value: 101.5.into(),
                unit: Some("kWh/m2".into()),
            }],
            artifacts: vec![],
        }
    }

    #[test]
    fn container_outcomes_map_to_step_status_and_error_category() {
        let ok = Some(envelope(OutputStatus::Success, "warning"));
        let (r, fin) = decide(&step(), container(Outcome::Succeeded, ok)).unwrap();
        assert_eq!((r.status, fin), (StepStatus::Passed, None));
        assert_eq!(r.findings[0].severity, Severity::Warning);
        assert_eq!(r.outputs[0].unit.as_deref(), Some("kWh/m2"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));

        let invalid = Some(envelope(OutputStatus::FailedValidation, "INFO"));
        let (r, fin) = decide(&step(), container(Outcome::Succeeded, invalid)).unwrap();
        assert_eq!(r.status, StepStatus::Failed);
        assert_eq!(r.error, None, "an invalid document is not a step error");
        assert_eq!(fin.unwrap().category, Some(ErrorCategory::ValidationFailed));
        assert!(r
            .findings
            .iter()
            .any(|f| f.code == "container.failed_validation"));

        let cases = [
            (
                Outcome::TimedOut,
                RunStatus::TimedOut,
                Some(ErrorCategory::Timeout),
            ),
            (Outcome::Oom, RunStatus::Failed, Some(ErrorCategory::Oom)),
            (Outcome::Cancelled, RunStatus::Canceled, None),
            (
                Outcome::ValidatorFailed {
                    exit_code: 3,
                    reason: "exit 3".into(),
                },
                RunStatus::Failed,
                Some(ErrorCategory::RuntimeError),
            ),
        ];
        for (outcome, status, category) in cases {
            let code = outcome.finding_code();
            let (r, fin) = decide(&step(), container(outcome, None)).unwrap();
            let fin = fin.unwrap();
            assert_eq!((fin.status, fin.category), (status, category), "{code}");
            assert_eq!(r.findings[0].code, code);
            assert_eq!(r.status, StepStatus::Failed);
        }
        let runner = Outcome::RunnerError {
            reason: "engine gone".into(),
        };
        assert!(decide(&step(), container(runner, None)).is_err());
    }

    #[test]
    fn wasm_answers_and_failures() {
        let call = |ended| Call {
            started_at: 0,
            finished_at: 1,
            digest: None,
            ended,
        };
        let warn = Finding {
            severity: Severity::Warning,
            ..Finding::error("w", "w")
        };
        let (r, fin) = decide(
            &step(),
            call(Ended::Reported {
                findings: vec![warn],
                outputs: vec![],
            }),
        )
        .unwrap();
        assert_eq!((r.status, fin), (StepStatus::Passed, None));

        let (r, fin) = decide(
            &step(),
            call(Ended::Reported {
                findings: vec![Finding::error("e", "e")],
                outputs: vec![],
            }),
        )
        .unwrap();
        assert_eq!(r.status, StepStatus::Failed);
        assert_eq!(fin.unwrap().category, Some(ErrorCategory::ValidationFailed));

        let (r, fin) = decide(&step(), call(Ended::Wasm(CallError::DeadlineExceeded(5)))).unwrap();
        let fin = fin.unwrap();
        assert_eq!(
            (r.status, fin.status, fin.category),
            (
                StepStatus::Failed,
                RunStatus::TimedOut,
                Some(ErrorCategory::Timeout)
            )
        );
        assert_eq!(r.findings[0].code, "validator.deadline_exceeded");
        assert_eq!(r.error.as_deref(), Some("deadline exceeded after 5 ms"));

        let (_, fin) = decide(
            &step(),
            call(Ended::Wasm(CallError::MemoryExceeded { limit: 1, max: 1 })),
        )
        .unwrap();
        assert_eq!(fin.unwrap().category, Some(ErrorCategory::Oom));
        assert!(decide(&step(), call(Ended::Wasm(CallError::Host("x".into())))).is_err());
    }
}
