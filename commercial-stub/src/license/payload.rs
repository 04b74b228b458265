//! What a license grants. Unknown payload fields are ignored (a newer vendor tool
//! may add some); the signature already covers every byte.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A license's limits are the ones the hooks carry.
pub use validibot_types::hooks::Limits;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub license_id: String,
    pub serial: u64,
    pub customer: String,
    pub edition: String,
    pub features: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default)]
    pub grace_days: u32,
    /// Present for an online license: it works only on instances the license server
    /// has activated (absent: an offline file, for air-gapped sites).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<Online>,
}

/// An online license's terms with the license server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Online {
    /// The license server's base URL (`https://…`).
    pub server: String,
    /// How many instances may hold an activation at once.
    pub instances: u64,
}

impl Payload {
    /// Structural checks the vendor tool applies before signing and the
    /// extension applies after verifying.
    pub fn check(&self) -> Result<(), String> {
        if self.license_id.trim().is_empty() {
            return Err("license_id is empty".into());
        }
        if self.edition != "pro" {
            return Err(format!("edition {:?} is not \"pro\"", self.edition));
        }
        if self.expires_at <= self.not_before {
            return Err("expires_at is not after not_before".into());
        }
        if let Some(online) = &self.online {
            if !(online.server.starts_with("https://") || online.server.starts_with("http://")) {
                return Err(format!(
                    "online.server {:?} is not an http(s) URL",
                    online.server
                ));
            }
            if online.instances == 0 {
                return Err("online.instances must be at least 1".into());
            }
        }
        Ok(())
    }

    /// Features this build does not know (the vendor tool refuses them; the
    /// extension ignores them).
    pub fn unknown_features(&self) -> Vec<&str> {
        self.features
            .iter()
            .map(String::as_str)
            .filter(|f| !crate::features::ALL.contains(f))
            .collect()
    }
}
