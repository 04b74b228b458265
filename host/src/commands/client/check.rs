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
use validibot_engines::plugins::{CallFile, Document, Limits, Plugin, PluginRegistry, Runtime};
use validibot_services::execution::step_loop::{self, RunSink, StepRunner};
use validibot_services::execution::{assertions, executor};
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
    /// Memory cap for WASM validators, in MiB. A call on a large document gets 8× the
    /// document's size, up to VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB.
    #[arg(long, env = "VALIDIBOT_VALIDATOR_MEMORY_MIB", default_value_t = 256)]
    pub validator_memory_mib: usize,
    /// The most memory a WASM validator call may have, however large its document, in MiB.
    #[arg(
        long,
        env = "VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB",
        default_value_t = 1024
    )]
    pub validator_memory_max_mib: usize,
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
    // Read in pieces by the validators, never whole (a CSV of gigabytes checks in
    // bounded memory); its digest for the report is taken beside the run.
    let content =
        Document::open(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let digest = {
        let path = args.file.clone();
        tokio::task::spawn_blocking(move || -> Result<String> {
            let mut file = std::fs::File::open(&path)?;
            Ok(validibot_blobs::sha256_of(&mut file)?.1)
        })
    };
    let (filename, content_type) =
        super::document::name_and_type(&args.file, args.content_type.as_deref());
    let refused = |detail: String, errors: &[Value], sha256: String| {
        let document = Checked {
            filename: &filename,
            content_type: &content_type,
            size: content.len(),
            sha256,
        };
        let report = refusal(&args.workflow, document, &detail, errors);
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
        Err(e) => return refused(format!("{e:#}"), &[], digest.await??),
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
        memory_max_bytes: args.validator_memory_max_mib.max(1) << 20,
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
        Err(e) => {
            let detail = format!("{} ({})", e.detail, e.code);
            return refused(detail, &e.errors, digest.await??);
        }
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
            digest.await??,
        );
    }
    validibot_store::workflows::prepare_for_run(&mut workflow.steps);
    let metadata = args.metadata.clone().unwrap_or_else(|| json!({}));
    let progress = Progress::show(&content, &filename);
    let run = execute(
        &workflow,
        &registry,
        &content,
        &content_type,
        files,
        metadata,
    )
    .await;
    progress.finish();
    let run = run?;
    let document = Checked {
        filename: &filename,
        content_type: &content_type,
        size: content.len(),
        sha256: digest.await??,
    };
    let run = local_run(document, run);
    let run = serde_json::to_value(&run)?;
    output::emit(&args.report, &run, Some(&args.file), None)
}

/// Runs the workflow through the server's own step loop, collecting the results in
/// memory. The result is the API's own run shape ([`RunView`]), so reports render the
/// same bytes as the server's but for ids and times.
async fn execute(
    workflow: &Definition,
    registry: &PluginRegistry,
    document: &Document,
    content_type: &str,
    files: HashMap<String, Arc<Vec<u8>>>,
    metadata: Value,
) -> Result<Ran> {
    let created_at = now_us();
    let deadline_us = created_at + workflow.timeout_seconds * 1_000_000;
    let runner = LocalSteps {
        registry,
        document: document.clone(),
        content_type: content_type.to_owned(),
        files,
        memory_bytes: executor::mib_to_bytes(workflow.validator_memory_mib),
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
    Ok(Ran {
        workflow,
        created_at,
        fin,
        steps,
        metadata,
    })
}

/// `check`'s steps: the embedded WASM validators only (containers need a server, and
/// the workflow was refused before running if it names one).
struct LocalSteps<'a> {
    registry: &'a PluginRegistry,
    document: Document,
    content_type: String,
    /// The workflow's local step files by sha256.
    files: HashMap<String, Arc<Vec<u8>>>,
    /// The workflow's base memory cap for WASM calls.
    memory_bytes: Option<usize>,
}

impl StepRunner for LocalSteps<'_> {
    async fn run(&self, step: &Step, remaining: Duration) -> Result<(StepResult, Option<Final>)> {
        let plugin = self
            .registry
            .get_version(&step.validator, &step.validator_version)
            .context("validator vanished")?;
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
            self.document.clone(),
            &self.content_type,
            files,
            self.memory_bytes,
            remaining,
            None,
        )
        .await
    }

    fn submitted(&self) -> assertions::Submitted<'_> {
        assertions::Submitted {
            document: &self.document,
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

    async fn park(&mut self) -> Result<()> {
        // Only container steps wait, and `check` runs none.
        anyhow::bail!("a step is waiting for a container, which `validibot check` does not run")
    }
}

/// The report of a check that never ran: the refusal as ERROR findings of one
/// `workflow` entry, so `--format json|sarif|junit` still gives CI a file to read.
fn refusal(
    workflow_file: &std::path::Path,
    document: Checked,
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
        read_bytes: None,
        artifacts: vec![],
    };
    let fin = Final::system_error(error);
    let workflow = WorkflowRef {
        slug,
        version: 0,
        digest: String::new(),
    };
    let ran = Ran {
        workflow,
        created_at: now,
        fin,
        steps: vec![step],
        metadata: json!({}),
    };
    serde_json::to_value(local_run(document, ran)).unwrap_or_default()
}

/// A bar of how far the validators have read a large document, on a terminal only:
/// a streaming validator (CSV) reads it once, front to back, as it checks.
struct Progress(Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)>);

/// Documents smaller than this check too fast for a bar to help.
const PROGRESS_FROM: u64 = 16 << 20;

impl Progress {
    fn show(document: &Document, filename: &str) -> Progress {
        if document.len() < PROGRESS_FROM {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(document.len()).with_style(super::wait::bar_style(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        ));
        bar.set_message(format!("checking {filename}"));
        let (shown, document) = (bar.clone(), document.clone());
        let ticker = tokio::spawn(async move {
            loop {
                shown.set_position(document.reached());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Progress(Some((bar, ticker)))
    }

    fn finish(self) {
        if let Some((bar, ticker)) = self.0 {
            ticker.abort();
            bar.finish_and_clear();
        }
    }
}

/// The document a check ran on.
struct Checked<'a> {
    filename: &'a str,
    content_type: &'a str,
    size: u64,
    sha256: String,
}

/// What the step loop produced.
struct Ran {
    workflow: WorkflowRef,
    created_at: i64,
    fin: Final,
    steps: Vec<StepView>,
    metadata: Value,
}

/// A local run in the API's shape: `local-…` id, no workspace or URL, finished now.
fn local_run(document: Checked, ran: Ran) -> RunView {
    let Ran {
        workflow,
        created_at,
        fin,
        steps,
        metadata,
    } = ran;
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
            size: document.size as i64,
            sha256: document.sha256,
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
        read_bytes: None,
        artifacts: vec![],
    }
}
