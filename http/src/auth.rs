//! Authentication (bearer API keys) and per-workspace authorisation.

use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::{ApiError, AppState};
use validibot_plugin_api::extension::features;
use validibot_store::accounts::directory::{self, User, Workspace};
use validibot_store::accounts::{mfa, sessions, teams, Permission, Role};
use validibot_types::ids::UserId;

/// The authenticated caller, with their membership in the request's `{ws}` (when the route
/// has one) looked up by the same query.
pub struct Caller(
    pub User,
    Option<(String, Option<(Workspace, Role)>)>,
    /// The expiry of the API key that authenticated the request, if it has one.
    pub Option<i64>,
    /// What authenticated the request.
    pub Via,
);

/// A web session (a password sign-in, with its second factor if the user has one), a
/// web session an OpenID provider began, or an API key. Workspaces that require a second
/// factor refuse password sessions of users without one and provider sessions whose
/// provider did not report one when told to (`second_factor` is then what it reported);
/// API keys are credentials of their own, minted in such a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    Sso { second_factor: bool },
    ApiKey,
}

impl Via {
    /// How a session began, as the requirement of a second factor sees it.
    pub fn of_session(origin: &sessions::Origin) -> Via {
        match origin {
            sessions::Origin::Password => Via::Session,
            sessions::Origin::Sso { second_factor, .. } => Via::Sso {
                second_factor: *second_factor,
            },
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state).await.ok();
        let ws = params
            .as_ref()
            .and_then(|p| p.iter().find(|(k, _)| *k == "ws").map(|(_, v)| v));
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            // The web UI calls the same API with its session cookie.
            if let Some(token) = session_cookie(&parts.headers) {
                if let Some(session) = sessions::authenticate(&state.db, token, ws).await? {
                    check_csrf(parts, &session.csrf)?;
                    let via = Via::of_session(&session.origin);
                    let auth = session.auth;
                    return Ok(Caller(auth.user, auth.membership, None, via).noted(parts));
                }
            }
            return Err(ApiError::unauthorized(
                "authentication required: send Authorization: Bearer vbk_…",
            ));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                ApiError::unauthorized("malformed Authorization header; expected Bearer vbk_…")
            })?
            .trim()
            .to_owned();
        match directory::authenticate(&state.db, &state.secret, &token, ws).await? {
            Some(auth) => Ok(
                Caller(auth.user, auth.membership, auth.key_expires_at, Via::ApiKey).noted(parts),
            ),
            None => Err(ApiError::unauthorized(
                "invalid, expired or revoked API key",
            )),
        }
    }
}

/// Who made a request, filled in by the `Caller` extractor when it authenticates one:
/// the audit log's middleware (`crate::audit`) puts it in before the handler runs and
/// reads it after.
#[derive(Clone, Default)]
pub struct ActorSlot(Arc<Mutex<Option<Actor>>>);

#[derive(Clone, Debug)]
pub struct Actor {
    pub id: String,
    pub name: String,
    pub via: Via,
}

impl ActorSlot {
    pub fn set(&self, actor: Actor) {
        *self.0.lock().expect("actor slot") = Some(actor);
    }
    pub fn take(&self) -> Option<Actor> {
        self.0.lock().expect("actor slot").take()
    }
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Session => "session",
            Via::Sso { .. } => "sso",
            Via::ApiKey => "api_key",
        }
    }
}

/// The name of the web UI's session cookie.
pub const SESSION_COOKIE: &str = "validibot_session";

/// The session token from the `Cookie` header, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

/// A cookie's (non-empty) value from the `Cookie` header.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
        .filter(|t| !t.is_empty())
}

/// Cookie-authenticated requests that change state must echo the session's CSRF token
/// (`X-CSRF-Token`); a cross-site page can send the cookie but cannot read the token.
fn check_csrf(parts: &Parts, expected: &str) -> Result<(), ApiError> {
    use subtle::ConstantTimeEq;
    if parts.method.is_safe() {
        return Ok(());
    }
    let sent = parts
        .headers
        .get("x-csrf-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if sent.ct_eq(expected.as_bytes()).into() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "CSRF_FAILED",
            "missing or wrong X-CSRF-Token for a cookie-authenticated request",
        ))
    }
}

impl Caller {
    /// Tells the audit log who made the request (when it records this one).
    fn noted(self, parts: &Parts) -> Caller {
        if let Some(slot) = parts.extensions.get::<ActorSlot>() {
            slot.set(Actor {
                id: self.0.id.to_string(),
                name: self.0.username.clone(),
                via: self.3,
            });
        }
        self
    }

    /// A caller for server-rendered pages (the web UI's signed-in user and how their
    /// session began).
    pub fn from_user(user: User, via: Via) -> Caller {
        Caller(user, None, None, via)
    }
}

