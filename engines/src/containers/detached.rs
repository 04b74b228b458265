//! Asynchronous container steps on a Docker (or Podman) engine: the container is
//! started detached with the agent (a static binary mounted read-only) as its first
//! process and the image's own command behind it; nobody waits on it. The hardening is
//! the synchronous runner's, except the network: the container must reach the bucket
//! and the callback URL.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, InspectContainerOptions};
use futures_util::future::BoxFuture;

use super::docker::DockerRunner;
use super::envelope::{INPUT_DIR, OUTPUT_DIR};
use super::hardening;
use super::launcher::{ContainerLauncher, RemoteJob, RemoteState, AGENT_PATH};
use super::service::ContainerService;

/// The Docker launcher: the process's engine connection, the agent on the engine's
/// host, and the network the containers join.
pub struct DockerLauncher {
    pub containers: Arc<ContainerService>,
    /// The agent binary (see [`super::launcher::install_agent`]), mounted into each container.
    pub agent: PathBuf,
    /// The engine network (`bridge`, a user network, `host`): it must reach the bucket
    /// and the callback URL.
    pub network: String,
}

impl ContainerLauncher for DockerLauncher {
    fn kind(&self) -> &'static str {
        "docker"
    }

    fn execution_name(&self, validator: &str) -> String {
        format!("validibot-{validator}-{}", uuid::Uuid::now_v7().simple())
    }

    fn launch<'a>(
        &'a self,
        job: &'a RemoteJob,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            let runner = self.containers.runner().await?;
            runner.launch(job, &self.agent, &self.network, name).await?;
            Ok(None)
        })
    }

    fn state<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<RemoteState>> {
        Box::pin(async move { self.containers.runner().await?.state(name).await })
    }

    fn stop_and_remove<'a>(&'a self, name: &'a str, grace: Duration) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.containers
                .runner()
                .await?
                .stop_and_remove(name, grace)
                .await
        })
    }
}

impl DockerRunner {
    /// Creates and starts the step's container under `name`.
    pub async fn launch(
        &self,
        job: &RemoteJob,
        agent: &std::path::Path,
        network: &str,
        name: &str,
    ) -> Result<()> {
        let command = match &job.command {
            Some(c) => c.clone(),
            None => self.image_command(&job.image).await?,
        };
        let labels: HashMap<String, String> = job.labels().into_iter().collect();
        let env = job
            .environment()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let binds = vec![format!("{}:{AGENT_PATH}:ro", agent.display())];
        let mut host = hardening::host_config(&job.limits, binds);
        host.network_mode = Some(network.to_owned());
        // The inputs are downloaded into, and the output written to, small tmpfs
        // mounts any user may write (the root filesystem stays read-only).
        let owned = |size: u64| format!("rw,noexec,nosuid,nodev,size={size},mode=1777");
        if let Some(tmpfs) = host.tmpfs.as_mut() {
            tmpfs.insert(INPUT_DIR.into(), owned(job.input_tmpfs_bytes()));
            tmpfs.insert(OUTPUT_DIR.into(), owned(job.output_tmpfs_bytes()));
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
        let missing = hardening::not_applied_on(&job.limits, &inspected, network);
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
                // Created but not started yet: the launch that created it starts it (or
                // removes it) a moment later; it has not exited.
                let created =
                    state.status == Some(bollard::models::ContainerStateStatusEnum::CREATED);
                if state.running == Some(true) || created {
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
        let command = self.inspect_image(image).await?.command;
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
