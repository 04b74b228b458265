//! Builds the Pro extension the way a self-builder would, trusting a key pair this
//! test run generated, and wraps the vendor tool that issues license files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

pub const KID: &str = "test-vendor-1";

pub struct Pro {
    /// The built `libvalidibot_commercial.so` and its `.sig`.
    pub library: PathBuf,
    pub signature: PathBuf,
    /// `validibot-license` built in the same run.
    pub tool: PathBuf,
    pub keys: PathBuf,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn target_dir() -> PathBuf {
    super::target_root().join("test-extension")
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    for (key, _) in std::env::vars() {
        if key == "RUSTFLAGS"
            || key.starts_with("CARGO_ENCODED_RUSTFLAGS")
            || key == "CARGO_TARGET_DIR"
            || key.starts_with("CARGO_BUILD_")
        {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// The Pro extension, built once per test process (cached by cargo across runs).
pub fn pro() -> &'static Pro {
    static PRO: OnceLock<Pro> = OnceLock::new();
    PRO.get_or_init(|| {
        let keys = target_dir().join("keys");
        let target = target_dir();
        // The tool first (it does not embed keys), to make this run's key pair.
        let tool = target.join("release").join("validibot-license");
        if !keys.join(format!("{KID}.key")).exists() {
            let status = cargo()
                .args([
                    "build",
                    "--release",
                    "-p",
                    "validibot-commercial",
                    "--bin",
                    "validibot-license",
                    "--target-dir",
                ])
                .arg(&target)
                .status()
                .unwrap();
            assert!(status.success(), "building validibot-license failed");
            let out = Command::new(&tool)
                .args(["keygen", "--kid", KID, "--out"])
                .arg(&keys)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "keygen: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let status = cargo()
            .args([
                "build",
                "--release",
                "-p",
                "validibot-commercial",
                "--target-dir",
            ])
            .arg(&target)
            .env(
                "VALIDIBOT_LICENSE_EXTRA_KEYS",
                keys.join(format!("{KID}.pub")),
            )
            .status()
            .unwrap();
        assert!(status.success(), "building the Pro extension failed");
        let library = target.join("release").join("libvalidibot_commercial.so");
        let out = Command::new(&tool)
            .args(["sign-extension", "--key"])
            .arg(keys.join(format!("{KID}.key")))
            .arg(&library)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sign-extension: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut signature = library.clone().into_os_string();
        signature.push(".sig");
        Pro {
            library,
            signature: signature.into(),
            tool,
            keys,
        }
    })
}

impl Pro {
    /// `kid:base64` of the test key, for `VALIDIBOT_EXTENSION_TRUSTED_KEYS`.
    pub fn trusted_key(&self) -> String {
        std::fs::read_to_string(self.keys.join(format!("{KID}.pub")))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Copies the signed extension into `dir` (an instance's extensions directory).
    pub fn install_into(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(&self.library, dir.join("libvalidibot_commercial.so")).unwrap();
        std::fs::copy(&self.signature, dir.join("libvalidibot_commercial.so.sig")).unwrap();
    }

    /// Issues a license file with the vendor tool; `key` is a key file (default: the trusted one).
    pub fn issue(&self, payload: &Value, key: Option<&Path>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let payload_file = dir.path().join("payload.json");
        std::fs::write(&payload_file, payload.to_string()).unwrap();
        let default_key = self.keys.join(format!("{KID}.key"));
        let out = Command::new(&self.tool)
            .args(["issue", "--key"])
            .arg(key.unwrap_or(&default_key))
            .arg("--payload")
            .arg(&payload_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "issue: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A key pair the extension does not trust.
    pub fn stranger_key(&self, dir: &Path) -> PathBuf {
        let out = Command::new(&self.tool)
            .args(["keygen", "--kid", "stranger", "--out"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        dir.join("stranger.key")
    }
}

/// The faulty test extension (`host/tests/extensions/faulty`).
pub fn faulty() -> &'static PathBuf {
    static FAULTY: OnceLock<PathBuf> = OnceLock::new();
    FAULTY.get_or_init(|| {
        let status = cargo()
            .current_dir(root().join("host/tests/extensions/faulty"))
            .args(["build", "--release", "--target-dir"])
            .arg(target_dir())
            .status()
            .unwrap();
        assert!(status.success(), "building the faulty extension failed");
        target_dir()
            .join("release")
            .join("libvalidibot_test_faulty_extension.so")
    })
}

/// A license payload: `days` until expiry (negative: already expired), issued a year ago.
pub fn payload(serial: u64, days: i64, workspaces: u64) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    serde_json::json!({
        "license_id": "lic-test",
        "serial": serial,
        "customer": "Test Customer",
        "edition": "pro",
        "features": ["workspaces.multiple", "workspaces.teams", "validators.advanced", "validators.user_images", "audit.log"],
        "limits": {"workspaces": workspaces, "seats": 50},
        "issued_at": fmt(now - time::Duration::days(365)),
        "not_before": fmt(now - time::Duration::days(365)),
        "expires_at": fmt(now + time::Duration::days(days)),
        "grace_days": 14,
    })
}

/// A Pro instance (SQLite) with a valid license and one catalog image registered:
/// the server, the instance (kept alive with it), an owner's API key and the registration.
#[allow(dead_code)]
pub fn serve_with_catalog_image(
    image: &str,
    image_id: &str,
) -> (super::Instance, super::Server, String, Value) {
    let pro = pro();
    let inst = super::Instance::new(super::Backend::Sqlite);
    pro.install_into(&inst.data.path().join("extensions"));
    let admin = inst.user("admin", "owner");
    let trusted = pro.trusted_key();
    let server = inst.serve_with_env(
        &[],
        &[("VALIDIBOT_EXTENSION_TRUSTED_KEYS", trusted.as_str())],
    );
    let (status, body) = super::json_of(
        server
            .put(&admin, "/api/v1/license")
            .header("content-type", "text/plain")
            .body(pro.issue(&payload(1, 200, 5), None))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = super::json_of(
        server
            .post(&admin, "/api/v1/validators/containers")
            .json(&serde_json::json!({ "image": image }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["image_id"], image_id);
    assert_eq!(
        body["feature"], "validators.advanced",
        "a catalog validator"
    );
    (inst, server, admin, body)
}

/// The real clock, moved: libfaketime (Debian package `faketime`) preloaded into a
/// process shifts what it reads as the time of day by `offset` (`+6d`, `+8d`), while
/// monotonic clocks (timers, timeouts) stay real.
#[allow(dead_code)]
pub fn shifted_clock(offset: &str) -> Vec<(&'static str, String)> {
    const LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
    assert!(
        Path::new(LIB).exists(),
        "{LIB} is missing: install the Debian package faketime (.ci/test does)"
    );
    vec![
        ("LD_PRELOAD", LIB.to_owned()),
        ("FAKETIME", offset.to_owned()),
        ("DONT_FAKE_MONOTONIC", "1".to_owned()),
    ]
}

/// The vendor's license server (`validibot-license serve`), a real process.
#[allow(dead_code)]
pub struct LicenseServer {
    child: std::process::Child,
    pub url: String,
    pub token: String,
}

impl Drop for LicenseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(dead_code)]
impl LicenseServer {
    /// Starts on `listen` (`127.0.0.1:0` for any port) with its ledger in `dir` and
    /// its clock shifted by `offset` (`+0d`: the real time).
    pub fn start(pro: &Pro, dir: &Path, listen: &str, offset: &str) -> LicenseServer {
        use std::io::BufRead;
        let token = "vendor-admin-token-for-tests-0001".to_owned();
        std::fs::write(dir.join("admin.token"), &token).unwrap();
        let mut child = Command::new(&pro.tool)
            .args(["serve", "--listen", listen, "--key"])
            .arg(pro.keys.join(format!("{KID}.key")))
            .arg("--ledger")
            .arg(dir.join("ledger.json"))
            .arg("--admin-token-file")
            .arg(dir.join("admin.token"))
            .envs(shifted_clock(offset))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("license server listening on ")
            .unwrap_or_else(|| panic!("license server did not start: {line:?}"))
            .to_owned();
        LicenseServer { child, url, token }
    }

    /// `host:port`, to start again on the same address.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// A vendor API call (`POST /v1/admin/licenses/{id}/revoke`, …).
    pub fn admin(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let resp = reqwest::blocking::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap())
    }
}

/// Makes `inst` a licensed Pro instance: the extension installed and trusted, a license
/// for 200 days and 5 workspaces installed; returns an owner's API key.
#[allow(dead_code)]
pub fn licensed(inst: &mut super::Instance) -> String {
    let pro = pro();
    inst.env
        .push(("VALIDIBOT_EXTENSION_TRUSTED_KEYS".into(), pro.trusted_key()));
    pro.install_into(&inst.data.path().join("extensions"));
    let key = inst.user("admin", "owner");
    let license = inst.data.path().join("license.txt");
    std::fs::write(&license, pro.issue(&payload(1, 200, 5), None)).unwrap();
    inst.cli(&["license", "install", license.to_str().unwrap()]);
    key
}
