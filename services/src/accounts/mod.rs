//! How people get into an instance and back into their accounts: invitations mailed
//! to an address, single sign-on through OpenID providers, and password resets by mail.

pub mod invitations;
pub mod recovery;
pub mod sso;

use std::time::Duration;

/// How long the links in mail stay good.
#[derive(Debug, Clone, Copy)]
pub struct LinkLifetimes {
    pub invitation: Duration,
    pub password_reset: Duration,
}

impl Default for LinkLifetimes {
    fn default() -> Self {
        Self {
            invitation: Duration::from_secs(7 * 86_400),
            password_reset: Duration::from_secs(3_600),
        }
    }
}

/// Microseconds, as the store keeps times.
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
