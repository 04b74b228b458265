//! The `batch/v1` Job one asynchronous step becomes: the synchronous runner's hardening
//! expressed as pod security — non-root, read-only root file system, every capability
//! dropped, no privilege escalation, RuntimeDefault seccomp, no service-account token,
//! no service links, CPU and memory limits (requests equal: Guaranteed QoS), the step's
//! deadline as `activeDeadlineSeconds`, no retries by Kubernetes (a retry is the
//! workflow engine's, with a new launch) — and the Docker runner's labels. An init
//! container copies the agent (`validibot agent install`, from the Validibot image)
//! into a volume the validator mounts read-only; the agent then runs the image's own
//! command. The network is the chart's NetworkPolicy's business (it selects these
//! labels): egress to the bucket and the callback URL only.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, LocalObjectReference,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::super::envelope::{INPUT_DIR, OUTPUT_DIR};
use super::super::launcher::{RemoteJob, AGENT_PATH};

/// The validator's container (its state is the step's).
pub const VALIDATOR: &str = "validator";
/// The init container that installs the agent.
pub const AGENT_INSTALL: &str = "agent-install";
/// Where the agent's volume is mounted (it holds [`AGENT_PATH`]).
const AGENT_DIR: &str = "/opt/validibot";
/// The unprivileged user validators run as (as `hardening::USER` on Docker).
const NOBODY: i64 = 65534;
/// How long a finished Job stays for the reconciler to read (collecting deletes it first).
pub const TTL_AFTER_FINISHED: i32 = 3600;

/// What the operator decides for every Job (`VALIDIBOT_KUBERNETES_*`).
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub namespace: String,
    /// The Validibot image (the init container runs `validibot agent install` from it).
    pub agent_image: String,
    /// Secrets the cluster pulls validator images with.
    pub image_pull_secrets: Vec<String>,
}

/// A DNS-1123 label of at most 63 characters (Job and pod names, `job-name` label).
pub fn job_name(validator: &str) -> String {
    let slug: String = validator
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .take(20)
        .collect();
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "step" } else { slug };
    format!("vb-{slug}-{}", uuid::Uuid::now_v7().simple())
}

