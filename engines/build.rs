//! Compiles the built-in validators (`plugins/*`) to wasm32-wasip2 components
//! and embeds them, so a plain `cargo build`/`cargo run` yields a complete binary.
//!
//! A nested cargo with its own target dir avoids the outer build's lock; the
//! outer build's compiler flags are cleared so they don't leak into the wasm build.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "build/wasm_target.rs"]
mod wasm_target;

/// (slug, crate dir under plugins/, artifact name)
const BUILTINS: &[(&str, &str, &str)] = &[
    ("json-schema", "json-schema", "validibot_plugin_json_schema"),
    ("csv", "csv", "validibot_plugin_csv"),
    ("rules", "rules", "validibot_plugin_rules"),
    ("xml-schema", "xml", "validibot_plugin_xml"),
    ("shacl", "shacl", "validibot_plugin_shacl"),
    ("schematron", "schematron", "validibot_plugin_schematron"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    // The built-ins' own crates only: tests build the examples under `plugins/examples`
    // (into ignored dirs), which must not make every later cargo command rebuild this.
    for (_, dir, _) in BUILTINS {
        println!(
            "cargo:rerun-if-changed={}",
            root.join("plugins").join(dir).display()
        );
    }
    for dir in ["plugin-api", "wit", "agent"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );

    println!("cargo:rerun-if-changed=build");
    // The host's own target triple, for tests that ask cargo about this build.
    println!(
        "cargo:rustc-env=VALIDIBOT_TEST_TARGET={}",
        env::var("TARGET").unwrap()
    );
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    if let Err(e) = wasm_target::ensure(&rustc, "rustup", toolchain.as_deref()) {
        panic!("{e}");
    }

    // Beside the outer build's outputs (a CARGO_TARGET_DIR outside the checkout too).
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-plugins");
    let mut generated = String::from("/// Built-in validators embedded at build time: (slug, component bytes).\npub const BUILTIN: &[(&str, &[u8])] = &[\n");
    for (slug, dir, artifact) in BUILTINS {
        build_plugin(&root, &root.join("plugins").join(dir), &target_dir);
        let wasm = target_dir
            .join("wasm32-wasip2")
            .join("release")
            .join(format!("{artifact}.wasm"));
        let embedded = out_dir.join(format!("{artifact}.wasm"));
        std::fs::copy(&wasm, &embedded)
            .unwrap_or_else(|e| panic!("copying {}: {e}", wasm.display()));
        writeln!(
            generated,
            "    ({slug:?}, include_bytes!({:?})),",
            embedded.display().to_string()
        )
        .unwrap();
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), generated).unwrap();
    let agent_dir = target_dir.with_file_name("agent");
    build_agent(&root, &rustc, toolchain.as_deref(), &agent_dir, &out_dir);
}

/// The asynchronous container steps' agent (`agent/`): a static musl binary, so it runs
/// in any image; embedded as `AGENT`.
fn build_agent(root: &Path, rustc: &str, toolchain: Option<&str>, target_dir: &Path, out: &Path) {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let target = format!("{arch}-unknown-linux-musl");
    if let Err(e) = wasm_target::ensure_target(rustc, "rustup", toolchain, &target) {
        panic!("{e}");
    }
    let mut cmd = nested_cargo(root, &root.join("agent"), &target, target_dir);
    // ring's C parts: the system compiler does for musl (no musl-gcc needed).
    let cc = format!("CC_{}", target.replace('-', "_"));
    if env::var_os(&cc).is_none() {
        cmd.env(&cc, "cc");
    }
    cmd.env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s");
    let status = cmd.status().expect("running cargo for the agent");
    assert!(status.success(), "building the agent for {target} failed");
    let built = target_dir
        .join(&target)
        .join("release")
        .join("validibot-agent");
    let embedded = out.join("validibot-agent");
    std::fs::copy(&built, &embedded).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
    std::fs::write(
        out.join("agent.rs"),
        format!(
            "/// The agent binary ({target}), mounted into asynchronous container steps.\npub const AGENT: &[u8] = include_bytes!({:?});\n",
            embedded.display().to_string()
        ),
    )
    .unwrap();
}

fn build_plugin(root: &Path, crate_dir: &Path, target_dir: &Path) {
    let mut cmd = nested_cargo(root, crate_dir, "wasm32-wasip2", target_dir);
    // Small components: no debug info in the embedded artifacts.
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    let status = cmd.status().expect("running cargo for the wasm plugins");
    assert!(
        status.success(),
        "building plugin {} for wasm32-wasip2 failed (if rustc says it can't find `std`, \
         the target is missing from an already installed toolchain: `rustup target add wasm32-wasip2`)",
        crate_dir.display()
    );
}

/// `cargo build --release --target <target>` of one crate into `target_dir`, with the
/// outer build's flags kept out.
fn nested_cargo(root: &Path, crate_dir: &Path, target: &str, target_dir: &Path) -> Command {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "--target", target, "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true") {
        cmd.arg("--offline");
    }
    for (key, _) in env::vars() {
        let leaks = key.starts_with("CARGO_ENCODED_RUSTFLAGS")
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_BUILD_")
            || key == "CARGO_TARGET_DIR"
            || key.starts_with("CARGO_CFG_")
            || key == "CARGO_MAKEFLAGS"
            || key == "RUSTC"
            || key == "RUSTDOC";
        if leaks {
            cmd.env_remove(&key);
        }
    }
    cmd
}
