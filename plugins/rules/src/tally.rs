//! One owner of how a rule's outcomes become findings: the first `max_samples` failing
//! targets one by one, the rest as one summary, a no-value finding when the path
//! matched nothing — the same whether the document is seen whole or a record at a time.

use serde_json::Value;
use validibot_plugin_api::{Finding, Outcome, Output};

use crate::condition::{self, Check, Doc, Op};
use crate::ruleset::Rule;

/// Findings per document; past it one `rules.truncated` says how many were left out.
pub const MAX_FINDINGS: usize = 1000;

/// Paths of failing targets past the samples that the summary lists.
const MORE_PATHS: usize = 20;

/// What one rule found so far.
#[derive(Default)]
pub struct Tally {
    matched: bool,
    failing: usize,
    samples: Vec<Finding>,
    more: Vec<String>,
}

impl Tally {
    /// Adds outcomes in document order (the whole document's, or one record's);
    /// `place` completes each sample finding (a record's position in the file).
    pub fn add(
        &mut self,
        rule: &Rule,
        results: &[condition::Outcome],
        doc: &Doc<'_>,
        root: &Value,
        max_samples: usize,
        mut place: impl FnMut(&mut Finding),
    ) {
        self.matched |= !results.is_empty();
        for r in results.iter().filter(|r| !r.pass) {
            if self.failing < max_samples {
                // A null compared as a number or string is a missing value, not a bad one.
                let mut f = if r.actual.is_null() && r.error.is_some() {
                    no_value(rule, &r.pointer, root)
                } else {
                    finding(doc, rule, &r.pointer, &r.actual, r.error.clone())
                };
                place(&mut f);
                self.samples.push(f);
            } else if self.more.len() < MORE_PATHS {
                self.more.push(r.pointer.clone());
            }
            self.failing += 1;
        }
    }

    /// The rule's findings once every target is in; `checked` is false when the
    /// evaluation budget ran out (a path without targets then proves nothing).
    pub fn finish(
        self,
        rule: &Rule,
        root: &Value,
        checked: bool,
        max_samples: usize,
    ) -> Vec<Finding> {
        let absent_ok = matches!(
            rule.check.check,
            Check::Op {
                op: Op::IsNull | Op::IsEmpty | Op::None,
                ..
            }
        );
        if !self.matched && !rule.optional && !absent_ok && checked {
            return vec![no_value(rule, &rule.check.path, root)];
        }
        let mut findings = self.samples;
        if self.failing > max_samples {
            let count = self.failing;
            findings.push(
                Finding::new(
                    rule.severity,
                    rule.code.clone(),
                    format!(
                        "{} more targets fail rule {} ({count} in all)",
                        count - max_samples,
                        rule.id
                    ),
                )
                .with_meta(serde_json::json!({
                    "rule": rule.id,
                    "count": count,
                    "more_paths": self.more,
                })),
            );
        }
        findings
    }
}

/// The findings of every rule, capped, and the outputs.
#[derive(Default)]
pub struct Report {
    findings: Vec<Finding>,
    failed_rules: u64,
    dropped: u64,
}

impl Report {
    /// One rule's findings (none: it passed).
    pub fn add(&mut self, findings: Vec<Finding>) {
        self.failed_rules += u64::from(!findings.is_empty());
        for f in findings {
            if self.findings.len() < MAX_FINDINGS {
                self.findings.push(f);
            } else {
                self.dropped += 1;
            }
        }
    }

    /// `exhausted`: why evaluation stopped early, if it did.
    pub fn finish(mut self, rules: usize, exhausted: Option<String>, evaluations: u64) -> Outcome {
        if let Some(message) = exhausted {
            self.findings
                .push(Finding::warning("rules.budget_exhausted", message));
        }
        if self.dropped > 0 {
            self.findings.push(Finding::warning(
                "rules.truncated",
                format!("{} more failures not listed", self.dropped),
            ));
        }
        Outcome {
            findings: self.findings,
            outputs: vec![
                Output::new("rules", rules as u64),
                Output::new("rules_failed", self.failed_rules),
                Output::new("evaluations", evaluations),
            ],
        }
    }
}

/// A rule whose path has no value (matches nothing, or holds null where the operator
/// needs one): says so in its own words, whatever the rule's message template, and
/// names where values are when the path looks like another format's.
fn no_value(rule: &Rule, pointer: &str, doc: &Value) -> Finding {
    let mut message = format!("rule {}: no value at {}", rule.id, display_path(pointer));
    let top: Vec<&str> = doc
        .as_object()
        .map(|o| o.keys().map(String::as_str).take(10).collect())
        .unwrap_or_default();
    if top == ["rows"] && !pointer.starts_with("/rows/") {
        let columns: Vec<&str> = doc["rows"][0]
            .as_object()
            .map(|o| o.keys().map(String::as_str).take(20).collect())
            .unwrap_or_default();
        message.push_str(&format!(
            " (CSV rows are at /rows/*/<column>; the columns are {})",
            columns.join(", ")
        ));
    } else if !top.is_empty() && !pointer.is_empty() {
        let first = pointer.split('/').nth(1).unwrap_or("");
        if first != "*" && !top.contains(&first) {
            message.push_str(&format!(
                " (the document's top level has {})",
                top.join(", ")
            ));
        }
    }
    Finding::new(rule.severity, rule.code.clone(), message)
        .at(pointer)
        .with_meta(serde_json::json!({"rule": rule.id, "no_value": true}))
}

fn display_path(p: &str) -> String {
    if p.is_empty() {
        "the document".into()
    } else {
        format!("path {p}")
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

fn finding(
    doc: &Doc<'_>,
    rule: &Rule,
    pointer: &str,
    actual: &Value,
    error: Option<String>,
) -> Finding {
    let expected = match &rule.check.check {
        Check::Op { value, .. } => short(value),
        Check::Expr(..) => String::new(),
    };
    let message = match &rule.message {
        Some(t) => t.render(doc, actual, |text| {
            text.replace("{id}", &rule.id)
                .replace("{path}", pointer)
                .replace("{value}", &short(actual))
                .replace("{expected}", &expected)
        }),
        None if pointer.is_empty() => format!("rule {} failed for the document", rule.id),
        None => format!(
            "rule {} failed at {pointer}: value {}",
            rule.id,
            short(actual)
        ),
    };
    let message = match &error {
        Some(e) => format!("{message} ({e})"),
        None => message,
    };
    Finding::new(rule.severity, rule.code.clone(), message)
        .at(pointer)
        .with_meta(serde_json::json!({"rule": rule.id, "actual": actual_meta(actual)}))
}

fn actual_meta(v: &Value) -> Value {
    match v {
        Value::Array(_) | Value::Object(_) => Value::String(short(v)),
        other => other.clone(),
    }
}
