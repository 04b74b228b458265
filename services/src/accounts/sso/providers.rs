//! The providers an operator configured: `VALIDIBOT_SSO_CONFIG` names a TOML file of
//! `[[provider]]` tables (docs/self-hosting/sso.md). Every problem in it is found at once,
//! by `validibot config check` as by `serve`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use validibot_store::accounts::Role;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    provider: Vec<ProviderConfig>,
}

/// One OpenID provider as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// In the URLs (`/ui/sso/{id}/…`) and on sessions and identities: change it and
    /// every identity made through it is forgotten.
    pub id: String,
    /// On the sign-in button.
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// A file holding the secret (a mounted Kubernetes or Docker secret).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Asked for besides `openid email profile` (e.g. `groups`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether a first sign-in links to the account with the same address, when the
    /// provider says it verified the address.
    #[serde(default = "yes")]
    pub link_by_email: bool,
    /// The claim a provisioned account's username comes from (else the address's local part).
    #[serde(default = "preferred_username")]
    pub username_claim: String,
    /// The claim listing the user's groups (a name, or a dotted path like `realm_access.roles`).
    #[serde(default = "groups")]
    pub groups_claim: String,
    #[serde(default)]
    pub second_factor: SecondFactor,
    /// Creates accounts for people with none yet, as members of a workspace.
    #[serde(default)]
    pub provision: Option<Provision>,
    /// Group → role in a workspace, kept in step at each sign-in.
    #[serde(default)]
    pub roles: Vec<RoleRule>,
}

/// Whether a sign-in through the provider counts as one with a second factor (for
/// workspaces that require one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecondFactor {
    /// The provider enforces its own policy: every sign-in counts.
    #[default]
    Provider,
    /// Only when the ID token's `amr` names a second factor (RFC 8176: `otp`, `hwk`, `mfa`, …).
    Amr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    pub workspace: String,
    pub role: Role,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    pub group: String,
    pub workspace: String,
    pub role: Role,
}

fn yes() -> bool {
    true
}
fn preferred_username() -> String {
    "preferred_username".into()
}
fn groups() -> String {
    "groups".into()
}

/// A provider ready to use: its configuration and its secret (read from its file).
#[derive(Debug, Clone)]
pub struct Provider {
    pub config: ProviderConfig,
    pub client_secret: Option<String>,
}

impl ProviderConfig {
    /// The workspaces whose membership this provider manages: those its rules name,
    /// and the one it provisions into.
    pub fn managed_workspaces(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.roles.iter().map(|r| r.workspace.as_str()).collect();
        out.extend(self.provision.as_ref().map(|p| p.workspace.as_str()));
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The role `groups` give in `workspace`: the highest rule that matches, else the
    /// provisioning role there, else none.
    pub fn role_in(&self, workspace: &str, groups: &[String]) -> Option<Role> {
        self.roles
            .iter()
            .filter(|r| r.workspace == workspace && groups.contains(&r.group))
            .map(|r| r.role)
            .max()
            .or_else(|| {
                self.provision
                    .as_ref()
                    .filter(|p| p.workspace == workspace)
                    .map(|p| p.role)
            })
    }
}

/// Reads the file: the providers, or every problem found (each naming where).
pub fn load(path: &Path) -> Result<Vec<Provider>, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
    parse(&text, path.parent().unwrap_or(Path::new(".")))
}

/// Parses a file's text; relative secret files are read from `dir`.
pub fn parse(text: &str, dir: &Path) -> Result<Vec<Provider>, Vec<String>> {
    let file: File = toml::from_str(text).map_err(|e| vec![e.message().to_owned()])?;
    let mut problems = vec![];
    let mut providers = vec![];
    for (i, config) in file.provider.into_iter().enumerate() {
        let at = format!("provider {} ({:?})", i + 1, config.id);
        let mut problem = |what: String| problems.push(format!("{at}: {what}"));
        let id_ok = !config.id.is_empty()
            && config.id.len() <= 40
            && config
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            problem("id must be 1-40 lower-case letters, digits or -".into());
        }
        if providers
            .iter()
            .any(|p: &Provider| p.config.id == config.id)
        {
            problem("another provider has this id".into());
        }
        if config.name.trim().is_empty() {
            problem("name is empty".into());
        }
        if let Some(why) = issuer_refusal(&config.issuer) {
            problem(why);
        }
        if config.client_id.is_empty() {
            problem("client_id is empty".into());
        }
        let secret = match (&config.client_secret, &config.client_secret_file) {
            (Some(_), Some(_)) => {
                problem("give client_secret or client_secret_file, not both".into());
                None
            }
            (Some(s), None) => Some(s.clone()),
            (None, Some(f)) => match std::fs::read_to_string(dir.join(f)) {
                Ok(s) => Some(s.trim().to_owned()),
                Err(e) => {
                    problem(format!("client_secret_file {}: {e}", f.display()));
                    None
                }
            },
            (None, None) => None, // a public client: PKCE alone
        };
        for (what, ws) in config
            .roles
            .iter()
            .map(|r| ("a role rule", &r.workspace))
            .chain(config.provision.iter().map(|p| ("provision", &p.workspace)))
        {
            if ws.is_empty() {
                problem(format!("{what} names no workspace"));
            }
        }
        if config.roles.iter().any(|r| r.group.is_empty()) {
            problem("a role rule names no group".into());
        }
        providers.push(Provider {
            config,
            client_secret: secret,
        });
    }
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(problems)
    }
}

