//! The fixed hardening every validator container gets, and the check, after
//! create, that the engine applied it (an engine that silently ignores a limit —
//! no memory cgroup, say — must not run untrusted validators).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerInspectResponse, HostConfig, HostConfigLogConfig, ResourcesUlimits,
};

/// Resource limits of one container run.
#[derive(Debug, Clone)]
pub struct Limits {
    pub memory_bytes: i64,
    /// CPUs (fractions allowed).
    pub cpus: f64,
    pub pids: i64,
    /// Size of the writable `/tmp` tmpfs.
    pub tmpfs_bytes: u64,
    /// `/tmp` allows executing and mapping code: only for validators that must load
    /// code from their input (an FMU's shared library); declared by the image's label.
    pub tmpfs_exec: bool,
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
            tmpfs_exec: false,
            timeout: Duration::from_secs(600),
            grace: Duration::from_secs(5),
            log_bytes: 64 << 10,
            output_bytes: 8 << 20,
        }
    }
}

/// Open file descriptors a validator may hold.
pub const NOFILE: i64 = 4096;
/// Processes of the validators' user. The pids limit is what bounds one container;
/// this is set only so no engine picks a default above its host's hard limit
/// (Podman asks for more than many hosts allow and then cannot start anything).
pub const NPROC: i64 = 4096;

/// The non-root user validators run as (`nobody`).
pub const USER: &str = "65534:65534";

pub fn host_config(limits: &Limits, binds: Vec<String>) -> HostConfig {
    HostConfig {
        network_mode: Some("none".into()),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([("/tmp".to_string(), tmpfs_options(limits))])),
        pids_limit: Some(limits.pids),
        memory: Some(limits.memory_bytes),
        memory_swap: Some(limits.memory_bytes),
        nano_cpus: Some((limits.cpus * 1e9) as i64),
        // Explicit, so a validator cannot hold thousands of files open and so no
        // engine asks for more than its host allows (Podman's defaults fail where
        // the host's hard limits are lower).
        ulimits: Some(
            [("nofile", NOFILE), ("nproc", NPROC)]
                .into_iter()
                .map(|(name, n)| ResourcesUlimits {
                    name: Some(name.into()),
                    soft: Some(n),
                    hard: Some(n),
                })
                .collect(),
        ),
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

/// Mount options of the `/tmp` tmpfs.
pub fn tmpfs_options(limits: &Limits) -> String {
    let exec = if limits.tmpfs_exec { "exec" } else { "noexec" };
    format!("rw,{exec},nosuid,nodev,size={}", limits.tmpfs_bytes)
}

/// The capabilities an engine grants a container by default (Docker's and Podman's list).
const DEFAULT_CAPABILITIES: [&str; 14] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Docker reports `CapDrop: ["ALL"]`; Podman reports the default capabilities it
/// dropped, one by one. Either way nothing may be added back.
fn drops_all_capabilities(hc: &HostConfig) -> bool {
    let dropped: Vec<String> = hc
        .cap_drop
        .iter()
        .flatten()
        .map(|c| c.to_ascii_uppercase().trim_start_matches("CAP_").to_owned())
        .collect();
    let added = hc.cap_add.as_ref().is_some_and(|a| !a.is_empty());
    let all = dropped.iter().any(|c| c == "ALL")
        || DEFAULT_CAPABILITIES
            .iter()
            .all(|d| dropped.iter().any(|c| c == d));
    all && !added
}

/// Differences between what was asked and what the engine reports it applied.
pub fn not_applied(limits: &Limits, inspected: &ContainerInspectResponse) -> Vec<String> {
    not_applied_on(limits, inspected, "none")
}

/// [`not_applied`] for a container on `network` (an asynchronous step's, which must
/// reach the bucket and the callback URL).
pub fn not_applied_on(
    limits: &Limits,
    inspected: &ContainerInspectResponse,
    network: &str,
) -> Vec<String> {
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
        &format!("network_mode={network}"),
        hc.network_mode.as_deref() == Some(network),
    );
    check("cap_drop=ALL", drops_all_capabilities(hc));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(drop: &[&str], add: &[&str]) -> HostConfig {
        HostConfig {
            cap_drop: Some(drop.iter().map(|s| s.to_string()).collect()),
            cap_add: Some(add.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn all_capabilities_dropped_as_docker_or_podman_report_it() {
        assert!(drops_all_capabilities(&caps(&["ALL"], &[])));
        assert!(drops_all_capabilities(&caps(&DEFAULT_CAPABILITIES, &[])));
        let prefixed: Vec<String> = DEFAULT_CAPABILITIES
            .iter()
            .map(|c| format!("CAP_{c}"))
            .collect();
        let prefixed: Vec<&str> = prefixed.iter().map(String::as_str).collect();
        assert!(drops_all_capabilities(&caps(&prefixed, &[])));
        assert!(
            !drops_all_capabilities(&caps(&DEFAULT_CAPABILITIES[1..], &[])),
            "one left"
        );
        assert!(
            !drops_all_capabilities(&caps(&["ALL"], &["NET_ADMIN"])),
            "one added back"
        );
        assert!(!drops_all_capabilities(&HostConfig::default()));
    }
}
