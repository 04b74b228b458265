//! Who started a container: `host:pid:start-time` of the runner process. A
//! container whose runner is gone from this host (the pid is dead, or reused by a
//! process that started later) is an orphan the sweeper removes at once; others
//! wait for their deadline label.

/// This process as a runner instance.
#[derive(Debug, Clone)]
pub struct RunnerInstance(String);

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// Field 22 of `/proc/<pid>/stat`: the start time in clock ticks since boot.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields restart after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19).map(str::to_owned)
}

impl RunnerInstance {
    pub fn current() -> RunnerInstance {
        let pid = std::process::id();
        RunnerInstance(format!(
            "{}:{pid}:{}",
            host_name(),
            start_time(pid).unwrap_or_default()
        ))
    }

    pub fn id(&self) -> &str {
        &self.0
    }

    /// `Some(false)` when `label` names a runner on this host that no longer runs;
    /// `None` when it is another host's (only its deadline can tell).
    pub fn is_alive(label: &str) -> Option<bool> {
        let mut parts = label.splitn(3, ':');
        let (host, pid, started) = (parts.next()?, parts.next()?, parts.next()?);
        if host != host_name() {
            return None;
        }
        let pid: u32 = pid.parse().ok()?;
        Some(start_time(pid).as_deref() == Some(started))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_pid_is_not() {
        let me = RunnerInstance::current();
        assert_eq!(RunnerInstance::is_alive(me.id()), Some(true));
        let host = host_name();
        assert_eq!(
            RunnerInstance::is_alive(&format!("{host}:{}:1", std::process::id())),
            Some(false),
            "pid reused by a later process"
        );
        assert_eq!(
            RunnerInstance::is_alive(&format!("{host}:4194000:1")),
            Some(false)
        );
        assert_eq!(RunnerInstance::is_alive("elsewhere:1:1"), None);
    }
}
