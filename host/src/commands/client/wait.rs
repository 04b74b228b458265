//! Waiting for a run on a server: poll with backoff and a live step line on stderr,
//! until it finishes or the deadline passes. Shared by `validate` and `runs show`.

use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::rest::Client;

/// How long to wait: `--timeout` seconds, or not at all with `--no-wait`.
#[derive(Debug, Clone, clap::Args)]
pub struct WaitArgs {
    /// Return as soon as the run is submitted (exit 3 unless it already finished);
    /// `validibot runs show ID` fetches the result later.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for the result before giving up (exit 3; the run goes on).
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,
    /// Waiting is the default; kept so older scripts keep working.
    #[arg(long, hide = true)]
    pub wait: bool,
}

impl WaitArgs {
    /// When to stop waiting for a run whose wait began at `started`.
    pub fn deadline(&self, started: Instant) -> Instant {
        if self.no_wait {
            started
        } else {
            started + Duration::from_secs_f64(self.timeout.max(0.0))
        }
    }
}

pub fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

pub fn is_finished(run: &Value) -> bool {
    run["state"] == "COMPLETED"
}

/// The run as it is when it finished, or `Err(run)` as it was when `deadline` passed.
pub async fn until_finished(
    client: &Client,
    mut run: Value,
    deadline: Instant,
) -> Result<std::result::Result<Value, Value>> {
    if is_finished(&run) {
        return Ok(Ok(run));
    }
    let url = run["url"].as_str().unwrap_or_default().to_owned();
    let spinner = ProgressBar::new_spinner().with_style(bar_style("{spinner} {msg} {elapsed}"));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let mut interval = Duration::from_millis(200);
    loop {
        spinner.set_message(progress_line(&run));
        if Instant::now() >= deadline {
            spinner.finish_and_clear();
            return Ok(Err(run));
        }
        tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(2));
        run = client.get(&url).await?;
        if is_finished(&run) {
            spinner.finish_and_clear();
            return Ok(Ok(run));
        }
    }
}

/// The run's page in the web UI.
pub fn web_page(client: &Client, run: &Value) -> String {
    format!(
        "{}/ui/w/{}/runs/{}",
        client.base(),
        run["workspace"].as_str().unwrap_or(&client.workspace),
        run["id"].as_str().unwrap_or("")
    )
}

/// `RUNNING · schema PASSED · rules RUNNING 41% · sim PENDING` (the percentage: how far
/// a step has read a large document, when the server reports it).
fn progress_line(run: &Value) -> String {
    let mut line = run["status"].as_str().unwrap_or("").to_owned();
    let size = run["submission"]["size"].as_u64().unwrap_or(0);
    for s in run["steps"].as_array().into_iter().flatten() {
        line.push_str(&format!(
            " · {} {}",
            s["key"].as_str().unwrap_or(""),
            s["status"].as_str().unwrap_or("")
        ));
        if let (Some(read), true) = (s["read_bytes"].as_u64(), size > 0) {
            line.push_str(&format!(" {}%", read.min(size) * 100 / size));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_names_each_step() {
        let run = serde_json::json!({"status": "RUNNING", "state": "RUNNING",
            "submission": {"size": 400}, "steps": [
            {"key": "schema", "status": "PASSED"}, {"key": "sim", "status": "RUNNING", "read_bytes": 164}]});
        assert_eq!(
            super::progress_line(&run),
            "RUNNING · schema PASSED · sim RUNNING 41%"
        );
        assert!(!super::is_finished(&run));
    }
}
