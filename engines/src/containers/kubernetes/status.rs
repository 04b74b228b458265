//! What a step's Job and its pod say, as the reconciler reads it. The Job's conditions
//! decide when present (`Complete`; `Failed`/`FailureTarget` with `DeadlineExceeded`);
//! otherwise the pod does: the validator container's termination (exit code, the
//! kubelet's `OOMKilled`), or a reason it will never start (an image that cannot be
//! pulled, a bad config, an eviction, the agent's install failing) — a host failure,
//! retried with a new launch. A pod waiting to be scheduled is still running: the
//! step's deadline bounds it.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::super::launcher::RemoteState;
use super::objects::{AGENT_INSTALL, VALIDATOR};

/// Waiting reasons that do not pass by themselves (`ErrImagePull` is retried by the
/// kubelet and becomes `ImagePullBackOff` when it keeps failing).
const STUCK: &[&str] = &[
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The state of the step whose Job is `job` (`None`: not found) and whose pods are `pods`.
pub fn state_of(job: Option<&Job>, pods: &[Pod]) -> RemoteState {
    let Some(job) = job else {
        return RemoteState::Missing;
    };
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let holds = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    let failed = holds("Failed").or_else(|| holds("FailureTarget"));
    if failed.is_some_and(|c| c.reason.as_deref() == Some("DeadlineExceeded")) {
        return RemoteState::DeadlineExceeded;
    }
    // The newest pod (with backoffLimit 0 there is one, unless it was replaced).
    let pod = pods
        .iter()
        .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let from_pod = pod.and_then(pod_state);
    match (
        holds("Complete").or_else(|| holds("SuccessCriteriaMet")),
        failed,
    ) {
        (Some(_), _) => from_pod.unwrap_or(RemoteState::Exited {
            exit_code: Some(0),
            oom: false,
        }),
        (None, Some(c)) => from_pod.unwrap_or_else(|| RemoteState::Exited {
            exit_code: None,
            oom: c.reason.as_deref() == Some("OOMKilled"),
        }),
        (None, None) => from_pod.unwrap_or(RemoteState::Running),
    }
}

/// What one pod says, if it says anything final.
fn pod_state(pod: &Pod) -> Option<RemoteState> {
    let status = pod.status.as_ref()?;
    // Evicted (node pressure) or refused by the node: whatever its containers show.
    if status.phase.as_deref() == Some("Failed") && status.reason.is_some() {
        return Some(RemoteState::Failed {
            reason: format!(
                "the pod failed: {} {}",
                status.reason.clone().unwrap_or_default(),
                status.message.clone().unwrap_or_default()
            )
            .trim_end()
            .to_owned(),
        });
    }
    let named = |list: &Option<Vec<ContainerStatus>>, name: &str| {
        list.as_ref()
            .and_then(|l| l.iter().find(|c| c.name == name).cloned())
    };
    if let Some(agent) = named(&status.init_container_statuses, AGENT_INSTALL) {
        let state = agent.state.unwrap_or_default();
        if let Some(t) = state.terminated.filter(|t| t.exit_code != 0) {
            return Some(RemoteState::Failed {
                reason: format!(
                    "installing the agent failed (exit {}): {}",
                    t.exit_code,
                    t.message.or(t.reason).unwrap_or_default()
                ),
            });
        }
        if let Some(reason) = state
            .waiting
            .and_then(|w| w.reason)
            .filter(|r| STUCK.contains(&r.as_str()))
        {
            return Some(RemoteState::Failed {
                reason: format!("the agent's image cannot start: {reason}"),
            });
        }
    }
    let state = named(&status.container_statuses, VALIDATOR)?
        .state
        .unwrap_or_default();
    if let Some(t) = state.terminated {
        return Some(RemoteState::Exited {
            exit_code: Some(t.exit_code as i64),
            oom: t.reason.as_deref() == Some("OOMKilled"),
        });
    }
    let w = state.waiting?;
    let reason = w.reason.filter(|r| STUCK.contains(&r.as_str()))?;
    Some(RemoteState::Failed {
        reason: format!(
            "the validator's container cannot start: {reason}: {}",
            w.message.unwrap_or_default()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::ObjectList;

    /// Responses in the shape the API server returns them (`GET …/jobs/{name}`, `GET
    /// …/pods?labelSelector=job-name=…`), under `responses/<case>/`.
    fn case(name: &str) -> RemoteState {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/containers/kubernetes/responses")
            .join(name);
        let job: Option<Job> = std::fs::read(dir.join("job.json"))
            .ok()
            .map(|b| serde_json::from_slice(&b).expect("job.json"));
        let pods: ObjectList<Pod> =
            serde_json::from_slice(&std::fs::read(dir.join("pods.json")).unwrap()).unwrap();
        state_of(job.as_ref(), &pods.items)
    }

    #[test]
    fn recorded_states() {
        let exited = |code, oom| RemoteState::Exited {
            exit_code: Some(code),
            oom,
        };
        assert_eq!(case("pending"), RemoteState::Running);
        assert_eq!(case("running"), RemoteState::Running);
        assert_eq!(case("complete"), exited(0, false));
        assert_eq!(case("failed-exit"), exited(3, false));
        assert_eq!(case("oom"), exited(137, true));
        assert_eq!(case("deadline"), RemoteState::DeadlineExceeded);
        assert_eq!(case("missing"), RemoteState::Missing);
        assert!(
            matches!(case("image-pull"), RemoteState::Failed { reason } if reason.contains("ImagePullBackOff"))
        );
        assert!(
            matches!(case("evicted"), RemoteState::Failed { reason } if reason.contains("Evicted"))
        );
        assert!(
            matches!(case("agent-failed"), RemoteState::Failed { reason } if reason.contains("agent"))
        );
    }
}
