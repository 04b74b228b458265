//! A real Docker engine for the container tests: the docker CLI and the
//! conformance image (busybox on an empty base) built once per test binary.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap_or_else(|e| {
        panic!("the docker CLI is needed for these tests (run `bash .ci/test`, which installs a Docker engine): {e}")
    });
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The engine behind the socket is Podman (its Docker-compatible API).
#[allow(dead_code)]
pub fn engine_is_podman() -> bool {
    docker(&["version", "--format", "{{json .Server}}"]).contains("Podman")
}

/// Builds the conformance image once; returns its image ID.
pub fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let context = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/containers/conformance");
        for f in ["Dockerfile", "validator.sh"] {
            std::fs::copy(src.join(f), context.path().join(f)).unwrap();
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is needed to build the conformance image (apt-get install busybox-static)");
        std::fs::copy(busybox, context.path().join("busybox")).unwrap();
        docker(&["build", "-q", "-t", "validibot-conformance:test", context.path().to_str().unwrap()]);
        docker(&["image", "inspect", "--format", "{{.Id}}", "validibot-conformance:test"])
    })
}
