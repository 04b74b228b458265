//! Capabilities an operator grants to one installed plugin. A validator gets none by
//! default: no filesystem, network, environment or clock (it sees a clock frozen at 0).
//!
//! Grants are given on the command line (`validibot plugin install --grant …`) by
//! whoever runs the binary — never over the API, where a workspace admin could
//! otherwise point a plugin at the host's files.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Real wall and monotonic clocks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clock: bool,
    /// Host environment variables passed through, by name (values read at load time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Host directories mounted read-only at the same path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_dirs: Vec<String>,
    /// Outbound network (TCP/UDP, name lookup).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub network: bool,
}

impl Grants {
    /// Parses `clock`, `network`, `env:NAME`, `fs-read:/abs/dir`.
    pub fn parse(items: &[String]) -> anyhow::Result<Grants> {
        let mut g = Grants::default();
        for item in items {
            match item.split_once(':') {
                None if item == "clock" => g.clock = true,
                None if item == "network" => g.network = true,
                Some(("env", name)) if !name.is_empty() && !name.contains('=') => {
                    g.env.push(name.to_owned())
                }
                Some(("fs-read", dir)) => {
                    let path = std::path::Path::new(dir);
                    if !path.is_absolute() || !path.is_dir() {
                        anyhow::bail!(
                            "--grant {item}: needs an absolute path to an existing directory"
                        );
                    }
                    g.read_dirs.push(dir.to_owned());
                }
                _ => anyhow::bail!(
                    "unknown grant {item:?}: use clock, network, env:NAME or fs-read:/abs/dir"
                ),
            }
        }
        g.env.sort();
        g.env.dedup();
        g.read_dirs.sort();
        g.read_dirs.dedup();
        Ok(g)
    }

    pub fn is_empty(&self) -> bool {
        *self == Grants::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_refuses_the_rest() {
        let g = Grants::parse(&[
            "clock".into(),
            "env:TZ".into(),
            "fs-read:/tmp".into(),
            "env:TZ".into(),
        ])
        .unwrap();
        assert!(g.clock && !g.network);
        assert_eq!(g.env, ["TZ"]);
        assert_eq!(g.read_dirs, ["/tmp"]);
        assert_eq!(serde_json::to_string(&Grants::default()).unwrap(), "{}");
        assert!(Grants::parse(&["fs-read:relative".into()]).is_err());
        assert!(Grants::parse(&["fs-write:/tmp".into()]).is_err());
        assert!(Grants::parse(&["env:A=B".into()]).is_err());
    }
}
