//! A small REST client for the CLI: server URL and key from flags, environment or the
//! saved credentials; server errors surface as their `{detail, code}`.

use anyhow::{bail, Context, Result};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use super::credentials;

/// Where and as whom the client commands talk (each falls back to `validibot login`'s file).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Server URL, e.g. `https://validibot.example.com`.
    #[arg(long, env = "VALIDIBOT_SERVER")]
    pub server: Option<String>,
    /// API key (`vbk_…`).
    #[arg(long, env = "VALIDIBOT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Workspace slug (default: the saved one, else `default`).
    #[arg(long, env = "VALIDIBOT_WORKSPACE")]
    pub workspace: Option<String>,
}

/// A refusal from the server, as its error body says.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {detail}{}", details.iter().map(|d| format!("\n  {d}")).collect::<String>())]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    /// Per-item detail some errors carry (e.g. each invalid step and its findings).
    pub details: Vec<String>,
}

/// One line per entry of an error's `errors` (and per finding inside one).
fn details_of(body: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for e in body["errors"].as_array().into_iter().flatten() {
        let key = e["key"]
            .as_str()
            .map(|k| format!("step {k}: "))
            .unwrap_or_default();
        lines.push(format!("{key}{}", e["detail"].as_str().unwrap_or("")));
        for f in e["findings"].as_array().into_iter().flatten() {
            lines.push(format!(
                "  {} {} at {}: {}",
                f["severity"].as_str().unwrap_or(""),
                f["code"].as_str().unwrap_or(""),
                f["path"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            ));
        }
    }
    lines
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    pub workspace: String,
}

/// `http://host:port` without a trailing slash; a bare host gets `http://`.
pub fn normalize_server(server: &str) -> String {
    let s = server.trim().trim_end_matches('/');
    if s.contains("://") {
        s.to_owned()
    } else {
        format!("http://{s}")
    }
}

impl Client {
    pub fn new(server: &str, key: &str, workspace: &str) -> Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("validibot-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Client {
            http,
            base: normalize_server(server),
            key: key.to_owned(),
            workspace: workspace.to_owned(),
        })
    }

    pub fn from_args(args: &ServerArgs) -> Result<Client> {
        let saved = credentials::load()?;
        let server = args
            .server
            .clone()
            .or_else(|| saved.as_ref().map(|c| c.server.clone()));
        let key = args
            .api_key
            .clone()
            .or_else(|| saved.as_ref().map(|c| c.api_key.clone()));
        let (Some(server), Some(key)) = (server, key) else {
            bail!("not logged in: run `validibot login --server URL`, or pass --server and --api-key (VALIDIBOT_SERVER, VALIDIBOT_API_KEY)");
        };
        let workspace = args
            .workspace
            .clone()
            .or_else(|| saved.map(|c| c.workspace))
            .unwrap_or_else(|| "default".into());
        Client::new(&server, &key, &workspace)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (absolute, e.g. `/api/v1/...`) with the key attached.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    /// `/api/v1/workspaces/{ws}` + `rest`.
    pub fn ws_path(&self, rest: &str) -> String {
        format!("/api/v1/workspaces/{}{rest}", self.workspace)
    }

    /// Sends and returns the JSON body of a 2xx answer (with its status).
    pub async fn send(&self, req: RequestBuilder) -> Result<(StatusCode, Value)> {
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading the server's answer")?;
        if status.is_success() {
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).context("the server's answer is not JSON")?
            };
            return Ok((status, body));
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(ApiFailure {
            status,
            code: body["code"].as_str().unwrap_or("HTTP_ERROR").to_owned(),
            detail: body["detail"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect()),
            details: details_of(&body),
        }
        .into())
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        Ok(self.send(self.request(Method::GET, path)).await?.1)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_urls_are_normalized() {
        assert_eq!(
            super::normalize_server("localhost:8000/"),
            "http://localhost:8000"
        );
        assert_eq!(
            super::normalize_server("https://v.example/"),
            "https://v.example"
        );
    }
}
