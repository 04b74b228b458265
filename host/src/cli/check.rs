//! `validibot check FILE --workflow wf.yaml`: the workflow run locally with the embedded
//! validators (no server, no database), with the same reports and exit codes as
//! `validate`. Container validators need a server and are refused.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::output::{self, ReportArgs};
use super::workflow_file;
use crate::clock::{now_us, rfc3339};
use crate::findings::{Finding, Output, Severity};
use crate::plugins::{CallError, CallInput, Limits, PluginRegistry, Runtime};
use crate::runs::view::{RunView, StepView, SubmissionView, Summary, WorkflowRef};
use crate::runs::{ErrorCategory, RunStatus};
use crate::workflows::definition::{Definition, DefinitionInput};

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The document to validate.
    pub file: PathBuf,
    /// The workflow file (YAML or JSON, the shape `workflows create -f` takes).
    #[arg(long, short = 'w')]
    pub workflow: PathBuf,
    /// Media type of the document (default: from its extension).
    #[arg(long)]
    pub content_type: Option<String>,
    /// Per-validator-call time limit in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub validator_timeout: f64,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Compiled validators are cached per user, so the second check starts fast.
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("validibot").join("wasm"))
}

pub async fn run(args: &CheckArgs) -> Result<i32> {
    let content = Arc::new(
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?,
    );
    let (filename, content_type) =
        super::document::name_and_type(&args.file, args.content_type.as_deref());
    let refused = |detail: String, errors: &[Value]| {
        let report = refusal(
            &args.workflow,
            &filename,
            &content_type,
            &content,
            &detail,
            errors,
        );
        eprintln!("{}: {detail}", args.workflow.display());
        for err in errors {
            eprintln!("  {err}");
        }
        output::emit(&args.report, &report)
    };
    let input = workflow_file::read(&args.workflow).and_then(|definition| {
        serde_json::from_value::<DefinitionInput>(definition)
            .with_context(|| format!("{} is not a workflow definition", args.workflow.display()))
    });
    let input = match input {
        Ok(input) => input,
        Err(e) => return refused(format!("{e:#}"), &[]),
    };
    let limits = Limits {
        timeout: Duration::from_secs_f64(args.validator_timeout.max(0.001)),
        ..Limits::default()
    };
    let registry = tokio::task::spawn_blocking(move || -> Result<PluginRegistry> {
        let runtime = Runtime::new(cache_dir())?;
        PluginRegistry::builtin(&runtime, limits)
    })
    .await??;
    let mut workflow = match input.validate(None, &registry, &[]).await {
        Ok(d) => d,
        Err(e) => return refused(format!("{} ({})", e.detail, e.code), &e.errors),
    };
    if !workflow
        .content_types
        .iter()
        .any(|p| crate::media_types::matches(p, &content_type))
    {
        return refused(
            format!(
                "{filename} is {content_type}; workflow {} accepts {} (use --content-type)",
                workflow.slug,
                workflow.content_types.join(", ")
            ),
            &[],
        );
    }
    crate::workflows::prepare_for_run(&mut workflow.steps);
    let run = execute(&workflow, &registry, content, &content_type, &filename).await?;
    output::emit(&args.report, &run)
}

