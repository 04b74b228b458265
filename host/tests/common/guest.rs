//! Builds guest validator crates (test fixtures, examples) to wasm32-wasip2
//! components, the way a plugin author would: plain `cargo build --target wasm32-wasip2`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the crate at `crate_dir` (relative to the repository root, or absolute) and returns the
/// component's bytes. Uses its own target dir so it never waits on the outer build's lock.
pub fn build_guest(crate_dir: &str, artifact: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target_dir = super::target_root().join("test-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root.join(crate_dir))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (key, _) in std::env::vars() {
        if key == "RUSTFLAGS"
            || key.starts_with("CARGO_ENCODED_RUSTFLAGS")
            || key == "CARGO_TARGET_DIR"
            || key.starts_with("CARGO_BUILD_")
        {
            cmd.env_remove(&key);
        }
    }
    let status = cmd.status().expect("running cargo");
    assert!(
        status.success(),
        "building {crate_dir} for wasm32-wasip2 failed"
    );
    let wasm: PathBuf = target_dir
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{artifact}.wasm"));
    std::fs::read(&wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()))
}
