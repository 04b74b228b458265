//! Asynchronous remote execution: a container step launched on a launcher (the Docker
//! engine, detached, or one Kubernetes Job) holds no worker slot and no lease while it
//! runs. The
//! container gets only pointers — presigned URLs for its input and output envelopes, a
//! callback URL and a signed, short-lived callback `token` —; `callback` receives its
//! report (once: a repeat is a replay, a late one is refused), and `reconciler` rules
//! on containers whose callback never came. The step itself — launch, or collect what
//! was delivered — is `execution::remote_step`.

pub mod callback;
pub mod cloud_run;
pub mod reconciler;
pub mod token;

use std::sync::Arc;

use anyhow::Result;
use tokio::sync::OnceCell;

use validibot_engines::containers::launcher::ContainerLauncher;
use validibot_store::db::Db;

/// The settings of asynchronous container steps, and the callback key once read.
pub struct Remote {
    /// Where the containers run; its kind is recorded with each execution.
    pub launcher: Arc<dyn ContainerLauncher>,
    /// The API's base URL as the containers reach it (`http://validibot:8080`).
    pub callback_base: String,
    key: OnceCell<Vec<u8>>,
}

impl Remote {
    pub fn new(launcher: Arc<dyn ContainerLauncher>, callback_base: &str) -> Remote {
        Remote {
            launcher,
            callback_base: callback_base.trim_end_matches('/').to_owned(),
            key: OnceCell::new(),
        }
    }

    /// Where an execution calls back — also its token's audience.
    pub fn callback_url(&self, callback_id: &str) -> String {
        format!("{}/api/v1/callbacks/{callback_id}", self.callback_base)
    }

    /// The key callback tokens are signed with: one per instance, in the database.
    pub async fn key(&self, db: &Db) -> Result<&[u8]> {
        self.key
            .get_or_try_init(|| async {
                use rand::RngCore;
                let mut fresh = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut fresh);
                let stored = validibot_store::remote::callback_key(db, &hex::encode(fresh)).await?;
                Ok::<_, anyhow::Error>(hex::decode(stored)?)
            })
            .await
            .map(Vec::as_slice)
    }
}

/// The exchange objects of one execution.
pub fn input_name(callback_id: &str) -> String {
    format!("{callback_id}/input.json")
}

pub fn output_name(callback_id: &str) -> String {
    format!("{callback_id}/output.json")
}

/// Removes an execution's exchange objects — envelopes and artifacts (best effort: a
/// leftover is only bytes).
pub async fn forget(svc: &crate::Services, callback_id: &str) {
    if let Ok(x) = svc.blobs.exchange() {
        if let Err(e) = x.remove_all(callback_id).await {
            tracing::warn!(callback_id, "removing the exchange objects: {e:#}");
        }
    }
}
