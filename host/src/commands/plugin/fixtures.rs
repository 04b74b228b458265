//! `validibot plugin test`: fixture documents against expected findings.
//!
//! A fixtures directory holds documents (`<case>.<ext>`), each with
//! `<case>.expected.json`:
//! `{"findings": [{"severity": "error", "code": "…", "path": "…"}], "outputs": {"name": value}}`
//! or `{"error": "<validator error code>"}`. The step config is `<case>.config.json`,
//! else `config.json`, else `{}`. Findings are compared as a multiset of
//! (severity, code, path), plus `message` when the expected finding gives one;
//! outputs only when listed. `--update` writes the expected files from what the
//! component returns.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use validibot_engines::plugins::{
    CallError, CallInput, Document, Limits, Plugin, ValidationOutcome,
};
use validibot_types::media_types::guess_from_filename;

#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The component (`.wasm`) or a built-in validator's slug.
    pub plugin: PathBuf,
    /// Directory of fixture documents and their `.expected.json` files.
    #[arg(long)]
    pub fixtures: PathBuf,
    /// Write `<case>.expected.json` from the actual results instead of comparing.
    #[arg(long)]
    pub update: bool,
    /// Per-call deadline in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
}

pub fn run(args: &TestArgs) -> Result<()> {
    let runtime = super::runtime()?;
    let limits = Limits {
        timeout: Duration::from_millis(args.timeout_ms),
        ..Limits::default()
    };
    let plugin = super::load(&runtime, &args.plugin, limits)?;
    let cases = cases(&args.fixtures)?;
    if cases.is_empty() {
        bail!("no fixture documents in {}", args.fixtures.display());
    }
    println!(
        "{} {} ({} cases)",
        plugin.meta.slug,
        plugin.meta.version,
        cases.len()
    );
    let mut failed = 0;
    for case in &cases {
        match run_case(&plugin, case, args.update) {
            Ok(()) => println!("  ok    {}", case.name),
            Err(e) => {
                failed += 1;
                println!("  FAIL  {}\n{}", case.name, indent(&format!("{e:#}")));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} fixture cases failed", cases.len());
    }
    println!("all {} fixture cases passed", cases.len());
    Ok(())
}

struct Case {
    name: String,
    document: PathBuf,
    config: Option<PathBuf>,
    expected: PathBuf,
}

fn cases(dir: &Path) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let shared_config = dir.join("config.json");
    for entry in entries {
        let path = entry?.path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        if !path.is_file()
            || file == "config.json"
            || file.ends_with(".expected.json")
            || file.ends_with(".config.json")
            || file.starts_with('.')
        {
            continue;
        }
        let name = file
            .rsplit_once('.')
            .map_or(file, |(stem, _)| stem)
            .to_owned();
        let own_config = dir.join(format!("{name}.config.json"));
        out.push(Case {
            config: [own_config, shared_config.clone()]
                .into_iter()
                .find(|p| p.exists()),
            expected: dir.join(format!("{name}.expected.json")),
            document: path,
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn run_case(plugin: &Plugin, case: &Case, update: bool) -> Result<()> {
    let config = match &case.config {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => "{}".to_owned(),
    };
    if let Err(findings) = plugin.validate_config(&config)? {
        bail!(
            "validate-config rejected the step config: {}",
            summary(&findings_json(&findings))
        );
    }
    let document = Document::open(&case.document)?;
    let file = case
        .document
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let content_type = guess_from_filename(file).unwrap_or("application/octet-stream");
    let result = plugin.validate(
        &CallInput {
            document: &document,
            content_type,
            config: &config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        },
        plugin.limits.timeout,
    );
    let actual = actual_json(result);
    if update {
        std::fs::write(
            &case.expected,
            serde_json::to_string_pretty(&actual)? + "\n",
        )?;
        return Ok(());
    }
    let expected: Value = match std::fs::read(&case.expected) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", case.expected.display()))?,
        Err(_) => bail!(
            "no {} (run with --update to record):\n{}",
            case.expected.display(),
            serde_json::to_string_pretty(&actual)?
        ),
    };
    compare(&expected, &actual)
}

fn actual_json(result: Result<ValidationOutcome, CallError>) -> Value {
    match result {
        Ok(outcome) => json!({
            "findings": findings_json(&outcome.findings),
            "outputs": outcome.outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect::<serde_json::Map<_, _>>(),
        }),
        Err(CallError::Validator { code, message }) => json!({"error": code, "message": message}),
        Err(e) => json!({"error": e.code(), "message": e.to_string()}),
    }
}

fn findings_json(findings: &[validibot_types::Finding]) -> Value {
    Value::Array(
        findings
            .iter()
            .map(|f| json!({"severity": f.severity.as_str().to_ascii_lowercase(), "code": f.code, "path": f.path, "message": f.message}))
            .collect(),
    )
}

/// Compares expected with actual; the error lists every difference.
fn compare(expected: &Value, actual: &Value) -> Result<()> {
    let mut problems = Vec::new();
    if let Some(code) = expected.get("error") {
        if actual.get("error") != Some(code) {
            problems.push(format!(
                "expected validator error {code}, got {}",
                summary(actual)
            ));
        }
        return finish(problems);
    }
    if let Some(err) = actual.get("error") {
        bail!("validator error {err}: {}", actual["message"]);
    }
    let key = |f: &Value| {
        (
            f["severity"]
                .as_str()
                .unwrap_or("error")
                .to_ascii_lowercase(),
            f["code"].as_str().unwrap_or_default().to_owned(),
            f["path"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let mut unmatched: Vec<&Value> = actual["findings"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for want in expected["findings"].as_array().into_iter().flatten() {
        let pos = unmatched.iter().position(|got| {
            key(got) == key(want) && want.get("message").is_none_or(|m| got["message"] == *m)
        });
        match pos {
            Some(i) => {
                unmatched.remove(i);
            }
            None => problems.push(format!("missing finding {want}")),
        }
    }
    for extra in unmatched {
        let (severity, code, path) = key(extra);
        problems.push(format!(
            "unexpected finding {severity} {code} at {path:?}: {}",
            extra["message"]
        ));
    }
    if let Some(outputs) = expected.get("outputs").and_then(Value::as_object) {
        for (name, want) in outputs {
            let got = &actual["outputs"][name];
            if got != want {
                problems.push(format!("output {name}: expected {want}, got {got}"));
            }
        }
    }
    finish(problems)
}

fn finish(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("{}", problems.join("\n"))
    }
}

fn summary(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..s.floor_char_boundary(300)])
    } else {
        s
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("        {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_findings_as_a_multiset_and_outputs_when_listed() {
        let actual = json!({"findings": [
            {"severity": "error", "code": "a", "path": "/x", "message": "m1"},
            {"severity": "error", "code": "a", "path": "/x", "message": "m2"},
        ], "outputs": {"lines": 3}});
        let ok = json!({"findings": [
            {"severity": "error", "code": "a", "path": "/x"},
            {"severity": "error", "code": "a", "path": "/x", "message": "m2"},
        ]});
        assert!(compare(&ok, &actual).is_ok());
        let missing = json!({"findings": [{"severity": "error", "code": "a", "path": "/x"}]});
        let err = compare(&missing, &actual).unwrap_err().to_string();
        assert!(err.contains("unexpected finding"), "{err}");
        let wrong_output = json!({"findings": ok["findings"], "outputs": {"lines": 4}});
        assert!(compare(&wrong_output, &actual)
            .unwrap_err()
            .to_string()
            .contains("output lines"));
        let want_error = json!({"error": "config.invalid"});
        assert!(compare(&want_error, &actual).is_err());
    }
}