/// Runs the steps in order; the first failing step ends the run (the rest are SKIPPED),
/// as on a server. The result is the API's own run shape ([`RunView`]), so reports
/// render the same bytes as the server's but for ids and times.
async fn execute(
    workflow: &Definition,
    registry: &PluginRegistry,
    content: Arc<Vec<u8>>,
    content_type: &str,
    filename: &str,
) -> Result<Value> {
    use sha2::Digest;
    let created_at = now_us();
    let deadline = Instant::now() + Duration::from_secs(workflow.timeout_seconds as u64);
    let mut steps: Vec<StepView> = Vec::new();
    let mut outcome: Option<(RunStatus, ErrorCategory, String)> = None;
    for step in &workflow.steps {
        if outcome.is_some() {
            steps.push(step_view(step, "SKIPPED", None, None, vec![], vec![], None));
            continue;
        }
        let plugin = registry
            .get_version(&step.validator, &step.validator_version)
            .context("validator vanished")?;
        let digest = Some(plugin.meta.sha256.clone());
        let remaining = deadline.saturating_duration_since(Instant::now());
        let (config, ruleset, ct, bytes) = (
            step.config_text.clone(),
            step.ruleset.as_ref().map(|r| r.to_string()),
            content_type.to_owned(),
            content.clone(),
        );
        let started_at = now_us();
        let call = tokio::task::spawn_blocking(move || {
            plugin.validate(
                &CallInput {
                    content: &bytes,
                    content_type: &ct,
                    config: &config,
                    ruleset: ruleset.as_deref(),
                },
                remaining,
            )
        })
        .await?;
        let finished_at = now_us();
        let times = Some((started_at, finished_at));
        match call {
            Ok(found) => {
                let failed = found.findings.iter().any(|f| f.severity == Severity::Error);
                if failed {
                    outcome = Some((
                        RunStatus::Failed,
                        ErrorCategory::ValidationFailed,
                        format!("step {:?} reported errors", step.key),
                    ));
                }
                let status = if failed { "FAILED" } else { "PASSED" };
                steps.push(step_view(
                    step,
                    status,
                    times,
                    digest,
                    found.findings,
                    found.outputs,
                    None,
                ));
            }
            Err(e) => {
                // The same mapping as the server's executor.
                let (status, category) = match e {
                    CallError::DeadlineExceeded(_) => (RunStatus::TimedOut, ErrorCategory::Timeout),
                    CallError::MemoryExceeded(_) => (RunStatus::Failed, ErrorCategory::Oom),
                    _ => (RunStatus::Failed, ErrorCategory::RuntimeError),
                };
                outcome = Some((status, category, e.to_string()));
                let f = Finding::error(
                    e.code(),
                    format!("validator {:?} failed: {e}", step.validator),
                );
                steps.push(step_view(
                    step,
                    "FAILED",
                    times,
                    digest,
                    vec![f],
                    vec![],
                    Some(e.to_string()),
                ));
            }
        }
    }
    let finished = now_us();
    let (status, category, detail) = match outcome {
        Some((s, c, d)) => (s, Some(c), Some(d)),
        None => (RunStatus::Succeeded, None, None),
    };
    let mut summary = Summary::default();
    for f in steps.iter().flat_map(|s| &s.findings) {
        match f.severity {
            Severity::Error => summary.errors += 1,
            Severity::Warning => summary.warnings += 1,
            Severity::Info => summary.infos += 1,
            Severity::Success => {}
        }
    }
    let id = format!("local-{}", &uuid::Uuid::now_v7().simple().to_string()[..12]);
    let run = RunView {
        url: String::new(),
        workspace: "local".into(),
        workflow: WorkflowRef {
            slug: workflow.slug.clone(),
            version: 0,
            digest: workflow.digest.clone(),
        },
        status: status.as_str(),
        state: status.state(),
        result: status.result(category),
        error_category: category.map(ErrorCategory::as_str),
        error_detail: detail,
        submission: SubmissionView {
            id: id.clone(),
            filename: Some(filename.to_owned()),
            content_type: content_type.to_owned(),
            size: content.len() as i64,
            sha256: hex::encode(sha2::Sha256::digest(content.as_slice())),
            metadata: json!({}),
        },
        created_by: None,
        created_at,
        started_at: Some(created_at),
        finished_at: Some(finished),
        duration_ms: Some((finished - created_at) as f64 / 1000.0),
        summary,
        steps: Some(steps),
        created_by_id: None,
        workflow_id: String::new(),
        id,
    };
    Ok(serde_json::to_value(&run)?)
}

/// The report of a check that never ran: the refusal as ERROR findings of one
/// `workflow` entry, so `--format json|sarif|junit` still gives CI a file to read.
fn refusal(
    workflow_file: &std::path::Path,
    filename: &str,
    content_type: &str,
    content: &[u8],
    detail: &str,
    errors: &[Value],
) -> Value {
    use sha2::Digest;
    let mut findings = vec![Finding::error("workflow.refused", detail)];
    for e in errors {
        let step = e["key"].as_str().unwrap_or_default();
        let at = e["step"]
            .as_u64()
            .map(|i| format!("/steps/{i}"))
            .unwrap_or_default();
        let what = e["detail"].as_str().unwrap_or("refused");
        let nested = e["findings"].as_array().filter(|f| !f.is_empty());
        match nested {
            None => findings.push(
                Finding::error("workflow.step_refused", format!("step {step:?}: {what}")).at(at),
            ),
            Some(nested) => {
                for f in nested {
                    findings.push(
                        Finding::error(
                            f["code"].as_str().unwrap_or("workflow.step_refused"),
                            format!(
                                "step {step:?}: {what}: {}",
                                f["message"].as_str().unwrap_or("")
                            ),
                        )
                        .at(format!("{at}/config{}", f["path"].as_str().unwrap_or(""))),
                    );
                }
            }
        }
    }
    let now = rfc3339(now_us());
    let slug = workflow_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    json!({
        "id": format!("local-{}", &uuid::Uuid::now_v7().simple().to_string()[..12]),
        "workflow": {"slug": slug, "version": 0, "digest": ""},
        "status": "FAILED", "state": "COMPLETED", "result": "ERROR",
        "error_category": "SYSTEM_ERROR",
        "error_detail": format!("workflow refused: {detail}"),
        "submission": {
            "filename": filename, "content_type": content_type, "size": content.len(),
            "sha256": hex::encode(sha2::Sha256::digest(content)),
        },
        "created_at": now, "finished_at": now, "duration_ms": 0.0,
        "steps": [{
            "key": "workflow", "name": "Workflow definition", "validator": "",
            "validator_version": "", "status": "FAILED", "duration_ms": null,
            "findings": findings, "outputs": [], "error": format!("workflow refused: {detail}"),
        }],
    })
}

fn step_view(
    step: &crate::workflows::Step,
    status: &str,
    times: Option<(i64, i64)>,
    validator_digest: Option<String>,
    findings: Vec<Finding>,
    outputs: Vec<Output>,
    error: Option<String>,
) -> StepView {
    StepView {
        key: step.key.clone(),
        name: step.name.clone(),
        validator: step.validator.clone(),
        validator_version: step.validator_version.clone(),
        validator_digest,
        status: status.to_owned(),
        started_at: times.map(|t| t.0),
        finished_at: times.map(|t| t.1),
        duration_ms: times.map(|(s, f)| (f - s) as f64 / 1000.0),
        outputs,
        error,
        findings,
        artifacts: vec![],
    }
}
