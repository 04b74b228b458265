//! Command-line and environment configuration (every flag has a `VALIDIBOT_*` env var,
//! and `validibot.toml` can set any of them; see [`file`]). The settings are read off
//! the command tree `commands::Cli` builds, which the caller hands in.

pub mod check;
pub mod file;
pub mod reference;
mod storage;

pub use storage::StorageArgs;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Where this instance keeps its state and whom it trusts: the settings of the commands
/// that open the instance itself (`serve`, `worker`, `admin`, …), never shown on the
/// client commands, which talk to a server over HTTP.
#[derive(Debug, Clone, Args)]
pub struct InstanceArgs {
    /// Directory for the SQLite database, stored submissions and the compile cache.
    #[arg(
        long,
        global = true,
        env = "VALIDIBOT_DATA_DIR",
        default_value = "./validibot-data"
    )]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER:PASS@HOST/DB`; default: SQLite in the data dir.
    #[arg(long, global = true, env = "VALIDIBOT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// HMAC key for API-key hashes (default: generated once, kept in the database).
    #[arg(
        long,
        global = true,
        env = "VALIDIBOT_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Database pool size; on PostgreSQL each process also opens up to 6 connections of its
    /// own: 2 for write transactions, up to 4 for the reads on a launch's path.
    #[arg(long, global = true, env = "VALIDIBOT_DB_POOL", default_value_t = 16)]
    pub db_pool: u32,
    /// Directory of native extensions (e.g. the Pro `libvalidibot_commercial.so`);
    /// default: `extensions/` in the data dir.
    #[arg(long, global = true, env = "VALIDIBOT_EXTENSIONS_DIR")]
    pub extensions_dir: Option<PathBuf>,
    /// Public keys (`kid:base64`, comma-separated) whose signatures (`<lib>.sig`) make an
    /// extension loadable.
    #[arg(long, global = true, env = "VALIDIBOT_EXTENSION_TRUSTED_KEYS")]
    pub extension_trusted_keys: Option<String>,
    /// Docker (or Podman) API socket for container validators; default: DOCKER_HOST or
    /// /var/run/docker.sock.
    #[arg(long, global = true, env = "VALIDIBOT_DOCKER_SOCKET")]
    pub docker_socket: Option<String>,
    /// Load extensions that have no signature file (development only).
    #[arg(long, global = true, env = "VALIDIBOT_ALLOW_UNSIGNED_EXTENSIONS")]
    pub allow_unsigned_extensions: bool,
    /// Public keys (`kid:base64`, comma-separated) whose signatures make a WASM
    /// validator component installable (`validibot plugin sign` writes them).
    #[arg(long, global = true, env = "VALIDIBOT_PLUGIN_TRUSTED_KEYS")]
    pub plugin_trusted_keys: Option<String>,
    /// A license file installed at each start of `serve` and `worker` when it differs from
    /// the stored one (e.g. mounted from a Kubernetes Secret); a refused file is logged and
    /// the stored license stays.
    #[arg(long, global = true, env = "VALIDIBOT_LICENSE_FILE")]
    pub license_file: Option<PathBuf>,
    /// Accept unsigned WASM validator components (through the API and the command line).
    #[arg(long, global = true, env = "VALIDIBOT_ALLOW_UNSIGNED_PLUGINS")]
    pub allow_unsigned_plugins: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

impl InstanceArgs {
    /// `VALIDIBOT_LICENSE_FILE`, unless empty (compose passes unset variables as "").
    pub fn license_file(&self) -> Option<&std::path::Path> {
        self.license_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }

    /// Whose signatures make a component installable.
    pub fn plugin_trust(&self) -> anyhow::Result<validibot_services::validators::installed::Trust> {
        let keys = validibot_engines::trust::TrustedKeys::parse(
            self.plugin_trusted_keys.as_deref().unwrap_or(""),
        )
        .map_err(|e| anyhow::anyhow!("VALIDIBOT_PLUGIN_TRUSTED_KEYS: {e}"))?;
        Ok(validibot_services::validators::installed::Trust {
            keys,
            allow_unsigned: self.allow_unsigned_plugins,
        })
    }

    pub fn extension_settings(
        &self,
    ) -> anyhow::Result<validibot_engines::extensions::LoadSettings> {
        let trusted = validibot_engines::trust::TrustedKeys::parse(
            self.extension_trusted_keys.as_deref().unwrap_or(""),
        )
        .map_err(|e| anyhow::anyhow!("VALIDIBOT_EXTENSION_TRUSTED_KEYS: {e}"))?;
        Ok(validibot_engines::extensions::LoadSettings {
            dir: self
                .extensions_dir
                .clone()
                .unwrap_or_else(|| self.data_dir.join("extensions")),
            cache_dir: self.data_dir.join("cache").join("extensions"),
            trusted,
            allow_unsigned: self.allow_unsigned_extensions,
        })
    }

    /// Creates the data dir (or tightens it) so only this user can enter it: it holds
    /// the database (key hashes, password hashes), blobs and the instance keys.
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = &self.data_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating data dir {}: {e}", dir.display()))?;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                tracing::warn!(
                    "data dir {} is mode {mode:o} and could not be made 0700: {e}",
                    dir.display()
                );
            }
        }
        Ok(())
    }

    /// The blob store these settings name.
    pub fn blob_store(&self) -> anyhow::Result<validibot_blobs::BlobStore> {
        self.storage.open(&self.data_dir)
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("validibot.db").display()
            )
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the API and web UI listen on (`0.0.0.0:8080` in a container).
    #[arg(long, env = "VALIDIBOT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Don't run an embedded worker (run `validibot worker` separately).
    #[arg(long, env = "VALIDIBOT_NO_WORKER")]
    pub no_worker: bool,
    /// Largest raw-body or envelope submission, in bytes.
    #[arg(long, env = "VALIDIBOT_MAX_INLINE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_inline_bytes: u64,
    /// Largest multipart file upload, in bytes.
    #[arg(long, env = "VALIDIBOT_MAX_FILE_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub max_file_bytes: u64,
    /// How long a launch waits for completion before answering 202, in milliseconds.
    #[arg(long, env = "VALIDIBOT_LAUNCH_WAIT_MS", default_value_t = 2000)]
    pub launch_wait_ms: u64,
    /// Session cookies: `auto` (Secure when the public URL is https or a proxy says
    /// `X-Forwarded-Proto: https`), `always` or `never`.
    #[arg(
        long,
        env = "VALIDIBOT_SECURE_COOKIES",
        value_enum,
        default_value = "auto"
    )]
    pub secure_cookies: SecureCookies,
    /// Header in which a trusted reverse proxy passes the client's address (e.g.
    /// `X-Forwarded-For`; its last entry is used); without it, the connection's peer.
    /// Sign-in throttling counts failures per client address.
    #[arg(long, env = "VALIDIBOT_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub sso: SsoArgs,
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// Single sign-on through OpenID providers.
#[derive(Debug, Clone, Default, Args)]
pub struct SsoArgs {
    /// A TOML file of `[[provider]]` tables (issuer, client id and secret, linking,
    /// provisioning, group → role rules; docs/self-hosting/sso.md). The sign-in page then
    /// offers each provider. Needs VALIDIBOT_PUBLIC_URL, which the redirect URIs
    /// (`<public URL>/ui/sso/<id>/callback`) are made from.
    #[arg(long, env = "VALIDIBOT_SSO_CONFIG")]
    pub sso_config: Option<std::path::PathBuf>,
}

impl SsoArgs {
    /// The providers, when a file is named; every problem in it stops the server.
    pub fn sso(
        &self,
        public_url: Option<&str>,
    ) -> anyhow::Result<Option<validibot_services::accounts::sso::Sso>> {
        use validibot_services::accounts::sso::{providers, Sso};
        let Some(path) = &self.sso_config else {
            return Ok(None);
        };
        let loaded = providers::load(path).map_err(|problems| {
            anyhow::anyhow!("{}:\n  {}", path.display(), problems.join("\n  "))
        })?;
        let Some(public_url) = public_url.filter(|u| !u.is_empty()) else {
            anyhow::bail!(
                "VALIDIBOT_SSO_CONFIG needs VALIDIBOT_PUBLIC_URL: providers send people back to redirect URIs made from it (never from a request's Host header)"
            );
        };
        Ok(Some(Sso::new(loaded, public_url)?))
    }
}

/// The API's rate limits, per minute (0: none). With several API processes on one
/// database each enforces its share (the budget divided by the live processes).
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// Runs one API key may launch per minute (a full minute's worth may come at once).
    #[arg(long, env = "VALIDIBOT_RATE_LIMIT_KEY_LAUNCHES", default_value_t = 600)]
    pub rate_limit_key_launches: u32,
    /// Other API and MCP calls one API key may make per minute.
    #[arg(long, env = "VALIDIBOT_RATE_LIMIT_KEY_CALLS", default_value_t = 3000)]
    pub rate_limit_key_calls: u32,
    /// Runs one client address may launch per minute, whatever key it uses (see
    /// VALIDIBOT_CLIENT_IP_HEADER behind a proxy).
    #[arg(
        long,
        env = "VALIDIBOT_RATE_LIMIT_CLIENT_LAUNCHES",
        default_value_t = 1200
    )]
    pub rate_limit_client_launches: u32,
    /// Other API and MCP calls one client address may make per minute, web UI included.
    #[arg(
        long,
        env = "VALIDIBOT_RATE_LIMIT_CLIENT_CALLS",
        default_value_t = 6000
    )]
    pub rate_limit_client_calls: u32,
}

impl Default for RateLimitArgs {
    fn default() -> Self {
        RateLimitArgs {
            rate_limit_key_launches: 600,
            rate_limit_key_calls: 3000,
            rate_limit_client_launches: 1200,
            rate_limit_client_calls: 6000,
        }
    }
}

impl RateLimitArgs {
    /// No limits at all (the benchmarks measure the server, not the limiter).
    pub fn none() -> Self {
        RateLimitArgs {
            rate_limit_key_launches: 0,
            rate_limit_key_calls: 0,
            rate_limit_client_launches: 0,
            rate_limit_client_calls: 0,
        }
    }

    /// Limits on, but too large to refuse anything (what the limiter costs).
    pub fn unreachable() -> Self {
        let huge = 1 << 30;
        RateLimitArgs {
            rate_limit_key_launches: huge,
            rate_limit_key_calls: huge,
            rate_limit_client_launches: huge,
            rate_limit_client_calls: huge,
        }
    }

    pub fn settings(&self) -> validibot_http::rate_limit::RateLimitSettings {
        use validibot_http::rate_limit::{Budgets, RateLimitSettings};
        RateLimitSettings {
            per_key: Budgets {
                launches: self.rate_limit_key_launches,
                calls: self.rate_limit_key_calls,
            },
            per_client: Budgets {
                launches: self.rate_limit_client_launches,
                calls: self.rate_limit_client_calls,
            },
        }
    }
}

/// How invitations and password-reset links are mailed.
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// The SMTP server invitations and password-reset links go out through:
    /// `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465` (TLS). Needs VALIDIBOT_PUBLIC_URL, which the links
    /// point at. Unset: no mail; invitations are made with `validibot admin invite`,
    /// which prints the link.
    #[arg(long, env = "VALIDIBOT_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The `From:` of the instance's mail, e.g. `Validibot <validibot@example.com>`
    /// (default: `noreply@` the public URL's host).
    #[arg(long, env = "VALIDIBOT_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// One message's time limit with the SMTP server, in seconds.
    #[arg(long, env = "VALIDIBOT_SMTP_TIMEOUT_SECONDS", default_value_t = 15)]
    pub smtp_timeout_seconds: u64,
    /// Days an invitation link stays good.
    #[arg(long, env = "VALIDIBOT_INVITATION_DAYS", default_value_t = 7)]
    pub invitation_days: u32,
    /// Minutes a password-reset link stays good.
    #[arg(long, env = "VALIDIBOT_PASSWORD_RESET_MINUTES", default_value_t = 60)]
    pub password_reset_minutes: u32,
}

impl MailArgs {
    /// The mailer, when SMTP is set (empty counts as unset: compose passes "").
    pub fn mailer(
        &self,
        public_url: Option<&str>,
    ) -> anyhow::Result<Option<validibot_services::mail::Mailer>> {
        let Some(smtp_url) = self.smtp_url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let Some(public_url) = public_url.filter(|u| !u.is_empty()) else {
            anyhow::bail!(
                "VALIDIBOT_SMTP_URL needs VALIDIBOT_PUBLIC_URL: the links in mail point at the address users reach the instance at (never at a request's Host header)"
            );
        };
        validibot_services::mail::Mailer::new(&validibot_services::mail::MailSettings {
            smtp_url: smtp_url.to_owned(),
            from: self.mail_from.clone().filter(|f| !f.is_empty()),
            public_url: public_url.to_owned(),
            timeout: Duration::from_secs(self.smtp_timeout_seconds.clamp(1, 300)),
        })
        .map(Some)
    }

    pub fn lifetimes(&self) -> validibot_services::accounts::LinkLifetimes {
        validibot_services::accounts::LinkLifetimes {
            invitation: Duration::from_secs(u64::from(self.invitation_days.clamp(1, 365)) * 86_400),
            password_reset: Duration::from_secs(
                u64::from(self.password_reset_minutes.clamp(5, 7 * 24 * 60)) * 60,
            ),
        }
    }
}

/// When session cookies carry `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SecureCookies {
    Auto,
    Always,
    Never,
}