/// The caller's membership in `{ws}` with `permission`: 404 when not a member
/// (workspace names don't leak), 403 when the role is too low.
pub async fn member(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    permission: Permission,
) -> Result<(Workspace, Role), ApiError> {
    let mut found = match &caller.1 {
        Some((slug, found)) if slug == ws => found.clone(),
        _ => directory::membership(&state.db, &caller.0.id, ws).await?,
    };
    let status = state.licensing.status().await?;
    if status.has(features::TEAMS) {
        if let Some((workspace, team_roles)) = teams::roles_in(&state.db, &caller.0.id, ws).await? {
            let direct = found.as_ref().map(|(_, r)| *r);
            found = state
                .licensing
                .effective_role(direct, &team_roles, &status)
                .map(|role| (workspace, role));
        }
    }
    let (workspace, role) = found.ok_or_else(|| {
        ApiError::not_found("WORKSPACE_NOT_FOUND", format!("workspace {ws:?} not found"))
    })?;
    let lacks_second_factor = match caller.3 {
        Via::Session => !mfa::enabled(&state.db, &caller.0.id).await?,
        Via::Sso { second_factor } => !second_factor,
        Via::ApiKey => false,
    };
    if workspace.require_mfa && lacks_second_factor {
        let how = match caller.3 {
            Via::Sso { .. } => "sign in again through your provider with a second factor",
            _ => "turn it on at /ui/account/two-factor",
        };
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "MFA_REQUIRED",
            format!("workspace {ws:?} requires two-factor authentication: {how}"),
        ));
    }
    if !workspace.is_default && permission.writes() {
        require_workspace_decision(
            state,
            "write",
            "this workspace is read-only without Validibot Pro",
        )
        .await?;
    }
    if !role.allows(permission) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            format!("your role {:?} lacks {}", role.as_str(), permission.name()),
        ));
    }
    Ok((workspace, role))
}

/// Whether the caller administers the instance: admin or owner of the default workspace.
/// The workspaces a user sees, each with their effective role: direct memberships, and
/// (with the teams feature) their teams' grants. The API's list and the UI's switcher.
pub async fn visible_workspaces(
    state: &AppState,
    user_id: &UserId,
) -> Result<Vec<(Workspace, Role)>, ApiError> {
    let mut list = directory::workspaces_of(&state.db, user_id).await?;
    let status = state.licensing.status().await?;
    if status.has(features::TEAMS) {
        for (ws, team_roles) in teams::workspaces_of(&state.db, user_id).await? {
            let direct = list.iter().position(|(w, _)| w.slug == ws.slug);
            let role =
                state
                    .licensing
                    .effective_role(direct.map(|i| list[i].1), &team_roles, &status);
            match (direct, role) {
                (Some(i), Some(role)) => list[i].1 = role,
                (None, Some(role)) => list.push((ws, role)),
                _ => {}
            }
        }
        list.sort_by(|a, b| a.0.slug.cmp(&b.0.slug));
    }
    Ok(list)
}

pub async fn instance_admin(state: &AppState, caller: &Caller) -> Result<bool, ApiError> {
    let role = directory::default_role(&state.db, &caller.0.id).await?;
    Ok(role.is_some_and(|r| r.allows(Permission::WorkspaceManage)))
}

/// 403 `PERMISSION_DENIED` unless the caller is an instance admin; `what` names the
/// action in the detail ("installing a license needs the admin or owner role …").
pub async fn require_instance_admin(
    state: &AppState,
    caller: &Caller,
    what: &str,
) -> Result<(), ApiError> {
    if instance_admin(state, caller).await? {
        return Ok(());
    }
    Err(ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        format!("{what} needs the admin or owner role in the default workspace"),
    ))
}

/// 402 unless the license allows `action` on workspaces now (the hook's decision):
/// `LICENSE_LIMIT_REACHED` when a licensed limit is the reason, else
/// `PRO_FEATURE_REQUIRED`. `fallback` is the detail when the hook gives none.
pub async fn require_workspace_decision(
    state: &AppState,
    action: &'static str,
    fallback: &str,
) -> Result<(), ApiError> {
    let decision = state.licensing.workspace_decision(action, false).await?;
    if decision.allowed {
        return Ok(());
    }
    let status = state.licensing.status().await?;
    let code = match decision.code.as_deref() {
        Some("LICENSE_LIMIT_REACHED") => "LICENSE_LIMIT_REACHED",
        _ => "PRO_FEATURE_REQUIRED",
    };
    Err(ApiError::pro_required(
        code,
        decision
            .feature
            .as_deref()
            .unwrap_or(validibot_engines::extensions::hooks::MULTIPLE_WORKSPACES),
        &status.state,
        decision.detail.unwrap_or_else(|| fallback.into()),
    ))
}

/// 402 unless the license turns `feature` on now.
pub async fn require_feature(state: &AppState, feature: &str) -> Result<(), ApiError> {
    match state.licensing.require(feature).await? {
        Ok(()) => Ok(()),
        Err((license_state, detail)) => Err(ApiError::pro_required(
            "PRO_FEATURE_REQUIRED",
            feature,
            &license_state,
            detail,
        )),
    }
}

/// [`client_address`] of a request from its headers and extensions (the peer, when the
/// server was started with connect info).
pub fn request_client(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> String {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    client_address(state, headers, peer)
}

/// The client's address: the last entry of the trusted proxy's header when one is
/// configured (the proxy appends the address it saw), else the connection's peer.
pub fn client_address(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> String {
    let from_proxy = state.settings.client_ip_header.as_deref().and_then(|name| {
        let value = headers.get(name)?.to_str().ok()?;
        let last = value.rsplit(',').next()?.trim();
        last.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| ip.to_string())
    });
    from_proxy
        .or_else(|| peer.map(|p| p.ip().to_string()))
        .unwrap_or_else(|| "unknown".into())
}
