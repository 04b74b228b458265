//! A step whose validator is a registered container image: the license is
//! checked at run time (an expired license stops Pro validators without touching
//! stored workflows), the submission goes in as the input envelope, and the
//! runner's typed outcome plus the output envelope become the step's result.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::executor::{Final, StepResult};
use super::ExecContext;
use crate::clock::now_us;
use crate::containers::artifacts;
use crate::containers::envelope::{OutputEnvelope, OutputStatus};
use crate::containers::registry::ContainerValidator;
use crate::containers::{Job, Outcome, Report};
use crate::findings::{Finding, Output, Severity};
use crate::runs::{ErrorCategory, RunStatus};
use crate::workflows::Step;

/// Where the step runs.
pub struct Attempt<'a> {
    pub run_id: &'a str,
    pub attempt: i64,
    /// Set when the lease moved to another worker: the container is stopped.
    pub lost: &'a Arc<AtomicBool>,
}

pub(super) async fn run(
    ctx: &ExecContext,
    validator: ContainerValidator,
    step: &Step,
    at: Attempt<'_>,
    content: Arc<Vec<u8>>,
    content_type: &str,
    remaining: Duration,
) -> Result<(StepResult, Option<Final>)> {
    let started_at = now_us();
    if let Err((state, detail)) = ctx.licensing.require(&validator.feature).await? {
        let mut f = Finding::error("validator.pro_required", detail);
        f.meta = Some(serde_json::json!({"feature": validator.feature, "license_state": state}));
        return Ok(super::executor::failed(
            started_at,
            vec![f],
            Some(format!("{} needs Validibot Pro", validator.slug)),
            ErrorCategory::RuntimeError,
            RunStatus::Failed,
        ));
    }
    let runner = ctx.containers.runner().await?;
    let work_dir = ctx
        .containers
        .work_dir(at.run_id, step.position, at.attempt);
    let job = Job {
        run_id: at.run_id.to_owned(),
        validator: validator.slug.clone(),
        image: validator.image_id.clone(),
        command: None,
        files: vec![(
            input_name(content_type),
            content_type.to_owned(),
            content.clone(),
        )],
        config: step.config.clone(),
        limits: validator.limits.for_run(remaining),
        work_dir: work_dir.clone(),
    };
    let (tx, cancel) = tokio::sync::watch::channel(false);
    let lost = at.lost.clone();
    let watcher = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if lost.load(Ordering::SeqCst) {
                let _ = tx.send(true);
                return;
            }
        }
    });
    let report = runner.run(job, cancel).await;
    watcher.abort();
    let artifacts = match (&report.outcome, &report.output) {
        (Outcome::Succeeded, Some(out)) if !out.artifacts.is_empty() => {
            Some(artifacts::collect(&work_dir.join("output"), &out.artifacts, &ctx.blobs).await)
        }
        _ => None,
    };
    let _ = tokio::fs::remove_dir_all(&work_dir).await;
    let m = crate::observability::metrics::metrics();
    m.container_outcome(&validator.slug, report.outcome.name());
    m.validator_call(
        &validator.slug,
        "container",
        report.elapsed.as_micros() as u64,
    );
    tracing::info!(
        run_id = at.run_id,
        validator = validator.slug,
        outcome = report.outcome.name(),
        elapsed_ms = report.elapsed.as_millis() as u64,
        "container step finished"
    );
    if let Outcome::RunnerError { reason } = &report.outcome {
        anyhow::bail!("container runner failed in step {:?}: {reason}", step.key);
    }
    let (mut result, fin) = to_step_result(&validator, step, report, started_at);
    if let Some((kept, refused)) = artifacts {
        for reason in refused {
            let mut f = Finding::error("container.artifact_refused", reason);
            f.severity = Severity::Warning;
            result.findings.push(f);
        }
        result.artifacts = kept;
    }
    Ok((result, fin))
}

/// The input file's name: validators find their model by its usual extension.
fn input_name(content_type: &str) -> String {
    let ext = match crate::media_types::essence(content_type).as_str() {
        "application/vnd.energyplus.idf" => "idf",
        "application/vnd.energyplus.epjson+json" => "epJSON",
        "application/vnd.fmi.fmu" | "application/zip" => "fmu",
        "application/json" => "json",
        "application/xml" | "text/xml" => "xml",
        "text/csv" => "csv",
        _ => "bin",
    };
    format!("document.{ext}")
}

