//! The fixed hardening every validator container gets, and the check, after
//! create, that the engine applied it (an engine that silently ignores a limit —
//! no memory cgroup, say — must not run untrusted validators).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, HostConfig, HostConfigLogConfig};

/// Resource limits of one container run.
#[derive(Debug, Clone)]
pub struct Limits {
    pub memory_bytes: i64,
    /// CPUs (fractions allowed).
    pub cpus: f64,
    pub pids: i64,
    /// Size of the writable `/tmp` tmpfs.
    pub tmpfs_bytes: u64,
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL at the deadline.
    pub grace: Duration,
    /// Log bytes kept (head + tail).
    pub log_bytes: usize,
    /// Largest output envelope accepted.
    pub output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            cpus: 1.0,
            pids: 128,
            tmpfs_bytes: 64 << 20,
            timeout: Duration::from_secs(600),
            grace: Duration::from_secs(5),
            log_bytes: 64 << 10,
            output_bytes: 8 << 20,
        }
    }
}

/// The non-root user validators run as (`nobody`).
pub const USER: &str = "65534:65534";

pub fn host_config(limits: &Limits, binds: Vec<String>) -> HostConfig {
    HostConfig {
        network_mode: Some("none".into()),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([(
            "/tmp".to_string(),
            format!("rw,noexec,nosuid,size={}", limits.tmpfs_bytes),
        )])),
        pids_limit: Some(limits.pids),
        memory: Some(limits.memory_bytes),
        memory_swap: Some(limits.memory_bytes),
        nano_cpus: Some((limits.cpus * 1e9) as i64),
        binds: Some(binds),
        // The engine's own copy of the logs stays small whatever the validator prints.
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(HashMap::from([
                ("max-size".to_string(), "1m".to_string()),
                ("max-file".to_string(), "1".to_string()),
            ])),
        }),
        ..Default::default()
    }
}

/// Differences between what was asked and what the engine reports it applied.
pub fn not_applied(limits: &Limits, inspected: &ContainerInspectResponse) -> Vec<String> {
    let mut missing = Vec::new();
    let Some(hc) = &inspected.host_config else {
        return vec!["the engine returned no host config".into()];
    };
    let mut check = |what: &str, ok: bool| {
        if !ok {
            missing.push(what.to_string());
        }
    };
    check(
        "network_mode=none",
        hc.network_mode.as_deref() == Some("none"),
    );
    check(
        "cap_drop=ALL",
        hc.cap_drop
            .as_ref()
            .is_some_and(|c| c.iter().any(|x| x.eq_ignore_ascii_case("ALL"))),
    );
    check(
        "no-new-privileges",
        hc.security_opt
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x.starts_with("no-new-privileges"))),
    );
    check("read-only rootfs", hc.readonly_rootfs == Some(true));
    check(
        "tmpfs /tmp",
        hc.tmpfs.as_ref().is_some_and(|t| t.contains_key("/tmp")),
    );
    check("pids limit", hc.pids_limit == Some(limits.pids));
    check("memory limit", hc.memory == Some(limits.memory_bytes));
    check(
        "memory_swap = memory",
        hc.memory_swap == Some(limits.memory_bytes),
    );
    check(
        "CPU limit",
        hc.nano_cpus == Some((limits.cpus * 1e9) as i64),
    );
    let user = inspected
        .config
        .as_ref()
        .and_then(|c| c.user.clone())
        .unwrap_or_default();
    check(
        "non-root user",
        !user.is_empty() && !user.starts_with("0") && !user.starts_with("root"),
    );
    missing
}