/// Issuers are https; plain http only on this machine (a test or development provider).
fn issuer_refusal(issuer: &str) -> Option<String> {
    let Ok(url) = url::Url::parse(issuer) else {
        return Some(format!("issuer {issuer:?} is not a URL"));
    };
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => None,
        "http" if loopback => None,
        _ => Some(format!(
            "issuer {issuer:?} must be https (http only on localhost)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[provider]]
id = "corp"
name = "Corp"
issuer = "https://login.example.com/realms/corp"
client_id = "validibot"
client_secret = "s"
scopes = ["groups"]
provision = { workspace = "default", role = "viewer" }

[[provider.roles]]
group = "admins"
workspace = "default"
role = "admin"

[[provider.roles]]
group = "authors"
workspace = "default"
role = "author"

[[provider.roles]]
group = "qa"
workspace = "qa"
role = "executor"
"#;

    #[test]
    fn a_good_file_gives_its_providers() {
        let providers = parse(GOOD, Path::new(".")).unwrap();
        let p = &providers[0].config;
        assert_eq!(p.id, "corp");
        assert!(p.link_by_email);
        assert_eq!(p.groups_claim, "groups");
        assert_eq!(p.second_factor, SecondFactor::Provider);
        assert_eq!(p.managed_workspaces(), vec!["default", "qa"]);
        let g = |gs: &[&str]| gs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // The highest matching rule wins; else provisioning's role; else nothing.
        assert_eq!(
            p.role_in("default", &g(&["authors", "admins"])),
            Some(Role::Admin)
        );
        assert_eq!(p.role_in("default", &g(&["other"])), Some(Role::Viewer));
        assert_eq!(p.role_in("qa", &g(&["qa"])), Some(Role::Executor));
        assert_eq!(p.role_in("qa", &g(&["admins"])), None);
    }

    #[test]
    fn every_problem_is_named() {
        let bad = r#"
[[provider]]
id = "Corp Login"
name = ""
issuer = "http://login.example.com"
client_id = "x"
client_secret = "s"
client_secret_file = "f"

[[provider]]
id = "b"
name = "B"
issuer = "http://127.0.0.1:9000"
client_id = ""
roles = [{ group = "", workspace = "", role = "viewer" }]
"#;
        let problems = parse(bad, Path::new(".")).unwrap_err();
        let all = problems.join("\n");
        for expected in [
            "provider 1 (\"Corp Login\"): id must be",
            "name is empty",
            "must be https (http only on localhost)",
            "not both",
            "provider 2 (\"b\"): client_id is empty",
            "a role rule names no workspace",
            "a role rule names no group",
        ] {
            assert!(all.contains(expected), "{expected:?} not in {all}");
        }
        let unknown = parse(
            "[[provider]]\nid = \"a\"\nissuer_url = \"x\"\n",
            Path::new("."),
        );
        assert!(unknown.unwrap_err()[0].contains("unknown field `issuer_url`"));
        let role = parse(
            "[[provider]]\nid=\"a\"\nname=\"A\"\nissuer=\"https://a\"\nclient_id=\"c\"\nprovision={workspace=\"default\", role=\"boss\"}\n",
            Path::new("."),
        );
        assert!(role.unwrap_err()[0].contains("unknown variant `boss`"));
    }

    #[test]
    fn a_secret_comes_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "from-file\n").unwrap();
        let text = "[[provider]]\nid=\"a\"\nname=\"A\"\nissuer=\"https://a.example\"\nclient_id=\"c\"\nclient_secret_file=\"secret\"\n";
        let providers = parse(text, dir.path()).unwrap();
        assert_eq!(providers[0].client_secret.as_deref(), Some("from-file"));
    }
}
