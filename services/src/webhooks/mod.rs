//! Webhooks: endpoints a workspace registers hear of its events (a run's end, a
//! workflow's change), signed per Standard Webhooks, delivered from the database queue
//! by every worker process with retries and backoff, logged, and disabled after
//! repeated failure. `address` keeps deliveries off internal networks.

pub mod address;
pub mod dispatcher;
pub mod payload;
pub mod signature;

use std::time::Duration;

pub use address::AddressPolicy;

/// How deliveries are made (the operator's `VALIDIBOT_WEBHOOK_*` settings).
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: AddressPolicy,
    /// Waits before the 2nd, 3rd, … attempt; its length + 1 attempts in all.
    pub retry_schedule: Vec<Duration>,
    /// One attempt's time limit (connect to last byte).
    pub timeout: Duration,
    /// Deliveries in a row that failed every attempt before the endpoint is disabled.
    pub disable_after: i64,
    /// How often an idle dispatcher looks for due deliveries.
    pub poll: Duration,
    /// Days a finished delivery stays in the log.
    pub log_days: u32,
    /// Where links in payloads point (`VALIDIBOT_PUBLIC_URL`); paths only without it.
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            policy: AddressPolicy::default(),
            retry_schedule: DEFAULT_SCHEDULE
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            timeout: Duration::from_secs(15),
            disable_after: 5,
            poll: Duration::from_secs(1),
            log_days: 30,
            public_url: None,
        }
    }
}

/// Standard Webhooks' suggested schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h, 10 h (8 attempts over about 27 hours).
pub const DEFAULT_SCHEDULE: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];

/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// Parses a retry schedule such as `5s,5m,30m,2h` (units ms, s, m, h).
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|part| {
            let digits = part.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("{part:?} is not a duration such as 5s, 5m or 2h"))?;
            Ok(match &part[digits.len()..] {
                "ms" => Duration::from_millis(n),
                "s" | "" => Duration::from_secs(n),
                "m" => Duration::from_secs(n * 60),
                "h" => Duration::from_secs(n * 3600),
                unit => return Err(format!("unknown unit {unit:?} in {part:?} (ms, s, m or h)")),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_with_units() {
        assert_eq!(
            parse_schedule("5s, 5m,2h,250ms").unwrap(),
            [5, 300, 7200]
                .map(Duration::from_secs)
                .into_iter()
                .chain([Duration::from_millis(250)])
                .collect::<Vec<_>>()
        );
        assert!(parse_schedule("5d").is_err());
        assert!(parse_schedule("soon").is_err());
        assert_eq!(parse_schedule("").unwrap(), Vec::<Duration>::new());
    }
}
