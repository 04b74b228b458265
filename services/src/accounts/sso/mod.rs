//! Single sign-on with OpenID Connect: the authorization code flow with PKCE against
//! one or more providers (`providers`), the protocol (`oidc`), and what a verified
//! sign-in means for accounts (here): which account it is, whether one is created, and
//! which memberships the provider's groups give.
//!
//! Which account, in order: the one the provider's subject is linked to; else (when the
//! provider verified the address and `link_by_email` is on) the one active account with
//! that address, which gets linked; else a new one when the provider provisions; else
//! none, and the sign-in is refused.

pub mod oidc;
pub mod providers;

use std::time::Duration;

use anyhow::Result;
use validibot_store::accounts::directory::{self, User};
use validibot_store::accounts::sso::{self as store, MembershipChange, PendingLogin};
use validibot_store::db::Db;

use oidc::{Claims, Discovered, ProtocolError};
use providers::{Provider, SecondFactor};

/// The configured providers and the HTTP client that talks to them.
pub struct Sso {
    providers: Vec<Discovered>,
    http: reqwest::Client,
}

/// A sign-in to send the browser on with: the provider's URL, and the state the
/// browser's cookie must carry back.
pub struct Started {
    pub url: String,
    pub state: String,
}

/// How the account was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// The subject was linked already.
    Existing,
    /// Linked now to the account with the verified address.
    ByEmail,
    /// A new account.
    Provisioned,
}

impl Linked {
    pub fn as_str(self) -> &'static str {
        match self {
            Linked::Existing => "existing",
            Linked::ByEmail => "email",
            Linked::Provisioned => "provisioned",
        }
    }
}

/// A finished sign-in.
pub struct SignedIn {
    pub user: User,
    pub provider: String,
    pub second_factor: bool,
    pub next: String,
    pub linked: Linked,
    /// Memberships the provider's groups changed: `(workspace slug, change)`.
    pub memberships: Vec<(String, MembershipChange)>,
}

/// Why a sign-in did not happen; the text is for the person signing in.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no sign-in provider {0:?}")]
    UnknownProvider(String),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("this sign-in expired or was started in another browser; start again")]
    Expired,
    #[error("the provider refused the sign-in: {0}")]
    ProviderRefused(String),
    #[error("your account here is disabled")]
    Disabled,
    #[error("no account here matches {0}; ask an administrator to invite you")]
    NoAccount(String),
    #[error("several accounts here have the address {0}; an administrator must link yours")]
    Ambiguous(String),
}

impl Sso {
    /// The providers, each with its redirect URI under `public_url`.
    pub fn new(providers: Vec<Provider>, public_url: &str) -> Result<Sso> {
        let base = public_url.trim_end_matches('/');
        let providers = providers
            .into_iter()
            .map(|p| {
                let redirect = format!("{base}/ui/sso/{}/callback", p.config.id);
                Discovered::new(p, redirect)
            })
            .collect();
        // No redirects: the crate's advice against SSRF, and providers answer directly.
        // No idle connections kept: sign-ins are minutes apart, by when a provider has
        // mostly closed an idle one (Node after 5 s), and reusing one it is just closing
        // would fail the code exchange.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Sso { providers, http })
    }

    /// `(id, name)` of each provider, for the sign-in page.
    pub fn buttons(&self) -> Vec<(&str, &str)> {
        self.providers
            .iter()
            .map(|d| {
                let c = &d.provider().config;
                (c.id.as_str(), c.name.as_str())
            })
            .collect()
    }

    /// Fetches each provider's discovery document and keys: the problems, by provider
    /// id (`validibot config check`).
    pub async fn check(&self) -> Vec<(String, ProtocolError)> {
        let mut problems = vec![];
        for d in &self.providers {
            if let Err(e) = d.check(&self.http).await {
                problems.push((d.provider().config.id.clone(), e));
            }
        }
        problems
    }

    fn find(&self, id: &str) -> Result<&Discovered, Refusal> {
        self.providers
            .iter()
            .find(|d| d.provider().config.id == id)
            .ok_or_else(|| Refusal::UnknownProvider(id.to_owned()))
    }

