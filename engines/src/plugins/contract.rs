//! Which versions of the WIT contract (`validibot:validator`) this host runs.
//!
//! A component names the contract version it was built against in its import
//! names (`validibot:validator/log@1.0.0`). 1.1 added `inputs` (the document and the
//! step's files read on demand) and the `validate-request` export. Semver rules: a newer minor only
//! adds, so the host loads any component built for the same major at a minor it
//! knows (wasmtime's linker matches `@1.0.0` imports against newer 1.x
//! definitions). Another major, or a minor newer than the host's, is refused
//! before linking with a message naming both versions.

use std::fmt;

use wasmtime::component::Component;
use wasmtime::Engine;

pub const PACKAGE: &str = "validibot:validator";

/// The newest contract version this host implements (`wit/<version>/`).
pub const HOST_VERSION: Version = Version {
    major: 1,
    minor: 1,
    patch: 0,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.split('-').next()?.split('.').map(|p| p.parse().ok());
        let v = Version {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(v)
    }
}

/// The contract version a component was built against, checked against the host's.
pub fn check(engine: &Engine, component: &Component) -> anyhow::Result<Version> {
    let names: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    check_import_names(names.iter().map(String::as_str))
}

fn check_import_names<'a>(names: impl Iterator<Item = &'a str>) -> anyhow::Result<Version> {
    let prefix = format!("{PACKAGE}/");
    let mut found: Option<Version> = None;
    for name in names {
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some((_, v)) = rest.split_once('@') else {
            anyhow::bail!("the component imports {name:?} without a version; rebuild it with the validibot plugin SDK");
        };
        let v = Version::parse(v).ok_or_else(|| {
            anyhow::anyhow!("the component imports {name:?}: not a semver version")
        })?;
        found = Some(found.map_or(v, |f| f.max(v)));
    }
    let v = found.ok_or_else(|| {
        anyhow::anyhow!("not a Validibot validator: the component imports nothing from {PACKAGE}")
    })?;
    if v.major != HOST_VERSION.major {
        anyhow::bail!(
            "the component was built for {PACKAGE}@{v}, but this host supports {PACKAGE}@{}.x (up to {HOST_VERSION}); rebuild it against a {}.x plugin SDK",
            HOST_VERSION.major,
            HOST_VERSION.major
        );
    }
    if v.minor > HOST_VERSION.minor {
        anyhow::bail!(
            "the component was built for {PACKAGE}@{v}, newer than this host's {PACKAGE}@{HOST_VERSION}; upgrade validibot"
        );
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(names: &[&str]) -> anyhow::Result<Version> {
        check_import_names(names.iter().copied())
    }

    #[test]
    fn same_major_older_or_equal_minor_loads() {
        let v = check(&[
            "wasi:io/streams@0.2.0",
            "validibot:validator/log@1.0.0",
            "validibot:validator/types@1.0.0",
        ])
        .unwrap();
        assert_eq!(v.to_string(), "1.0.0");
        assert!(check(&["validibot:validator/log@1.0.3"]).is_ok());
        let v = check(&[
            "validibot:validator/log@1.1.0",
            "validibot:validator/inputs@1.1.0",
        ])
        .unwrap();
        assert_eq!(v.to_string(), "1.1.0");
    }

    #[test]
    fn other_major_is_refused_naming_both_versions() {
        let err = check(&["validibot:validator/log@2.0.0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("validibot:validator@2.0.0"), "{err}");
        assert!(err.contains("validibot:validator@1.x"), "{err}");
        assert!(err.contains("up to 1.1.0"), "{err}");
        assert!(check(&["validibot:validator/log@0.9.0"]).is_err());
    }

    #[test]
    fn newer_minor_and_foreign_components_are_refused() {
        let err = check(&["validibot:validator/log@1.7.0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("1.7.0") && err.contains("upgrade"), "{err}");
        let err = check(&["wasi:cli/stdout@0.2.0"]).unwrap_err().to_string();
        assert!(err.contains("not a Validibot validator"), "{err}");
        assert!(check(&["validibot:validator/log"]).is_err());
    }
}
