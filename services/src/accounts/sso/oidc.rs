//! The OpenID Connect protocol, through the `openidconnect` crate: discovery (cached,
//! refreshed when a token is signed with a key not seen yet), the authorization request
//! with PKCE and a nonce, the code exchange, ID-token verification (signature, issuer,
//! audience, expiry, nonce, at_hash) and the UserInfo request. What comes out is the
//! user's claims; what they mean for accounts is `super::accounts`.

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::providers::Provider;

/// Provider metadata and keys are fetched again after this long.
const METADATA_LIFETIME: Duration = Duration::from_secs(3600);

/// What went wrong talking to the provider (its words kept for the log).
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("the provider cannot be reached or answered wrongly: {0}")]
    Unreachable(String),
    #[error("the provider's answer failed verification: {0}")]
    Invalid(String),
}

/// A provider's endpoints and keys, fetched on first use.
pub struct Discovered {
    provider: Provider,
    redirect_uri: String,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

/// Where to send the browser, and what the callback must find again.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The verified user: the ID token's claims with UserInfo's on top.
#[derive(Debug, Clone)]
pub struct Claims {
    pub subject: String,
    /// Authentication methods the ID token's `amr` lists.
    pub amr: Vec<String>,
    pub all: Map<String, Value>,
}

/// Claims beyond the standard ones (groups, above all), kept as they came.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Extra(Map<String, Value>);
impl AdditionalClaims for Extra {}

impl Discovered {
    pub fn new(provider: Provider, redirect_uri: String) -> Discovered {
        Discovered {
            provider,
            redirect_uri,
            metadata: Mutex::new(None),
        }
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    async fn metadata(
        &self,
        http: &reqwest::Client,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, ProtocolError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref() {
            if !fresh && at.elapsed() < METADATA_LIFETIME {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(self.provider.config.issuer.clone())
            .map_err(|e| ProtocolError::Unreachable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|e| ProtocolError::Unreachable(describe(&e)))?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        ProtocolError,
    > {
        let redirect = RedirectUrl::new(self.redirect_uri.clone())
            .map_err(|e| ProtocolError::Invalid(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.provider.config.client_id.clone()),
            self.provider.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Fetches the discovery document and keys afresh (`validibot config check`).
    pub async fn check(&self, http: &reqwest::Client) -> Result<(), ProtocolError> {
        self.metadata(http, true).await.map(|_| ())
    }

    /// The authorization request: code flow, PKCE (S256), a fresh state and nonce.
    pub async fn authorize(&self, http: &reqwest::Client) -> Result<Authorization, ProtocolError> {
        let client = self.client(self.metadata(http, false).await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in ["email", "profile"]
            .into_iter()
            .map(str::to_owned)
            .chain(self.provider.config.scopes.iter().cloned())
        {
            request = request.add_scope(Scope::new(scope));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code (with the PKCE verifier), verifies the ID token against the
    /// nonce, and adds what UserInfo says about the same subject.
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Claims, ProtocolError> {
        let client = self.client(self.metadata(http, false).await?)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ProtocolError::Invalid(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(|e| ProtocolError::Invalid(describe(&e)))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| ProtocolError::Invalid("the token response has no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        // A key the cached set lacks: the provider rotated its keys; fetch them once more.
        let verifies = id_token.claims(&client.id_token_verifier(), &nonce).is_ok();
        let client = if verifies {
            client
        } else {
            self.client(self.metadata(http, true).await?)?
        };
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| ProtocolError::Invalid(describe(&e)))?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| ProtocolError::Invalid(e.to_string()))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| ProtocolError::Invalid(e.to_string()))?;
            let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                .map_err(|e| ProtocolError::Invalid(e.to_string()))?;
            if actual != *expected {
                return Err(ProtocolError::Invalid(
                    "the access token does not match the ID token's at_hash".into(),
                ));
            }
        }
        let subject = claims.subject().to_string();
        let amr = claims
            .auth_method_refs()
            .map(|v| v.iter().map(|a| a.to_string()).collect())
            .unwrap_or_default();
        // The signature was verified above: the payload's other claims (groups) are the
        // provider's too.
        let mut all = payload(&id_token.to_string())?;
        if let Ok(request) =
            client.user_info(token.access_token().clone(), Some(claims.subject().clone()))
        {
            let info: openidconnect::UserInfoClaims<Extra, CoreGenderClaim> = request
                .request_async(http)
                .await
                .map_err(|e| ProtocolError::Invalid(describe(&e)))?;
            let info =
                serde_json::to_value(&info).map_err(|e| ProtocolError::Invalid(e.to_string()))?;
            if let Value::Object(info) = info {
                all.extend(info);
            }
        }
        Ok(Claims { subject, amr, all })
    }
}

/// A JWT's payload as JSON (its signature checked by the caller).
fn payload(jwt: &str) -> Result<Map<String, Value>, ProtocolError> {
    use base64::Engine;
    let part = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| ProtocolError::Invalid("the ID token is not a JWS".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| ProtocolError::Invalid(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| ProtocolError::Invalid(e.to_string()))
}

/// An error with its causes, which the crate's errors keep apart.
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl Claims {
    /// A claim by name, or by a dotted path into nested objects (`realm_access.roles`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all.get(name).or_else(|| {
            let mut parts = name.split('.');
            let first = self.all.get(parts.next()?)?;
            parts.try_fold(first, |v, p| v.get(p))
        })
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The address, when the provider says it verified it (`true`, or `"true"` as some
    /// providers send it).
    pub fn verified_email(&self) -> Option<&str> {
        let verified = match self.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        self.string("email").filter(|_| verified)
    }

    /// The groups claim: a list of strings, or one string.
    pub fn groups(&self, claim: &str) -> Vec<String> {
        match self.get(claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => vec![],
        }
    }

    /// Whether `amr` names a second factor (RFC 8176 values beyond a password).
    pub fn used_second_factor(&self) -> bool {
        const SECOND: [&str; 10] = [
            "mfa", "otp", "hwk", "swk", "sms", "tel", "fpt", "face", "iris", "sc",
        ];
        self.amr.iter().any(|m| SECOND.contains(&m.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value, amr: &[&str]) -> Claims {
        Claims {
            subject: "s".into(),
            amr: amr.iter().map(|s| s.to_string()).collect(),
            all: v.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn claims_are_read_as_providers_send_them() {
        let c = claims(
            json!({"email": "a@example.com", "email_verified": "true", "groups": "one",
                   "realm_access": {"roles": ["r1", "r2"]}, "https://example.com/groups": ["g"]}),
            &["pwd"],
        );
        assert_eq!(c.verified_email(), Some("a@example.com"));
        assert_eq!(c.groups("groups"), vec!["one"]);
        assert_eq!(c.groups("realm_access.roles"), vec!["r1", "r2"]);
        assert_eq!(c.groups("https://example.com/groups"), vec!["g"]);
        assert!(c.groups("missing").is_empty());
        assert!(!c.used_second_factor());
        let unverified = claims(
            json!({"email": "a@example.com", "email_verified": false}),
            &["pwd", "otp"],
        );
        assert_eq!(unverified.verified_email(), None);
        assert!(unverified.used_second_factor());
        assert_eq!(
            claims(json!({"email": "a@example.com"}), &[]).verified_email(),
            None
        );
    }

    #[test]
    fn a_jwt_payload_is_read() {
        use base64::Engine;
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"x","groups":["g"]}"#);
        let p = payload(&format!("e30.{body}.sig")).unwrap();
        assert_eq!(p["groups"], json!(["g"]));
        assert!(payload("nodots").is_err());
    }
}
