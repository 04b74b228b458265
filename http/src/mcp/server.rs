//! The MCP server's tools: what an agent can do with Validibot, each tool a thin
//! translation into API operations (`dispatch`).

use axum::http::Method;
use base64::Engine as _;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, Implementation, ListResourceTemplatesResult, ListResourcesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use serde::Deserialize;
use serde_json::json;

use super::dispatch::{segment, Api};
use super::resources;

/// The workspace a tool works in when the agent names none.
pub const DEFAULT_WORKSPACE: &str = "default";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WorkspaceArgs {
    /// The workspace's slug (default: "default").
    pub workspace: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WorkflowArgs {
    /// The workspace's slug (default: "default").
    pub workspace: Option<String>,
    /// The workflow's slug (from list_workflows).
    pub workflow: String,
    /// A specific version (default: the latest).
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ValidateArgs {
    /// The workspace's slug (default: "default").
    pub workspace: Option<String>,
    /// The workflow to run (its slug, from list_workflows).
    pub workflow: String,
    /// The document as text (JSON, XML, CSV, an IDF model …). Give this or content_base64.
    pub content: Option<String>,
    /// The document's bytes in base64, for binary files (an FMU, an epJSON archive …).
    pub content_base64: Option<String>,
    /// The document's file name (shown on the run; its extension picks the media type
    /// when media_type is not given).
    pub filename: Option<String>,
    /// The document's media type (default: from the file name, else the workflow's first
    /// accepted type).
    pub media_type: Option<String>,
    /// Seconds to wait for the result, 0–60 (default 60). A run still going after that is
    /// answered as it stands; read it later with get_run.
    pub wait_seconds: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunArgs {
    /// The workspace's slug (default: "default").
    pub workspace: Option<String>,
    /// The run's id (from validate or list_runs).
    pub run_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReportArgs {
    /// The workspace's slug (default: "default").
    pub workspace: Option<String>,
    /// The run's id.
    pub run_id: String,
    /// text (default), json, sarif (SARIF 2.1.0) or junit (JUnit XML).
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListRunsArgs {
    /// The workspace's slug (default: "default").
    pub workspace: Option<String>,
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs in this state: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED or TIMED_OUT.
    pub status: Option<String>,
    /// How many, 1–200 (default 20), newest first.
    pub limit: Option<u32>,
}

fn workspace(ws: &Option<String>) -> String {
    segment(ws.as_deref().unwrap_or(DEFAULT_WORKSPACE))
}

/// A media type from a file name's extension, for the formats validators read.
fn media_type_of(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "json" | "epjson" => "application/json",
        "xml" | "xsd" | "gbxml" => "application/xml",
        "csv" => "text/csv",
        "idf" | "txt" => "text/plain",
        "fmu" | "zip" => "application/zip",
        _ => return None,
    })
}

/// Validibot's MCP server (one per request: it holds no state between calls).
#[derive(Clone)]
pub struct Validibot {
    tool_router: ToolRouter<Validibot>,
}

impl Validibot {
    pub fn new() -> Validibot {
        Validibot {
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router]
impl Validibot {
    /// The workflows of a workspace (latest versions): slug, name, what each step checks,
    /// the media types it accepts.
    #[tool(annotations(read_only_hint = true))]
    async fn list_workflows(
        &self,
        Parameters(args): Parameters<WorkspaceArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let api = Api::of(&context)?;
        let path = format!(
            "/api/v1/workspaces/{}/workflows",
            workspace(&args.workspace)
        );
        Ok(api.get(&path).await?.into_result())
    }

    /// A workflow in full — its steps with their configs and assertions — and the
    /// validators those steps run, with what each checks and the media types it reads.
    #[tool(annotations(read_only_hint = true))]
    async fn describe_workflow(
        &self,
        Parameters(args): Parameters<WorkflowArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let api = Api::of(&context)?;
        let mut path = format!(
            "/api/v1/workspaces/{}/workflows/{}",
            workspace(&args.workspace),
            segment(&args.workflow)
        );
        if let Some(v) = args.version {
            path.push_str(&format!("?version={v}"));
        }
        let workflow = api.get(&path).await?;
        if !workflow.ok() {
            return Ok(workflow.into_result());
        }
        let workflow = workflow.json();
        let validators = api.get("/api/v1/validators").await?;
        if !validators.ok() {
            return Ok(validators.into_result());
        }
        let used: std::collections::BTreeSet<&str> = workflow["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["validator"].as_str())
            .collect();
        let validators = validators.json();
        // WASM validators, and the container ones (EnergyPlus, FMI …) under `advanced`.
        let validators: Vec<serde_json::Value> = ["results", "advanced"]
            .iter()
            .filter_map(|list| validators[*list].as_array())
            .flatten()
            .filter(|v| v["slug"].as_str().is_some_and(|s| used.contains(s)))
            .cloned()
            .collect();
        Ok(CallToolResult::structured(
            json!({"workflow": workflow, "validators": validators}),
        ))
    }

    /// Validate a document with a workflow and wait for the result: the run with its
    /// PASS / FAIL / ERROR result and every step's findings (severity, code, message,
    /// path). Counts against the API key's launch budget.
    #[tool]
    async fn validate(
        &self,
        Parameters(args): Parameters<ValidateArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let api = Api::of(&context)?;
        let bytes = match (&args.content, &args.content_base64) {
            (Some(text), None) => text.clone().into_bytes(),
            (None, Some(b64)) => match base64::engine::general_purpose::STANDARD.decode(b64.trim())
            {
                Ok(bytes) => bytes,
                Err(e) => {
                    return Ok(refused(
                        "INVALID_BASE64",
                        &format!("content_base64 is not base64: {e}"),
                    ))
                }
            },
            _ => {
                return Ok(refused(
                    "INVALID_ARGUMENTS",
                    "give the document as content (text) or content_base64, one of them",
                ))
            }
        };
        let ws = workspace(&args.workspace);
        let slug = segment(&args.workflow);
        let media_type = match (
            &args.media_type,
            args.filename.as_deref().and_then(media_type_of),
        ) {
            (Some(given), _) => given.clone(),
            (None, Some(by_name)) => by_name.to_owned(),
            (None, None) => {
                let workflow = api
                    .get(&format!("/api/v1/workspaces/{ws}/workflows/{slug}"))
                    .await?;
                if !workflow.ok() {
                    return Ok(workflow.into_result());
                }
                workflow.json()["content_types"][0]
                    .as_str()
                    .unwrap_or("application/octet-stream")
                    .to_owned()
            }
        };
        if let Err(refusal) = api.spend_launch() {
            return Ok(refusal.into_result());
        }
        let mut path = format!(
            "/api/v1/workspaces/{ws}/workflows/{slug}/runs?wait={}",
            args.wait_seconds.unwrap_or(60).min(60)
        );
        if let Some(name) = &args.filename {
            path.push_str(&format!("&filename={}", segment(name)));
        }
        Ok(api
            .send(Method::POST, &path, Some(&media_type), bytes)
            .await?
            .into_result())
    }

    /// A run with its state, result and every step's findings.
    #[tool(annotations(read_only_hint = true))]
    async fn get_run(
        &self,
        Parameters(args): Parameters<RunArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let api = Api::of(&context)?;
        let path = format!(
            "/api/v1/workspaces/{}/runs/{}",
            workspace(&args.workspace),
            segment(&args.run_id)
        );
        Ok(api.get(&path).await?.into_result())
    }

    /// A finished run as a report: text (default, for reading), json, sarif or junit.
    #[tool(annotations(read_only_hint = true))]
    async fn get_report(
        &self,
        Parameters(args): Parameters<ReportArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let api = Api::of(&context)?;
        let path = format!(
            "/api/v1/workspaces/{}/runs/{}/report?format={}",
            workspace(&args.workspace),
            segment(&args.run_id),
            segment(args.format.as_deref().unwrap_or("text"))
        );
        Ok(api.get(&path).await?.into_text_result())
    }

    /// Recent runs, newest first, optionally of one workflow or in one state.
    #[tool(annotations(read_only_hint = true))]
    async fn list_runs(
        &self,
        Parameters(args): Parameters<ListRunsArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let api = Api::of(&context)?;
        let mut path = format!(
            "/api/v1/workspaces/{}/runs?limit={}",
            workspace(&args.workspace),
            args.limit.unwrap_or(20).clamp(1, 200)
        );
        if let Some(w) = &args.workflow {
            path.push_str(&format!("&workflow={}", segment(w)));
        }
        if let Some(s) = &args.status {
            path.push_str(&format!("&status={}", segment(s)));
        }
        Ok(api.get(&path).await?.into_result())
    }
}

/// A tool refusal in the API's shape, for arguments the tool itself cannot use.
fn refused(code: &str, detail: &str) -> CallToolResult {
    CallToolResult::structured_error(json!({"detail": detail, "code": code, "status": 400}))
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Validibot {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("validibot", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Validibot validates documents (JSON, XML, CSV, building-energy models, FMUs) with \
             workflows of validator steps and reports PASS / FAIL / ERROR with findings. \
             list_workflows, then describe_workflow to see what a workflow checks and which \
             media types it accepts, then validate a document; get_run and get_report read a \
             run again. Runs and workflows are also resources (validibot://workspaces/…).",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        resources::list(&Api::of(&context)?).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&Api::of(&context)?, &request.uri).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_follow_extensions() {
        assert_eq!(media_type_of("a/b.JSON"), Some("application/json"));
        assert_eq!(media_type_of("model.idf"), Some("text/plain"));
        assert_eq!(media_type_of("README"), None);
    }
}
