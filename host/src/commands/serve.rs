//! Wiring for the long-running commands: `serve` (API + embedded worker) and `worker`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::watch;

use crate::config::{ContainerLaunch, InstanceArgs, LauncherKind, ServeArgs, WorkerArgs};
use validibot_blobs::BlobStore;
use validibot_engines::containers::detached::DockerLauncher;
use validibot_engines::containers::kubernetes::{JobSettings, KubernetesLauncher};
use validibot_engines::containers::launcher::{install_agent, ContainerLauncher};
use validibot_engines::containers::service::ContainerService;
use validibot_engines::extensions::ExtensionRegistry;
use validibot_engines::plugins::{Limits, PluginRegistry, Runtime};
use validibot_http::{self as http, ApiSettings, AppState};
use validibot_services::execution::memory_budget::MemoryBudget;
use validibot_services::execution::waiters::RunWaiters;
use validibot_services::execution::worker::{self, Dispatch, WorkerConfig};
use validibot_services::licensing::Licensing;
use validibot_services::remote::cloud_run::{CloudRunLauncher, CloudRunSettings};
use validibot_services::remote::Remote;
use validibot_services::{Launcher, Services};
use validibot_store::accounts::directory as accounts;
use validibot_store::db::Db;

/// Opens what a serving or working process shares: a migrated database, blob storage,
/// the validators, the license, the container runner.
pub async fn open_services(global: &InstanceArgs, worker: &WorkerArgs) -> Result<Services> {
    let started = Instant::now();
    global.prepare_data_dir()?;
    let db = Db::connect(&global.database_url(), global.db_pool).await?;
    db.migrate().await?;
    accounts::ensure_default_workspace(&db).await?;
    let blobs = global.blob_store()?;
    let licensing = Arc::new(Licensing::new(db.clone(), load_extensions(global).await?));
    let limits = Limits {
        timeout: Duration::from_millis(worker.validator_timeout_ms.max(1)),
        memory_bytes: worker.validator_memory_mib.max(1) << 20,
        memory_max_bytes: worker.validator_memory_max_mib.max(1) << 20,
        ..Limits::default()
    };
    let cache = global.data_dir.join("cache").join("wasm");
    let runtime = Runtime::new(Some(cache.clone()))?;
    let compiling = PluginRegistry::builtins_to_compile(&runtime);
    if compiling > 0 {
        tracing::info!(
            validators = compiling,
            cache = %cache.display(),
            "compiling the built-in validators for this machine (first start of this build, ~10 s; later starts load them from the cache)"
        );
    }
    let plugins =
        tokio::task::spawn_blocking(move || PluginRegistry::builtin(&runtime, limits)).await??;
    validibot_services::validators::installed::sync(&db, &blobs, &plugins).await?;
    if let Some(path) = global.license_file() {
        install_license_file(&licensing, path).await?;
    }
    licensing.refresh().await?;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");
    let containers = ContainerService::new(global.docker_socket.clone(), &global.data_dir);
    let remote = remote_settings(global, worker, &blobs, &containers)?;
    Ok(Services {
        db,
        blobs,
        plugins,
        licensing,
        containers,
        waiters: Arc::new(RunWaiters::default()),
        running: Arc::default(),
        memory: MemoryBudget::new(worker.memory_budget_mib),
        remote,
        lease: worker.lease(),
    })
}

