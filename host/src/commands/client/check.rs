//! `validibot check FILE --workflow wf.yaml`: the workflow run locally with the embedded
//! validators (no server, no database), with the same reports and exit codes as
//! `validate`. Container validators need a server and are refused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use validibot_types::{ErrorCategory, Finding, StepStatus};

use super::output::{self, ReportArgs};
use super::workflow_file;
use validibot_engines::plugins::{CallFile, Limits, Plugin, PluginRegistry, Runtime};
use validibot_services::execution::assertions;
use validibot_services::execution::step_loop::{self, RunSink, StepRunner};
use validibot_services::workflows::context::RunContext;
use validibot_services::workflows::definition::{Definition, DefinitionInput};
use validibot_services::workflows::step_files::Catalog;
use validibot_store::runs::view::{RunView, StepView, SubmissionView, Summary, WorkflowRef};
use validibot_store::workflows::Step;
use validibot_types::clock::now_us;
use validibot_types::{Final, StepResult};

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The document to validate.
    pub file: PathBuf,
    /// The workflow file (YAML or JSON, the shape `workflows create -f` takes).
    #[arg(
        short = 'f',
        long = "workflow-file",
        alias = "workflow",
        short_alias = 'w',
        value_name = "WORKFLOW_FILE"
    )]
    pub workflow: PathBuf,
    /// Media type of the document (default: from its extension).
    #[arg(long)]
    pub content_type: Option<String>,
    /// Per-validator-call time limit in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub validator_timeout: f64,
    /// Memory cap for WASM validators, in MiB.
    #[arg(long, env = "VALIDIBOT_VALIDATOR_MEMORY_MIB", default_value_t = 256)]
    pub validator_memory_mib: usize,
    /// The submission's metadata as a JSON object (assertions read it as `meta`), as
    /// `validate --metadata` sends it.
    #[arg(long, value_parser = parse_metadata)]
    pub metadata: Option<Value>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// A JSON object, as the API takes `X-Validibot-Metadata`.
pub fn parse_metadata(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("metadata must be a JSON object".into()),
        Err(e) => Err(format!("metadata is not JSON: {e}")),
    }
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
        let document = Document {
            filename: &filename,
            content_type: &content_type,
            content: &content,
        };
        let report = refusal(&args.workflow, &document, &detail, errors);
        eprintln!("{}: {detail}", args.workflow.display());
        for err in errors {
            eprintln!("  {err}");
        }
        output::emit(&args.report, &report, Some(&args.file), None)
    };
    let input = workflow_file::read(&args.workflow).and_then(|mut definition| {
        let files = workflow_file::take_local_files(&mut definition, &args.workflow)?;
        let input = serde_json::from_value::<DefinitionInput>(definition)
            .with_context(|| format!("{} is not a workflow definition", args.workflow.display()))?;
        Ok((input, files))
    });
    let (input, local_files) = match input {
        Ok(input) => input,
        Err(e) => return refused(format!("{e:#}"), &[]),
    };
    let catalog: Catalog = local_files
        .iter()
        .map(|f| {
            (
                f.sha256.clone(),
                (f.bytes.len() as i64, f.media_type.clone()),
            )
        })
        .collect();
    let files: HashMap<String, Arc<Vec<u8>>> = local_files
        .into_iter()
        .map(|f| (f.sha256, Arc::new(f.bytes)))
        .collect();
    let limits = Limits {
        timeout: Duration::from_secs_f64(args.validator_timeout.max(0.001)),
        memory_bytes: args.validator_memory_mib.max(1) << 20,
        ..Limits::default()
    };
    let registry = tokio::task::spawn_blocking(move || -> Result<PluginRegistry> {
        let cache = cache_dir();
        let runtime = Runtime::new(cache.clone())?;
        if PluginRegistry::builtins_to_compile(&runtime) > 0 {
            // Seconds of silence otherwise; stderr, so reports on stdout stay clean.
            let kept = cache.map_or_else(String::new, |d| format!("; kept in {}", d.display()));
            eprintln!("validibot: compiling the built-in validators (first run of this build, a few seconds{kept})");
        }
        PluginRegistry::builtin(&runtime, limits)
    })
    .await??;
    let mut workflow = match input.validate(None, &registry, &[], &catalog).await {
        Ok(d) => d,
        Err(e) => return refused(format!("{} ({})", e.detail, e.code), &e.errors),
    };
    if !workflow
        .content_types
        .iter()
        .any(|p| validibot_types::media_types::matches(p, &content_type))
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
    validibot_store::workflows::prepare_for_run(&mut workflow.steps);
    let metadata = args.metadata.clone().unwrap_or_else(|| json!({}));
    let document = Document {
        filename: &filename,
        content_type: &content_type,
        content: &content,
    };
    let run = execute(&workflow, &registry, &document, files, metadata).await?;
    output::emit(&args.report, &run, Some(&args.file), None)
}