/// `VALIDIBOT_PUBLIC_URL`, read by `serve`, `worker` and `admin invite` alike.
pub const PUBLIC_URL_HELP: &str = "The address users reach this instance at (e.g. `https://validibot.example.com`); an https URL makes session cookies `Secure`, SARIF reports the server makes link the validators' guides there, webhook payloads link runs there, and mailed invitation and password-reset links point there";

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Jobs run at once by this process's worker (default: 16 × CPUs, at least 32; most of a run is waiting on the database).
    #[arg(long, env = "VALIDIBOT_WORKER_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Lease length; a job whose worker stops heartbeating is retaken after this.
    #[arg(long, env = "VALIDIBOT_LEASE_SECONDS", default_value_t = 30.0)]
    pub lease_seconds: f64,
    /// How often an idle worker polls the queue, in milliseconds.
    #[arg(long, env = "VALIDIBOT_POLL_MS", default_value_t = 250)]
    pub poll_ms: u64,
    /// Attempts per run before it fails with SYSTEM_ERROR.
    #[arg(long, env = "VALIDIBOT_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: i64,
    /// Per-call deadline for WASM validators, in milliseconds.
    #[arg(long, env = "VALIDIBOT_VALIDATOR_TIMEOUT_MS", default_value_t = 5000)]
    pub validator_timeout_ms: u64,
    /// Memory cap for WASM validators, in MiB. A call on a large document gets 8× the
    /// document's size, up to VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB.
    #[arg(long, env = "VALIDIBOT_VALIDATOR_MEMORY_MIB", default_value_t = 256)]
    pub validator_memory_mib: usize,
    /// The most memory a WASM validator call may have, however large its document, in MiB.
    #[arg(
        long,
        env = "VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB",
        default_value_t = 1024
    )]
    pub validator_memory_max_mib: usize,
    /// Submission bytes this process's running jobs may hold at once, in MiB (each run
    /// counts twice its document: its copy and the validator's). Runs wait for room.
    #[arg(
        long,
        env = "VALIDIBOT_WORKER_MEMORY_BUDGET_MIB",
        default_value_t = 2048
    )]
    pub memory_budget_mib: u32,
    /// `worker` only: serve /healthz, /readyz and /metrics on this address
    /// (`serve` has them on its own address).
    #[arg(long, env = "VALIDIBOT_WORKER_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    #[arg(long, env = "VALIDIBOT_PUBLIC_URL", help = PUBLIC_URL_HELP)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// How container steps run: holding a worker slot until the container exits (`sync`),
