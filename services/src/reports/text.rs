//! The human summary `validibot validate` and `check` print by default.

use std::fmt::Write;

use super::ReportRun;
use validibot_types::Severity;

pub fn render(run: &ReportRun) -> String {
    let mut out = String::new();
    // `check` runs a workflow file, which has no server-side version.
    let version = match run.workflow.version {
        0 => "(local file)".to_owned(),
        v => format!("v{v}"),
    };
    let _ = writeln!(
        out,
        "{} — {} {version} on {}",
        run.result,
        run.workflow.slug,
        run.document()
    );
    for step in &run.steps {
        let ms = step
            .duration_ms
            .map(|d| format!(" ({d:.1} ms)"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  [{}] {} · {}{ms}",
            step.status, step.name, step.validator
        );
        for f in &step.findings {
            let at = if f.path.is_empty() {
                String::new()
            } else {
                format!(" at {}", f.path)
            };
            let _ = writeln!(
                out,
                "      {:<7} {}{at}: {}",
                f.severity.as_str(),
                f.code,
                f.message
            );
        }
        if let Some(e) = &step.error {
            let _ = writeln!(out, "      error: {e}");
        }
    }
    let _ = writeln!(
        out,
        "{} error(s), {} warning(s), {} info · run {}",
        run.count(Severity::Error),
        run.count(Severity::Warning),
        run.count(Severity::Info),
        run.id
    );
    if let Some(d) = run.error_detail.as_deref().filter(|_| run.result != "FAIL") {
        let _ = writeln!(out, "{d}");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn summary_names_every_step_and_finding() {
        let text = super::render(&super::super::fixtures::failed_run());
        assert!(
            text.starts_with("FAIL — invoices v3 on inv<1>.json\n"),
            "{text}"
        );
        assert!(text.contains("[FAILED] Schema & shape · json-schema (2.0 ms)"));
        assert!(text.contains("ERROR   json_schema.required at $.items[0]: \"total\" is required"));
        assert!(text.contains("[SKIPPED] Simulation"));
        assert!(text.contains("1 error(s), 1 warning(s), 1 info · run 0192-run"));
    }
}
