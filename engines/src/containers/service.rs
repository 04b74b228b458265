//! What the workers of one process share for container validators: a lazily
//! connected runner (an instance without a Docker engine still runs every WASM
//! validator), the per-attempt work directories, and the periodic sweeper.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::OnceCell;

use super::docker::DockerRunner;
use super::sweeper::{self, Scope};

pub struct ContainerService {
    socket: Option<String>,
    work_root: PathBuf,
    runner: OnceCell<DockerRunner>,
}

impl ContainerService {
    pub fn new(socket: Option<String>, data_dir: &std::path::Path) -> Arc<ContainerService> {
        Arc::new(ContainerService {
            socket,
            work_root: data_dir.join("work").join("containers"),
            runner: OnceCell::new(),
        })
    }

    /// The runner, connecting on first use (a failed connection is retried next time).
    pub async fn runner(&self) -> Result<&DockerRunner> {
        self.runner
            .get_or_try_init(|| DockerRunner::connect(self.socket.as_deref()))
            .await
    }

    /// Whether an engine was named explicitly (then readiness depends on it).
    pub fn configured(&self) -> bool {
        self.socket.is_some()
    }

    /// Asks the engine whether it is up.
    pub async fn ping(&self) -> Result<()> {
        self.runner().await?.docker().ping().await?;
        Ok(())
    }

    /// A fresh directory name for one attempt of one step (created by the runner).
    pub fn work_dir(&self, run_id: &str, position: i64, attempt: i64) -> PathBuf {
        self.work_root.join(format!(
            "{run_id}-{position}-{attempt}-{}",
            uuid::Uuid::now_v7().simple()
        ))
    }

    /// Sweeps orphans now and then every `period`, until the process ends. Quiet
    /// while no engine answers: most instances never run a container.
    pub fn spawn_sweeper(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Ok(runner) = me.runner().await else {
                    continue;
                };
                match sweeper::sweep(runner, &Scope::default(), false).await {
                    Ok(swept) => {
                        for s in swept.iter().filter(|s| s.removed) {
                            tracing::info!(container = s.id, run_id = ?s.run_id, reason = s.reason, "removed an orphaned validator container");
                        }
                    }
                    Err(e) => tracing::warn!("container sweep failed: {e:#}"),
                }
                // Work directories of attempts that ended long ago (a killed worker's).
                me.remove_stale_work_dirs(Duration::from_secs(24 * 3600));
            }
        })
    }

    fn remove_stale_work_dirs(&self, age: Duration) {
        let Ok(entries) = std::fs::read_dir(&self.work_root) else {
            return;
        };
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|el| el > age);
            if old {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}