/// or launched detached and resumed by a callback (`async`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContainerLaunch {
    Sync,
    Async,
}

/// Where asynchronous container steps run: detached containers on the Docker (or
/// Podman) engine, or one Kubernetes Job per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LauncherKind {
    Docker,
    Kubernetes,
    CloudRun,
}

/// Asynchronous container steps (every API and worker process of an instance sets the same).
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// `async`: a container step holds no worker slot while its container runs; the
    /// container reads its inputs and writes its output through presigned URLs (blobs
    /// must be in a bucket) and calls back at `VALIDIBOT_CALLBACK_URL`.
    #[arg(long, env = "VALIDIBOT_CONTAINER_LAUNCH", value_enum, default_value_t = ContainerLaunch::Sync)]
    pub container_launch: ContainerLaunch,
    /// The API's address as asynchronous steps' containers reach it (e.g.
    /// `http://validibot:8080`); callbacks go to `<this>/api/v1/callbacks/{id}`.
    #[arg(long, env = "VALIDIBOT_CALLBACK_URL")]
    pub callback_url: Option<String>,
    /// The engine network asynchronous steps' containers join (they must reach the
    /// bucket and the callback URL; synchronous ones have no network).
    #[arg(long, env = "VALIDIBOT_CONTAINER_NETWORK", default_value = "bridge")]
    pub container_network: String,
    /// Seconds between the reconciler's passes over asynchronous steps whose callback has
    /// not come (containers exited or gone, deadlines passed, runs canceled).
    #[arg(long, env = "VALIDIBOT_RECONCILE_SECONDS", default_value_t = 15.0)]
    pub reconcile_seconds: f64,
    /// Also receive asynchronous steps' callbacks (`POST /api/v1/callbacks/{id}`, nothing
    /// else) on this address of each worker process, so the containers need reach only
    /// workers: point `VALIDIBOT_CALLBACK_URL` at it (or at a load balancer before them).
    #[arg(long, env = "VALIDIBOT_CALLBACKS_BIND")]
    pub callbacks_bind: Option<String>,
    /// Where asynchronous steps' containers run: `docker` (the engine of
    /// `VALIDIBOT_DOCKER_SOCKET`), `kubernetes` (a Job per step in
    /// `VALIDIBOT_KUBERNETES_NAMESPACE`, through the pod's service account or kubeconfig)
    /// or `cloud-run` (an execution of the validator's Cloud Run job per step, with the
    /// metadata server's token).
    #[arg(long, env = "VALIDIBOT_CONTAINER_LAUNCHER", value_enum, default_value_t = LauncherKind::Docker)]
    pub container_launcher: LauncherKind,
    /// The namespace the Kubernetes launcher creates Jobs in (default: the pod's own,
    /// else `default`).
    #[arg(long, env = "VALIDIBOT_KUBERNETES_NAMESPACE")]
    pub kubernetes_namespace: Option<String>,
    /// The Validibot image the Jobs' init container copies the agent from
    /// (`validibot agent install`); the chart sets it to its own image.
    #[arg(long, env = "VALIDIBOT_KUBERNETES_AGENT_IMAGE")]
    pub kubernetes_agent_image: Option<String>,
    /// Secrets the cluster pulls validator images with, comma-separated.
    #[arg(
        long,
        env = "VALIDIBOT_KUBERNETES_IMAGE_PULL_SECRETS",
        value_delimiter = ','
    )]
    pub kubernetes_image_pull_secrets: Vec<String>,
    /// The Google Cloud project of the Cloud Run jobs (`cloud-run` launcher).
    #[arg(long, env = "VALIDIBOT_CLOUD_RUN_PROJECT")]
    pub cloud_run_project: Option<String>,
    /// Their region (`europe-west1`).
    #[arg(long, env = "VALIDIBOT_CLOUD_RUN_REGION")]
    pub cloud_run_region: Option<String>,
    /// A validator's Cloud Run job is this prefix followed by its slug.
    #[arg(
        long,
        env = "VALIDIBOT_CLOUD_RUN_JOB_PREFIX",
        default_value = "validibot-"
    )]
    pub cloud_run_job_prefix: String,
    /// The Cloud Run Admin API's address.
    #[arg(
        long,
        env = "VALIDIBOT_CLOUD_RUN_API",
        default_value = "https://run.googleapis.com"
    )]
    pub cloud_run_api: String,
}

