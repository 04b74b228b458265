//! What every HTTP handler shares: the process's handles and the API's limits.

use std::sync::Arc;
use std::time::Duration;
use validibot_services::validators::installed::Trust;

use validibot_services::evidence::InstanceKey;
use validibot_services::{Launcher, Services};

/// Limits and budgets of the API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Raw-body and envelope submissions.
    pub max_inline_bytes: u64,
    /// Multipart file uploads.
    pub max_file_bytes: u64,
    /// How long a launch waits for the run to finish before answering 202.
    pub launch_wait: Duration,
    /// Session cookies are `Secure` always (`Some(true)`), never (`Some(false)`), or when
    /// the request came over https (`None`).
    pub secure_cookies: Option<bool>,
    /// Header a trusted proxy puts the client address in (lower case).
    pub client_ip_header: Option<String>,
    /// Whose signatures make an uploaded component installable.
    pub plugin_trust: Trust,
    /// The address users reach the instance at (`VALIDIBOT_PUBLIC_URL`), without a
    /// trailing slash: server-made SARIF reports link the validators' pages there.
    pub public_url: Option<String>,
    /// Which addresses a webhook URL may point at.
    pub webhook_policy: validibot_services::webhooks::AddressPolicy,
    /// How long invitation and password-reset links stay good.
    pub link_lifetimes: validibot_services::accounts::LinkLifetimes,
}

/// The HTTP layer's state: the process's [`Services`] (reached through `Deref`, so a
/// handler writes `state.db`), the launcher, and what only HTTP needs.
pub struct AppState {
    pub services: Services,
    pub launcher: Launcher,
    pub settings: ApiSettings,
    /// Keys API-key hashes (HMAC) and session tokens.
    pub secret: Vec<u8>,
    /// Signs evidence manifests.
    pub evidence_key: Arc<InstanceKey>,
    /// Sends invitations and password-reset links (`None`: no SMTP configured).
    pub mailer: Option<Arc<validibot_services::mail::Mailer>>,
    /// This process's share of the per-key and per-address budgets.
    pub rate_limits: crate::rate_limit::RateLimits,
    /// The OpenID providers people may sign in through (`None`: none configured).
    pub sso: Option<Arc<validibot_services::accounts::sso::Sso>>,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
