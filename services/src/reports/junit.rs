//! JUnit XML: one testsuite per run, one testcase per step, so CI systems show
//! each step as a test (FAILED → `<failure>`, a validator/system error → `<error>`,
//! a step that never ran → `<skipped>`).

use std::fmt::Write;

use super::{ReportRun, ReportStep};
use validibot_types::{Severity, StepStatus};

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn seconds(ms: Option<f64>) -> String {
    format!("{:.3}", ms.unwrap_or(0.0) / 1000.0)
}

fn finding_lines(step: &ReportStep, filter: impl Fn(Severity) -> bool) -> String {
    let mut out = String::new();
    for f in step.findings.iter().filter(|f| filter(f.severity)) {
        let at = if f.path.is_empty() {
            String::new()
        } else {
            format!(" at {}", f.path)
        };
        let _ = writeln!(out, "{} {}{at}: {}", f.severity.as_str(), f.code, f.message);
    }
    out
}

enum Outcome {
    Passed,
    Failed,
    Errored,
    Skipped,
}

fn outcome(step: &ReportStep) -> Outcome {
    let has_errors = step.findings.iter().any(|f| f.severity == Severity::Error);
    match step.status {
        StepStatus::Passed => Outcome::Passed,
        StepStatus::Failed if step.error.is_none() && has_errors => Outcome::Failed,
        StepStatus::Failed => Outcome::Errored,
        StepStatus::Skipped | StepStatus::Pending | StepStatus::Running | StepStatus::Waiting => {
            Outcome::Skipped
        }
    }
}

pub fn render(run: &ReportRun) -> String {
    let outcomes: Vec<Outcome> = run.steps.iter().map(outcome).collect();
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let failures = count(|o| matches!(o, Outcome::Failed));
    let errors = count(|o| matches!(o, Outcome::Errored));
    let skipped = count(|o| matches!(o, Outcome::Skipped));
    let tests = run.steps.len();
    let suite = esc(&format!("{} v{}", run.workflow.slug, run.workflow.version));
    let time = seconds(run.duration_ms);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"validibot\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">"
    );
    let timestamp = run
        .created_at
        .as_deref()
        .map(|t| format!(" timestamp=\"{}\"", esc(t.trim_end_matches('Z'))))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\"{timestamp}>"
    );
    out.push_str("    <properties>\n");
    for (name, value) in [
        ("run_id", run.id.as_str()),
        ("result", run.result.as_str()),
        ("document", run.document()),
        ("sha256", run.submission.sha256.as_str()),
        ("workflow_digest", run.workflow.digest.as_str()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            esc(value)
        );
    }
    out.push_str("    </properties>\n");
    let classname = esc(&format!("validibot.{}", run.workflow.slug));
    for (step, outcome) in run.steps.iter().zip(&outcomes) {
        let _ = writeln!(
            out,
            "    <testcase name=\"{}\" classname=\"{classname}\" time=\"{}\">",
            esc(&format!("{}: {}", step.key, step.name)),
            seconds(step.duration_ms)
        );
        let errors_n = step
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        match outcome {
            Outcome::Passed => {}
            Outcome::Failed => {
                let _ = writeln!(
                    out,
                    "      <failure type=\"validation\" message=\"{}\">{}</failure>",
                    esc(&format!(
                        "{errors_n} error finding(s) from {}",
                        step.validator
                    )),
                    esc(&finding_lines(step, |s| s == Severity::Error))
                );
            }
            Outcome::Errored => {
                let message = step
                    .error
                    .clone()
                    .unwrap_or_else(|| step.status.to_string());
                let _ = writeln!(
                    out,
                    "      <error type=\"{}\" message=\"{}\">{}</error>",
                    esc(step.status.as_str()),
                    esc(&message),
                    esc(&finding_lines(step, |s| s == Severity::Error))
                );
            }
            Outcome::Skipped => {
                let _ = writeln!(
                    out,
                    "      <skipped message=\"{}\"/>",
                    esc(&format!("step {}", step.status.as_str().to_lowercase()))
                );
            }
        }
        let rest = finding_lines(step, |s| s != Severity::Error);
        if !rest.is_empty() {
            let _ = writeln!(out, "      <system-out>{}</system-out>", esc(&rest));
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::failed_run;

    #[test]
    fn one_testcase_per_step_with_outcomes() {
        let xml = super::render(&failed_run());
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert!(xml.contains("name=\"schema: Schema &amp; shape\""));
        assert!(xml.contains("<failure type=\"validation\" message=\"1 error finding(s) from json-schema\">ERROR json_schema.required at $.items[0]: &quot;total&quot; is required\n</failure>"));
        assert!(xml.contains("<skipped message=\"step skipped\"/>"));
        // The control character in the warning is dropped, the filename escaped.
        assert!(xml.contains("WARNING json_schema.format at $.date: odd  date"));
        assert!(xml.contains("value=\"inv&lt;1&gt;.json\""));
        assert!(!xml.contains('\u{1}'));
    }

    #[test]
    fn step_errors_are_junit_errors() {
        let mut run = failed_run();
        run.steps[0].error = Some("validator crashed".into());
        let xml = super::render(&run);
        assert!(xml.contains("failures=\"0\" errors=\"1\""));
        assert!(xml.contains("<error type=\"FAILED\" message=\"validator crashed\">"));
    }
}