/// How webhook deliveries are made (every worker process delivers).
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Internal networks webhook URLs may reach anyway, comma-separated CIDRs (e.g.
    /// `10.20.0.0/16,127.0.0.1/32`). Loopback, private, link-local, shared and reserved
    /// addresses are refused otherwise, when a URL is saved and at every delivery.
    #[arg(
        long,
        env = "VALIDIBOT_WEBHOOK_ALLOWED_NETWORKS",
        value_delimiter = ','
    )]
    pub webhook_allowed_networks: Vec<ipnet::IpNet>,
    /// Waits before each retry of a failed delivery (units ms, s, m, h); its length
    /// plus one attempts in all.
    #[arg(
        long,
        env = "VALIDIBOT_WEBHOOK_RETRY_SCHEDULE",
        default_value = "5s,5m,30m,2h,5h,10h,10h",
        value_parser = validibot_services::webhooks::parse_schedule
    )]
    pub webhook_retry_schedule: std::vec::Vec<Duration>,
    /// One delivery attempt's time limit, in seconds.
    #[arg(long, env = "VALIDIBOT_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 15)]
    pub webhook_timeout_seconds: u64,
    /// Disable an endpoint after this many deliveries in a row failed every attempt.
    #[arg(long, env = "VALIDIBOT_WEBHOOK_DISABLE_AFTER", default_value_t = 5)]
    pub webhook_disable_after: u32,
    /// Days a finished delivery and its attempts stay in the delivery log.
    #[arg(long, env = "VALIDIBOT_WEBHOOK_LOG_DAYS", default_value_t = 30)]
    pub webhook_log_days: u32,
    /// How often an idle worker looks for due webhook deliveries, in milliseconds.
    #[arg(long, env = "VALIDIBOT_WEBHOOK_POLL_MS", default_value_t = 1000)]
    pub webhook_poll_ms: u64,
}