/// Runs the workflow through the server's own step loop, collecting the results in
/// memory. The result is the API's own run shape ([`RunView`]), so reports render the
/// same bytes as the server's but for ids and times.
async fn execute(
    workflow: &Definition,
    registry: &PluginRegistry,
    document: &Document<'_>,
    files: HashMap<String, Arc<Vec<u8>>>,
    metadata: Value,
) -> Result<Value> {
    let created_at = now_us();
    let deadline_us = created_at + workflow.timeout_seconds * 1_000_000;
    let runner = LocalSteps {
        registry,
        content: document.content.clone(),
        content_type: document.content_type.to_owned(),
        files,
    };
    let mut sink = Collected::default();
    let never_lost = AtomicBool::new(false);
    let ctx = RunContext {
        steps: vec![],
        meta: metadata.clone(),
        consts: workflow.constants.clone(),
    };
    step_loop::run(
        &workflow.steps,
        &[],
        ctx,
        deadline_us,
        &runner,
        &mut sink,
        &never_lost,
    )
    .await?;
    let fin = sink.fin.context("the step loop ended without a result")?;
    let steps = sink.steps.into_values().collect();
    let workflow = WorkflowRef {
        slug: workflow.slug.clone(),
        version: 0,
        digest: workflow.digest.clone(),
    };
    let run = local_run(workflow, document, created_at, fin, steps, metadata);
    Ok(serde_json::to_value(&run)?)
}

/// `check`'s steps: the embedded WASM validators only (containers need a server, and
/// the workflow was refused before running if it names one).
struct LocalSteps<'a> {
    registry: &'a PluginRegistry,
    content: Arc<Vec<u8>>,
    content_type: String,
    /// The workflow's local step files by sha256.
    files: HashMap<String, Arc<Vec<u8>>>,
}

impl StepRunner for LocalSteps<'_> {
    async fn run(&self, step: &Step, remaining: Duration) -> Result<(StepResult, Option<Final>)> {
        let plugin = self
            .registry
            .get_version(&step.validator, &step.validator_version)
            .context("validator vanished")?;
        let content = self.content.clone();
        let files = step
            .files
            .iter()
            .filter_map(|f| {
                let content = self.files.get(&f.sha256)?.clone();
                Some(CallFile {
                    name: f.name.clone(),
                    media_type: f.media_type.clone(),
                    sha256: f.sha256.clone(),
                    content,
                })
            })
            .collect();
        step_loop::wasm_step(
            plugin,
            step,
            content,
            &self.content_type,
            files,
            remaining,
            None,
        )
        .await
    }

    fn document(&self) -> assertions::Document<'_> {
        assertions::Document {
            content: &self.content,
            content_type: &self.content_type,
        }
    }

    fn evaluator(&self) -> Option<Arc<Plugin>> {
        self.registry
            .get(validibot_services::workflows::assertions::EVALUATOR)
    }
}

/// The loop's results, kept in memory as the API's step views.
#[derive(Default)]
struct Collected {
    /// By position (parallel steps finish in any order).
    steps: std::collections::BTreeMap<i64, StepView>,
    fin: Option<Final>,
}

