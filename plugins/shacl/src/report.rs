//! Validation results as findings: severity from `sh:resultSeverity`, code from the
//! constraint component, path = focus node + result path.

use validibot_plugin_api::{Finding, Severity as FindingSeverity};

use crate::engine::ValidationResult;
use crate::graph::Graph;
use crate::shapes::{Severity, Shapes};
use crate::vocab::SH;

#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub violations: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    pub fn of(results: &[ValidationResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.severity {
                Severity::Violation => s.violations += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }
}

pub fn finding(data: &Graph, shapes: &Shapes, r: &ValidationResult) -> Finding {
    let severity = match r.severity {
        Severity::Violation => FindingSeverity::Error,
        Severity::Warning => FindingSeverity::Warning,
        Severity::Info => FindingSeverity::Info,
    };
    let shape = &shapes.shapes[r.shape];
    let focus = data.display(r.focus);
    let result_path = r.path(shapes).map(|p| p.display(data));
    let path = match &result_path {
        Some(p) => format!("{focus} {p}"),
        None => focus.clone(),
    };
    let value = r.value.map(|v| data.display(v));
    let severity_iri = shape.severity_iri.clone().unwrap_or_else(|| {
        format!(
            "{SH}{}",
            match r.severity {
                Severity::Violation => "Violation",
                Severity::Warning => "Warning",
                Severity::Info => "Info",
            }
        )
    });
    Finding::new(
        severity,
        format!("shacl.{}", r.component),
        r.message.clone(),
    )
    .at(path)
    .with_meta(serde_json::json!({
        "focus_node": focus,
        "result_path": result_path,
        "value": value,
        "source_shape": shape.label,
        "source_constraint_component": format!("{SH}{}", r.component),
        "result_severity": severity_iri,
    }))
}
