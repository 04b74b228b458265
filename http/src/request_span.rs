//! What a request's log span shows: its method and path, with the credentials some URLs
//! carry left out — the `{token}` of invitation and password-reset links, and the
//! `code` and `state` a sign-in provider sends back — so that `VALIDIBOT_LOG=debug`
//! writes no secret to the logs.

use axum::extract::{MatchedPath, Request};

/// Query parameters that are credentials: an OpenID provider's answer.
const SECRET_QUERY: &[&str] = &["code", "state", "session_state", "token"];

/// The span `tower_http`'s `TraceLayer` opens for each request.
pub fn make(req: &Request) -> tracing::Span {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    // tower_http's own target, so `VALIDIBOT_LOG=…,tower_http=debug` shows it as before.
    tracing::debug_span!(
        target: "tower_http::trace::make_span",
        "request",
        method = %req.method(),
        uri = %shown(template, req.uri().path(), req.uri().query()),
        version = ?req.version(),
    )
}

/// The path and query as logged.
fn shown(template: Option<&str>, path: &str, query: Option<&str>) -> String {
    let mut out = match template {
        Some(t) => {
            let mut segments = path.split('/');
            let mut shown = vec![];
            for t in t.split('/') {
                if t.starts_with("{*") {
                    // A wildcard takes the rest of the path as it is.
                    shown.extend(segments.by_ref());
                    break;
                }
                let Some(p) = segments.next() else { break };
                let secret = t
                    .strip_prefix('{')
                    .and_then(|n| n.strip_suffix('}'))
                    .is_some_and(|n| crate::audit::SECRET_PARAMS.contains(&n));
                shown.push(if secret { "…" } else { p });
            }
            shown.join("/")
        }
        None => path.to_owned(),
    };
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if SECRET_QUERY.contains(&k) => format!("{k}=…"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn credentials_are_left_out() {
        assert_eq!(
            shown(
                Some("/ui/invitations/{token}"),
                "/ui/invitations/vbi_secret",
                None
            ),
            "/ui/invitations/…"
        );
        assert_eq!(
            shown(
                Some("/ui/sso/{provider}/callback"),
                "/ui/sso/corp/callback",
                Some("code=abc&state=def&iss=https%3A%2F%2Fidp")
            ),
            "/ui/sso/corp/callback?code=…&state=…&iss=https%3A%2F%2Fidp"
        );
        assert_eq!(
            shown(
                Some("/api/v1/workspaces/{ws}/runs"),
                "/api/v1/workspaces/default/runs",
                Some("limit=5")
            ),
            "/api/v1/workspaces/default/runs?limit=5"
        );
        assert_eq!(shown(None, "/nowhere", None), "/nowhere");
        assert_eq!(
            shown(Some("/files/{*rest}"), "/files/a/b.css", None),
            "/files/a/b.css"
        );
    }
}