impl RunSink for Collected {
    async fn step(&mut self, step: &Step, result: &StepResult) -> Result<bool> {
        self.steps.insert(step.position, step_view(step, result));
        Ok(true)
    }

    async fn finish(&mut self, last: Vec<(&Step, StepResult)>, fin: Final) -> Result<()> {
        for (step, result) in &last {
            self.steps.insert(step.position, step_view(step, result));
        }
        self.fin = Some(fin);
        Ok(())
    }
}

/// The report of a check that never ran: the refusal as ERROR findings of one
/// `workflow` entry, so `--format json|sarif|junit` still gives CI a file to read.
fn refusal(
    workflow_file: &std::path::Path,
    document: &Document,
    detail: &str,
    errors: &[Value],
) -> Value {
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
                        .at({
                            // Assertion findings already point from the step; others into its config.
                            let path = f["path"].as_str().unwrap_or("");
                            if path.starts_with("/assertions/") {
                                format!("{at}{path}")
                            } else {
                                format!("{at}/config{path}")
                            }
                        }),
                    );
                }
            }
        }
    }
    let slug = workflow_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let now = now_us();
    let error = format!("workflow refused: {detail}");
    let step = StepView {
        key: "workflow".into(),
        name: "Workflow definition".into(),
        validator: String::new(),
        validator_version: String::new(),
        validator_digest: None,
        status: StepStatus::Failed,
        started_at: None,
        finished_at: None,
        duration_ms: None,
        outputs: vec![],
        error: Some(error.clone()),
        findings,
        artifacts: vec![],
    };
    let fin = Final::system_error(error);
    let workflow = WorkflowRef {
        slug,
        version: 0,
        digest: String::new(),
    };
    let run = local_run(workflow, document, now, fin, vec![step], json!({}));
    serde_json::to_value(&run).unwrap_or_default()
}

/// The document a check ran on.
struct Document<'a> {
    filename: &'a str,
    content_type: &'a str,
    content: &'a Arc<Vec<u8>>,
}

/// A local run in the API's shape: `local-…` id, no workspace or URL, finished now.
fn local_run(
    workflow: WorkflowRef,
    document: &Document,
    created_at: i64,
    fin: Final,
    steps: Vec<StepView>,
    metadata: Value,
) -> RunView {
    use sha2::Digest;
    let finished = now_us();
    let mut summary = Summary::default();
    for f in steps.iter().flat_map(|s| &s.findings) {
        summary.count(f);
    }
    let id = format!("local-{}", &uuid::Uuid::now_v7().simple().to_string()[..12]);
    RunView {
        url: String::new(),
        workspace: "local".into(),
        workflow,
        status: fin.status.as_str(),
        state: fin.status.state(),
        result: fin.status.result(fin.category),
        error_category: fin.category.map(ErrorCategory::as_str),
        error_detail: fin.detail,
        submission: SubmissionView {
            id: id.clone(),
            filename: Some(document.filename.to_owned()),
            content_type: document.content_type.to_owned(),
            size: document.content.len() as i64,
            sha256: hex::encode(sha2::Sha256::digest(document.content.as_slice())),
            metadata,
        },
        created_by: None,
        created_at,
        started_at: Some(created_at),
        finished_at: Some(finished),
        duration_ms: Some((finished - created_at) as f64 / 1000.0),
        summary,
        steps: Some(steps),
        created_by_id: None,
        workflow_id: String::new().into(),
        id: id.into(),
    }
}

fn step_view(step: &Step, r: &StepResult) -> StepView {
    let times = (r.status != StepStatus::Skipped).then_some((r.started_at, r.finished_at));
    StepView {
        key: step.key.clone(),
        name: step.name.clone(),
        validator: step.validator.clone(),
        validator_version: step.validator_version.clone(),
        validator_digest: r.digest.clone(),
        status: r.status,
        started_at: times.map(|t| t.0),
        finished_at: times.map(|t| t.1),
        duration_ms: times.map(|(s, f)| (f - s) as f64 / 1000.0),
        outputs: r.outputs.clone(),
        error: r.error.clone(),
        findings: r.findings.clone(),
        artifacts: vec![],
    }
}
