//! Makes sure the toolchain building the host can also build the built-in validators:
//! a stable toolchain installed before `rust-toolchain.toml` named `wasm32-wasip2` lacks
//! that target's standard library, so the build adds it through rustup itself.
//! Shared by `build.rs` and its test (`tests/build_script.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// The sysroot of `rustc` (`rustc --print sysroot`).
pub fn sysroot(rustc: &str) -> Option<PathBuf> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Whether the sysroot has `target`'s standard library.
pub fn has(sysroot: &Path, target: &str) -> bool {
    sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// Adds the target with `rustup` when it is missing. `toolchain` is the toolchain rustup
/// chose for this build (`RUSTUP_TOOLCHAIN`), so the target lands where it is needed.
/// Returns what happened, for the build log; an error when the target is missing and
/// cannot be added.
pub fn ensure(rustc: &str, rustup: &str, toolchain: Option<&str>) -> Result<&'static str, String> {
    ensure_target(rustc, rustup, toolchain, TARGET)
}

/// [`ensure`] for any target (the agent's `x86_64-unknown-linux-musl` too).
pub fn ensure_target(
    rustc: &str,
    rustup: &str,
    toolchain: Option<&str>,
    target: &str,
) -> Result<&'static str, String> {
    let Some(root) = sysroot(rustc) else {
        // Not a rustc we can ask; let the nested build report what is wrong.
        return Ok("sysroot unknown");
    };
    if has(&root, target) {
        return Ok("present");
    }
    let mut cmd = Command::new(rustup);
    cmd.args(["target", "add", target]);
    if let Some(t) = toolchain.filter(|t| !t.is_empty()) {
        cmd.args(["--toolchain", t]);
    }
    match cmd.status() {
        Ok(s) if s.success() => Ok("added"),
        Ok(s) => Err(format!(
            "the {target} target is missing and `rustup target add {target}` failed ({s})"
        )),
        Err(e) => Err(format!(
            "the {target} target is missing from {} and rustup could not be run ({e}): \
             install it with `rustup target add {target}`",
            root.display()
        )),
    }
}
