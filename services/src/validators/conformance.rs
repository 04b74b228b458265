//! `validibot containers conformance IMAGE`: an image author's check that the image
//! behaves as a container validator must, run the way the server runs it (same runner,
//! same hardening, the limits its labels ask for) and judged by the same function that
//! decides a step's outcome on the server. No database and no license: only an engine.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use validibot_engines::containers::envelope::OutputStatus;
use validibot_engines::containers::{DockerRunner, Job, Outcome, Report};
use validibot_store::workflows::Step;

use super::images::{self, ContainerValidator};
use crate::execution::step_outcome::{self, Call, Ended};

/// One document to run the image with.
pub struct Document {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A named check and what was seen.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// Everything the command prints.
#[derive(Debug, Serialize)]
pub struct ConformanceReport {
    pub image: String,
    pub checks: Vec<Check>,
}

impl ConformanceReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    fn check(&mut self, name: impl Into<String>, passed: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            passed,
            detail: detail.into(),
        });
    }
}

/// Runs the checks; `work_root` holds each run's input and output directories.
pub async fn run(
    runner: &DockerRunner,
    work_root: &Path,
    image: &str,
    documents: Vec<Document>,
    config: serde_json::Value,
) -> anyhow::Result<ConformanceReport> {
    let mut report = ConformanceReport {
        image: image.to_owned(),
        checks: vec![],
    };
    let facts = runner.inspect_image(image).await?;
    let validator = match images::from_labels(&facts.id, image, &facts.labels) {
        Ok(v) => {
            report.check(
                "labels",
                true,
                format!(
                    "{} {} for {} (memory {} MiB, {} CPUs, timeout {} s)",
                    v.slug,
                    v.version,
                    v.content_types.join(", "),
                    v.limits.memory_bytes >> 20,
                    v.limits.cpus,
                    v.limits.timeout_seconds
                ),
            );
            v
        }
        Err(problems) => {
            report.check("labels", false, problems);
            return Ok(report);
        }
    };
    let first_type = validator
        .content_types
        .first()
        .cloned()
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut documents = documents;
    // What a careless or hostile user will send: not the format at all.
    documents.push(Document {
        name: "(garbage bytes)".into(),
        content_type: first_type,
        bytes: (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    });
    let step = Step {
        position: 0,
        key: "conformance".into(),
        name: "conformance".into(),
        validator: validator.slug.clone(),
        validator_version: validator.version.clone(),
        config_text: config.to_string(),
        config,
        ruleset: None,
        assertions: vec![],
        depends_on: None,
        on_failure: Default::default(),
        run_when: None,
        files: vec![],
    };
    let mut twice = None;
    for (n, doc) in documents.iter().enumerate() {
        let label = format!("{}: ", doc.name);
        let accepted = validator
            .content_types
            .iter()
            .any(|p| validibot_types::media_types::matches(p, &doc.content_type));
        if !accepted {
            report.check(
                format!("{label}content type"),
                false,
                format!(
                    "{} is not among the image's content types ({})",
                    doc.content_type,
                    validator.content_types.join(", ")
                ),
            );
            continue;
        }
        let ran = run_once(runner, work_root, &validator, &step, doc, n).await?;
        let seen = judge(
            &mut report,
            &label,
            &validator,
            &step,
            ran,
            doc.name == "(garbage bytes)",
        );
        if n == 0 {
            // Same document, same answer: run the first one again.
            let again = run_once(runner, work_root, &validator, &step, doc, 1000).await?;
            twice = Some((seen, messages(&again)));
        }
    }
    if let Some((Some(first), second)) = twice {
        let second = second.unwrap_or_default();
        let same = first == second;
        report.check(
            "deterministic",
            same,
            if same {
                "the first document gave the same messages twice".to_owned()
            } else {
                format!("first run {first:?}, second run {second:?}")
            },
        );
    }
    Ok(report)
}

async fn run_once(
    runner: &DockerRunner,
    work_root: &Path,
    validator: &ContainerValidator,
    step: &Step,
    doc: &Document,
    n: usize,
) -> anyhow::Result<Report> {
    let job = Job {
        run_id: format!("conformance-{n}"),
        validator: validator.slug.clone(),
        image: validator.image_id.clone(),
        command: None,
        files: vec![(
            images::input_name(&doc.content_type),
            doc.content_type.clone(),
            Arc::new(doc.bytes.clone()),
        )],
        step_files: vec![],
        env: validator.env.clone().into_iter().collect(),
        config: step.config.clone(),
        limits: images::limits_for_run(
            &validator.limits,
            std::time::Duration::from_secs(validator.limits.timeout_seconds),
        ),
        work_dir: work_root.join(format!("run-{n}")),
    };
    let (_tx, cancel) = tokio::sync::watch::channel(false);
    Ok(runner.run(job, cancel).await)
}

/// (severity, code, location) of each message, for comparing runs.
type Messages = Vec<(String, String, Option<String>)>;

fn messages(report: &Report) -> Option<Messages> {
    report.output.as_ref().map(|o| {
        o.messages
            .iter()
            .map(|m| (m.severity.clone(), m.code.clone(), m.location.clone()))
            .collect()
    })
}

/// Adds one run's checks; returns its messages.
fn judge(
    report: &mut ConformanceReport,
    label: &str,
    validator: &ContainerValidator,
    step: &Step,
    ran: Report,
    garbage: bool,
) -> Option<Messages> {
    let seen = messages(&ran);
    let elapsed = format!("{:.1} s", ran.elapsed.as_secs_f64());
    report.check(
        format!("{label}ends in time"),
        !matches!(ran.outcome, Outcome::TimedOut),
        format!(
            "{} after {elapsed} (timeout {} s)",
            ran.outcome.name(),
            validator.limits.timeout_seconds
        ),
    );
    let exited = matches!(ran.outcome, Outcome::Succeeded);
    let envelope = ran.output.as_ref();
    report.check(
        format!("{label}output envelope"),
        exited && envelope.is_some(),
        match (&ran.outcome, envelope) {
            (Outcome::Succeeded, Some(out)) => {
                format!("validibot.output.v1, status {}", status_name(out.status))
            }
            (outcome, _) => format!(
                "{} (exit code {:?}); log tail: {}",
                outcome.describe(),
                ran.exit_code,
                tail(&ran.logs.text, 300)
            ),
        },
    );
    if let Some(out) = envelope {
        let bad: Vec<String> = out
            .messages
            .iter()
            .filter(|m| {
                !matches!(m.severity.as_str(), "ERROR" | "WARNING" | "INFO") || !code_ok(&m.code)
            })
            .map(|m| format!("{}/{:?}", m.severity, m.code))
            .collect();
        report.check(
            format!("{label}messages"),
            bad.is_empty(),
            if bad.is_empty() {
                format!(
                    "{} message(s), severities ERROR/WARNING/INFO, lower-case dotted codes",
                    out.messages.len()
                )
            } else {
                format!(
                    "unknown severity, or a code that is not lower-case dotted: {}",
                    bad.join(", ")
                )
            },
        );
        let errors = out.messages.iter().any(|m| m.severity == "ERROR");
        let consistent = match out.status {
            OutputStatus::FailedValidation => errors,
            OutputStatus::Success => !errors,
            OutputStatus::FailedRuntime | OutputStatus::Cancelled => true,
        };
        report.check(
            format!("{label}status agrees with messages"),
            consistent,
            match out.status {
                OutputStatus::FailedValidation if !errors => {
                    "failed_validation without an ERROR message: say what is wrong".to_owned()
                }
                OutputStatus::Success if errors => {
                    "success with an ERROR message (the server fails the step)".to_owned()
                }
                _ => "yes".to_owned(),
            },
        );
    }
    if garbage {
        report.check(
            format!("{label}a verdict, not a crash"),
            exited && envelope.is_some_and(|o| o.status != OutputStatus::Cancelled),
            "a document that is not the format at all should be failed_validation (or failed_runtime), with exit 0",
        );
    }
    // What the server would record.
    let call = Call {
        started_at: 0,
        finished_at: 0,
        digest: None,
        ended: Ended::Container(ran),
    };
    match step_outcome::decide(step, call) {
        Ok((result, fin)) => report.check(
            format!("{label}server verdict"),
            true,
            format!(
                "step {}, run {}{}",
                result.status.as_str(),
                fin.as_ref().map_or("continues", |f| f.status.as_str()),
                fin.and_then(|f| f.category)
                    .map(|c| format!(" ({})", c.as_str()))
                    .unwrap_or_default()
            ),
        ),
        Err(e) => report.check(format!("{label}server verdict"), false, e.to_string()),
    }
    seen
}

/// The status as the envelope spells it (`failed_validation`).
fn status_name(status: OutputStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn code_ok(code: &str) -> bool {
    !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

fn tail(text: &str, n: usize) -> String {
    let t = text.trim_end();
    let start = t.len().saturating_sub(n);
    let start = (start..=t.len())
        .find(|i| t.is_char_boundary(*i))
        .unwrap_or(t.len());
    t[start..].replace('\n', " ⏎ ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_lower_case_dotted() {
        assert!(code_ok("energyplus.severe"));
        assert!(code_ok("fmi.var_missing-2"));
        assert!(!code_ok(""));
        assert!(!code_ok("Bad Code"));
    }

    #[test]
    fn tails_keep_whole_characters() {
        assert_eq!(tail("ééé\n", 3), "é");
        assert_eq!(tail("a\nb", 10), "a ⏎ b");
    }
}
