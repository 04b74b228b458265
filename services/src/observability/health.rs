//! What readiness means: the database answers, blob storage takes a write, and the
//! Docker engine answers when one is configured. The HTTP probes serve these checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use validibot_blobs::BlobStore;
use validibot_engines::containers::service::ContainerService;
use validibot_store::db::Db;

/// No check may hold a probe longer than this.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What `/readyz` and the worker's probe server check.
#[derive(Clone)]
pub struct Dependencies {
    pub db: Db,
    pub blobs: BlobStore,
    pub containers: Arc<ContainerService>,
}

impl Dependencies {
    /// Every check's outcome (`"ok"` or the error), and whether all passed.
    pub async fn check(&self) -> (bool, Value) {
        let mut checks = Map::new();
        let mut ready = true;
        let db = timed(self.db.ping());
        let storage = timed(self.blobs.probe_writable());
        let (db, storage) = tokio::join!(db, storage);
        for (name, outcome) in [("database", db), ("storage", storage)] {
            ready &= outcome.is_ok();
            checks.insert(name.into(), report(name, outcome));
        }
        if self.containers.configured() {
            let engine = timed(self.containers.ping()).await;
            ready &= engine.is_ok();
            checks.insert("docker".into(), report("docker", engine));
        }
        (ready, Value::Object(checks))
    }
}

async fn timed(f: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<u64> {
    let started = Instant::now();
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(())) => Ok(started.elapsed().as_micros() as u64),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(anyhow::anyhow!("no answer within {CHECK_TIMEOUT:?}")),
    }
}

/// A check's answer. The probe needs no authentication, so a failure's error text
/// (paths, addresses, engine messages) goes to the log, never into the answer.
fn report(name: &str, outcome: anyhow::Result<u64>) -> Value {
    match outcome {
        Ok(us) => json!({"status": "ok", "latency_us": us}),
        Err(e) => {
            tracing::warn!(check = name, "readiness check failed: {e:#}");
            json!({"status": "failed"})
        }
    }
}
