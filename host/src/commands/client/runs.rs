//! `validibot runs cancel ID`.

use anyhow::Result;
use reqwest::Method;

use super::rest::{Client, ServerArgs};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RunsCommand {
    /// Cancel a queued or running run: it ends CANCELED at once, a running step is
    /// interrupted (executors: their own runs; authors and above: any).
    Cancel {
        /// The run's id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn run(cmd: &RunsCommand) -> Result<()> {
    match cmd {
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
            Ok(())
        }
    }
}
