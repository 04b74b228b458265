//! Time as stored: microseconds since the Unix epoch, rendered as RFC 3339 in the API.

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub fn rfc3339(us: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(us as i128 * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// An RFC 3339 time (`2026-12-02T10:00:00Z`) as microseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

/// serde helper: a stored microsecond time as RFC 3339.
pub fn serialize_us<S: serde::Serializer>(us: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*us))
}

/// serde helper for optional times.
pub fn serialize_opt_us<S: serde::Serializer>(us: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match us {
        Some(us) => s.serialize_str(&rfc3339(*us)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_micros() {
        assert_eq!(
            super::rfc3339(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(
            super::parse_rfc3339("2023-11-14T22:13:20.123456Z"),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(super::parse_rfc3339("yesterday"), None);
    }
}
