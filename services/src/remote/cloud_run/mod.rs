//! The Cloud Run Jobs launcher (here, not in the engines, because it speaks HTTP with
//! reqwest): one execution of a Cloud Run job per asynchronous step
//! (`jobs.run` with environment overrides: the pointers, the operator's settings, one
//! task, the step's timeout). The operator creates one job per validator —
//! `<prefix><slug>`, from an image with the agent as its entrypoint (see
//! docs/self-hosting/scaling.md), `maxRetries: 0` — Cloud Run has no init containers to
//! install the agent, nor a way to override a job's command. Calls go to the Cloud Run
//! Admin API v2 with an access token from the metadata server (the workers' own service
//! account on GCP; `GCE_METADATA_HOST` as Google's libraries read it).
//!
//! Cloud Run names an execution when it starts it, so [`ContainerLauncher::launch`]
//! returns that name and the caller records it in place of the one chosen beforehand.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use validibot_engines::containers::launcher::{ContainerLauncher, RemoteJob, RemoteState};

/// What the operator decides (`VALIDIBOT_CLOUD_RUN_*`).
#[derive(Debug, Clone)]
pub struct CloudRunSettings {
    pub project: String,
    pub region: String,
    /// A validator's job is `<prefix><slug>`.
    pub job_prefix: String,
    /// `https://run.googleapis.com` (tests point it at a recorded API).
    pub api: String,
    /// `http://metadata.google.internal` (or `GCE_METADATA_HOST`).
    pub metadata: String,
}

pub struct CloudRunLauncher {
    settings: CloudRunSettings,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

impl CloudRunLauncher {
    pub fn new(settings: CloudRunSettings) -> Result<CloudRunLauncher> {
        Ok(CloudRunLauncher {
            settings,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            token: Mutex::new(None),
        })
    }

    /// An access token of the workers' service account, cached until a minute before
    /// it expires.
    async fn token(&self) -> Result<String> {
        let mut held = self.token.lock().await;
        if let Some((token, until)) = held.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            expires_in: u64,
        }
        let url = format!(
            "{}/computeMetadata/v1/instance/service-accounts/default/token",
            self.settings.metadata.trim_end_matches('/')
        );
        let token: Token = self
            .http
            .get(&url)
            .header("Metadata-Flavor", "Google")
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("asking the metadata server for a token ({url})"))?
            .json()
            .await?;
        let until = Instant::now() + Duration::from_secs(token.expires_in.saturating_sub(60));
        *held = Some((token.access_token.clone(), until));
        Ok(token.access_token)
    }

    fn job_url(&self, validator: &str) -> String {
        let s = &self.settings;
        format!(
            "{}/v2/projects/{}/locations/{}/jobs/{}{}",
            s.api.trim_end_matches('/'),
            s.project,
            s.region,
            s.job_prefix,
            validator
        )
    }

    /// A call to the API; `None` for 404.
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.token().await?);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "{method} {url} answered {status}: {}",
            text.chars().take(500).collect::<String>()
        );
        Ok(Some(serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn run(&self, job: &RemoteJob) -> Result<String> {
        let env: Vec<Value> = job
            .environment()
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        let timeout = (job.limits.timeout + job.limits.grace).as_secs() + 60;
        let body = json!({"overrides": {
            "containerOverrides": [{"env": env}],
            "taskCount": 1,
            "timeout": format!("{timeout}s"),
        }});
        let url = format!("{}:run", self.job_url(&job.validator));
        let operation = self
            .call(reqwest::Method::POST, &url, Some(&body))
            .await?
            .with_context(|| {
                format!(
                    "no Cloud Run job {}{} in {}/{}: create it for this validator",
                    self.settings.job_prefix,
                    job.validator,
                    self.settings.project,
                    self.settings.region
                )
            })?;
        // The operation's metadata is the execution it started.
        operation["metadata"]["name"]
            .as_str()
            .map(str::to_owned)
            .context("Cloud Run answered jobs.run without an execution")
    }

    async fn read(&self, name: &str) -> Result<RemoteState> {
        let Some(url) = self.execution_url(name) else {
            return Ok(RemoteState::Missing);
        };
        let Some(execution) = self.call(reqwest::Method::GET, &url, None).await? else {
            return Ok(RemoteState::Missing);
        };
        let state = execution_state(&execution);
        if !matches!(state, RemoteState::Exited { .. }) {
            return Ok(state);
        }
        // The exit code is the task's.
        let tasks = self
            .call(reqwest::Method::GET, &format!("{url}/tasks"), None)
            .await?
            .unwrap_or(Value::Null);
        Ok(with_task(state, &tasks))
    }

    async fn stop(&self, name: &str) -> Result<()> {
        let Some(url) = self.execution_url(name) else {
            return Ok(());
        };
        if let Some(execution) = self.call(reqwest::Method::GET, &url, None).await? {
            if execution["completionTime"].is_null() {
                self.call(
                    reqwest::Method::POST,
                    &format!("{url}:cancel"),
                    Some(&json!({})),
                )
                .await?;
            }
            self.call(reqwest::Method::DELETE, &url, None).await?;
        }
        Ok(())
    }

    /// The API URL of an execution recorded by its full name; `None` for a name chosen
    /// before the launch that was never replaced (the worker died mid-launch).
    fn execution_url(&self, name: &str) -> Option<String> {
        name.starts_with("projects/")
            .then(|| format!("{}/v2/{name}", self.settings.api.trim_end_matches('/')))
    }
}

/// An execution's state from its `Completed` condition and counts.
pub fn execution_state(execution: &Value) -> RemoteState {
    let completed = execution["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Completed"));
    let count = |k: &str| execution[k].as_i64().unwrap_or(0);
    match completed.and_then(|c| c["state"].as_str()) {
        Some("CONDITION_SUCCEEDED") => RemoteState::Exited {
            exit_code: Some(0),
            oom: false,
        },
        Some("CONDITION_FAILED") if count("cancelledCount") > 0 => RemoteState::Failed {
            reason: "the execution was cancelled".into(),
        },
        Some("CONDITION_FAILED") => RemoteState::Exited {
            exit_code: None,
            oom: false,
        },
        _ => RemoteState::Running,
    }
}

