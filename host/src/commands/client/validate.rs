//! `validibot validate FILE -w WORKFLOW`: upload (with a progress bar), wait for the
//! result (with a live step status), print a report, exit with the result's code.
//! Small files go as the raw body; larger ones as a streamed multipart upload, which
//! the server takes up to its file limit (1 GiB by default) instead of the inline one.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use reqwest::Method;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::exit;
use super::output::{self, ReportArgs};
use super::rest::{Client, ServerArgs};
use super::wait::{self, WaitArgs};

/// Above this size a document is uploaded as multipart: below every sane inline limit
/// (10 MiB by default), and big enough that small documents keep the one-part request.
const RAW_UPLOAD_MAX: u64 = 1 << 20;

#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The document to validate.
    pub file: PathBuf,
    /// The workflow's slug (`validibot workflows list` shows them).
    #[arg(short = 'w', long)]
    pub workflow: String,
    /// Launch this version of the workflow instead of the latest.
    #[arg(long)]
    pub workflow_version: Option<i64>,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Media type of the document (default: from its extension).
    #[arg(long)]
    pub content_type: Option<String>,
    /// The submission's metadata, a JSON object (assertions read it as `meta`).
    #[arg(long, value_parser = super::check::parse_metadata)]
    pub metadata: Option<Value>,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs the command; returns its exit code.
pub async fn run(args: &ValidateArgs) -> Result<i32> {
    let client = Client::from_args(&args.server)?;
    let launched: Arc<Mutex<Option<String>>> = Arc::default();
    tokio::select! {
        code = submit_and_wait(&client, args, launched.clone()) => code,
        _ = tokio::signal::ctrl_c() => {
            match launched.lock().unwrap().as_deref() {
                Some("") => eprintln!(
                    "interrupted after the upload; the run goes on on the server (`validibot runs list`)",
                ),
                Some(page) => eprintln!("interrupted; the run goes on: {page}"),
                None => eprintln!("interrupted before the upload finished; nothing was submitted"),
            }
            Ok(exit::INTERRUPTED)
        }
    }
}

async fn submit_and_wait(
    client: &Client,
    args: &ValidateArgs,
    launched: Arc<Mutex<Option<String>>>,
) -> Result<i32> {
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().await?.len();
    let (filename, content_type) =
        super::document::name_and_type(&args.file, args.content_type.as_deref());

    let bar = ProgressBar::new(size).with_style(wait::bar_style(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    ));
    bar.set_message(format!("uploading {filename}"));
    let body = upload_body(file, bar.clone(), launched.clone());
    let mut query: Vec<(&str, String)> = vec![("filename", filename.clone())];
    if !args.wait.no_wait {
        // A short server-side wait answers quick runs in one round trip and longer ones
        // with their id soon, so progress (and Ctrl-C) can name the run.
        query.push(("wait", format!("{}", args.wait.timeout.clamp(0.0, 2.0))));
    }
    if let Some(v) = args.workflow_version {
        query.push(("version", v.to_string()));
    }
    let started = Instant::now();
    let mut req = client
        .request(
            Method::POST,
            &client.ws_path(&format!("/workflows/{}/runs", args.workflow)),
        )
        .query(&query);
    let metadata = args.metadata.as_ref().map(Value::to_string);
    if size > RAW_UPLOAD_MAX {
        let part = reqwest::multipart::Part::stream_with_length(body, size)
            .file_name(filename.clone())
            .mime_str(&content_type)
            .with_context(|| format!("--content-type {content_type:?}"))?;
        let mut form = reqwest::multipart::Form::new().part("file", part);
        if let Some(m) = metadata {
            form = form.text("metadata", m);
        }
        req = req.multipart(form);
    } else {
        req = req
            .header(reqwest::header::CONTENT_TYPE, &content_type)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(body);
        if let Some(m) = metadata {
            req = req.header("x-validibot-metadata", m);
        }
    }
    let sent = client.send(req).await;
    bar.finish_and_clear();
    let (_, run) = sent?;
    let page = wait::web_page(client, &run);
    *launched.lock().unwrap() = Some(page.clone());
    match wait::until_finished(client, run, args.wait.deadline(started)).await? {
        Ok(run) => {
            let code = output::emit(&args.report, &run, Some(&args.file), Some(client.base()))?;
            eprintln!("run page: {page}");
            Ok(code)
        }
        Err(run) => {
            let id = run["id"].as_str().unwrap_or("");
            let status = run["status"].as_str().unwrap_or("");
            if args.wait.no_wait {
                eprintln!(
                    "run {id} is {status}: {page}\n`validibot runs show {id}` waits for its report"
                );
            } else {
                eprintln!(
                    "gave up waiting after {:.0} s; run {id} is still {status}: {page}\n`validibot runs show {id}` waits again",
                    args.wait.timeout
                );
            }
            // The id on stdout, so a pipeline can keep it.
            println!("{id}");
            Ok(exit::NOT_FINISHED)
        }
    }
}

/// The file as a streamed body that moves the progress bar; marks the upload done
/// (from here on the server may have created the run).
fn upload_body(
    file: tokio::fs::File,
    bar: ProgressBar,
    uploaded: Arc<Mutex<Option<String>>>,
) -> reqwest::Body {
    let stream = futures_util::stream::unfold(file, move |mut file| {
        let bar = bar.clone();
        let uploaded = uploaded.clone();
        async move {
            let mut buf = vec![0u8; 256 << 10];
            match file.read(&mut buf).await {
                Ok(0) => {
                    *uploaded.lock().unwrap() = Some(String::new());
                    None
                }
                Ok(n) => {
                    buf.truncate(n);
                    bar.inc(n as u64);
                    Some((Ok::<_, std::io::Error>(buf), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        }
    });
    reqwest::Body::wrap_stream(stream)
}
