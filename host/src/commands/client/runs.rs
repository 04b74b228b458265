//! `validibot runs list|show|cancel`: the runs of a workspace after the fact — what a
//! pipeline that launched with `validate --no-wait` uses to fetch its result.

use std::time::Instant;

use anyhow::Result;
use reqwest::Method;
use serde_json::Value;

use super::exit;
use super::output::{self, ReportArgs};
use super::rest::{Client, ServerArgs};
use super::wait::{self, WaitArgs};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RunsCommand {
    /// The newest runs (that you may see), newest first.
    List {
        /// Only runs of this workflow (slug).
        #[arg(short = 'w', long)]
        workflow: Option<String>,
        /// Only runs with this status: pending, running, succeeded, failed (a FAIL or
        /// an ERROR result), timed_out or canceled.
        #[arg(long)]
        status: Option<String>,
        /// How many (1–200).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// One run's report (waiting for it when it has not finished); exits with its
    /// result's code, like `validate`.
    #[command(after_help = exit::TABLE)]
    Show {
        /// The run's id.
        id: String,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Cancel a queued or running run: it ends CANCELED at once, a running step is
    /// interrupted (executors: their own runs; authors and above: any).
    Cancel {
        /// The run's id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Runs the command; returns its exit code.
pub async fn run(cmd: &RunsCommand) -> Result<i32> {
    match cmd {
        RunsCommand::List {
            workflow,
            status,
            limit,
            json,
            server,
        } => {
            let client = Client::from_args(server)?;
            let mut query = vec![("limit", limit.to_string())];
            if let Some(w) = workflow {
                query.push(("workflow", w.clone()));
            }
            if let Some(s) = status {
                query.push(("status", s.to_ascii_uppercase()));
            }
            let req = client
                .request(Method::GET, &client.ws_path("/runs"))
                .query(&query);
            let (_, page) = client.send(req).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                print!("{}", table(&page));
            }
            Ok(exit::PASS)
        }
        RunsCommand::Show {
            id,
            wait,
            report,
            server,
        } => {
            let client = Client::from_args(server)?;
            let started = Instant::now();
            let run = client.get(&client.ws_path(&format!("/runs/{id}"))).await?;
            match wait::until_finished(&client, run, wait.deadline(started)).await? {
                Ok(run) => output::emit(report, &run, None, Some(client.base())),
                Err(run) => {
                    eprintln!(
                        "run {id} is still {}; see {}",
                        run["status"].as_str().unwrap_or("?"),
                        wait::web_page(&client, &run)
                    );
                    Ok(exit::NOT_FINISHED)
                }
            }
        }
        RunsCommand::Cancel { id, server } => {
            let client = Client::from_args(server)?;
            let path = client.ws_path(&format!("/runs/{id}/cancel"));
            let (_, run) = client.send(client.request(Method::POST, &path)).await?;
            println!(
                "run {} {} ({})",
                run["id"].as_str().unwrap_or(id),
                run["status"].as_str().unwrap_or("?"),
                run["error_detail"].as_str().unwrap_or("cancelled")
            );
            Ok(exit::PASS)
        }
    }
}

/// One line per run: id, when (UTC), workflow and version, status, findings, who.
fn table(page: &Value) -> String {
    let runs = page["results"].as_array().cloned().unwrap_or_default();
    if runs.is_empty() {
        return "no runs\n".into();
    }
    let mut out = format!(
        "{:<36}  {:<20}  {:<24}  {:<9}  {:>8}  {}\n",
        "ID", "CREATED (UTC)", "WORKFLOW", "STATUS", "FINDINGS", "BY"
    );
    for r in &runs {
        let created = r["created_at"].as_str().unwrap_or("");
        let created = created.get(..19).unwrap_or(created).replace('T', " ");
        let workflow = format!(
            "{} v{}",
            r["workflow"]["slug"].as_str().unwrap_or("?"),
            r["workflow"]["version"]
        );
        let s = &r["summary"];
        let findings: u64 = ["errors", "warnings", "infos"]
            .iter()
            .filter_map(|k| s[*k].as_u64())
            .sum();
        out.push_str(&format!(
            "{:<36}  {:<20}  {:<24}  {:<9}  {:>8}  {}\n",
            r["id"].as_str().unwrap_or(""),
            created,
            workflow,
            r["status"].as_str().unwrap_or(""),
            findings,
            r["created_by"].as_str().unwrap_or("-"),
        ));
    }
    if page["next"].is_string() {
        out.push_str("(more: raise --limit or filter by --workflow/--status)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_names_each_run() {
        let page = serde_json::json!({"results": [{
            "id": "01a22c76-4ca4-753d-8382-bacb4127907d", "created_at": "2026-11-30T10:11:12.345Z",
            "workflow": {"slug": "invoice", "version": 3}, "status": "FAILED",
            "summary": {"errors": 2, "warnings": 1, "infos": 0}, "created_by": "alice"}],
            "next": null});
        let t = super::table(&page);
        let line = t.lines().nth(1).unwrap();
        assert!(
            line.starts_with("01a22c76-4ca4-753d-8382-bacb4127907d  2026-11-30 10:11:12"),
            "{t}"
        );
        assert!(
            line.contains("invoice v3") && line.contains("FAILED"),
            "{t}"
        );
        assert!(line.trim_end().ends_with("3  alice"), "{t}");
        assert_eq!(
            super::table(&serde_json::json!({"results": []})),
            "no runs\n"
        );
    }
}
