//! Records the rustc that built this SDK (`VALIDIBOT_EXTENSION_RUSTC`): an informational
//! part of the extension fingerprint, shown in messages and never compared (see
//! `extension::fingerprint`).

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .and_then(|v| v.strip_prefix("rustc ").map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=VALIDIBOT_EXTENSION_RUSTC={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-changed=build.rs");
}
