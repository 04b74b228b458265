//! Computes the extension build fingerprint (`extension::FINGERPRINT`): the rustc
//! commit, the target and this crate's version. A native extension built with a
//! different compiler or SDK is refused by the host before any of its code runs.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let verbose = Command::new(&rustc)
        .arg("-vV")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let field = |name: &str| {
        verbose
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let commit = field("commit-hash:")
        .filter(|c| c != "unknown")
        .or_else(|| field("release:"))
        .unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!(
        "cargo:rustc-env=VALIDIBOT_EXTENSION_FINGERPRINT=rustc {commit}; {target}; validibot-plugin-api {version}"
    );
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-changed=build.rs");
}
