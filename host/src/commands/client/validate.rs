//! `validibot validate FILE -w WORKFLOW`: upload (with a progress bar), wait for the
//! result (with a live step status), print a report, exit with the result's code.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::exit;
use super::output::{self, ReportArgs};
use super::rest::{Client, ServerArgs};

#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The document to validate.
    pub file: PathBuf,
    /// The workflow's slug.
    #[arg(short = 'w', long)]
    pub workflow: String,
    /// Launch this version of the workflow instead of the latest.
    #[arg(long)]
    pub workflow_version: Option<i64>,
    /// Wait until the run finishes (up to --timeout); without it the command returns after
    /// the server's own wait budget (a few seconds).
    #[arg(long)]
    pub wait: bool,
    /// Seconds --wait waits before giving up (exit 3; the run goes on).
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,
    /// Media type of the document (default: from its extension).
    #[arg(long)]
    pub content_type: Option<String>,
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
                    "interrupted after the upload; the run goes on on the server (see {}{})",
                    client.base(),
                    client.ws_path("/runs")
                ),
                Some(url) => eprintln!("interrupted; the run goes on: {}{url}", client.base()),
                None => eprintln!("interrupted before the upload finished; nothing was submitted"),
            }
            Ok(exit::INTERRUPTED)
        }
    }
}

fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
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

    let bar = ProgressBar::new(size).with_style(bar_style(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    ));
    bar.set_message(format!("uploading {filename}"));
    let body_bar = bar.clone();
    let uploaded = launched.clone();
    let stream = futures_util::stream::unfold(file, move |mut file| {
        let bar = body_bar.clone();
        let uploaded = uploaded.clone();
        async move {
            let mut buf = vec![0u8; 256 << 10];
            match file.read(&mut buf).await {
                Ok(0) => {
                    // From here on the server may have created the run.
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
    let mut query: Vec<(&str, String)> = vec![("filename", filename.clone())];
    if args.wait {
        // A short server-side wait answers quick runs in one round trip and longer ones
        // with their id soon, so progress (and Ctrl-C) can name the run.
        query.push(("wait", format!("{}", args.timeout.clamp(0.0, 2.0))));
    }
    if let Some(v) = args.workflow_version {
        query.push(("version", v.to_string()));
    }
    let started = Instant::now();
    let req = client
        .request(
            Method::POST,
            &client.ws_path(&format!("/workflows/{}/runs", args.workflow)),
        )
        .query(&query)
        .header(reqwest::header::CONTENT_TYPE, &content_type)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(stream));
    let sent = client.send(req).await;
    bar.finish_and_clear();
    let (_, mut run) = sent?;
    let url = run["url"].as_str().unwrap_or_default().to_owned();
    *launched.lock().unwrap() = Some(url.clone());
    if !is_terminal(&run) {
        if !args.wait {
            eprintln!(
                "run {} is {}; follow it at {}{url} (or pass --wait)",
                run["id"].as_str().unwrap_or(""),
                run["status"].as_str().unwrap_or(""),
                client.base()
            );
            return Ok(exit::WAIT_TIMED_OUT);
        }
        let spinner = ProgressBar::new_spinner().with_style(bar_style("{spinner} {msg} {elapsed}"));
        spinner.enable_steady_tick(Duration::from_millis(120));
        let deadline = started + Duration::from_secs_f64(args.timeout.max(0.0));
        let mut interval = Duration::from_millis(200);
        loop {
            spinner.set_message(progress_line(&run));
            if Instant::now() >= deadline {
                spinner.finish_and_clear();
                eprintln!(
                    "gave up waiting after {:.0} s; run {} is still {} at {}{url}",
                    args.timeout,
                    run["id"].as_str().unwrap_or(""),
                    run["status"].as_str().unwrap_or(""),
                    client.base()
                );
                return Ok(exit::WAIT_TIMED_OUT);
            }
            tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now())))
                .await;
            interval = (interval * 3 / 2).min(Duration::from_secs(2));
            run = client.get(&url).await?;
            if is_terminal(&run) {
                spinner.finish_and_clear();
                break;
            }
        }
    }
    output::emit(&args.report, &run)
}

fn is_terminal(run: &Value) -> bool {
    run["state"] == "COMPLETED"
}

/// `RUNNING · schema PASSED · rules RUNNING · sim PENDING`
fn progress_line(run: &Value) -> String {
    let mut line = run["status"].as_str().unwrap_or("").to_owned();
    for s in run["steps"].as_array().into_iter().flatten() {
        line.push_str(&format!(
            " · {} {}",
            s["key"].as_str().unwrap_or(""),
            s["status"].as_str().unwrap_or("")
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_names_each_step() {
        let run = serde_json::json!({"status": "RUNNING", "state": "RUNNING", "steps": [
            {"key": "schema", "status": "PASSED"}, {"key": "sim", "status": "RUNNING"}]});
        assert_eq!(
            super::progress_line(&run),
            "RUNNING · schema PASSED · sim RUNNING"
        );
        assert!(!super::is_terminal(&run));
    }
}