    /// Starts a sign-in through `provider`, to end on `next`.
    pub async fn start(
        &self,
        db: &Db,
        provider: &str,
        next: &str,
    ) -> Result<Result<Started, Refusal>> {
        let discovered = match self.find(provider) {
            Ok(d) => d,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let auth = match discovered.authorize(&self.http).await {
            Ok(a) => a,
            Err(e) => return Ok(Err(e.into())),
        };
        let login = PendingLogin {
            provider: provider.to_owned(),
            pkce_verifier: auth.pkce_verifier,
            nonce: auth.nonce,
            next: next.to_owned(),
        };
        store::begin(db, &auth.state, &login).await?;
        Ok(Ok(Started {
            url: auth.url,
            state: auth.state,
        }))
    }

    /// Finishes a sign-in when the provider sends the browser back. `state` is the
    /// query's, `cookie_state` the browser's; `issuer` the `iss` parameter if the
    /// provider sent one (RFC 9207: a sign-in started at one provider cannot be finished
    /// with another's answer).
    pub async fn finish(
        &self,
        db: &Db,
        provider: &str,
        answer: Answer<'_>,
    ) -> Result<Result<SignedIn, Refusal>> {
        let discovered = match self.find(provider) {
            Ok(d) => d,
            Err(refusal) => return Ok(Err(refusal)),
        };
        // The browser that started the sign-in must be the one finishing it: otherwise a
        // page could sign its visitor in as someone else (login CSRF).
        let same_browser = answer.cookie_state.is_some_and(|c| {
            use subtle::ConstantTimeEq;
            bool::from(c.as_bytes().ct_eq(answer.state.as_bytes()))
        });
        if !same_browser {
            return Ok(Err(Refusal::Expired));
        }
        let Some(login) = store::take(db, answer.state).await? else {
            return Ok(Err(Refusal::Expired));
        };
        if login.provider != provider {
            return Ok(Err(Refusal::Expired));
        }
        if let Some(error) = answer.error {
            return Ok(Err(Refusal::ProviderRefused(error.to_owned())));
        }
        let config = &discovered.provider().config;
        if answer.issuer.is_some_and(|iss| iss != config.issuer) {
            return Ok(Err(ProtocolError::Invalid(
                "the answer names another issuer".into(),
            )
            .into()));
        }
        let Some(code) = answer.code else {
            return Ok(Err(ProtocolError::Invalid(
                "the answer carries no code".into(),
            )
            .into()));
        };
        let claims = match discovered
            .exchange(&self.http, code, &login.pkce_verifier, &login.nonce)
            .await
        {
            Ok(c) => c,
            Err(e) => return Ok(Err(e.into())),
        };
        let (user, linked) = match account(db, discovered.provider(), &claims).await? {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let groups = claims.groups(&config.groups_claim);
        let mut memberships = vec![];
        for slug in config.managed_workspaces() {
            let Some(workspace) = directory::find_workspace(db, slug).await? else {
                tracing::warn!(
                    provider,
                    workspace = slug,
                    "SSO maps groups to a workspace that does not exist"
                );
                continue;
            };
            let wanted = config.role_in(slug, &groups);
            if let Some(change) =
                store::keep_membership(db, provider, &user.id, &workspace.id, wanted).await?
            {
                memberships.push((slug.to_owned(), change));
            }
        }
        let second_factor = match config.second_factor {
            SecondFactor::Provider => true,
            SecondFactor::Amr => claims.used_second_factor(),
        };
        Ok(Ok(SignedIn {
            user,
            provider: provider.to_owned(),
            second_factor,
            next: login.next,
            linked,
            memberships,
        }))
    }
}

/// The provider's answer as the callback received it.
pub struct Answer<'a> {
    pub state: &'a str,
    pub cookie_state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub issuer: Option<&'a str>,
}

/// The account a verified sign-in is (see the module's doc for the order).
async fn account(
    db: &Db,
    provider: &Provider,
    claims: &Claims,
) -> Result<Result<(User, Linked), Refusal>> {
    let id = provider.config.id.as_str();
    let email = claims.verified_email();
    if let Some((user, active)) = store::linked_user(db, id, &claims.subject).await? {
        if !active {
            return Ok(Err(Refusal::Disabled));
        }
        store::signed_in(db, id, &claims.subject, claims.string("email")).await?;
        return Ok(Ok((user, Linked::Existing)));
    }
    if let Some(email) = email.filter(|_| provider.config.link_by_email) {
        let mut found = store::users_with_email(db, email).await?;
        if found.len() > 1 {
            return Ok(Err(Refusal::Ambiguous(email.to_owned())));
        }
        if let Some(user) = found.pop() {
            if store::link(db, id, &claims.subject, &user.id, Some(email)).await? {
                return Ok(Ok((user, Linked::ByEmail)));
            }
            // Linked to another subject at this provider already: not this person's.
            return Ok(Err(Refusal::NoAccount(email.to_owned())));
        }
    }
    if provider.config.provision.is_none() {
        let who = claims
            .string("email")
            .or(claims.string("preferred_username"))
            .unwrap_or(&claims.subject);
        return Ok(Err(Refusal::NoAccount(who.to_owned())));
    }
    let wanted = username_for(claims, &provider.config.username_claim);
    let user = store::provision(db, id, &claims.subject, &wanted, email).await?;
    Ok(Ok((user, Linked::Provisioned)))
}

/// A new account's username: the configured claim, else the address's local part,
/// else the subject, reduced to the characters usernames allow.
fn username_for(claims: &Claims, claim: &str) -> String {
    let raw = claims
        .string(claim)
        .or_else(|| claims.string("email").and_then(|e| e.split('@').next()))
        .unwrap_or(&claims.subject);
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(120)
        .collect();
    if cleaned.trim_matches('-').is_empty() {
        "user".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usernames_come_from_the_claims() {
        let claims = |v: serde_json::Value| Claims {
            subject: "248289761001".into(),
            amr: vec![],
            all: v.as_object().unwrap().clone(),
        };
        let c = claims(json!({"preferred_username": "jane.doe", "email": "jd@example.com"}));
        assert_eq!(username_for(&c, "preferred_username"), "jane.doe");
        assert_eq!(username_for(&c, "nickname"), "jd");
        let c = claims(json!({"preferred_username": "Jane Doe (Ops)"}));
        assert_eq!(username_for(&c, "preferred_username"), "Jane-Doe--Ops-");
        assert_eq!(
            username_for(&claims(json!({})), "preferred_username"),
            "248289761001"
        );
        assert_eq!(
            username_for(
                &claims(json!({"preferred_username": "ß"})),
                "preferred_username"
            ),
            "user"
        );
    }
}