/// Asynchronous container steps, when asked for: they need the bucket (the containers'
/// only way to their inputs), the callback URL and a launcher. The Docker launcher's
/// agent is written to the data dir, which the engine's host sees at the same path (as
/// the synchronous work directories); a Kubernetes Job copies it from the Validibot image.
fn remote_settings(
    global: &InstanceArgs,
    worker: &WorkerArgs,
    blobs: &BlobStore,
    containers: &Arc<ContainerService>,
) -> Result<Option<Arc<Remote>>> {
    let args = &worker.remote;
    if args.container_launch == ContainerLaunch::Sync {
        anyhow::ensure!(
            args.container_launcher == LauncherKind::Docker,
            "VALIDIBOT_CONTAINER_LAUNCHER=kubernetes needs VALIDIBOT_CONTAINER_LAUNCH=async"
        );
        return Ok(None);
    }
    blobs.exchange()?;
    let Some(callback) = args.callback_url.as_deref().filter(|u| !u.is_empty()) else {
        anyhow::bail!("VALIDIBOT_CONTAINER_LAUNCH=async needs VALIDIBOT_CALLBACK_URL (the API's address as containers reach it)");
    };
    reqwest::Url::parse(callback)
        .with_context(|| format!("VALIDIBOT_CALLBACK_URL {callback:?}"))?;
    let launcher: Arc<dyn ContainerLauncher> = match args.container_launcher {
        LauncherKind::Docker => Arc::new(DockerLauncher {
            containers: containers.clone(),
            agent: install_agent(&global.data_dir.join("agent"))
                .context("writing the container agent")?,
            network: args.container_network.clone(),
        }),
        LauncherKind::Kubernetes => {
            let Some(agent_image) = args.kubernetes_agent_image.clone() else {
                anyhow::bail!("VALIDIBOT_CONTAINER_LAUNCHER=kubernetes needs VALIDIBOT_KUBERNETES_AGENT_IMAGE (the Validibot image, which holds the agent)");
            };
            Arc::new(KubernetesLauncher::new(JobSettings {
                namespace: args
                    .kubernetes_namespace
                    .clone()
                    .unwrap_or_else(own_namespace),
                agent_image,
                image_pull_secrets: args.kubernetes_image_pull_secrets.clone(),
            }))
        }
        LauncherKind::CloudRun => {
            let (Some(project), Some(region)) = (&args.cloud_run_project, &args.cloud_run_region)
            else {
                anyhow::bail!("VALIDIBOT_CONTAINER_LAUNCHER=cloud-run needs VALIDIBOT_CLOUD_RUN_PROJECT and VALIDIBOT_CLOUD_RUN_REGION");
            };
            // Google's libraries read the metadata server's address from GCE_METADATA_HOST.
            let metadata = std::env::var("GCE_METADATA_HOST")
                .map(|h| format!("http://{h}"))
                .unwrap_or_else(|_| "http://metadata.google.internal".into());
            Arc::new(CloudRunLauncher::new(CloudRunSettings {
                project: project.clone(),
                region: region.clone(),
                job_prefix: args.cloud_run_job_prefix.clone(),
                api: args.cloud_run_api.clone(),
                metadata,
            })?)
        }
    };
    Ok(Some(Arc::new(Remote::new(launcher, callback))))
}

/// The namespace this pod runs in (its service account's), else `default`.
fn own_namespace() -> String {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .map(|n| n.trim().to_owned())
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// `VALIDIBOT_LICENSE_FILE`: an unreadable file stops the start (a Secret that is not
/// mounted is a deployment error); a refused one is logged and the stored license stays.
async fn install_license_file(licensing: &Licensing, path: &std::path::Path) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the license file {} (VALIDIBOT_LICENSE_FILE)",
            path.display()
        )
    })?;
    match licensing.install_if_changed(&text).await? {
        Ok(true) => {
            tracing::info!(file = %path.display(), "license installed from VALIDIBOT_LICENSE_FILE")
        }
        Ok(false) => {}
        Err(reason) => tracing::error!(
            file = %path.display(),
            "the license file was refused: {reason}; the stored license stays"
        ),
    }
    Ok(())
}

/// A worker process's duties besides runs: the periodic retention purge (each tick
/// skips itself when neither the instance nor any workflow sets a retention) and
/// webhook deliveries.
fn spawn_duties(svc: &Services, worker: &WorkerArgs, stop: &watch::Receiver<bool>) {
    let policy = worker.retention.policy();
    validibot_services::retention::spawn(svc.db.clone(), svc.blobs.clone(), policy);
    validibot_services::webhooks::dispatcher::spawn(
        svc.db.clone(),
        worker.webhook_settings(),
        stop.clone(),
    );
    if svc.remote.is_some() {
        let period = Duration::from_secs_f64(worker.remote.reconcile_seconds.max(0.1));
        validibot_services::remote::reconciler::spawn(svc.clone(), period, stop.clone());
    }
}