/// The failed task's exit code, and whether Cloud Run says it ran out of memory.
pub fn with_task(state: RemoteState, tasks: &Value) -> RemoteState {
    let RemoteState::Exited { exit_code, oom } = state else {
        return state;
    };
    let Some(task) = tasks["tasks"].as_array().and_then(|t| t.first()) else {
        return RemoteState::Exited { exit_code, oom };
    };
    let result = &task["lastAttemptResult"];
    let message = result["status"]["message"].as_str().unwrap_or_default();
    RemoteState::Exited {
        exit_code: result["exitCode"].as_i64().or(exit_code),
        oom: oom || message.contains("Memory limit"),
    }
}

impl ContainerLauncher for CloudRunLauncher {
    fn kind(&self) -> &'static str {
        "cloud-run"
    }

    fn execution_name(&self, validator: &str) -> String {
        use rand::RngCore;
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        format!("pending-{validator}-{}", hex::encode(id))
    }

    fn launch<'a>(
        &'a self,
        job: &'a RemoteJob,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move { Ok(Some(self.run(job).await?)) })
    }

    fn state<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<RemoteState>> {
        Box::pin(self.read(name))
    }

    fn stop_and_remove<'a>(&'a self, name: &'a str, _grace: Duration) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.stop(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Responses in the shape the Cloud Run Admin API v2 returns them (under
    /// `responses/`, written from its reference: no Cloud Run runs here).
    fn response(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/remote/cloud_run/responses")
            .join(name);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn recorded_states() {
        let state = |execution: &str, tasks: &str| {
            with_task(execution_state(&response(execution)), &response(tasks))
        };
        assert_eq!(
            execution_state(&response("execution-running.json")),
            RemoteState::Running
        );
        assert_eq!(
            state("execution-succeeded.json", "tasks-succeeded.json"),
            RemoteState::Exited {
                exit_code: Some(0),
                oom: false
            }
        );
        assert_eq!(
            state("execution-failed.json", "tasks-failed.json"),
            RemoteState::Exited {
                exit_code: Some(3),
                oom: false
            }
        );
        assert_eq!(
            state("execution-failed.json", "tasks-oom.json"),
            RemoteState::Exited {
                exit_code: Some(137),
                oom: true
            }
        );
        assert!(matches!(
            execution_state(&response("execution-cancelled.json")),
            RemoteState::Failed { .. }
        ));
    }
}
