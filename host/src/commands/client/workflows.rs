//! `validibot workflows list | show | create | export | import`.

use std::path::PathBuf;

use anyhow::Result;
use reqwest::{Method, StatusCode};

use super::rest::{ApiFailure, Client, ServerArgs};
use super::workflow_file;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum WorkflowsCommand {
    /// The workspace's workflows (latest versions).
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One workflow as an editable definition (YAML), or the API's JSON.
    Show {
        /// The workflow's slug.
        slug: String,
        /// This version instead of the latest.
        #[arg(long)]
        version: Option<i64>,
        /// Print the API's JSON instead of the YAML definition.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Export a workflow as one bundle file (definition + the validators it pins), for
    /// `workflows import` in another workspace or instance.
    Export {
        /// The workflow's slug.
        slug: String,
        /// This version instead of the latest.
        #[arg(long)]
        version: Option<i64>,
        /// Write here instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Recreate an exported workflow (a new workflow in the workspace).
    Import {
        file: PathBuf,
        /// Save under this slug instead of the bundle's.
        #[arg(long)]
        slug: Option<String>,
        /// Import even where this server would run other validator versions or digests.
        #[arg(long)]
        accept_validators: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Create a workflow from a YAML or JSON file (`--update` edits an existing one).
    Create {
        /// The workflow definition (YAML or JSON; `workflows show` prints one). Step files
        /// named by a local `path` are uploaded with it.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// If the slug exists, save the file as its next version.
        #[arg(long)]
        update: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn run(cmd: &WorkflowsCommand) -> Result<()> {
    match cmd {
        WorkflowsCommand::List { server, json } => {
            let client = Client::from_args(server)?;
            let body = client.get(&client.ws_path("/workflows")).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            let rows = body["results"].as_array().cloned().unwrap_or_default();
            println!("{:<28} {:>7} {:>5}  NAME", "SLUG", "VERSION", "STEPS");
            for w in &rows {
                println!(
                    "{:<28} {:>7} {:>5}  {}",
                    w["slug"].as_str().unwrap_or(""),
                    w["version"].to_string(),
                    w["steps"].as_array().map_or(0, Vec::len),
                    w["name"].as_str().unwrap_or("")
                );
            }
            if rows.is_empty() {
                eprintln!("no workflows in workspace {}", client.workspace);
            }
        }
        WorkflowsCommand::Show {
            slug,
            version,
            json,
            server,
        } => {
            let client = Client::from_args(server)?;
            let query = version.map(|v| format!("?version={v}")).unwrap_or_default();
            if *json {
                let body = client
                    .get(&client.ws_path(&format!("/workflows/{slug}{query}")))
                    .await?;
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                // The editable definition is the export's: the server writes it once.
                let bundle = client
                    .get(&client.ws_path(&format!("/workflows/{slug}/export{query}")))
                    .await?;
                let source = &bundle["source"];
                eprintln!(
                    "# {} v{} ({})",
                    source["slug"].as_str().unwrap_or(""),
                    source["version"],
                    source["digest"].as_str().unwrap_or("")
                );
                print!("{}", serde_yaml_ng::to_string(&bundle["definition"])?);
            }
        }
        WorkflowsCommand::Export {
            slug,
            version,
            output,
            server,
        } => {
            let client = Client::from_args(server)?;
            let mut path = client.ws_path(&format!("/workflows/{slug}/export"));
            if let Some(v) = version {
                path.push_str(&format!("?version={v}"));
            }
            let bundle = client.get(&path).await?;
            let text = serde_json::to_string_pretty(&bundle)? + "\n";
            match output {
                Some(file) => {
                    std::fs::write(file, text)?;
                    eprintln!(
                        "wrote {} v{} to {}",
                        slug,
                        bundle["source"]["version"],
                        file.display()
                    );
                }
                None => print!("{text}"),
            }
        }
        WorkflowsCommand::Import {
            file,
            slug,
            accept_validators,
            server,
        } => {
            let client = Client::from_args(server)?;
            let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(file)?)
                .map_err(|e| anyhow::anyhow!("{}: not a workflow bundle: {e}", file.display()))?;
            let mut query = vec![("accept_validators", accept_validators.to_string())];
            if let Some(s) = slug {
                query.push(("slug", s.clone()));
            }
            let (_, body) = client
                .send(
                    client
                        .request(Method::POST, &client.ws_path("/workflows/import"))
                        .query(&query)
                        .json(&bundle),
                )
                .await?;
            println!(
                "imported {} v{} ({} steps, {})",
                body["slug"].as_str().unwrap_or(""),
                body["version"],
                body["steps"].as_array().map_or(0, Vec::len),
                body["digest"].as_str().unwrap_or("")
            );
        }
        WorkflowsCommand::Create {
            file,
            update,
            server,
        } => {
            let client = Client::from_args(server)?;
            let mut definition = workflow_file::read(file)?;
            for local in workflow_file::take_local_files(&mut definition, file)? {
                let path = format!("/files?name={}", local.name);
                client
                    .send(
                        client
                            .request(Method::POST, &client.ws_path(&path))
                            .header(reqwest::header::CONTENT_TYPE, &local.media_type)
                            .body(local.bytes),
                    )
                    .await?;
            }
            let slug = definition["slug"].as_str().unwrap_or_default().to_owned();
            let created = client
                .send(
                    client
                        .request(Method::POST, &client.ws_path("/workflows"))
                        .json(&definition),
                )
                .await;
            let (status, body) = match created {
                Err(e)
                    if *update
                        && e.downcast_ref::<ApiFailure>()
                            .is_some_and(|f| f.status == StatusCode::CONFLICT) =>
                {
                    client
                        .send(
                            client
                                .request(
                                    Method::PUT,
                                    &client.ws_path(&format!("/workflows/{slug}")),
                                )
                                .json(&definition),
                        )
                        .await?
                }
                other => other?,
            };
            let verb = if status == StatusCode::CREATED {
                "created"
            } else if body["unchanged"] == true {
                "unchanged:"
            } else {
                "saved"
            };
            println!(
                "{verb} {} v{} ({} steps, {})",
                body["slug"].as_str().unwrap_or(""),
                body["version"],
                body["steps"].as_array().map_or(0, Vec::len),
                body["digest"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
