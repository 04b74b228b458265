//! Web sessions: a random cookie token (only its sha256 is stored) and a per-session
//! CSRF token that state-changing requests must echo in `X-CSRF-Token` or a form field.

use anyhow::Result;
use sha2::{Digest, Sha256};
use validibot_types::ids::UserId;

use super::directory::{Authenticated, User, WorkspaceRow, WORKSPACE_COLUMNS};
use crate::db::Db;
use validibot_types::clock::now_us;
use validibot_types::ids::random_token;

/// Sessions last a working week; signing out ends one at once.
pub const LIFETIME_US: i64 = 7 * 86_400 * 1_000_000;

pub(crate) fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub struct NewSession {
    pub token: String,
    pub csrf: String,
}

/// How a session began: the workspace rule "a second factor for password sign-ins"
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A password (with its TOTP code when the account has a second factor).
    Password,
    /// An OpenID provider's sign-in; `second_factor` when its `amr` claim said so.
    Sso {
        provider: String,
        second_factor: bool,
    },
}

/// An authenticated session: its user (and membership when asked), its CSRF token and
/// how it began.
pub struct Session {
    pub auth: Authenticated,
    pub csrf: String,
    pub origin: Origin,
}

pub async fn create(db: &Db, user_id: &UserId, origin: &Origin) -> Result<NewSession> {
    let session = NewSession {
        token: random_token(43),
        csrf: random_token(32),
    };
    let now = now_us();
    sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&db.write)
        .await?;
    sqlx::query(
        "INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at, expires_at, sso_provider, second_factor)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(digest(&session.token))
    .bind(user_id.as_str())
    .bind(&session.csrf)
    .bind(now)
    .bind(now + LIFETIME_US)
    .bind(match origin {
        Origin::Password => None,
        Origin::Sso { provider, .. } => Some(provider.as_str()),
    })
    .bind(i64::from(matches!(
        origin,
        Origin::Sso {
            second_factor: true,
            ..
        }
    )))
    .execute(&db.write)
    .await?;
    Ok(session)
}

pub async fn end(db: &Db, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
        .bind(digest(token))
        .execute(&db.write)
        .await?;
    Ok(())
}

/// The session's user (active, not expired), its CSRF token, how it began and, with a
/// workspace slug, the membership in it (the same shape API-key authentication gives).
pub async fn authenticate(
    db: &Db,
    token: &str,
    workspace_slug: Option<&str>,
) -> Result<Option<Session>> {
    let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKSPACE_COLUMNS}, m.role, s.csrf_token, s.sso_provider, s.second_factor,
                u.id AS user_id, u.username
         FROM web_sessions s JOIN users u ON u.id = s.user_id
         LEFT JOIN memberships m ON m.user_id = u.id AND m.workspace_id = (SELECT id FROM workspaces WHERE slug = $2)
         LEFT JOIN workspaces w ON w.id = m.workspace_id
         WHERE s.token_hash = $1 AND s.expires_at > $3 AND u.is_active = 1"
    )))
    .bind(digest(token))
    .bind(workspace_slug)
    .bind(now_us())
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(|r| Session {
        auth: Authenticated {
            key_expires_at: None,
            membership: r.workspace.asked(workspace_slug),
            user: User {
                id: r.user_id.into(),
                username: r.username,
            },
        },
        csrf: r.csrf_token,
        origin: match r.sso_provider {
            None => Origin::Password,
            Some(provider) => Origin::Sso {
                provider,
                second_factor: r.second_factor == 1,
            },
        },
    }))
}

/// A session with its user and, when asked, the membership in one workspace.
#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    workspace: WorkspaceRow,
    csrf_token: String,
    sso_provider: Option<String>,
    second_factor: i64,
    user_id: String,
    username: String,
}
