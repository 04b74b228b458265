//! The license server's signed answer for one instance of an online license (a
//! *lease*): the server stamps it with its own clock at every activation or
//! revalidation, and the instance keeps the last one. The instance asks again every
//! 24 hours; a lease older than 7 days (the server unreachable all that time) turns
//! Pro off exactly as expiry does, and a revoked lease turns it off at once.

use serde::{Deserialize, Serialize};
use validibot_types::hooks::OnlineStatus;

use super::envelope::{open, seal};
use super::state::rfc3339_unix;
use super::{LicenseState, Payload, Status, Usage};

const DOMAIN: &[u8] = b"validibot-license-lease/v1\n";
/// How often an instance revalidates.
pub const CHECK_EVERY_SECONDS: i64 = 24 * 3600;
/// How long an instance keeps working without reaching the server.
pub const OFFLINE_SECONDS: i64 = 7 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseStatus {
    Active,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    pub license_id: String,
    pub serial: u64,
    pub instance_id: String,
    pub status: LeaseStatus,
    /// When the server answered (Unix seconds, the server's clock).
    pub checked_at: i64,
    pub instances_used: u64,
    pub instances_max: u64,
    /// Set when revoked: when (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// Signs a lease (the license server's answer body).
pub fn sign(lease: &Lease, kid: &str, key: &ed25519_dalek::SigningKey) -> String {
    let payload = serde_json::to_vec(lease).expect("lease serializes");
    seal(DOMAIN, &payload, kid, key)
}

/// Verifies `text` as a lease for this license (id and serial) and this instance.
pub fn verify(text: &str, license: &Payload, instance_id: &str) -> Result<Lease, String> {
    let payload = open(DOMAIN, text.as_bytes()).map_err(|e| e.to_string())?;
    let lease: Lease = serde_json::from_slice(&payload).map_err(|e| format!("lease: {e}"))?;
    if lease.license_id != license.license_id || lease.serial != license.serial {
        return Err(format!(
            "it is for license {} serial {}, not the installed {} serial {}",
            lease.license_id, lease.serial, license.license_id, license.serial
        ));
    }
    if lease.instance_id != instance_id {
        return Err(format!(
            "it is for instance {}, not this instance ({instance_id})",
            lease.instance_id
        ));
    }
    Ok(lease)
}

/// Where an online license stands at `now`: the online facts for the status, and
/// the state and message that override the license's own when Pro must be off.
pub struct Standing {
    pub online: OnlineStatus,
    pub off: Option<(LicenseState, String)>,
}

pub fn standing(
    license: &Payload,
    server: &str,
    lease: Option<&str>,
    instance_id: Option<&str>,
    now: i64,
) -> Standing {
    let mut online = OnlineStatus {
        server: server.to_owned(),
        next_check_at: now,
        ..OnlineStatus::default()
    };
    let (Some(text), Some(instance)) = (lease, instance_id) else {
        let off = format!(
            "this license must be activated by the license server at {server}, which has not answered this instance yet: Pro features are off until it does"
        );
        return Standing {
            online,
            off: Some((LicenseState::Invalid, off)),
        };
    };
    let lease = match verify(text, license, instance) {
        Ok(lease) => lease,
        Err(e) => {
            let off = format!(
                "the stored answer of the license server does not verify ({e}): Pro features are off until the server at {server} answers again"
            );
            return Standing {
                online,
                off: Some((LicenseState::Invalid, off)),
            };
        }
    };
    online.activated = lease.status == LeaseStatus::Active;
    online.revoked = lease.status == LeaseStatus::Revoked;
    online.checked_at = Some(lease.checked_at);
    online.next_check_at = lease.checked_at + CHECK_EVERY_SECONDS;
    online.instances_used = Some(lease.instances_used);
    online.instances_max = Some(lease.instances_max);
    let off = if online.revoked {
        Some((
            LicenseState::Invalid,
            format!(
                "license {} was revoked by the vendor on {}: Pro features are off; nothing was deleted",
                license.license_id,
                rfc3339_unix(lease.revoked_at.unwrap_or(lease.checked_at))
            ),
        ))
    } else {
        let offline_until = lease.checked_at + OFFLINE_SECONDS;
        online.offline_until = Some(offline_until);
        (now >= offline_until).then(|| {
            (
                LicenseState::Expired,
                format!(
                    "the license server at {server} has not answered since {} (7 days allowed): Pro features are off as for an expired license; nothing was deleted, and they return when the server answers",
                    rfc3339_unix(lease.checked_at)
                ),
            )
        })
    };
    Standing { online, off }
}

/// The status of a verified license at `now` (Unix seconds), with the license
/// server's last answer (`lease`) for this instance when it is an online license: the
/// license's own state, turned off when its standing with the server says so.
pub fn status_at(
    payload: &Payload,
    now: i64,
    usage: Usage,
    lease: Option<&str>,
    instance_id: Option<&str>,
) -> Status {
    let mut status = Status::of(payload, now, usage);
    let Some(online) = &payload.online else {
        return status;
    };
    let standing = standing(payload, &online.server, lease, instance_id, now);
    if let Some((state, message)) = standing.off {
        // A license that is itself expired or not yet valid says so instead.
        if status.state.features_on() {
            status.state = state;
            status.message = message;
            status.features.clear();
        }
    }
    status.online = Some(standing.online);
    status
}
