//! Removes orphaned validator containers: those whose runner process is gone from
//! this host, or whose deadline label has passed (runners on other hosts), or all
//! managed ones on request. Runs at startup, periodically, and as
//! `validibot containers cleanup [--dry-run] [--all]`.

use anyhow::Result;
use serde::Serialize;

use super::docker::{DockerRunner, LABEL_DEADLINE, LABEL_RUNNER, LABEL_RUN_ID, LABEL_VALIDATOR};
use super::instance::RunnerInstance;

#[derive(Debug, Clone, Serialize)]
pub struct Swept {
    pub id: String,
    pub name: String,
    pub run_id: Option<String>,
    pub reason: String,
    /// False in a dry run.
    pub removed: bool,
}

/// Why a managed container is an orphan, or `None` if it may still be in use.
fn orphan_reason(
    labels: &std::collections::HashMap<String, String>,
    now: i64,
    all: bool,
) -> Option<String> {
    if all {
        return Some("--all".into());
    }
    if let Some(runner) = labels.get(LABEL_RUNNER) {
        if RunnerInstance::is_alive(runner) == Some(false) {
            return Some(format!("its runner {runner} is gone"));
        }
    }
    match labels
        .get(LABEL_DEADLINE)
        .and_then(|d| d.parse::<i64>().ok())
    {
        Some(deadline) if deadline < now => Some("its deadline passed".into()),
        Some(_) => None,
        None => Some("it has no deadline label".into()),
    }
}

/// Which managed containers a sweep considers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Every one, orphaned or not.
    pub all: bool,
    /// Only this validator's.
    pub validator: Option<String>,
}

pub async fn sweep(runner: &DockerRunner, scope: &Scope, dry_run: bool) -> Result<Vec<Swept>> {
    let now = validibot_types::clock::now_us() / 1_000_000;
    let mut swept = Vec::new();
    for c in runner.managed().await? {
        let labels = c.labels.clone().unwrap_or_default();
        if scope
            .validator
            .as_ref()
            .is_some_and(|v| labels.get(LABEL_VALIDATOR) != Some(v))
        {
            continue;
        }
        let Some(reason) = orphan_reason(&labels, now, scope.all) else {
            continue;
        };
        let id = c.id.clone().unwrap_or_default();
        let removed = if dry_run {
            false
        } else {
            match runner.remove_now(&id).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(container = id, "sweeper could not remove: {e:#}");
                    false
                }
            }
        };
        swept.push(Swept {
            name: c.names.and_then(|n| n.first().cloned()).unwrap_or_default(),
            run_id: labels.get(LABEL_RUN_ID).cloned(),
            id,
            reason,
            removed,
        });
    }
    if !dry_run && !swept.is_empty() {
        tracing::info!(count = swept.len(), "orphaned validator containers removed");
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn orphans_are_runner_gone_or_past_deadline() {
        let me = RunnerInstance::current();
        let labels = |runner: &str, deadline: i64| {
            HashMap::from([
                (LABEL_RUNNER.to_string(), runner.to_string()),
                (LABEL_DEADLINE.to_string(), deadline.to_string()),
            ])
        };
        assert_eq!(orphan_reason(&labels(me.id(), 2000), 1000, false), None);
        assert!(orphan_reason(&labels(me.id(), 2000), 1000, true).is_some());
        assert!(orphan_reason(&labels(me.id(), 500), 1000, false)
            .unwrap()
            .contains("deadline"));
        assert!(orphan_reason(&labels("elsewhere:1:1", 2000), 1000, false).is_none());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let dead = format!("{}:4194000:1", host.trim());
        assert!(orphan_reason(&labels(&dead, 2000), 1000, false)
            .unwrap()
            .contains("gone"));
    }
}
