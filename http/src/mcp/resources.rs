//! Workflows and runs as MCP resources: `validibot://workspaces/{ws}/workflows/{slug}`
//! and `validibot://workspaces/{ws}/runs/{id}`, read as the API's JSON for the caller.

use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ResourceTemplate,
};
use rmcp::ErrorData;

use super::dispatch::{segment, Api};

const WORKFLOW_TEMPLATE: &str = "validibot://workspaces/{workspace}/workflows/{workflow}";
const RUN_TEMPLATE: &str = "validibot://workspaces/{workspace}/runs/{run_id}";
/// Runs listed per workspace (newest first); older ones are read by their URI.
const RECENT_RUNS: usize = 20;
/// Workspaces whose workflows and runs are listed.
const MAX_WORKSPACES: usize = 20;

pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(WORKFLOW_TEMPLATE, "workflow")
            .with_description("A workflow's latest version: its steps, configs and assertions")
            .with_mime_type("application/json"),
        ResourceTemplate::new(RUN_TEMPLATE, "run")
            .with_description("A run with its result and every step's findings")
            .with_mime_type("application/json"),
    ])
}

/// The caller's workflows and recent runs in the workspaces they belong to.
pub async fn list(api: &Api) -> Result<ListResourcesResult, ErrorData> {
    let workspaces = api.get("/api/v1/workspaces").await?.json();
    let mut resources = Vec::new();
    let slugs = workspaces["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["slug"].as_str())
        .take(MAX_WORKSPACES);
    for ws in slugs {
        let workflows = api
            .get(&format!("/api/v1/workspaces/{}/workflows", segment(ws)))
            .await?
            .json();
        for wf in workflows["results"].as_array().into_iter().flatten() {
            let Some(slug) = wf["slug"].as_str() else {
                continue;
            };
            resources.push(
                Resource::new(
                    format!("validibot://workspaces/{ws}/workflows/{slug}"),
                    format!("workflow {ws}/{slug}"),
                )
                .with_title(wf["name"].as_str().unwrap_or(slug))
                .with_mime_type("application/json"),
            );
        }
        let runs = api
            .get(&format!(
                "/api/v1/workspaces/{}/runs?limit={RECENT_RUNS}",
                segment(ws)
            ))
            .await?
            .json();
        for run in runs["results"].as_array().into_iter().flatten() {
            let Some(id) = run["id"].as_str() else {
                continue;
            };
            let workflow = run["workflow"]["slug"].as_str().unwrap_or("?");
            let status = run["status"].as_str().unwrap_or("?");
            resources.push(
                Resource::new(
                    format!("validibot://workspaces/{ws}/runs/{id}"),
                    format!("run {id}"),
                )
                .with_title(format!("{workflow} run {id} ({status})"))
                .with_mime_type("application/json"),
            );
        }
    }
    Ok(ListResourcesResult::with_all_items(resources))
}

/// The API path a resource URI names, if it names one.
fn api_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("validibot://workspaces/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [ws, "workflows", slug] if !ws.is_empty() && !slug.is_empty() => Some(format!(
            "/api/v1/workspaces/{}/workflows/{}",
            segment(ws),
            segment(slug)
        )),
        [ws, "runs", id] if !ws.is_empty() && !id.is_empty() => Some(format!(
            "/api/v1/workspaces/{}/runs/{}",
            segment(ws),
            segment(id)
        )),
        _ => None,
    }
}

pub async fn read(api: &Api, uri: &str) -> Result<ReadResourceResponse, ErrorData> {
    let path = api_path(uri)
        .ok_or_else(|| ErrorData::resource_not_found(format!("no such resource: {uri}"), None))?;
    let answer = api.get(&path).await?;
    if !answer.ok() {
        // Not found, or not visible to this key: the API's own answer says which.
        return Err(ErrorData::resource_not_found(
            format!(
                "{uri}: {}",
                answer.json()["detail"].as_str().unwrap_or("not found")
            ),
            Some(answer.json()),
        ));
    }
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type("application/json")
    ])
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_to_api_paths_and_nothing_else() {
        assert_eq!(
            api_path("validibot://workspaces/default/workflows/invoice").as_deref(),
            Some("/api/v1/workspaces/default/workflows/invoice")
        );
        assert_eq!(
            api_path("validibot://workspaces/default/runs/r1").as_deref(),
            Some("/api/v1/workspaces/default/runs/r1")
        );
        assert_eq!(
            api_path("validibot://workspaces/default/runs/r1/evidence"),
            None
        );
        assert_eq!(api_path("validibot://workspaces//runs/r1"), None);
        assert_eq!(api_path("file:///etc/passwd"), None);
    }
}