/// `--callbacks-bind`: the callback route alone on its own listener.
async fn serve_callbacks(svc: &Services, worker: &WorkerArgs) -> Result<()> {
    let Some(bind) = &worker.remote.callbacks_bind else {
        return Ok(());
    };
    anyhow::ensure!(
        svc.remote.is_some(),
        "--callbacks-bind needs VALIDIBOT_CONTAINER_LAUNCH=async"
    );
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    // Logged, not printed: stdout's first line is the API's address.
    tracing::info!(address = %listener.local_addr()?, "receiving asynchronous steps' callbacks");
    let router = http::api::callbacks::router(svc.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(())
}

/// The migrated database with its default workspace, for one-shot CLI commands.
pub async fn open_db(global: &InstanceArgs) -> Result<Db> {
    global.prepare_data_dir()?;
    let db = Db::connect(&global.database_url(), 2).await?;
    db.migrate().await?;
    accounts::ensure_default_workspace(&db).await?;
    Ok(db)
}

/// The migrated database and blob storage, for one-shot maintenance commands.
pub async fn open_storage(global: &InstanceArgs) -> Result<(Db, BlobStore)> {
    let db = open_db(global).await?;
    let blobs = global.blob_store()?;
    Ok((db, blobs))
}

/// How often workers look for orphaned validator containers (also once at startup).
const SWEEP_PERIOD: Duration = Duration::from_secs(60);

/// Loads the extensions directory once, at startup (the registry is immutable afterwards).
pub async fn load_extensions(global: &InstanceArgs) -> Result<Arc<ExtensionRegistry>> {
    let settings = global.extension_settings()?;
    let registry = tokio::task::spawn_blocking(move || ExtensionRegistry::load(&settings)).await?;
    Ok(Arc::new(registry))
}

fn worker_config(args: &WorkerArgs) -> WorkerConfig {
    WorkerConfig {
        concurrency: args.concurrency(),
        poll_interval: Duration::from_millis(args.poll_ms.max(10)),
    }
}

/// Runs the API until Ctrl-C / SIGTERM; returns the bound address through `bound` (for tests and bench).
pub async fn serve(
    global: &InstanceArgs,
    args: &ServeArgs,
    bound: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> Result<()> {
    // Mail settings are checked before anything starts: a wrong one stops the server.
    let mailer = args.mail.mailer(args.worker.public_url.as_deref())?;
    let sso = args.sso.sso(args.worker.public_url.as_deref())?;
    let svc = open_services(global, &args.worker).await?;
    let secret = accounts::instance_secret(&svc.db, global.secret_key.as_deref()).await?;
    let evidence_key = Arc::new(validibot_services::evidence::InstanceKey::load_or_create(
        &global.data_dir,
    )?);
    evidence_key.publish(&svc.db).await?;
    // API processes keep an online license's answer from the license server current
    // (workers read the stored answer).
    svc.licensing.spawn_online_checks();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (dispatch, worker_handle): (Option<Dispatch>, _) = if args.no_worker {
        (None, None)
    } else {
        svc.containers.spawn_sweeper(SWEEP_PERIOD);
        spawn_duties(&svc, &args.worker, &stop_rx);
        serve_callbacks(&svc, &args.worker).await?;
        let (d, h) = worker::spawn(svc.clone(), worker_config(&args.worker), stop_rx);
        (Some(d), Some(h))
    };
    let launcher = Launcher::new(svc.clone(), dispatch, args.worker.max_attempts);
    let state = Arc::new(AppState {
        services: svc,
        launcher,
        settings: ApiSettings {
            max_inline_bytes: args.max_inline_bytes,
            max_file_bytes: args.max_file_bytes,
            launch_wait: Duration::from_millis(args.launch_wait_ms),
            secure_cookies: match args.secure_cookies {
                crate::config::SecureCookies::Always => Some(true),
                crate::config::SecureCookies::Never => Some(false),
                crate::config::SecureCookies::Auto => args
                    .worker
                    .public_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://"))
                    .then_some(true),
            },
            public_url: args
                .worker
                .public_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            client_ip_header: args
                .client_ip_header
                .as_ref()
                .map(|h| h.to_ascii_lowercase()),
            plugin_trust: global.plugin_trust()?,
            webhook_policy: args.worker.webhook_policy(),
            link_lifetimes: args.mail.lifetimes(),
        },
        secret,
        evidence_key,
        mailer: mailer.map(Arc::new),
        rate_limits: http::rate_limit::RateLimits::new(args.rate_limits.settings()),
        sso: sso.map(Arc::new),
    });
    let process_id = validibot_types::ids::new_id();
    let presence = tokio::spawn(http::rate_limit::keep_share(
        state.clone(),
        process_id.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, worker = !args.no_worker, "listening");
    println!("validibot listening on http://{addr}");
    if let Some(tx) = bound {
        let _ = tx.send(addr);
    }
    // The peer address reaches handlers (sign-in throttling counts per client).
    let app = http::router::router(state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    presence.abort();
    http::rate_limit::leave(&state, &process_id).await;
    let _ = stop_tx.send(true);
    if let Some(h) = worker_handle {
        let _ = tokio::time::timeout(Duration::from_secs(30), h).await;
    }
    Ok(())
}

/// Runs workers only, until Ctrl-C / SIGTERM.
pub async fn run_worker(global: &InstanceArgs, args: &WorkerArgs) -> Result<()> {
    let svc = open_services(global, args).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    svc.containers.spawn_sweeper(SWEEP_PERIOD);
    spawn_duties(&svc, args, &stop_rx);
    serve_callbacks(&svc, args).await?;
    let (_dispatch, handle) = worker::spawn(svc.clone(), worker_config(args), stop_rx);
    if let Some(bind) = &args.metrics_bind {
        let router =
            validibot_http::probes::probe_router(svc.dependencies(), svc.licensing.clone());
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        println!(
            "validibot worker probes on http://{}",
            listener.local_addr()?
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
    }
    println!(
        "validibot worker running (concurrency {})",
        args.concurrency()
    );
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
