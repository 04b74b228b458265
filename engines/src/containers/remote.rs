//! Asynchronous container steps on a Docker (or Podman) engine: the container is
//! started detached with the agent (`validibot-agent`, a static binary mounted
//! read-only) as its first process and the image's own command behind it; nobody
//! waits on it. It receives only pointers — presigned URLs and a callback — and calls
//! back when done; `state` and `stop` serve the reconciler. The hardening is the
//! synchronous runner's, except the network: the container must reach the bucket and
//! the callback URL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, InspectContainerOptions};

use super::docker::{DockerRunner, LABEL_DEADLINE, LABEL_MANAGED, LABEL_RUN_ID, LABEL_VALIDATOR};
use super::envelope::{INPUT_DIR, OUTPUT_DIR};
use super::hardening::{self, Limits};

include!(concat!(env!("OUT_DIR"), "/agent.rs"));

/// Where the agent appears inside the container.
pub const AGENT_PATH: &str = "/opt/validibot/agent";
/// Which launcher started a container (asynchronous ones outlive their runner process).
pub const LABEL_MODE: &str = "org.validibot.mode";

/// What an asynchronous step's container gets: pointers only.
#[derive(Debug, Clone)]
pub struct Pointers {
    /// Presigned GET of the input envelope (whose files' URIs are presigned GETs).
    pub input_uri: String,
    /// Presigned PUT of the output envelope.
    pub output_uri: String,
    pub callback_url: String,
    pub callback_token: String,
}

/// One asynchronous container step.
#[derive(Debug, Clone)]
pub struct RemoteJob {
    pub run_id: String,
    pub validator: String,
    /// Image ID (`sha256:…`) from the allow-list.
    pub image: String,
    /// Overrides the image's command (conformance tests; normally `None`).
    pub command: Option<Vec<String>>,
    /// The operator's settings for this validator.
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    pub pointers: Pointers,
    /// The engine network the container joins (`bridge`, a user network, `host`).
    pub network: String,
    /// Bytes the inputs take once downloaded (sizes the input tmpfs).
    pub input_bytes: u64,
}

/// What the engine says about an asynchronous step's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteState {
    Running,
    Exited {
        exit_code: Option<i64>,
        oom: bool,
    },
    /// Removed, or never created.
    Missing,
}

/// A new execution's container name: chosen before the launch, so the execution is
/// recorded first and a worker that dies mid-launch leaves no container unaccounted for.
pub fn container_name(validator: &str) -> String {
    format!("validibot-{validator}-{}", uuid::Uuid::now_v7().simple())
}

/// The agent binary written once under `dir`, named by its content's hash, so a
/// process never mounts a copy another version of the binary is replacing.
pub fn install_agent(dir: &Path) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(&Sha256::digest(AGENT)[..8]);
    let path = dir.join(format!("validibot-agent-{digest}"));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == AGENT.len() as u64) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".agent-{}", uuid::Uuid::now_v7().simple()));
    std::fs::write(&tmp, AGENT)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