impl Default for WebhookArgs {
    /// The defaults the flags declare (and whatever the environment sets).
    fn default() -> Self {
        flag_defaults()
    }
}

impl Default for RemoteArgs {
    /// The defaults the flags declare (and whatever the environment sets).
    fn default() -> Self {
        flag_defaults()
    }
}

impl Default for MailArgs {
    /// The defaults the flags declare (and whatever the environment sets).
    fn default() -> Self {
        flag_defaults()
    }
}

/// A group of settings as the flags declare their defaults (and the environment sets
/// them): what an in-process server (`bench`) runs with.
fn flag_defaults<T: Args + clap::FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("validibot"));
    let matches = cmd
        .try_get_matches_from(["validibot"])
        .expect("a settings group's defaults parse");
    T::from_arg_matches(&matches).expect("a settings group's defaults parse")
}

impl WorkerArgs {
    /// The webhook settings of this process.
    pub fn webhook_settings(&self) -> validibot_services::webhooks::Settings {
        let w = &self.webhooks;
        validibot_services::webhooks::Settings {
            policy: self.webhook_policy(),
            retry_schedule: w.webhook_retry_schedule.clone(),
            timeout: Duration::from_secs(w.webhook_timeout_seconds.clamp(1, 300)),
            disable_after: i64::from(w.webhook_disable_after.max(1)),
            poll: Duration::from_millis(w.webhook_poll_ms.clamp(10, 60_000)),
            log_days: w.webhook_log_days,
            public_url: self
                .public_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_owned()),
        }
    }

    pub fn webhook_policy(&self) -> validibot_services::webhooks::AddressPolicy {
        validibot_services::webhooks::AddressPolicy {
            allowed: self.webhooks.webhook_allowed_networks.clone(),
        }
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or_else(|| {
            (16 * std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2))
            .max(32)
        })
    }
    pub fn lease(&self) -> Duration {
        Duration::from_secs_f64(self.lease_seconds.clamp(0.5, 3600.0))
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct RetentionArgs {
    /// Delete finished runs (steps, findings, artifacts, submission) this many days
    /// after they finished (default: keep forever).
    #[arg(long, env = "VALIDIBOT_RUN_RETENTION_DAYS")]
    pub run_retention_days: Option<u32>,
    /// Delete submitted files this many days after their run finished; the run and
    /// its findings stay (default: keep as long as the run).
    #[arg(long, env = "VALIDIBOT_SUBMISSION_RETENTION_DAYS")]
    pub submission_retention_days: Option<u32>,
    /// How often workers purge, in minutes.
    #[arg(long, env = "VALIDIBOT_PURGE_INTERVAL_MINUTES", default_value_t = 60)]
    pub purge_interval_minutes: u64,
    /// Delete audit log events this many days after they were recorded (0: keep forever).
    #[arg(long, env = "VALIDIBOT_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,
}

impl RetentionArgs {
    pub fn policy(&self) -> validibot_services::retention::Policy {
        validibot_services::retention::Policy {
            run_retention_days: self.run_retention_days,
            submission_retention_days: self.submission_retention_days,
            purge_interval_minutes: self.purge_interval_minutes,
            audit_retention_days: (self.audit_retention_days > 0)
                .then_some(self.audit_retention_days),
        }
    }
}
