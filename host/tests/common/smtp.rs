//! A real SMTP server for tests: `aiosmtpd` (PyPI) on loopback, keeping every message
//! it is handed in a Maildir the test reads back.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Smtp {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One delivered message: the envelope recipient, its headers and its body.
#[derive(Debug, Clone)]
pub struct Mail {
    pub rcpt_to: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first link in the body containing `path` (e.g. `/ui/invitations/`).
    pub fn link(&self, path: &str) -> String {
        self.body
            .split_whitespace()
            .find(|w| w.contains(path))
            .unwrap_or_else(|| panic!("no {path} link in {:?}", self.body))
            .to_owned()
    }
}

impl Smtp {
    /// Starts the server; panics (saying how to install it) when aiosmtpd is missing.
    pub fn start() -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 is needed");
        let smtp = Smtp { child, port, dir };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "aiosmtpd did not start (pip install aiosmtpd; .ci/test installs it)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        smtp
    }

    /// `VALIDIBOT_SMTP_URL` for this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn new_dir(&self) -> PathBuf {
        self.dir.path().join("maildir").join("new")
    }

    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.new_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| {
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                (modified, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .map(|raw| parse(&raw))
            .collect()
    }

    /// Waits until `n` messages were delivered to `to` (any case); returns the newest.
    pub fn wait_for(&self, to: &str, n: usize) -> Mail {
        let start = Instant::now();
        loop {
            let mine: Vec<Mail> = self
                .messages()
                .into_iter()
                .filter(|m| m.rcpt_to.eq_ignore_ascii_case(to))
                .collect();
            if mine.len() >= n {
                return mine[n - 1].clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no mail #{n} to {to}; delivered: {:?}",
                self.messages()
                    .iter()
                    .map(|m| &m.rcpt_to)
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many messages went to `to`.
    pub fn count_to(&self, to: &str) -> usize {
        self.messages()
            .iter()
            .filter(|m| m.rcpt_to.eq_ignore_ascii_case(to))
            .count()
    }
}

/// Headers (unfolded) and body of a plain-text message.
fn parse(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let rcpt_to = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("X-RcptTo"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let quoted = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("Content-Transfer-Encoding")
            && v.eq_ignore_ascii_case("quoted-printable")
    });
    let body = if quoted {
        unquote(body)
    } else {
        body.to_owned()
    };
    Mail {
        rcpt_to,
        headers,
        body,
    }
}

/// Decodes a quoted-printable body (RFC 2045): soft line breaks and `=XX` bytes, as a
/// mail client shows it.
fn unquote(body: &str) -> String {
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
