//! Mail: invitations and password-reset links go out over SMTP (`lettre`). Links point
//! at the configured public URL, never at a request's `Host` header (a forged header
//! would otherwise send a victim's reset link to another site).

pub mod letters;

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use letters::Letter;

/// How this instance sends mail.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:25`, `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465`.
    pub smtp_url: String,
    /// The `From:` address; `None`: `Validibot <noreply@HOST>`, HOST from the public URL.
    pub from: Option<String>,
    /// The address users reach the instance at, without a trailing slash.
    pub public_url: String,
    /// One message's time limit (connect, TLS, SMTP dialogue).
    pub timeout: Duration,
}

/// Sends this instance's mail.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
    /// The server as shown in errors and logs (no credentials).
    server: String,
}

/// A message that could not be handed to the mail server.
#[derive(Debug, thiserror::Error)]
#[error("the mail server {server} failed: {reason}")]
pub struct SendError {
    pub server: String,
    pub reason: String,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let url = url::Url::parse(&settings.smtp_url)
            .map_err(|e| anyhow::anyhow!("VALIDIBOT_SMTP_URL: {e}"))?;
        let server = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
            .map_err(|e| anyhow::anyhow!("VALIDIBOT_SMTP_URL {server}: {e}"))?
            .timeout(Some(settings.timeout))
            .build();
        let public_url = settings.public_url.trim_end_matches('/').to_owned();
        let from = match &settings.from {
            Some(from) => from.clone(),
            None => {
                let host = url::Url::parse(&public_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".into());
                format!("Validibot <noreply@{host}>")
            }
        };
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("VALIDIBOT_MAIL_FROM {from:?}: {e}"))?;
        Ok(Self {
            transport,
            from,
            public_url,
            server,
        })
    }

    /// An absolute link to a path of this instance (`/ui/…`).
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Whether the server answers and takes this instance's credentials (`config check`).
    pub async fn check(&self) -> Result<(), SendError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.fail("it did not answer NOOP".into())),
            Err(e) => Err(self.fail(e.to_string())),
        }
    }

    fn fail(&self, reason: String) -> SendError {
        SendError {
            server: self.server.clone(),
            reason,
        }
    }

    /// Sends one letter to one address; `Ok` once the server has taken it.
    pub async fn send(&self, to: &str, letter: &Letter) -> Result<(), SendError> {
        let fail = |reason: String| self.fail(reason);
        let to: Mailbox = to
            .parse()
            .map_err(|e| fail(format!("recipient {to:?}: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&letter.subject)
            .header(ContentType::TEXT_PLAIN)
            .header(AutoSubmitted)
            .body(letter.body.clone())
            .map_err(|e| fail(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| fail(e.to_string()))
    }
}

/// Whether an address can be mailed to (`name@domain`, as SMTP takes it).
pub fn is_address(text: &str) -> bool {
    text.len() <= 254 && text.parse::<lettre::Address>().is_ok()
}

/// `Auto-Submitted: auto-generated` (RFC 3834): auto-responders do not answer it.
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> MailSettings {
        MailSettings {
            smtp_url: url.into(),
            from: None,
            public_url: "https://validibot.example.com/".into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn links_and_sender_come_from_the_public_url() {
        let m = Mailer::new(&settings("smtp://user:secret@mail.example.com:2525")).unwrap();
        assert_eq!(
            m.link("/ui/invitations/x"),
            "https://validibot.example.com/ui/invitations/x"
        );
        assert_eq!(
            m.from.to_string(),
            "Validibot <noreply@validibot.example.com>"
        );
        assert_eq!(m.server, "smtp://mail.example.com:2525");
        assert!(!m.server.contains("secret"));
    }

    #[test]
    fn bad_settings_are_named() {
        let e = Mailer::new(&settings("http://mail.example.com"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("VALIDIBOT_SMTP_URL"), "{e}");
        let mut s = settings("smtp://mail.example.com");
        s.from = Some("not an address".into());
        let e = Mailer::new(&s).err().unwrap();
        assert!(e.to_string().contains("VALIDIBOT_MAIL_FROM"), "{e}");
    }

    #[test]
    fn addresses() {
        assert!(is_address("ada@example.com"));
        assert!(!is_address("ada"));
        assert!(!is_address("ada@"));
        assert!(!is_address("Ada <ada@example.com>"));
        assert!(!is_address(&format!("{}@example.com", "a".repeat(260))));
    }
}
