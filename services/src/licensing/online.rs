//! Online licenses: the instance asks the vendor's license server for a signed answer
//! (a lease) when the license is installed and again whenever the extension's
//! `next_check_at` says (every 24 hours), keeps the last one in the database for every
//! process, and records why when the server cannot be reached. What an answer means
//! (valid, revoked, too old) is the extension's decision; this module carries answers
//! and never stores one the extension does not accept, so a garbled reply cannot
//! replace a good lease.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use validibot_engines::extensions::LicenseStatus;
use validibot_store::licensing as licenses;
use validibot_types::clock::now_us;
use validibot_types::license_server::{ActivationRequest, Refusal, ACTIVATE_PATH, RELEASE_PATH};

use super::Licensing;

/// How often the background task looks whether a check is due.
pub const TICK: Duration = Duration::from_secs(300);
/// After a failed attempt, wait this long before trying again on schedule.
const RETRY_AFTER_FAILURE_US: i64 = 3600 * 1_000_000;
const TIMEOUT: Duration = Duration::from_secs(20);

/// When to ask the license server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Only if the extension says a check is due (and the last failure is an hour old).
    Due,
    /// Now (an operator asked, or a license was just installed).
    Now,
}

enum Reply {
    Lease(String),
    Refused(u16, Refusal),
}

/// An error with its causes ("error sending request: … Connection refused").
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

async fn post(server: &str, path: &str, request: &ActivationRequest) -> Result<Reply, String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("validibot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let response = client
        .post(&url)
        .json(request)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", with_causes(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| format!("{url}: {}", with_causes(&e)))?;
    if status == 200 {
        return Ok(Reply::Lease(body));
    }
    let refusal = serde_json::from_str(&body).unwrap_or_else(|_| Refusal {
        detail: format!(
            "HTTP {status}: {}",
            body.chars().take(200).collect::<String>()
        ),
        code: "UNEXPECTED_ANSWER".into(),
    });
    Ok(Reply::Refused(status, refusal))
}

/// The name the vendor sees next to this instance's id.
fn instance_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

impl Licensing {
    async fn activation_request(&self, license: String) -> Result<ActivationRequest> {
        let usage = licenses::usage(&self.db).await?;
        Ok(ActivationRequest {
            license,
            instance_id: self.instance_id().await?.to_owned(),
            instance_name: instance_name(),
            seats_in_use: usage.seats,
            workspaces_in_use: usage.workspaces,
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Activates or revalidates an online license with its license server (nothing
    /// for an offline file or without a license) and returns the status after it.
    pub async fn check_online(&self, when: Check) -> Result<Arc<LicenseStatus>> {
        let status = self.refresh().await?;
        let Some(online) = status.online.clone() else {
            return Ok(status);
        };
        let stored = licenses::load(&self.db).await?;
        if when == Check::Due {
            let failed_recently = stored
                .online_error
                .as_ref()
                .is_some_and(|(at, _)| now_us() - at < RETRY_AFTER_FAILURE_US);
            if now_us() / 1_000_000 < online.next_check_at || failed_recently {
                return Ok(status);
            }
        }
        let Some(license) = stored.text else {
            return Ok(status);
        };
        let request = self.activation_request(license).await?;
        let error = match post(&online.server, ACTIVATE_PATH, &request).await {
            Ok(Reply::Lease(lease)) => {
                // Keep only an answer the extension accepts: it names this license and
                // instance and carries the server's time.
                let candidate = self.compute(Some(lease.clone())).await?;
                if candidate
                    .online
                    .as_ref()
                    .is_some_and(|o| o.checked_at.is_some())
                {
                    licenses::save_online(&self.db, Some(&lease), None).await?;
                    tracing::info!(
                        server = online.server,
                        state = candidate.state,
                        "license server answered"
                    );
                    return self.refresh().await;
                }
                format!(
                    "the answer of the license server at {} does not verify: {}",
                    online.server, candidate.message
                )
            }
            Ok(Reply::Refused(status, r)) => format!(
                "the license server at {} refused (HTTP {status}, {}): {}",
                online.server, r.code, r.detail
            ),
            Err(e) => format!("the license server could not be reached: {e}"),
        };
        tracing::warn!(server = online.server, "license check failed: {error}");
        licenses::save_online(&self.db, None, Some((now_us(), &error))).await?;
        self.refresh().await
    }

    /// Gives this instance's activation back to the license server (before moving the
    /// license to another machine) and forgets the lease; `Err(reason)` inside when
    /// there is nothing to release or the server refused.
    pub async fn release_online(&self) -> Result<Result<Arc<LicenseStatus>, String>> {
        let status = self.refresh().await?;
        let (Some(online), Some(license)) = (&status.online, licenses::load(&self.db).await?.text)
        else {
            return Ok(Err("the installed license is not an online license".into()));
        };
        let request = self.activation_request(license).await?;
        match post(&online.server, RELEASE_PATH, &request).await {
            Ok(Reply::Lease(_)) => {
                licenses::forget_lease(&self.db).await?;
                Ok(Ok(self.refresh().await?))
            }
            Ok(Reply::Refused(status, r)) => Ok(Err(format!(
                "the license server refused (HTTP {status}, {}): {}",
                r.code, r.detail
            ))),
            Err(e) => Ok(Err(format!("the license server could not be reached: {e}"))),
        }
    }

    /// Checks on schedule for as long as the process runs (`serve` starts it).
    pub fn spawn_online_checks(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let licensing = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = licensing.check_online(Check::Due).await {
                    tracing::warn!("license check: {e:#}");
                }
                tokio::time::sleep(TICK).await;
            }
        })
    }
}
