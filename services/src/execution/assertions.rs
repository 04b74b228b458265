//! A step's assertions, evaluated after its validator — whatever ran it — by the
//! built-in evaluator in the sandbox, over the document (only when an assertion reads
//! `doc`), the step's outputs and the run's context.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use validibot_engines::plugins::{CallInput, Document, Plugin};
use validibot_store::workflows::Step;
use validibot_types::clock::now_us;
use validibot_types::Output;

use super::step_outcome::Ended;
use crate::workflows::assertions;
use crate::workflows::context::RunContext;

/// The submission the run validates.
pub struct Submitted<'a> {
    pub document: &'a Document,
    pub content_type: &'a str,
}

/// Whether a step with a `when` runs.
pub enum When {
    Run,
    /// SKIPPED, with the reason.
    Skip(String),
}

/// Decides `step`'s `when` (it has one) over the document, earlier steps, metadata and
/// constants; `Err` is the evaluator's failure.
pub async fn when(
    evaluator: Arc<Plugin>,
    when: &str,
    ctx: &RunContext,
    doc: Submitted<'_>,
    remaining: Duration,
) -> Result<Result<When, validibot_engines::plugins::CallError>> {
    let format = if when.contains("doc") {
        assertions::format_for(doc.content_type)
    } else {
        "none"
    };
    let variables = assertions::run_variables(&[], ctx);
    let config = assertions::when_config(when, format, variables).to_string();
    let (ended, _) = call(evaluator, config, format, doc, remaining).await?;
    Ok(match ended {
        Ended::Reported { findings, .. } => Ok(match findings.first() {
            None => When::Run,
            Some(f) => When::Skip(format!("{} (when: {when})", f.message)),
        }),
        Ended::Wasm(e) => Err(e),
        _ => unreachable!("the evaluator is a WASM call"),
    })
}

/// Evaluates `step`'s assertions; the answer and when the evaluation finished.
pub async fn evaluate(
    evaluator: Arc<Plugin>,
    step: &Step,
    outputs: &[Output],
    ctx: &RunContext,
    doc: Submitted<'_>,
    remaining: Duration,
) -> Result<(Ended, i64)> {
    let with_doc = assertions::uses_doc(&step.assertions);
    let format = if with_doc {
        assertions::format_for(doc.content_type)
    } else {
        "none"
    };
    let variables = assertions::run_variables(outputs, ctx);
    let config = assertions::config(step, format, variables).to_string();
    call(evaluator, config, format, doc, remaining).await
}

/// One evaluator call; the document goes in only when `format` parses it.
async fn call(
    evaluator: Arc<Plugin>,
    config: String,
    format: &str,
    doc: Submitted<'_>,
    remaining: Duration,
) -> Result<(Ended, i64)> {
    let document = if format == "none" {
        Document::empty()
    } else {
        doc.document.clone()
    };
    let content_type = doc.content_type.to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let input = CallInput {
            document: &document,
            content_type: &content_type,
            config: &config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        };
        evaluator.validate(&input, remaining)
    })
    .await
    .context("assertion evaluation panicked")?;
    let ended = match answer {
        Ok(found) => Ended::Reported {
            findings: found.findings,
            outputs: found.outputs,
        },
        Err(e) => Ended::Wasm(e),
    };
    Ok((ended, now_us()))
}
