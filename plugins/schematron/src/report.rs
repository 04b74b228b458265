//! Results as findings and outputs: a failed assert or fired report is a finding whose
//! severity comes from its `role` (else `flag`, else the rule's), whose code is its `id`
//! (`BR-CO-10`), whose path is the XPath location of the node (line:column in meta).

use serde_json::{json, Map, Value};
use validibot_plugin_api::{Finding, Output, Severity};

use crate::document::Submission;
use crate::evaluate::Report;
use crate::program::{Program, Step};
use crate::schema::CheckKind;

/// Findings past this many are summarized by one warning (the counts stay exact).
const MAX_FINDINGS: usize = 1000;

/// What `role` / `flag` words mean. Unknown words leave the default: error, since a
/// failed assert and a fired report both make a document invalid in ISO Schematron.
fn severity_of(word: &str) -> Option<Severity> {
    match word.trim().to_ascii_lowercase().as_str() {
        "fatal" | "error" | "err" | "critical" | "violation" => Some(Severity::Error),
        "warning" | "warn" | "caution" => Some(Severity::Warning),
        "info" | "information" | "informational" | "note" | "notice" | "hint" => {
            Some(Severity::Info)
        }
        _ => None,
    }
}

pub fn findings_and_outputs(
    program: &Program,
    doc: &Submission,
    report: &Report,
) -> (Vec<Finding>, Vec<Output>) {
    let mut findings = Vec::new();
    let mut by_severity = [0usize; 3];
    for hit in &report.results {
        let pattern = &program.patterns[hit.pattern];
        let rule = &pattern.rules[hit.rule];
        let Step::Check(check) = &rule.items[hit.check] else {
            continue;
        };
        let severity = [&check.role, &check.flag, &rule.role, &rule.flag]
            .into_iter()
            .flatten()
            .find_map(|w| severity_of(w))
            .unwrap_or(Severity::Error);
        by_severity[match severity {
            Severity::Error => 0,
            Severity::Warning => 1,
            _ => 2,
        }] += 1;
        if findings.len() >= MAX_FINDINGS {
            continue;
        }
        let (kind, default_code) = match check.kind {
            CheckKind::Assert => ("assert", "schematron.assert"),
            CheckKind::Report => ("report", "schematron.report"),
        };
        let mut meta = Map::new();
        if let Some((line, column)) = doc.line_column(hit.node) {
            meta.insert("line".into(), json!(line));
            meta.insert("column".into(), json!(column));
        }
        meta.insert("kind".into(), json!(kind));
        meta.insert("pattern".into(), json!(pattern.id));
        meta.insert(
            "rule".into(),
            json!(rule.id.clone().unwrap_or(rule.context.clone())),
        );
        meta.insert("test".into(), json!(check.test_source));
        for (key, own, rules) in [
            ("role", &check.role, &rule.role),
            ("flag", &check.flag, &rule.flag),
        ] {
            if let Some(v) = own.as_ref().or(rules.as_ref()) {
                meta.insert(key.into(), json!(v));
            }
        }
        for (key, list) in [
            ("diagnostics", &hit.diagnostics),
            ("properties", &hit.properties),
        ] {
            if !list.is_empty() {
                let obj: Map<String, Value> = list
                    .iter()
                    .map(|(id, text)| (id.clone(), json!(text)))
                    .collect();
                meta.insert(key.into(), Value::Object(obj));
            }
        }
        let code = check.id.clone().unwrap_or_else(|| default_code.to_owned());
        findings.push(
            Finding::new(severity, code, hit.message.clone())
                .at(doc.location(hit.node, &program.prefixes))
                .with_meta(Value::Object(meta)),
        );
    }
    for e in report.errors.iter().take(MAX_FINDINGS) {
        let pattern = e.pattern.and_then(|p| program.patterns.get(p));
        let rule = pattern.zip(e.rule).and_then(|(p, r)| p.rules.get(r));
        let mut f = Finding::error(
            "schematron.xpath_error",
            format!(
                "{}{}{}: {}",
                pattern.map_or(String::new(), |p| format!("pattern {}, ", p.id)),
                rule.map_or(String::new(), |r| format!("rule {:?}, ", r.context)),
                e.expression,
                e.message
            ),
        );
        if let Some(node) = e.node {
            f = f.at(doc.location(node, &program.prefixes));
        }
        findings.push(f);
    }
    let total: usize = by_severity.iter().sum();
    if total > MAX_FINDINGS {
        findings.push(Finding::warning(
            "schematron.truncated",
            format!("{total} results; only the first {MAX_FINDINGS} are reported as findings"),
        ));
    }
    let mut per_pattern = Map::new();
    for (p, counts) in program.patterns.iter().zip(&report.patterns) {
        per_pattern.insert(
            p.id.clone(),
            json!({
                "fired_rules": counts.fired_rules,
                "failed_asserts": counts.failed_asserts,
                "successful_reports": counts.successful_reports,
            }),
        );
    }
    let sum = |f: fn(&crate::evaluate::PatternCounts) -> usize| -> usize {
        report.patterns.iter().map(f).sum()
    };
    let outputs = vec![
        Output::new("valid", by_severity[0] == 0 && report.errors.is_empty()),
        Output::new("failed_assert_count", sum(|c| c.failed_asserts)),
        Output::new("successful_report_count", sum(|c| c.successful_reports)),
        Output::new("fired_rule_count", sum(|c| c.fired_rules)),
        Output::new("error_count", by_severity[0]),
        Output::new("warning_count", by_severity[1]),
        Output::new("info_count", by_severity[2]),
        Output::new("phase", program.phase.clone()),
        Output::new("patterns", Value::Object(per_pattern)),
    ];
    (findings, outputs)
}
