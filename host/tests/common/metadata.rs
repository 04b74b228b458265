//! `cargo metadata` for the tests that check the workspace's shape (`layers.rs`,
//! `licenses.rs`); included by path, so they need not compile the rest of `common`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// `cargo metadata --format-version 1 <args>` at the workspace root, parsed.
pub fn cargo_metadata(args: &[&str]) -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["metadata", "--format-version", "1"])
        .args(args)
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
