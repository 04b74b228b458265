//! The build script adds a missing `wasm32-wasip2` target through rustup (README's two
//! commands stay two on a machine whose stable toolchain predates `rust-toolchain.toml`).
//! Fake `rustc` and `rustup` scripts stand in for the toolchain so the test can remove
//! the target without touching the real one.

#[path = "../../engines/build/wasm_target.rs"]
mod wasm_target;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The tests here write scripts and run them. A script written while another test's
/// thread forks can be held open for writing by the child for a moment, and running it
/// then fails with ETXTBSY ("text file busy") — so these tests take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_missing_target_is_added_with_rustup_for_the_active_toolchain() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let sysroot = dir.path().join("sysroot");
    std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu/lib")).unwrap();
    let rustc = dir.path().join("rustc");
    script(&rustc, &format!("echo {}", sysroot.display()));
    // The fake rustup records its arguments and installs the target's std dir.
    let log = dir.path().join("rustup.log");
    let rustup = dir.path().join("rustup");
    script(
        &rustup,
        &format!(
            "echo \"$@\" > {}\nmkdir -p {}/lib/rustlib/wasm32-wasip2/lib",
            log.display(),
            sysroot.display()
        ),
    );
    let r = wasm_target::ensure(
        rustc.to_str().unwrap(),
        rustup.to_str().unwrap(),
        Some("stable-x86_64-unknown-linux-gnu"),
    );
    assert_eq!(r, Ok("added"));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().trim(),
        "target add wasm32-wasip2 --toolchain stable-x86_64-unknown-linux-gnu"
    );
    // Present now: rustup is not asked again.
    std::fs::remove_file(&log).unwrap();
    let r = wasm_target::ensure(rustc.to_str().unwrap(), rustup.to_str().unwrap(), None);
    assert_eq!(r, Ok("present"));
    assert!(!log.exists());
}

#[test]
fn without_rustup_the_error_says_how_to_add_the_target() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let rustc = dir.path().join("rustc");
    script(&rustc, &format!("echo {}", dir.path().display()));
    let err = wasm_target::ensure(
        rustc.to_str().unwrap(),
        dir.path().join("no-rustup").to_str().unwrap(),
        None,
    )
    .unwrap_err();
    assert!(err.contains("rustup target add wasm32-wasip2"), "{err}");
}

#[test]
fn the_real_toolchain_has_the_target_after_the_build() {
    let _turn = turn();
    // This test binary was built, so the build script ran: the target must be there now.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let root = wasm_target::sysroot(&rustc).expect("rustc --print sysroot");
    assert!(
        wasm_target::has(&root, wasm_target::TARGET),
        "{}",
        root.display()
    );
}
