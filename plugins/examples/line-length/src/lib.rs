//! Example validator: flags lines longer than a limit in any text document.
//!
//! Step config: `{"max": 100, "severity": "warning"}` (`max` required, 1..=100000;
//! `severity` defaults to `error`). Findings carry `line:col` paths pointing at
//! the first character past the limit; the output `lines` counts the lines.

use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Output, Severity, Validator,
    ValidatorError,
};

/// Findings reported per document before the rest are summarised.
const MAX_FINDINGS: usize = 500;

pub struct LineLength;

struct Config {
    max: usize,
    severity: Severity,
}

fn parse_config(config: &serde_json::Value) -> Result<Config, Finding> {
    let max = config
        .get("max")
        .and_then(|m| m.as_u64())
        .filter(|m| (1..=100_000).contains(m))
        .ok_or_else(|| {
            Finding::error("config.max", "`max` must be an integer from 1 to 100000").at("/max")
        })?;
    let severity = match config.get("severity").and_then(|s| s.as_str()) {
        None | Some("error") => Severity::Error,
        Some("warning") => Severity::Warning,
        Some("info") => Severity::Info,
        Some(other) => {
            return Err(Finding::error(
                "config.severity",
                format!("`severity` must be error, warning or info, not {other:?}"),
            )
            .at("/severity"))
        }
    };
    Ok(Config {
        max: max as usize,
        severity,
    })
}

impl Validator for LineLength {
    fn describe() -> Metadata {
        Metadata {
            slug: "line-length".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "Line length".into(),
            description: "Flags lines longer than a limit (example third-party plugin).".into(),
            content_types: vec!["*/*".into()],
            config_schema: serde_json::json!({
                "type": "object",
                "required": ["max"],
                "properties": {
                    "max": {"type": "integer", "minimum": 1, "maximum": 100000},
                    "severity": {"enum": ["error", "warning", "info"]}
                },
                "additionalProperties": false
            }),
        }
    }

    fn validate_config(config: &serde_json::Value) -> Result<(), Vec<Finding>> {
        parse_config(config).map(|_| ()).map_err(|f| vec![f])
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        let config = parse_config(&input.config_json()?)
            .map_err(|f| ValidatorError::new("config.invalid", f.message))?;
        let text = String::from_utf8_lossy(input.content);
        let mut findings = Vec::new();
        let mut long = 0usize;
        let mut lines = 0usize;
        for (i, line) in text.lines().enumerate() {
            lines += 1;
            let width = line.chars().count();
            if width > config.max {
                long += 1;
                if findings.len() < MAX_FINDINGS {
                    findings.push(
                        Finding::new(
                            config.severity,
                            "line.too_long",
                            format!("line {} is {width} characters long (max {})", i + 1, config.max),
                        )
                        .at(format!("{}:{}", i + 1, config.max + 1)),
                    );
                }
            }
        }
        if long > findings.len() {
            findings.push(Finding::warning(
                "line.truncated",
                format!("{} more long lines not listed", long - findings.len()),
            ));
        }
        Ok(Outcome {
            findings,
            outputs: vec![
                Output::new("lines", lines as u64),
                Output::new("long_lines", long as u64),
            ],
        })
    }
}

export_validator!(LineLength);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, config: &str) -> Outcome {
        LineLength::validate(Input {
            content: text.as_bytes(),
            content_type: "text/plain",
            config,
            ruleset: None,
            ..Input::default()
        })
        .unwrap()
    }

    #[test]
    fn flags_long_lines_with_positions() {
        let out = run("short\nthis line is too long\nok", r#"{"max": 10}"#);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].code, "line.too_long");
        assert_eq!(out.findings[0].path, "2:11");
        assert_eq!(out.outputs[0].value, serde_json::json!(3));
    }

    #[test]
    fn rejects_bad_config() {
        let errs = LineLength::validate_config(&serde_json::json!({"max": 0})).unwrap_err();
        assert_eq!(errs[0].code, "config.max");
    }
}
