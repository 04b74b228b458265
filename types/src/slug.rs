//! Slugs: the names in URLs and definitions. One type per kind, one rule per kind,
//! decided here and nowhere else. WASM plugins and container images share the
//! validator namespace, so they share [`ValidatorSlug`]'s rule.

use std::fmt;
use std::marker::PhantomData;

/// The rule of one kind of slug.
pub trait SlugKind {
    /// What the error message calls it.
    const NOUN: &'static str;
    /// The rule in words, for error messages.
    const RULE: &'static str;
    fn valid(s: &str) -> bool;
}

fn lower_digit_dash(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

/// Workspaces and teams: 1–50 of `[a-z0-9-]`, not starting with `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkspaceKind {}
impl SlugKind for WorkspaceKind {
    const NOUN: &'static str = "workspace slug";
    const RULE: &'static str =
        "1-50 lowercase letters, digits and dashes, not starting with a dash";
    fn valid(s: &str) -> bool {
        (1..=50).contains(&s.len()) && !s.starts_with('-') && s.bytes().all(lower_digit_dash)
    }
}

/// Workflows and step keys: 1–63 of `[a-z0-9_-]`, starting with a letter or digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowKind {}
impl SlugKind for WorkflowKind {
    const NOUN: &'static str = "slug";
    const RULE: &'static str =
        "1-63 lowercase letters, digits, '-' and '_', starting with a letter or digit";
    fn valid(s: &str) -> bool {
        (1..=63).contains(&s.len())
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes().all(|b| lower_digit_dash(b) || b == b'_')
    }
}

/// Validators (WASM components and container images alike): 2–40 of `[a-z0-9-]`,
/// starting with a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidatorKind {}
impl SlugKind for ValidatorKind {
    const NOUN: &'static str = "validator slug";
    const RULE: &'static str = "2-40 lowercase letters, digits and dashes, starting with a letter";
    fn valid(s: &str) -> bool {
        (2..=40).contains(&s.len())
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes().all(lower_digit_dash)
    }
}

/// A slug of kind `K`, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug<K>(String, PhantomData<K>);

pub type WorkspaceSlug = Slug<WorkspaceKind>;
pub type WorkflowSlug = Slug<WorkflowKind>;
pub type ValidatorSlug = Slug<ValidatorKind>;

/// A name that breaks its kind's rule; the message says the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlugError {
    pub noun: &'static str,
    pub rule: &'static str,
    pub given: String,
}

impl fmt::Display for SlugError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.noun, self.given, self.rule)
    }
}

impl std::error::Error for SlugError {}

impl<K: SlugKind> Slug<K> {
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        if K::valid(s) {
            Ok(Slug(s.to_owned(), PhantomData))
        } else {
            Err(SlugError {
                noun: K::NOUN,
                rule: K::RULE,
                given: s.to_owned(),
            })
        }
    }

    pub fn is_valid(s: &str) -> bool {
        K::valid(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<K> fmt::Display for Slug<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<K> AsRef<str> for Slug<K> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_rule() {
        for ok in ["a", "acme", "acme-2", "9lives"] {
            assert!(WorkspaceSlug::is_valid(ok), "{ok}");
        }
        for bad in ["", "-a", "Acme", "a_b", &"a".repeat(51)] {
            assert!(!WorkspaceSlug::is_valid(bad), "{bad}");
        }
        for ok in ["a", "invoice_v2", "9-x", &"a".repeat(63)] {
            assert!(WorkflowSlug::is_valid(ok), "{ok}");
        }
        for bad in ["", "_a", "-a", "A", "a b", "é", &"a".repeat(64)] {
            assert!(!WorkflowSlug::is_valid(bad), "{bad}");
        }
        for ok in ["json-schema", "energyplus", "fmi", "v2"] {
            assert!(ValidatorSlug::is_valid(ok), "{ok}");
        }
        for bad in ["a", "2fa", "my_validator", "-x", &"a".repeat(41)] {
            assert!(!ValidatorSlug::is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn the_error_names_the_rule() {
        let e = ValidatorSlug::parse("My_Validator").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid validator slug \"My_Validator\": 2-40 lowercase letters, digits and dashes, starting with a letter"
        );
    }
}