/// The Job for `job` named `name`; `command` is the image's entrypoint and command.
pub fn job(settings: &JobSettings, job: &RemoteJob, name: &str, command: &[String]) -> Job {
    let labels: BTreeMap<String, String> = job.labels().into_iter().collect();
    let limits = &job.limits;
    let memory = Quantity(limits.memory_bytes.to_string());
    let cpu = Quantity(format!(
        "{}m",
        (limits.cpus * 1000.0).round().max(1.0) as i64
    ));
    let resources = ResourceRequirements {
        limits: Some(BTreeMap::from([
            ("cpu".to_string(), cpu.clone()),
            ("memory".to_string(), memory.clone()),
        ])),
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), cpu),
            ("memory".to_string(), memory),
        ])),
        ..Default::default()
    };
    let agent_resources = ResourceRequirements {
        limits: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("100m".into())),
            ("memory".to_string(), Quantity("64Mi".into())),
        ])),
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("100m".into())),
            ("memory".to_string(), Quantity("64Mi".into())),
        ])),
        ..Default::default()
    };
    let memory_dir = |name: &str, bytes: u64| Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".into()),
            size_limit: Some(Quantity(bytes.to_string())),
        }),
        ..Default::default()
    };
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..Default::default()
    };
    let env = job
        .environment()
        .into_iter()
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..Default::default()
        })
        .collect();
    let pod = PodSpec {
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(limits.grace.as_secs() as i64),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(NOBODY),
            run_as_group: Some(NOBODY),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        image_pull_secrets: (!settings.image_pull_secrets.is_empty()).then(|| {
            settings
                .image_pull_secrets
                .iter()
                .map(|name| LocalObjectReference { name: name.clone() })
                .collect()
        }),
        init_containers: Some(vec![Container {
            name: AGENT_INSTALL.into(),
            image: Some(settings.agent_image.clone()),
            args: Some(vec!["agent".into(), "install".into(), AGENT_PATH.into()]),
            security_context: Some(hardened()),
            resources: Some(agent_resources),
            volume_mounts: Some(vec![mount("agent", AGENT_DIR, false)]),
            ..Default::default()
        }]),
        containers: vec![Container {
            name: VALIDATOR.into(),
            image: Some(job.image_ref.clone()),
            command: Some(vec![AGENT_PATH.into(), "--".into()]),
            args: Some(command.to_vec()),
            env: Some(env),
            security_context: Some(hardened()),
            resources: Some(resources),
            volume_mounts: Some(vec![
                mount("agent", AGENT_DIR, true),
                mount("input", INPUT_DIR, false),
                mount("output", OUTPUT_DIR, false),
                mount("tmp", "/tmp", false),
            ]),
            ..Default::default()
        }],
        volumes: Some(vec![
            memory_dir("agent", 64 << 20),
            memory_dir("input", job.input_tmpfs_bytes()),
            memory_dir("output", job.output_tmpfs_bytes()),
            memory_dir("tmp", limits.tmpfs_bytes),
        ]),
        ..Default::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some((limits.timeout + limits.grace).as_secs() as i64 + 60),
            ttl_seconds_after_finished: Some(TTL_AFTER_FINISHED),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every container's security context: what `hardening::host_config` sets on Docker.
fn hardened() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::launcher::Pointers;
    use crate::containers::Limits;

    fn remote_job() -> RemoteJob {
        RemoteJob {
            run_id: "0190c4f6-5d3a-7cc1-a1b2-0123456789ab".into(),
            validator: "energyplus".into(),
            image: "sha256:abc".into(),
            image_ref: "registry.example.org/energyplus@sha256:0123".into(),
            command: None,
            env: vec![("EPLUS_THREADS".into(), "1".into())],
            limits: Limits::default(),
            pointers: Pointers {
                input_uri: "https://bucket/in?sig".into(),
                output_uri: "https://bucket/out?sig".into(),
                callback_url: "http://validibot/api/v1/callbacks/ab".into(),
                callback_token: "v1.1.x".into(),
                artifact_uris: vec!["https://bucket/a0?sig".into()],
            },
            input_bytes: 1 << 20,
        }
    }

    #[test]
    fn job_names_are_dns_labels() {
        for slug in [
            "energyplus",
            "FMI_Runner.v2",
            "a-very-long-validator-slug-indeed",
            "_",
        ] {
            let name = job_name(slug);
            assert!(name.len() <= 63, "{name}");
            assert!(name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            assert!(!name.ends_with('-') && name.starts_with("vb-"), "{name}");
        }
    }

    #[test]
    fn the_job_is_hardened_and_carries_the_pointers() {
        let settings = JobSettings {
            namespace: "validibot".into(),
            agent_image: "validibot/validibot:1".into(),
            image_pull_secrets: vec!["regcred".into()],
        };
        let j = job(
            &settings,
            &remote_job(),
            "vb-energyplus-1",
            &["energyplus".into()],
        );
        let v = serde_json::to_value(&j).unwrap();
        let pod = &v["spec"]["template"]["spec"];
        assert_eq!(v["spec"]["backoffLimit"], 0);
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let c = &pod["containers"][0];
        assert_eq!(c["command"], serde_json::json!([AGENT_PATH, "--"]));
        assert_eq!(c["args"], serde_json::json!(["energyplus"]));
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
        let env: Vec<&str> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(env.contains(&"VALIDIBOT_INPUT_URI") && env.contains(&"EPLUS_THREADS"));
        assert_eq!(c["resources"]["limits"], c["resources"]["requests"]);
        assert_eq!(
            v["metadata"]["labels"][crate::containers::docker::LABEL_RUN_ID],
            "0190c4f6-5d3a-7cc1-a1b2-0123456789ab"
        );
    }
}
