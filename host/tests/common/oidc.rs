//! A real OpenID provider for tests: npm `oidc-provider` run by Node
//! (`host/tests/sso/provider.mjs`, installed there by `.ci/test` with `npm ci`), with one
//! confidential client and accounts whose claims a test can change while it runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

pub struct Provider {
    child: Child,
    pub issuer: String,
    config: PathBuf,
    _dir: tempfile::TempDir,
    client: Value,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const CLIENT_ID: &str = "validibot-test";
pub const CLIENT_SECRET: &str = "a-test-client-secret-of-some-length";

impl Provider {
    /// Starts the provider for a client that may redirect to `redirect_uris`, with
    /// `accounts` (`{login: {password, claims}}`). Panics, saying how to install it,
    /// when Node or the package is missing.
    pub fn start(redirect_uris: &[String], accounts: Value) -> Provider {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("provider.json");
        let client = json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": redirect_uris,
        });
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sso");
        assert!(
            root.join("node_modules/oidc-provider").is_dir(),
            "npm oidc-provider is needed for the SSO tests: npm ci --prefix host/tests/sso (.ci/test does)"
        );
        write_config(&config, &client, accounts);
        let port = super::free_port();
        let mut child = Command::new("node")
            .arg(root.join("provider.mjs"))
            .arg(port.to_string())
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Node is needed for the SSO tests (apt-get install nodejs; .ci/test does)");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // The provider prints notices later: they are read (and dropped) so that it
        // never writes to a closed pipe, which would stop it.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let issuer = line.trim().strip_prefix("ready ").map(str::to_owned);
        let provider = Provider {
            child,
            issuer: issuer.clone().unwrap_or_default(),
            config,
            _dir: dir,
            client,
        };
        assert!(
            issuer.is_some(),
            "the OpenID provider did not start: {line:?}"
        );
        provider
    }

    /// Replaces the accounts (the provider reads them at each sign-in).
    pub fn set_accounts(&self, accounts: Value) {
        write_config(&self.config, &self.client, accounts);
    }
}

/// Writes the provider's file whole (a rename: it never reads half of one).
fn write_config(path: &Path, client: &Value, accounts: Value) {
    let mut config = client.clone();
    config["accounts"] = accounts;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, config.to_string()).unwrap();
    std::fs::rename(tmp, path).unwrap();
}