fn to_step_result(
    validator: &ContainerValidator,
    step: &Step,
    report: Report,
    started_at: i64,
) -> (StepResult, Option<Final>) {
    let finished_at = now_us();
    let digest = Some(validator.image_id.clone());
    let (outputs, mut findings, status) = match (&report.outcome, report.output) {
        (Outcome::Succeeded, Some(out)) => from_envelope(out),
        (outcome, _) => {
            let mut f = Finding::error(
                outcome.finding_code(),
                format!("validator {:?}: {}", validator.slug, describe(outcome)),
            );
            f.meta = Some(serde_json::json!({
                "exit_code": report.exit_code,
                "log": report.logs.text,
                "log_truncated": report.logs.truncated,
            }));
            (vec![], vec![f], None)
        }
    };
    let errors = findings.iter().any(|f| f.severity == Severity::Error);
    let fin = match (&report.outcome, status) {
        (Outcome::Succeeded, Some(OutputStatus::Success)) if !errors => None,
        (Outcome::Succeeded, Some(OutputStatus::Success | OutputStatus::FailedValidation)) => {
            if !errors {
                findings.push(Finding::error(
                    "container.failed_validation",
                    "the validator reported the document invalid",
                ));
            }
            Some(Final {
                status: RunStatus::Failed,
                category: Some(ErrorCategory::ValidationFailed),
                detail: Some(format!("step {:?} reported errors", step.key)),
            })
        }
        (Outcome::Succeeded, Some(OutputStatus::FailedRuntime)) => {
            if !errors {
                findings.push(Finding::error(
                    "container.failed_runtime",
                    "the validator could not complete",
                ));
            }
            Some(Final {
                status: RunStatus::Failed,
                category: Some(ErrorCategory::RuntimeError),
                detail: Some(format!(
                    "step {:?}: the validator could not complete",
                    step.key
                )),
            })
        }
        (Outcome::Succeeded, Some(OutputStatus::Cancelled)) | (Outcome::Cancelled, _) => {
            Some(Final {
                status: RunStatus::Canceled,
                category: None,
                detail: Some(format!("step {:?} was cancelled", step.key)),
            })
        }
        (outcome, _) => Some(Final {
            status: if *outcome == Outcome::TimedOut {
                RunStatus::TimedOut
            } else {
                RunStatus::Failed
            },
            category: outcome.error_category(),
            detail: Some(describe(outcome)),
        }),
    };
    let result = StepResult {
        status: if fin.is_some() { "FAILED" } else { "PASSED" },
        started_at,
        finished_at,
        outputs,
        // A document that failed validation is not an error of the step.
        error: fin
            .as_ref()
            .filter(|f| f.category != Some(ErrorCategory::ValidationFailed))
            .and_then(|f| f.detail.clone()),
        findings,
        digest,
        artifacts: vec![],
    };
    (result, fin)
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Succeeded => "succeeded".into(),
        Outcome::ValidatorFailed { reason, .. } => reason.clone(),
        Outcome::TimedOut => "still running at the deadline; stopped".into(),
        Outcome::Cancelled => "cancelled".into(),
        Outcome::Oom => "killed by the engine: out of memory".into(),
        Outcome::RunnerError { reason } => reason.clone(),
    }
}

/// Findings and outputs from the output envelope (results never come from logs).
fn from_envelope(out: OutputEnvelope) -> (Vec<Output>, Vec<Finding>, Option<OutputStatus>) {
    let findings = out
        .messages
        .into_iter()
        .map(|m| Finding {
            severity: Severity::parse(&m.severity.to_ascii_uppercase()).unwrap_or(Severity::Info),
            code: if m.code.is_empty() {
                "container.message".into()
            } else {
                m.code
            },
            message: m.text,
            path: m.location.unwrap_or_default(),
            meta: None,
        })
        .collect();
    let outputs = out
        .metrics
        .into_iter()
        .map(|m| Output {
            name: m.name,
            value: m.value,
            unit: m.unit,
        })
        .collect();
    (outputs, findings, Some(out.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::envelope::{Message, Metric};
    use crate::containers::logs::CapturedLog;

    fn validator() -> ContainerValidator {
        ContainerValidator {
            slug: "energyplus".into(),
            version: "25.2".into(),
            name: "E+".into(),
            image_id: "sha256:abc".into(),
            image_ref: "e:1".into(),
            content_types: vec![],
            limits: Default::default(),
            feature: "validators.advanced".into(),
            registered_at: 0,
        }
    }

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
        }
    }

    fn report(outcome: Outcome, output: Option<OutputEnvelope>) -> Report {
        Report {
            outcome,
            output,
            logs: CapturedLog::default(),
            exit_code: Some(0),
            elapsed: Duration::from_secs(1),
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
    fn outcomes_map_to_step_status_and_error_category() {
        let (r, fin) = to_step_result(
            &validator(),
            &step(),
            report(
                Outcome::Succeeded,
                Some(envelope(OutputStatus::Success, "warning")),
            ),
            0,
        );
        assert_eq!((r.status, fin.is_none()), ("PASSED", true));
        assert_eq!(r.findings[0].severity, Severity::Warning);
        assert_eq!(r.outputs[0].unit.as_deref(), Some("kWh/m2"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));

        let (r, fin) = to_step_result(
            &validator(),
            &step(),
            report(
                Outcome::Succeeded,
                Some(envelope(OutputStatus::FailedValidation, "INFO")),
            ),
            0,
        );
        assert_eq!(r.status, "FAILED");
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
            let (r, fin) = to_step_result(&validator(), &step(), report(outcome, None), 0);
            let fin = fin.unwrap();
            assert_eq!((fin.status, fin.category), (status, category), "{code}");
            assert_eq!(r.findings[0].code, code);
            assert_eq!(r.status, "FAILED");
        }
    }
}
