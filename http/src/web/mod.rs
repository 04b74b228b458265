//! The web UI: server-rendered pages (maud) under `/ui`, signed in with a password and a
//! session cookie. Pages read through the same stores as the API; actions (save a
//! workflow, upload, API keys, members) are the REST API called from the page's script
//! with the session cookie and its CSRF token, so the UI can do nothing the API can't.
//! Everything (CSS, JS, the chart) is served by the binary: no CDN.

mod assets;
mod audit;
mod dashboard;
mod guides;
mod invitations;
mod layout;
mod license;
mod recovery;
mod runs;
mod session;
mod settings;
mod sso;
mod teams;
mod two_factor;
mod webhooks;
mod workflows;
mod workspaces;

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::{member, session_cookie, visible_workspaces, Caller};
use crate::{ApiError, AppState};
use validibot_store::accounts::directory::{User, Workspace};
use validibot_store::accounts::{sessions, Permission, Role};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(session::home))
        .route("/ui/login", get(session::login_page).post(session::login))
        .route(
            "/ui/login/code",
            axum::routing::post(session::second_factor),
        )
        .route("/ui/logout", axum::routing::post(session::logout))
        .route("/ui/sso/{provider}/start", get(sso::start))
        .route("/ui/sso/{provider}/callback", get(sso::callback))
        .route("/ui/account/two-factor", get(two_factor::page))
        .route(
            "/ui/invitations/{token}",
            get(invitations::page).post(invitations::submit),
        )
        .route(
            "/ui/password-reset",
            get(recovery::request_page).post(recovery::request),
        )
        .route(
            "/ui/password-reset/{token}",
            get(recovery::reset_page).post(recovery::reset),
        )
        .route("/ui/assets/{name}", get(assets::serve))
        .route("/ui/validators", get(guides::index))
        .route("/ui/validators/{slug}", get(guides::page))
        .route("/ui/w/{ws}", get(dashboard::page))
        .route("/ui/w/{ws}/workflows", get(workflows::list))
        .route("/ui/w/{ws}/workflows/new", get(workflows::new))
        .route("/ui/w/{ws}/workflows/{slug}", get(workflows::show))
        .route("/ui/w/{ws}/workflows/{slug}/edit", get(workflows::edit))
        .route("/ui/w/{ws}/runs", get(runs::list))
        .route("/ui/w/{ws}/runs/{id}", get(runs::show))
        .route("/ui/w/{ws}/settings", get(settings::page))
        .route("/ui/w/{ws}/webhooks", get(webhooks::page))
        .route("/ui/w/{ws}/workspaces", get(workspaces::page))
        .route("/ui/w/{ws}/teams", get(teams::page))
        .route("/ui/w/{ws}/license", get(license::page))
        .route("/ui/w/{ws}/audit", get(audit::page))
}

/// The signed-in user of a page, with the session's CSRF token for the page's script.
pub struct WebUser {
    pub user: User,
    pub csrf: String,
    /// How the session began (a password, or a provider's sign-in).
    pub via: crate::auth::Via,
    /// Every workspace the user sees, with their role: the header's switcher and the
    /// workspaces page.
    pub workspaces: Vec<(Workspace, Role)>,
}

/// Not signed in: back to the login page, then to where the user was going.
pub struct LoginRedirect(String);

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        let next: String = url_encode(&self.0);
        Redirect::to(&format!("/ui/login?next={next}")).into_response()
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl FromRequestParts<Arc<AppState>> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let here = OriginalUri::from_request_parts(parts, state)
            .await
            .map(|u| u.0.to_string())
            .unwrap_or_else(|_| "/ui".into());
        let Some(token) = session_cookie(&parts.headers) else {
            return Err(LoginRedirect(here).into_response());
        };
        match sessions::authenticate(&state.db, token, None).await {
            Ok(Some(session)) => {
                let workspaces = visible_workspaces(state, &session.auth.user.id)
                    .await
                    .map_err(IntoResponse::into_response)?;
                Ok(WebUser {
                    via: crate::auth::Via::of_session(&session.origin),
                    user: session.auth.user,
                    csrf: session.csrf,
                    workspaces,
                })
            }
            Ok(None) => Err(LoginRedirect(here).into_response()),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

/// A page's workspace: the user's membership with `permission`, else the API's error
/// (404 for a workspace they can't see, 403 for a role too low) rendered as a page.
pub async fn workspace_for(
    state: &AppState,
    user: &WebUser,
    ws: &str,
    permission: Permission,
) -> Result<(Workspace, Role), Response> {
    let caller = Caller::from_user(user.user.clone(), user.via);
    member(state, &caller, ws, permission)
        .await
        .map_err(|e| error_page(user, e))
}

/// An API error as a page (same status, same code).
pub fn error_page(user: &WebUser, e: ApiError) -> Response {
    let status = e.status;
    let body = layout::page(
        "Error",
        Some(user),
        None,
        maud::html! {
            h1 { "Something went wrong" }
            p.error role="alert" { (e.detail) " " code { (e.code) } }
            @if e.code == "MFA_REQUIRED" {
                p { a.button.primary href="/ui/account/two-factor" id="set-up-two-factor" { "Set up two-factor authentication" } }
            }
            p { a href="/ui" { "Back to the start" } }
        },
    );
    (status, Html(body.into_string())).into_response()
}
