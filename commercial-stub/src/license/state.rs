//! The license state at a moment, computed at use (never stored): a license that
//! expires needs no job to turn Pro off, and a renewal turns it back on at once.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Limits, Payload};
use validibot_types::hooks::OnlineStatus;

/// Warn this many days before expiry.
const EXPIRING_SOON_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseState {
    Community,
    Valid,
    ExpiringSoon,
    Grace,
    Expired,
    Invalid,
    OverLimit,
}

impl LicenseState {
    /// Whether the license's features are on in this state.
    pub fn features_on(self) -> bool {
        matches!(
            self,
            LicenseState::Valid
                | LicenseState::ExpiringSoon
                | LicenseState::Grace
                | LicenseState::OverLimit
        )
    }
}

/// What the instance uses against the license's limits.
pub use validibot_types::hooks::Usage;

/// The answer to `license.status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub edition: String,
    pub state: LicenseState,
    /// Features on right now (empty unless the state turns them on).
    pub features: Vec<String>,
    pub limits: Limits,
    pub usage: Usage,
    /// One sentence for the operator.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<Summary>,
    /// Online licenses: the standing with the license server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineStatus>,
}

/// The license's facts, for admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub license_id: String,
    pub serial: u64,
    pub customer: String,
    pub licensed_features: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub grace_days: u32,
    /// Whole days until expiry (negative once expired).
    pub days_left: i64,
}

impl Status {
    /// No license installed.
    pub fn community(usage: Usage) -> Status {
        Status {
            edition: "community".into(),
            state: LicenseState::Community,
            features: Vec::new(),
            limits: Limits::default(),
            usage,
            message: "no license installed: Community edition".into(),
            license: None,
            online: None,
        }
    }

    /// A license file that does not verify.
    pub fn invalid(usage: Usage, why: String) -> Status {
        Status {
            edition: "pro".into(),
            state: LicenseState::Invalid,
            features: Vec::new(),
            limits: Limits::default(),
            usage,
            message: why,
            license: None,
            online: None,
        }
    }

    /// A verified license at `now` (Unix seconds), its dates and limits only.
    pub fn of(payload: &Payload, now: i64, usage: Usage) -> Status {
        let expires = payload.expires_at.unix_timestamp();
        let grace_end = expires + i64::from(payload.grace_days) * 86_400;
        let days_left = (expires - now).div_euclid(86_400);
        let over = |limit: Option<u64>, used: u64| limit.is_some_and(|l| used > l);
        let (state, message) = if now < payload.not_before.unix_timestamp() {
            (
                LicenseState::Invalid,
                format!(
                    "license is not valid before {}",
                    rfc3339(payload.not_before)
                ),
            )
        } else if now >= grace_end {
            (
                LicenseState::Expired,
                format!(
                    "license expired on {}: Pro features are off; nothing was deleted, and renewing restores them",
                    rfc3339(payload.expires_at)
                ),
            )
        } else if now >= expires {
            (
                LicenseState::Grace,
                format!(
                    "license expired on {}; Pro features stay on for the grace period, until {}",
                    rfc3339(payload.expires_at),
                    rfc3339(
                        OffsetDateTime::from_unix_timestamp(grace_end)
                            .unwrap_or(payload.expires_at)
                    )
                ),
            )
        } else if over(payload.limits.workspaces, usage.workspaces)
            || over(payload.limits.seats, usage.seats)
        {
            (
                LicenseState::OverLimit,
                format!(
                    "usage ({} workspaces, {} seats) is over the license limits ({}, {}): no further workspaces can be created; reduce usage or upgrade the license",
                    usage.workspaces,
                    usage.seats,
                    limit_text(payload.limits.workspaces),
                    limit_text(payload.limits.seats)
                ),
            )
        } else if expires - now <= EXPIRING_SOON_DAYS * 86_400 {
            (
                LicenseState::ExpiringSoon,
                format!(
                    "license expires on {} ({days_left} days left)",
                    rfc3339(payload.expires_at)
                ),
            )
        } else {
            (
                LicenseState::Valid,
                format!(
                    "licensed to {} until {}",
                    payload.customer,
                    rfc3339(payload.expires_at)
                ),
            )
        };
        let features = if state.features_on() {
            payload
                .features
                .iter()
                .filter(|f| crate::features::ALL.contains(&f.as_str()))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Status {
            edition: "pro".into(),
            state,
            features,
            limits: payload.limits.clone(),
            usage,
            message,
            license: Some(Summary {
                license_id: payload.license_id.clone(),
                serial: payload.serial,
                customer: payload.customer.clone(),
                licensed_features: payload.features.clone(),
                issued_at: payload.issued_at,
                not_before: payload.not_before,
                expires_at: payload.expires_at,
                grace_days: payload.grace_days,
                days_left,
            }),
            online: None,
        }
    }
}

/// Unix seconds as RFC 3339 (whole seconds).
pub(crate) fn rfc3339_unix(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map(rfc3339)
        .unwrap_or_else(|_| seconds.to_string())
}

/// Whole seconds: messages are read by people.
fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn limit_text(l: Option<u64>) -> String {
    l.map_or_else(|| "unlimited".into(), |l| l.to_string())
}
