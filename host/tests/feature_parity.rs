//! The binary the tests run is the binary users run: `cargo build -p validibot` (README
//! command 1, the Dockerfile) must need no compilation unit that the test build
//! (`cargo build --workspace --all-targets`) does not also build — same package, target,
//! profile and features — or cargo builds a second, different binary. This compares the
//! two build plans (cargo's unit graph; `RUSTC_BOOTSTRAP` only unlocks the flag that
//! prints the plan, nothing is built) and names what `workspace-hack/Cargo.toml` must
//! add. `.ci/readme-quickstart.sh` also fails if command 1 compiles anything after the tests.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

fn plan(args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("RUSTC_BOOTSTRAP", "1")
        .args([
            "build",
            "--offline",
            "--release",
            "--unit-graph",
            "-Z",
            "unstable-options",
        ])
        .args(args)
        .output()
        .expect("running cargo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph: Value = serde_json::from_slice(&out.stdout).unwrap();
    graph["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let package = u["pkg_id"].as_str().unwrap().rsplit('#').next().unwrap();
            // Build scripts and proc-macros (and what they use) have their own profile,
            // which tells them apart from the binary's dependencies.
            format!(
                "{package} {} ({}) features {} profile {}",
                u["target"]["name"].as_str().unwrap(),
                u["mode"].as_str().unwrap(),
                u["features"],
                u["profile"]
            )
        })
        .collect()
}

#[test]
fn the_readme_build_needs_nothing_the_test_build_does_not_build() {
    let readme = plan(&[]);
    let tested = plan(&["--workspace", "--all-targets"]);
    let missing: Vec<&String> = readme.difference(&tested).collect();
    assert!(
        missing.is_empty(),
        "`cargo build --release` would compile these units the tests never built; give the \
         features the test build has for them to workspace-hack/Cargo.toml:\n{}",
        missing
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
