//! The seam's compatibility fingerprint: what host and extension must agree on.
//!
//! The seam is C + JSON precisely so host and extension may be built by different
//! compilers, so the fingerprint names the ABI and the hook payload schema, never the
//! compiler. Its text is `abi <major>.<minor>; hooks <n>` followed by informational
//! fields (`; rustc <version>`) that are shown in messages but never compared.

use super::abi::{ABI_MAJOR, ABI_MINOR};

/// Version of the JSON payloads the hooks exchange (`license.status`, `workspaces.policy`,
/// …). Bump it when a payload changes in a way an older peer would misread; adding an
/// optional field does not need a bump.
pub const HOOKS_SCHEMA: u32 = 1;

/// This SDK's fingerprint (the rustc that built it is informational).
pub const FINGERPRINT: &str = concat!(
    "abi 1.0; hooks 1; rustc ",
    env!("VALIDIBOT_EXTENSION_RUSTC")
);

// The literal above must spell the constants it stands for.
const _: () = assert!(ABI_MAJOR == 1 && ABI_MINOR == 0 && HOOKS_SCHEMA == 1);

/// The compared part of a fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compat {
    pub abi_major: u32,
    pub abi_minor: u32,
    pub hooks: u32,
}

impl Compat {
    /// What this SDK speaks.
    pub const OURS: Compat = Compat {
        abi_major: ABI_MAJOR,
        abi_minor: ABI_MINOR,
        hooks: HOOKS_SCHEMA,
    };

    /// Reads `abi M.m; hooks n; …`; `None` for anything else (including the
    /// compiler-based fingerprints of SDKs before this scheme).
    pub fn parse(fingerprint: &str) -> Option<Compat> {
        let mut abi = None;
        let mut hooks = None;
        for field in fingerprint.split(';').map(str::trim) {
            if let Some(v) = field.strip_prefix("abi ") {
                let (major, minor) = v.split_once('.')?;
                abi = Some((major.parse().ok()?, minor.parse().ok()?));
            } else if let Some(v) = field.strip_prefix("hooks ") {
                hooks = Some(v.parse().ok()?);
            }
        }
        let (abi_major, abi_minor) = abi?;
        Some(Compat {
            abi_major,
            abi_minor,
            hooks: hooks?,
        })
    }

    /// Whether a host speaking `self` can use an extension built as `ext`: the same
    /// ABI major and hook schema, and no newer ABI minor than the host knows.
    pub fn accepts(self, ext: Compat) -> Result<(), String> {
        if ext.abi_major != self.abi_major || ext.abi_minor > self.abi_minor {
            return Err(format!(
                "the extension speaks ABI {}.{}, this host {}.{}",
                ext.abi_major, ext.abi_minor, self.abi_major, self.abi_minor
            ));
        }
        if ext.hooks != self.hooks {
            return Err(format!(
                "the extension's hook payloads are schema {}, this host's {}",
                ext.hooks, self.hooks
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_parses_to_the_constants() {
        assert_eq!(Compat::parse(FINGERPRINT), Some(Compat::OURS));
        assert!(FINGERPRINT.contains("rustc "), "{FINGERPRINT}");
    }

    #[test]
    fn the_compiler_is_not_compared() {
        let other = Compat::parse("abi 1.0; hooks 1; rustc 1.70.0 (90c541806 2023-05-31)").unwrap();
        assert_eq!(Compat::OURS.accepts(other), Ok(()));
    }

    #[test]
    fn a_real_mismatch_is_refused() {
        let hooks = Compat::parse("abi 1.0; hooks 2").unwrap();
        assert!(Compat::OURS
            .accepts(hooks)
            .unwrap_err()
            .contains("schema 2"));
        let major = Compat::parse("abi 2.0; hooks 1").unwrap();
        assert!(Compat::OURS.accepts(major).is_err());
        let newer_minor = Compat {
            abi_minor: ABI_MINOR + 1,
            ..Compat::OURS
        };
        assert!(Compat::OURS.accepts(newer_minor).is_err());
        assert_eq!(
            Compat::parse("rustc abc; x86_64; validibot-plugin-api 0.1.0"),
            None
        );
        assert_eq!(Compat::parse("abi x.y; hooks 1"), None);
    }
}
