//! The instance's evidence signing key: ed25519, generated on first start and kept
//! in the data dir (mode 0600). Its public half is published in the database, so
//! `/.well-known/validibot-keys.json` lists the keys of every process sharing it.

use std::path::Path;

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use validibot_store::db::Db;
use validibot_store::evidence;

const FILE: &str = "evidence-ed25519.key";

pub struct InstanceKey {
    pub kid: String,
    key: SigningKey,
}

impl InstanceKey {
    pub fn load_or_create(data_dir: &Path) -> Result<InstanceKey> {
        let dir = data_dir.join("keys");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(FILE);
        let secret = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(_) => {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                let text = STANDARD.encode(bytes);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut f) => {
                        std::io::Write::write_all(&mut f, text.as_bytes())?;
                        text
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read_to_string(&path)?
                    }
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating {}", path.display()))
                    }
                }
            }
        };
        let bytes: [u8; 32] = STANDARD
            .decode(secret.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{} is not a base64 ed25519 secret", path.display()))?;
        let key = SigningKey::from_bytes(&bytes);
        Ok(InstanceKey {
            kid: kid_of(&key.verifying_key()),
            key,
        })
    }

    pub fn public_base64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Records the public key where every process (and the well-known endpoint) finds it.
    pub async fn publish(&self, db: &Db) -> Result<()> {
        evidence::publish_key(db, &self.kid, &self.public_base64()).await
    }
}

/// A key id derived from the public key, so it can never name two keys.
pub fn kid_of(key: &VerifyingKey) -> String {
    format!("vb-{}", &hex::encode(Sha256::digest(key.as_bytes()))[..16])
}

/// Every published evidence key: `(kid, base64 public key)`.
pub async fn published(db: &Db) -> Result<Vec<(String, String)>> {
    evidence::published_keys(db).await
}
