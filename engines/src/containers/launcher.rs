//! Where asynchronous container steps run: a [`ContainerLauncher`] starts one container (or
//! Kubernetes Job) per step with pointers only — presigned URLs and a callback — and
//! reports its state to the reconciler. The agent (`validibot-agent`, a static binary
//! embedded here) is the container's first process on every launcher: it fetches the
//! inputs, runs the image's own command and calls back. `detached` is the Docker
//! launcher, `kubernetes` the Kubernetes one
//! (Cloud Run Jobs' is `services::remote::cloud_run`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::docker::{LABEL_DEADLINE, LABEL_MANAGED, LABEL_RUN_ID, LABEL_VALIDATOR};
use super::hardening::Limits;

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
    /// Presigned PUTs the agent uploads the output envelope's listed artifacts to, the
    /// n-th to the n-th ([`super::artifacts::slot`]).
    pub artifact_uris: Vec<String>,
}

/// One asynchronous container step.
#[derive(Debug, Clone)]
pub struct RemoteJob {
    pub run_id: String,
    pub validator: String,
    /// Image ID (`sha256:…`) from the allow-list: what a Docker engine runs.
    pub image: String,
    /// The reference it was registered from: what a cluster pulls (pinned by digest).
    pub image_ref: String,
    /// The image's entrypoint and command as registered (`None`: ask the engine).
    pub command: Option<Vec<String>>,
    /// The operator's settings for this validator.
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    pub pointers: Pointers,
    /// Bytes the inputs take once downloaded (sizes the input tmpfs).
    pub input_bytes: u64,
}

impl RemoteJob {
    /// The environment every launcher gives the agent: the operator's settings, then
    /// the pointers (which the settings cannot replace: `images::parse_env`).
    pub fn environment(&self) -> Vec<(String, String)> {
        let p = &self.pointers;
        self.env
            .iter()
            .cloned()
            .chain([
                ("VALIDIBOT_INPUT_URI".into(), p.input_uri.clone()),
                ("VALIDIBOT_OUTPUT_URI".into(), p.output_uri.clone()),
                ("VALIDIBOT_CALLBACK_URL".into(), p.callback_url.clone()),
                ("VALIDIBOT_CALLBACK_TOKEN".into(), p.callback_token.clone()),
                (
                    "VALIDIBOT_OUTPUT_CAP".into(),
                    self.limits.output_bytes.to_string(),
                ),
                ("VALIDIBOT_RUN_ID".into(), self.run_id.clone()),
                ("VALIDIBOT_ARTIFACT_URIS".into(), p.artifact_uris.join("\n")),
            ])
            .collect()
    }

    /// The labels every launcher puts on the step's container (Docker's keys are valid
    /// Kubernetes label keys as they are); the deadline lets any sweeper remove it.
    pub fn labels(&self) -> Vec<(String, String)> {
        [
            (LABEL_MANAGED, "true".to_string()),
            (LABEL_RUN_ID, self.run_id.clone()),
            (LABEL_VALIDATOR, self.validator.clone()),
            (LABEL_DEADLINE, self.deadline().to_string()),
            (LABEL_MODE, "async".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Seconds since the epoch after which the container may be removed by anyone:
    /// the step's time, its grace and a minute.
    pub fn deadline(&self) -> i64 {
        validibot_types::clock::now_us() / 1_000_000
            + (self.limits.timeout + self.limits.grace).as_secs() as i64
            + 60
    }

    /// Size of the tmpfs the inputs are downloaded into.
    pub fn input_tmpfs_bytes(&self) -> u64 {
        (self.input_bytes * 2).max(16 << 20)
    }

    /// Size of the tmpfs the output envelope is written to.
    pub fn output_tmpfs_bytes(&self) -> u64 {
        self.limits.output_bytes + (1 << 20)
    }
}

/// What a launcher says about an asynchronous step's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteState {
    /// Running, or waiting to be scheduled.
    Running,
    Exited {
        exit_code: Option<i64>,
        oom: bool,
    },
    /// The launcher ended it at its deadline (Kubernetes' `activeDeadlineSeconds`).
    DeadlineExceeded,
    /// It cannot start (an image that cannot be pulled, a refused pod): a host failure.
    Failed {
        reason: String,
    },
    /// Removed, or never created.
    Missing,
}

/// Starts asynchronous steps' containers and answers for them. Every method is safe to
/// call from any worker process: the state lives on the launcher, not in the process.
pub trait ContainerLauncher: Send + Sync {
    /// Recorded with each execution (`remote_executions.launcher`).
    fn kind(&self) -> &'static str;
    /// A fresh name for one execution of `validator`, valid on this launcher: chosen
    /// before the launch, so the execution is recorded first and a worker that dies
    /// mid-launch leaves nothing unaccounted for.
    fn execution_name(&self, validator: &str) -> String;
    /// Creates and starts the step's container under `name`; `Some` when the launcher
    /// named it otherwise itself (Cloud Run), which the caller then records instead.
    fn launch<'a>(
        &'a self,
        job: &'a RemoteJob,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>>>;
    fn state<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<RemoteState>>;
    /// Stops it (SIGTERM, `grace`, SIGKILL) and removes it; a missing one is fine.
    fn stop_and_remove<'a>(&'a self, name: &'a str, grace: Duration) -> BoxFuture<'a, Result<()>>;
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
    write_agent(&path)?;
    Ok(path)
}

/// Writes the agent to exactly `path`, atomically (a Kubernetes init container's copy).
pub fn write_agent(path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".agent-{}", uuid::Uuid::now_v7().simple()));
    std::fs::write(&tmp, AGENT)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}