impl DockerRunner {
    /// Creates and starts the step's container under `name` (see [`container_name`]).
    /// The deadline label lets any sweeper remove it once the step's time is up.
    pub async fn launch(&self, job: &RemoteJob, agent: &Path, name: &str) -> Result<()> {
        let command = match &job.command {
            Some(c) => c.clone(),
            None => self.image_command(&job.image).await?,
        };
        let deadline = validibot_types::clock::now_us() / 1_000_000
            + (job.limits.timeout + job.limits.grace).as_secs() as i64
            + 60;
        let labels = HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_RUN_ID.to_string(), job.run_id.clone()),
            (LABEL_VALIDATOR.to_string(), job.validator.clone()),
            (LABEL_DEADLINE.to_string(), deadline.to_string()),
            (LABEL_MODE.to_string(), "async".to_string()),
        ]);
        let p = &job.pointers;
        let env = job
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .chain([
                format!("VALIDIBOT_INPUT_URI={}", p.input_uri),
                format!("VALIDIBOT_OUTPUT_URI={}", p.output_uri),
                format!("VALIDIBOT_CALLBACK_URL={}", p.callback_url),
                format!("VALIDIBOT_CALLBACK_TOKEN={}", p.callback_token),
                format!("VALIDIBOT_OUTPUT_CAP={}", job.limits.output_bytes),
                format!("VALIDIBOT_RUN_ID={}", job.run_id),
            ])
            .collect();
        let binds = vec![format!("{}:{AGENT_PATH}:ro", agent.display())];
        let mut host = hardening::host_config(&job.limits, binds);
        host.network_mode = Some(job.network.clone());
        // The inputs are downloaded into, and the output written to, small tmpfs
        // mounts any user may write (the root filesystem stays read-only).
        let input_size = (job.input_bytes * 2).max(16 << 20);
        let owned = |size: u64| format!("rw,noexec,nosuid,nodev,size={size},mode=1777");
        if let Some(tmpfs) = host.tmpfs.as_mut() {
            tmpfs.insert(INPUT_DIR.into(), owned(input_size));
            tmpfs.insert(
                OUTPUT_DIR.into(),
                owned(job.limits.output_bytes + (1 << 20)),
            );
        }
        let body = ContainerCreateBody {
            image: Some(job.image.clone()),
            entrypoint: Some(vec![AGENT_PATH.into(), "--".into()]),
            cmd: Some(command),
            user: Some(hardening::USER.into()),
            env: Some(env),
            labels: Some(labels),
            host_config: Some(host),
            ..Default::default()
        };
        let docker = self.docker();
        docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(name).build()),
                body,
            )
            .await
            .with_context(|| format!("creating a container from {}", job.image))?;
        let inspected = docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
            .context("inspecting the new container")?;
        let missing = hardening::not_applied_on(&job.limits, &inspected, &job.network);
        if !missing.is_empty() {
            let _ = self.remove_now(name).await;
            anyhow::bail!(
                "the engine did not apply: {}; refusing to run the validator",
                missing.join(", ")
            );
        }
        if let Err(e) = docker.start_container(name, None).await {
            let _ = self.remove_now(name).await;
            return Err(e).context("starting the container");
        }
        Ok(())
    }

    /// The container's state, as the reconciler reads it.
    pub async fn state(&self, name: &str) -> Result<RemoteState> {
        match self
            .docker()
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(inspected) => {
                let state = inspected.state.unwrap_or_default();
                if state.running == Some(true) {
                    return Ok(RemoteState::Running);
                }
                let exited = |s: &bollard::models::ContainerState| RemoteState::Exited {
                    exit_code: s.exit_code,
                    oom: s.oom_killed == Some(true),
                };
                Ok(exited(&state))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(RemoteState::Missing),
            Err(e) => {
                // Podman's transient `stopped`: ask again once it has exited.
                match self.final_state(name).await? {
                    Some(s) => Ok(RemoteState::Exited {
                        exit_code: s.exit_code,
                        oom: s.oom_killed == Some(true),
                    }),
                    None => Err(e).context("inspecting an asynchronous step's container"),
                }
            }
        }
    }

    /// Stops the container (SIGTERM, `grace`, SIGKILL) and removes it; a missing one is fine.
    pub async fn stop_and_remove(&self, name: &str, grace: Duration) -> Result<()> {
        if self.state(name).await? == RemoteState::Missing {
            return Ok(());
        }
        if self.running(name).await? {
            self.stop(name, grace).await?;
        }
        match self.remove_now(name).await {
            // Removed meanwhile (by the reconciler, a sweeper, another worker).
            Err(e) if gone_or_going(&e) => Ok(()),
            other => other,
        }
    }

    /// The image's entrypoint followed by its command: what the agent runs.
    async fn image_command(&self, image: &str) -> Result<Vec<String>> {
        let inspected = self
            .docker()
            .inspect_image(image)
            .await
            .with_context(|| format!("image {image} is not on this engine"))?;
        let config = inspected.config.unwrap_or_default();
        let command: Vec<String> = config
            .entrypoint
            .unwrap_or_default()
            .into_iter()
            .chain(config.cmd.unwrap_or_default())
            .collect();
        anyhow::ensure!(
            !command.is_empty(),
            "image {image} has neither an entrypoint nor a command"
        );
        Ok(command)
    }
}

/// The engine's answer for a container already removed or being removed.
fn gone_or_going(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<bollard::errors::Error>(),
        Some(bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        })
    )
}
