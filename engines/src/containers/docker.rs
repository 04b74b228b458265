//! The Docker Engine API backend (Podman's Docker-compatible socket works too).
//!
//! Lifecycle of one run: fresh per-attempt input/output directories → create
//! (labels, hardening, limits) → read the limits back and refuse to run if the
//! engine ignored any → wait registered → stdio attached into a
//! bounded buffer → start → exit, or deadline (SIGTERM, grace, SIGKILL), or cancel (SIGTERM,
//! then SIGKILL at once) → inspect
//! (exit code, OOMKilled) → output envelope → remove, always.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bollard::models::{ContainerCreateBody, ContainerState};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, InspectContainerOptions,
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::sync::watch;

use super::envelope::{self, OutputEnvelope, ENVELOPE_NAME, INPUT_DIR, OUTPUT_DIR};
use super::hardening::{self, Limits};
use super::instance::RunnerInstance;
use super::logs::{BoundedLog, CapturedLog};
use super::outcome::Outcome;

/// What an image says of itself.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    /// `sha256:…`
    pub id: String,
    pub labels: HashMap<String, String>,
    /// Its entrypoint followed by its command: what a container of it runs.
    pub command: Vec<String>,
}

pub const LABEL_MANAGED: &str = "org.validibot.managed";
pub const LABEL_RUN_ID: &str = "org.validibot.run_id";
pub const LABEL_VALIDATOR: &str = "org.validibot.validator";
pub const LABEL_RUNNER: &str = "org.validibot.runner_instance";
/// Unix seconds after which the container is an orphan whatever its runner's state.
pub const LABEL_DEADLINE: &str = "org.validibot.deadline";

/// One container validation.
#[derive(Debug, Clone)]
pub struct Job {
    pub run_id: String,
    pub validator: String,
    /// Image ID (`sha256:…`) from the allow-list.
    pub image: String,
    /// Overrides the image's command (conformance tests; normally `None`).
    pub command: Option<Vec<String>>,
    /// `(name, mime type, bytes)` of each input file (shared with the run, not copied).
    pub files: Vec<envelope::NamedBytes>,
    /// The step's files, under `step-files/` in the input directory.
    pub step_files: Vec<envelope::NamedBytes>,
    /// The operator's settings for this validator (environment variables).
    pub env: Vec<(String, String)>,
    pub config: serde_json::Value,
    pub limits: Limits,
    /// A directory unique to this attempt (must not exist yet).
    pub work_dir: PathBuf,
}

/// What came out of a run.
#[derive(Debug)]
pub struct Report {
    pub outcome: Outcome,
    pub output: Option<OutputEnvelope>,
    pub logs: CapturedLog,
    pub exit_code: Option<i64>,
    pub elapsed: Duration,
}

pub struct DockerRunner {
    docker: Docker,
    instance: RunnerInstance,
}

