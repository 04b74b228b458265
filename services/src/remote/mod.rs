//! Asynchronous remote execution: a container step launched on a launcher (today the
//! Docker engine, detached) holds no worker slot and no lease while it runs. The
//! container gets only pointers — presigned URLs for its input and output envelopes, a
//! callback URL and a signed, short-lived callback `token` —; `callback` receives its
//! report (once: a repeat is a replay, a late one is refused), and `reconciler` rules
//! on containers whose callback never came. The step itself — launch, or collect what
//! was delivered — is `execution::remote_step`.

pub mod callback;
pub mod reconciler;
pub mod token;

use std::path::PathBuf;

use anyhow::Result;
use tokio::sync::OnceCell;

use validibot_store::db::Db;

/// The launcher asynchronous steps use today (`remote_executions.launcher`).
pub const DOCKER: &str = "docker";

/// The settings of asynchronous container steps, and the callback key once read.
pub struct Remote {
    /// The engine network the containers join (they reach the bucket and the API).
    pub network: String,
    /// The API's base URL as the containers reach it (`http://validibot:8080`).
    pub callback_base: String,
    /// The agent binary on the engine's host, mounted into each container.
    pub agent: PathBuf,
    key: OnceCell<Vec<u8>>,
}

impl Remote {
    pub fn new(network: String, callback_base: &str, agent: PathBuf) -> Remote {
        Remote {
            network,
            callback_base: callback_base.trim_end_matches('/').to_owned(),
            agent,
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

/// Removes an execution's exchange objects (best effort: a leftover is only bytes).
pub async fn forget(svc: &crate::Services, callback_id: &str) {
    if let Ok(x) = svc.blobs.exchange() {
        for name in [input_name(callback_id), output_name(callback_id)] {
            if let Err(e) = x.remove(&name).await {
                tracing::warn!(callback_id, "removing {name}: {e:#}");
            }
        }
    }
}