impl DockerRunner {
    /// Connects to `socket` (a path or `unix://…`), else `DOCKER_HOST`, else the default socket.
    pub async fn connect(socket: Option<&str>) -> Result<DockerRunner> {
        let docker = match socket {
            Some(s) => Docker::connect_with_socket(s, 120, bollard::API_DEFAULT_VERSION),
            None => Docker::connect_with_local_defaults(),
        }
        .context("connecting to the Docker engine")?;
        // Speak the engine's API version (older engines refuse newer clients).
        let docker = docker
            .negotiate_version()
            .await
            .context("the Docker engine does not answer")?;
        Ok(DockerRunner {
            docker,
            instance: RunnerInstance::current(),
        })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn instance(&self) -> &RunnerInstance {
        &self.instance
    }

    /// Runs a job to its end; never leaves the container behind.
    pub async fn run(&self, job: Job, mut cancel: watch::Receiver<bool>) -> Report {
        let started = Instant::now();
        let mut log = CapturedLog::default();
        let mut exit_code = None;
        let outcome = match self.prepare(&job) {
            Err(e) => Outcome::RunnerError {
                reason: format!("preparing the work directory: {e:#}"),
            },
            Ok(()) => match self.create(&job).await {
                Err(e) => Outcome::RunnerError {
                    reason: format!("{e:#}"),
                },
                Ok(id) => {
                    let result = self.supervise(&job, &id, &mut cancel).await;
                    let outcome = match result {
                        Ok((outcome, captured, code)) => {
                            log = captured;
                            exit_code = code;
                            outcome
                        }
                        Err(e) => Outcome::RunnerError {
                            reason: format!("{e:#}"),
                        },
                    };
                    self.remove(&id).await;
                    outcome
                }
            },
        };
        let mut output = None;
        let outcome = match outcome {
            Outcome::Succeeded => {
                // File reads stay off the async workers, whatever the container left.
                let (dir, cap) = (job.work_dir.join("output"), job.limits.output_bytes);
                let read = tokio::task::spawn_blocking(move || envelope::read_output(&dir, cap))
                    .await
                    .unwrap_or_else(|e| Err(format!("reading the output envelope: {e}")));
                match read {
                    Ok(o) => {
                        output = Some(o);
                        Outcome::Succeeded
                    }
                    Err(reason) => Outcome::ValidatorFailed {
                        exit_code: 0,
                        reason,
                    },
                }
            }
            other => other,
        };
        Report {
            outcome,
            output,
            logs: log,
            exit_code,
            elapsed: started.elapsed(),
        }
    }

    fn prepare(&self, job: &Job) -> Result<()> {
        std::fs::create_dir_all(job.work_dir.parent().unwrap_or(Path::new("/")))?;
        std::fs::create_dir(&job.work_dir)
            .with_context(|| format!("{} must be new for each attempt", job.work_dir.display()))?;
        let input = job.work_dir.join("input");
        let output = job.work_dir.join("output");
        std::fs::create_dir(&input)?;
        std::fs::create_dir(&output)?;
        envelope::write_inputs(
            &input,
            &job.run_id,
            &job.validator,
            &job.files,
            &job.step_files,
            &job.config,
        )?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The validator runs as nobody: it reads the inputs and creates its output.
            std::fs::set_permissions(&job.work_dir, std::fs::Permissions::from_mode(0o755))?;
            std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o755))?;
            let step_files = input.join(envelope::STEP_FILES_DIR);
            for dir in [&input, &step_files] {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                for entry in entries {
                    let path = entry?.path();
                    let mode = if path.is_dir() { 0o755 } else { 0o644 };
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
                }
            }
            std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o777))?;
        }
        Ok(())
    }

    async fn create(&self, job: &Job) -> Result<String> {
        let deadline = validibot_types::clock::now_us() / 1_000_000
            + (job.limits.timeout + job.limits.grace).as_secs() as i64
            + 60;
        let labels = HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_RUN_ID.to_string(), job.run_id.clone()),
            (LABEL_VALIDATOR.to_string(), job.validator.clone()),
            (LABEL_RUNNER.to_string(), self.instance.id().to_string()),
            (LABEL_DEADLINE.to_string(), deadline.to_string()),
        ]);
        let binds = vec![
            format!("{}:{INPUT_DIR}:ro", job.work_dir.join("input").display()),
            format!("{}:{OUTPUT_DIR}:rw", job.work_dir.join("output").display()),
        ];
        let body = ContainerCreateBody {
            image: Some(job.image.clone()),
            cmd: job.command.clone(),
            user: Some(hardening::USER.into()),
            // The operator's settings first: the runner's own names come last and win.
            env: Some(
                job.env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .chain([
                        format!("VALIDIBOT_INPUT_URI=file://{INPUT_DIR}/{ENVELOPE_NAME}"),
                        format!("VALIDIBOT_OUTPUT_URI=file://{OUTPUT_DIR}/output.json"),
                        format!("VALIDIBOT_RUN_ID={}", job.run_id),
                    ])
                    .collect(),
            ),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(hardening::host_config(&job.limits, binds)),
            ..Default::default()
        };
        let name = format!(
            "validibot-{}-{}",
            job.validator,
            uuid::Uuid::now_v7().simple()
        );
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await
            .with_context(|| format!("creating a container from {}", job.image))?;
        let inspected = self
            .docker
            .inspect_container(&created.id, None::<InspectContainerOptions>)
            .await
            .context("inspecting the new container")?;
        let missing = hardening::not_applied(&job.limits, &inspected);
        if !missing.is_empty() {
            self.remove(&created.id).await;
            anyhow::bail!(
                "the engine did not apply: {}; refusing to run the validator",
                missing.join(", ")
            );
        }
        Ok(created.id)
    }

    /// Starts the container and follows it to its end: (outcome, logs, exit code).
    async fn supervise(
        &self,
        job: &Job,
        id: &str,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(Outcome, CapturedLog, Option<i64>)> {
        // Registered before start, so a container that exits at once is not missed.
        let mut wait = Box::pin(
            self.docker.wait_container(
                id,
                Some(
                    WaitContainerOptionsBuilder::new()
                        .condition("next-exit")
                        .build(),
                ),
            ),
        );
        let first = tokio::time::timeout(Duration::from_millis(50), wait.next()).await;
        let mut waited = first.as_ref().ok().and_then(waited_code);
        // Attached before start, so nothing printed is missed. Attaching reads the
        // container's own stdio (a slow reader slows the writer rather than
        // losing bytes), unlike following the engine's rotating log file.
        let attached = self
            .docker
            .attach_container(
                id,
                Some(
                    AttachContainerOptionsBuilder::new()
                        .stream(true)
                        .stdout(true)
                        .stderr(true)
                        .build(),
                ),
            )
            .await
            .context("attaching to the container")?;
        let logs = {
            let mut stream = attached.output;
            let limit = job.limits.log_bytes;
            tokio::spawn(async move {
                let mut log = BoundedLog::new(limit);
                while let Some(Ok(chunk)) = stream.next().await {
                    log.push(&chunk.into_bytes());
                }
                log.finish()
            })
        };
        self.docker
            .start_container(id, None)
            .await
            .context("starting the container")?;
        let started = Instant::now();
        let mut ended = matches!(first, Ok(Some(_)));
        let mut stopped_by: Option<Outcome> = None;
        let deadline = tokio::time::sleep(job.limits.timeout.saturating_sub(started.elapsed()));
        tokio::pin!(deadline);
        let mut poll = tokio::time::interval(Duration::from_secs(1));
        while !ended {
            tokio::select! {
                w = wait.next() => {
                    waited = waited_code(&w).or(waited);
                    ended = true;
                }
                _ = &mut deadline => {
                    stopped_by = Some(Outcome::TimedOut);
                    break;
                }
                changed = cancel.changed() => {
                    if changed.is_ok() && *cancel.borrow() {
                        stopped_by = Some(Outcome::Cancelled);
                        break;
                    }
                }
                // A safety net should the wait stream have missed the exit.
                _ = poll.tick() => ended = !self.running(id).await?,
            }
        }
        if let Some(why) = &stopped_by {
            // A cancelled run's result is discarded: no grace to finish writing it.
            let grace = match why {
                Outcome::Cancelled => Duration::ZERO,
                _ => job.limits.grace,
            };
            self.stop(id, grace).await?;
        }
        let state = self.final_state(id).await?;
        let exit_code = state.as_ref().and_then(|s| s.exit_code).or(waited);
        let oom_killed = state.as_ref().and_then(|s| s.oom_killed) == Some(true);
        let captured = match tokio::time::timeout(Duration::from_secs(5), logs).await {
            Ok(Ok(c)) => c,
            _ => CapturedLog::default(),
        };
        let outcome = match stopped_by {
            Some(o) => o,
            None if oom_killed => Outcome::Oom,
            None => match exit_code {
                Some(0) => Outcome::Succeeded,
                Some(code) => Outcome::ValidatorFailed {
                    exit_code: code,
                    reason: format!("the validator exited with code {code}"),
                },
                None => Outcome::RunnerError {
                    reason: "the engine reported no exit code".into(),
                },
            },
        };
        Ok((outcome, captured, exit_code))
    }

    /// The finished container's state. Podman may report `stopped` (a state Docker's
    /// API, and so bollard's model, lacks) for a moment before `exited`: it is asked
    /// again, and should it stay so, the exit code comes from the wait alone.
    pub(super) async fn final_state(&self, id: &str) -> Result<Option<ContainerState>> {
        for _ in 0..20 {
            match self
                .docker
                .inspect_container(id, None::<InspectContainerOptions>)
                .await
            {
                Ok(inspected) => return Ok(Some(inspected.state.unwrap_or_default())),
                Err(e) if podman_stopped(&e) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => return Err(e).context("inspecting the finished container"),
            }
        }
        Ok(None)
    }

    pub(super) async fn running(&self, id: &str) -> Result<bool> {
        match self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
        {
            Ok(inspected) => Ok(inspected.state.and_then(|s| s.running).unwrap_or(false)),
            Err(e) if podman_stopped(&e) => Ok(false),
            Err(e) => Err(e).context("inspecting the running container"),
        }
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL.
    pub(super) async fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        let signal = |s: &str| KillContainerOptionsBuilder::new().signal(s).build();
        let _ = self
            .docker
            .kill_container(id, Some(signal("SIGTERM")))
            .await;
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if !self.running(id).await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self
            .docker
            .kill_container(id, Some(signal("SIGKILL")))
            .await;
        for _ in 0..100 {
            if !self.running(id).await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the container did not stop after SIGKILL")
    }

    /// Removes the container; a failure is logged and left to the sweeper.
    async fn remove(&self, id: &str) {
        if let Err(e) = self.remove_now(id).await {
            tracing::warn!(
                container = id,
                "removing the container failed (the sweeper will retry): {e:#}"
            );
        }
    }

    /// An image's ID and labels (the registry reads validator metadata from them).
    pub async fn inspect_image(&self, reference: &str) -> Result<ImageFacts> {
        let image = self
            .docker
            .inspect_image(reference)
            .await
            .with_context(|| {
                format!("image {reference} is not on this engine (build or load it first)")
            })?;
        let id = image.id.context("the engine reported no image ID")?;
        let config = image.config.unwrap_or_default();
        let command = config
            .entrypoint
            .unwrap_or_default()
            .into_iter()
            .chain(config.cmd.unwrap_or_default())
            .collect();
        Ok(ImageFacts {
            id,
            labels: config.labels.unwrap_or_default(),
            command,
        })
    }

    /// Every container this product created (label `org.validibot.managed=true`).
    pub async fn managed(&self) -> Result<Vec<bollard::models::ContainerSummary>> {
        let filters = HashMap::from([("label", vec![format!("{LABEL_MANAGED}=true")])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        // A container in Podman's transient `stopped` state makes the whole list
        // unreadable to bollard; it is `exited` a moment later.
        let mut tries = 0;
        loop {
            match self.docker.list_containers(Some(options.clone())).await {
                Err(e) if podman_stopped(&e) && tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return Ok(other?),
            }
        }
    }

    pub(super) async fn remove_now(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        self.docker.remove_container(id, Some(options)).await?;
        Ok(())
    }
}

/// Podman's `stopped` state, which bollard cannot read: not running, not yet `exited`.
/// Podman's answers about a container that is exiting right now: its transient `stopped`
/// state (unknown to bollard's model), or a 500 because the process it reads the cgroup
/// of is already gone. Either way the container is no longer running.
fn podman_stopped(e: &bollard::errors::Error) -> bool {
    let text = e.to_string();
    text.contains("unknown variant `stopped`")
        || (text.contains("/cgroup") && text.contains("no such process"))
}

/// The exit code a wait reported (bollard turns a non-zero one into an error).
fn waited_code(
    w: &Option<Result<bollard::models::ContainerWaitResponse, bollard::errors::Error>>,
) -> Option<i64> {
    match w {
        Some(Ok(r)) => Some(r.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Some(*code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_answers_about_an_exiting_container_read_as_not_running() {
        let server = |message: &str| bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message: message.into(),
        };
        assert!(podman_stopped(&server(
            "read /proc/17341/cgroup: no such process"
        )));
        assert!(!podman_stopped(&server("no such container")));
        assert!(!podman_stopped(&server("permission denied")));
    }
}
