//! Persistence for workspaces, users, memberships and API keys.

use anyhow::{bail, Result};
use serde::Serialize;
use validibot_types::ids::{UserId, WorkspaceId};

use super::api_keys::{self, NewKey};
use super::Role;
use crate::db::{is_unique_violation, Db};
use validibot_types::clock::now_us;
use validibot_types::ids::{new_id, random_token};

#[derive(Debug, Clone, Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: String,
    pub name: String,
    pub is_default: bool,
    /// Members who sign in with a password must have a second factor (`mfa`).
    pub require_mfa: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    #[sqlx(try_from = "String")]
    pub id: UserId,
    pub username: String,
}

/// Don't write `last_used_at` more often than this per key (keeps reads read-only).
const LAST_USED_RESOLUTION_US: i64 = 60_000_000;

/// Creates the default workspace on first start; returns it.
pub async fn ensure_default_workspace(db: &Db) -> Result<Workspace> {
    if let Some(ws) = default_workspace(db).await? {
        return Ok(ws);
    }
    let insert = sqlx::query("INSERT INTO workspaces (id, slug, name, is_default, created_at) VALUES ($1, 'default', 'Default', 1, $2)")
        .bind(new_id())
        .bind(now_us())
        .execute(&db.write)
        .await;
    match insert {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {} // another process won the race
        Err(e) => return Err(e.into()),
    }
    default_workspace(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("default workspace missing after creation"))
}

async fn default_workspace(db: &Db) -> Result<Option<Workspace>> {
    let row: Option<WorkspaceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.is_default = 1"
    )))
    .fetch_optional(&db.read)
    .await?;
    Ok(row.and_then(|r| r.workspace()))
}

/// The instance's HMAC key for API-key hashes: from config if given, else
/// generated once and kept in the database so every process agrees.
pub async fn instance_secret(db: &Db, configured: Option<&str>) -> Result<Vec<u8>> {
    if let Some(s) = configured {
        return Ok(s.as_bytes().to_vec());
    }
    let get = || {
        sqlx::query_scalar::<_, String>(
            "SELECT value FROM instance_settings WHERE key = 'api_key_secret'",
        )
        .fetch_optional(&db.write)
    };
    if let Some(secret) = get().await? {
        return Ok(secret.into_bytes());
    }
    let res =
        sqlx::query("INSERT INTO instance_settings (key, value) VALUES ('api_key_secret', $1)")
            .bind(random_token(48))
            .execute(&db.write)
            .await;
    if let Err(e) = res {
        if !is_unique_violation(&e) {
            return Err(e.into());
        }
    }
    let secret = get()
        .await?
        .ok_or_else(|| anyhow::anyhow!("instance secret missing"))?;
    Ok(secret.into_bytes())
}

/// Why a username is not allowed (the text says what is).
pub fn username_refusal(username: &str) -> Option<String> {
    let ok = !username.is_empty()
        && username.len() <= 150
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    (!ok).then(|| format!("invalid username {username:?}: use 1-150 letters, digits or . _ - @"))
}

pub async fn create_user(db: &Db, username: &str, email: Option<&str>) -> Result<User> {
    if let Some(why) = username_refusal(username) {
        bail!("{why}");
    }
    let id = UserId::new();
    let res = sqlx::query(
        "INSERT INTO users (id, username, email, is_active, created_at) VALUES ($1, $2, $3, 1, $4)",
    )
    .bind(id.as_str())
    .bind(username)
    .bind(email)
    .bind(now_us())
    .execute(&db.write)
    .await;
    match res {
        Ok(_) => Ok(User {
            id,
            username: username.to_owned(),
        }),
        Err(e) if is_unique_violation(&e) => bail!("user {username:?} already exists"),
        Err(e) => Err(e.into()),
    }
}

/// How many users the instance has (the first one created becomes an owner).
pub async fn user_count(db: &Db) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db.read)
        .await?)
}

pub async fn find_user(db: &Db, username: &str) -> Result<Option<User>> {
    Ok(
        sqlx::query_as("SELECT id, username FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&db.read)
            .await?,
    )
}

/// Creates a (non-default) workspace; `None` when the slug is taken.
pub async fn create_workspace(db: &Db, slug: &str, name: &str) -> Result<Option<Workspace>> {
    let id = WorkspaceId::new();
    let insert = sqlx::query(
        "INSERT INTO workspaces (id, slug, name, is_default, created_at) VALUES ($1, $2, $3, 0, $4)",
    )
    .bind(id.as_str())
    .bind(slug)
    .bind(name)
    .bind(now_us())
    .execute(&db.write)
    .await;
    match insert {
        Ok(_) => Ok(Some(Workspace {
            id,
            slug: slug.to_owned(),
            name: name.to_owned(),
            is_default: false,
            require_mfa: false,
        })),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Sets whether the workspace's password sign-ins need a second factor.
pub async fn set_require_mfa(db: &Db, workspace_id: &WorkspaceId, require: bool) -> Result<()> {
    sqlx::query("UPDATE workspaces SET require_mfa = $1 WHERE id = $2")
        .bind(i64::from(require))
        .bind(workspace_id.as_str())
        .execute(&db.write)
        .await?;
    Ok(())
}

/// The user's role in the default workspace (instance administration goes by it).
pub async fn default_role(db: &Db, user_id: &UserId) -> Result<Option<Role>> {
    let row: Option<String> = sqlx::query_scalar(
        "SELECT m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE w.is_default = 1 AND m.user_id = $1",
    )
    .bind(user_id.as_str())
    .fetch_optional(&db.read)
    .await?;
    Ok(row.as_deref().and_then(Role::parse))
}

/// A direct member of a workspace.
pub struct Member {
    pub username: String,
    pub role: Role,
    /// Whether their password sign-ins ask for a second factor.
    pub mfa: bool,
}

/// Direct members of a workspace, by username.
pub async fn members_of(db: &Db, workspace_id: &WorkspaceId) -> Result<Vec<Member>> {
    let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT u.username, m.role, f.confirmed_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         LEFT JOIN user_mfa f ON f.user_id = u.id
         WHERE m.workspace_id = $1 ORDER BY u.username",
    )
    .bind(workspace_id.as_str())
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(username, role, mfa_confirmed_at)| {
            Some(Member {
                username,
                role: Role::parse(&role)?,
                mfa: mfa_confirmed_at.is_some(),
            })
        })
        .collect())
}

pub async fn find_workspace(db: &Db, slug: &str) -> Result<Option<Workspace>> {
    let row: Option<WorkspaceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.slug = $1"
    )))
    .bind(slug)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.and_then(|r| r.workspace()))
}

/// Grants (or changes) a user's role in a workspace; an admin's grant is never one an SSO
/// provider's group mapping keeps in step.
pub async fn set_membership(
    db: &Db,
    user_id: &UserId,
    workspace_id: &WorkspaceId,
    role: Role,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO memberships (user_id, workspace_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, workspace_id) DO UPDATE SET role = excluded.role, sso_provider = NULL",
    )
    .bind(user_id.as_str())
    .bind(workspace_id.as_str())
    .bind(role.as_str())
    .bind(now_us())
    .execute(&db.write)
    .await?;
    Ok(())
}

/// A user's direct role in a workspace, if any.
pub async fn direct_role(
    db: &Db,
    user_id: &UserId,
    workspace_id: &WorkspaceId,
) -> Result<Option<Role>> {
    let row: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2")
            .bind(user_id.as_str())
            .bind(workspace_id.as_str())
            .fetch_optional(&db.read)
            .await?;
    Ok(row.as_deref().and_then(Role::parse))
}

/// Why a membership change by someone with a given role was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipRefusal {
    /// The member's current role is above the actor's.
    AboveActor(Role),
    /// The change would leave the workspace without an owner.
    LastOwner,
    NotMember,
}

use super::roles::{rank, ROLE_RANK};

/// Sets a member's direct role (or adds the member) on behalf of someone whose role is
/// `actor` (the membership becomes the admin's: SSO group mapping leaves it alone): never for a member above the actor, never demoting the last owner. The
/// guard and the change are one statement, in a transaction that on PostgreSQL first
/// locks the workspace row, so concurrent changes cannot each see "another owner left".
pub async fn change_membership(
    db: &Db,
    actor: Role,
    user_id: &UserId,
    workspace_id: &WorkspaceId,
    role: Role,
) -> Result<Result<(), MembershipRefusal>> {
    let mut tx = db.write.begin().await?;
    lock_workspace(db, &mut tx, workspace_id).await?;
    let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE memberships SET role = $1, sso_provider = NULL WHERE user_id = $2 AND workspace_id = $3
           AND {ROLE_RANK} <= $4
           AND (role <> 'owner' OR $1 = 'owner'
                OR (SELECT COUNT(*) FROM memberships WHERE workspace_id = $3 AND role = 'owner') > 1)"
    )))
    .bind(role.as_str())
    .bind(user_id.as_str())
    .bind(workspace_id.as_str())
    .bind(rank(actor))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let outcome = if changed == 1 {
        Ok(())
    } else {
        match refusal(&mut tx, actor, user_id, workspace_id).await? {
            Some(refused) => Err(refused),
            None => {
                sqlx::query(
                    "INSERT INTO memberships (user_id, workspace_id, role, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(user_id.as_str())
                .bind(workspace_id.as_str())
                .bind(role.as_str())
                .bind(now_us())
                .execute(&mut *tx)
                .await?;
                Ok(())
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Removes a direct membership on behalf of someone whose role is `actor`, with the
/// same guards as [`change_membership`].
pub async fn remove_membership(
    db: &Db,
    actor: Role,
    user_id: &UserId,
    workspace_id: &WorkspaceId,
) -> Result<Result<(), MembershipRefusal>> {
    let mut tx = db.write.begin().await?;
    lock_workspace(db, &mut tx, workspace_id).await?;
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM memberships WHERE user_id = $1 AND workspace_id = $2
           AND {ROLE_RANK} <= $3
           AND (role <> 'owner'
                OR (SELECT COUNT(*) FROM memberships WHERE workspace_id = $2 AND role = 'owner') > 1)"
    )))
    .bind(user_id.as_str())
    .bind(workspace_id.as_str())
    .bind(rank(actor))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let outcome = if done == 1 {
        // Removed from everything they could reach: their web sessions end too.
        sqlx::query(
            "DELETE FROM web_sessions WHERE user_id = $1
               AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)
               AND NOT EXISTS (SELECT 1 FROM team_members WHERE user_id = $1)",
        )
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
        Ok(())
    } else {
        Err(refusal(&mut tx, actor, user_id, workspace_id)
            .await?
            .unwrap_or(MembershipRefusal::NotMember))
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Serializes membership changes of one workspace on PostgreSQL (SQLite has one writer).
pub(crate) async fn lock_workspace(
    db: &Db,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    workspace_id: &WorkspaceId,
) -> Result<()> {
    if db.backend == crate::db::Backend::Postgres {
        sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR UPDATE")
            .bind(workspace_id.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Why a guarded change touched no row (read in the same transaction); `None` when the
/// user is not a member.
async fn refusal(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: Role,
    user_id: &UserId,
    workspace_id: &WorkspaceId,
) -> Result<Option<MembershipRefusal>> {
    let row: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2")
            .bind(user_id.as_str())
            .bind(workspace_id.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    let Some(current) = row.as_deref().and_then(Role::parse) else {
        return Ok(None);
    };
    Ok(Some(if current > actor {
        MembershipRefusal::AboveActor(current)
    } else {
        MembershipRefusal::LastOwner
    }))
}

/// The caller's workspace and role, or `None` when the workspace does not exist
/// or the user is not a member (the API answers 404 for both, to not leak names).
pub async fn membership(
    db: &Db,
    user_id: &UserId,
    workspace_slug: &str,
) -> Result<Option<(Workspace, Role)>> {
    let row: Option<WorkspaceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKSPACE_COLUMNS}, m.role FROM workspaces w
         JOIN memberships m ON m.workspace_id = w.id WHERE w.slug = $1 AND m.user_id = $2"
    )))
    .bind(workspace_slug)
    .bind(user_id.as_str())
    .fetch_optional(&db.read)
    .await?;
    Ok(row.and_then(|r| r.membership()))
}

pub async fn workspaces_of(db: &Db, user_id: &UserId) -> Result<Vec<(Workspace, Role)>> {
    let rows: Vec<WorkspaceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKSPACE_COLUMNS}, m.role FROM workspaces w
         JOIN memberships m ON m.workspace_id = w.id WHERE m.user_id = $1 ORDER BY w.slug"
    )))
    .bind(user_id.as_str())
    .fetch_all(&db.read)
    .await?;
    Ok(rows.iter().filter_map(WorkspaceRow::membership).collect())
}

/// The workspace columns every query here selects, aliased for [`WorkspaceRow`].
pub(super) const WORKSPACE_COLUMNS: &str =
    "w.id AS ws_id, w.slug AS ws_slug, w.name AS ws_name, w.is_default AS ws_is_default, w.require_mfa AS ws_require_mfa";

/// A workspace (all NULL when a LEFT JOIN found none), with a role when the query joins one
/// as `role`.
#[derive(sqlx::FromRow)]
pub(super) struct WorkspaceRow {
    ws_id: Option<String>,
    ws_slug: Option<String>,
    ws_name: Option<String>,
    ws_is_default: Option<i64>,
    ws_require_mfa: Option<i64>,
    #[sqlx(default)]
    pub(super) role: Option<String>,
}

impl WorkspaceRow {
    pub(super) fn workspace(&self) -> Option<Workspace> {
        Some(Workspace {
            id: self.ws_id.clone()?.into(),
            slug: self.ws_slug.clone()?,
            name: self.ws_name.clone()?,
            is_default: self.ws_is_default? == 1,
            require_mfa: self.ws_require_mfa? == 1,
        })
    }

    pub(super) fn role(&self) -> Option<Role> {
        self.role.as_deref().and_then(Role::parse)
    }

    fn membership(&self) -> Option<(Workspace, Role)> {
        Some((self.workspace()?, self.role()?))
    }

    /// `(slug asked for, membership)` for an authentication; `None` when no workspace
    /// was asked for.
    pub(super) fn asked(
        &self,
        workspace_slug: Option<&str>,
    ) -> Option<(String, Option<(Workspace, Role)>)> {
        workspace_slug.map(|slug| (slug.to_owned(), self.membership()))
    }
}

pub async fn create_api_key(
    db: &Db,
    secret: &[u8],
    user_id: &UserId,
    name: &str,
    expires_at: Option<i64>,
) -> Result<NewKey> {
    let key = api_keys::generate(secret);
    sqlx::query(
        "INSERT INTO api_keys (id, public_id, user_id, name, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(&key.public_id)
    .bind(user_id.as_str())
    .bind(name)
    .bind(&key.secret_hash)
    .bind(now_us())
    .bind(expires_at)
    .execute(&db.write)
    .await?;
    Ok(key)
}

pub async fn revoke_api_key(db: &Db, public_id: &str) -> Result<bool> {
    let res = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE public_id = $2 AND revoked_at IS NULL",
    )
    .bind(now_us())
    .bind(public_id)
    .execute(&db.write)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// A verified API key's user and, when a workspace was named, their membership in it.
pub struct Authenticated {
    pub user: User,
    /// `(workspace slug asked for, membership)`; the membership is `None` when the workspace
    /// doesn't exist or the user isn't a member.
    pub membership: Option<(String, Option<(Workspace, Role)>)>,
    /// When the API key that authenticated the request expires (`None`: a key without
    /// expiry, or a web session). Keys it creates may not outlive it.
    pub key_expires_at: Option<i64>,
}

/// Resolves a bearer token to its user; `None` for unknown, revoked, expired keys or inactive users.
/// With `workspace_slug`, the membership comes back from the same query (one round trip per request).
pub async fn authenticate(
    db: &Db,
    secret: &[u8],
    token: &str,
    workspace_slug: Option<&str>,
) -> Result<Option<Authenticated>> {
    let Some((public_id, key_secret)) = api_keys::parse(token) else {
        return Ok(None);
    };
    let row: Option<KeyAuthRow> = db.reader().await?.fetch_optional(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKSPACE_COLUMNS}, m.role, k.secret_hash, k.expires_at, k.revoked_at,
                k.last_used_at, u.id AS user_id, u.username, u.is_active
         FROM api_keys k JOIN users u ON u.id = k.user_id
         LEFT JOIN memberships m ON m.user_id = u.id AND m.workspace_id = (SELECT id FROM workspaces WHERE slug = $2)
         LEFT JOIN workspaces w ON w.id = m.workspace_id
         WHERE k.public_id = $1"
    )))
    .bind(public_id)
    .bind(workspace_slug))
    .await?;
    let Some(r) = row else { return Ok(None) };
    let now = now_us();
    if !api_keys::verify(secret, key_secret, &r.secret_hash)
        || r.revoked_at.is_some()
        || r.expires_at.is_some_and(|e| e <= now)
        || r.is_active != 1
    {
        return Ok(None);
    }
    if r.last_used_at
        .is_none_or(|t| now - t > LAST_USED_RESOLUTION_US)
    {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE public_id = $2")
            .bind(now)
            .bind(public_id)
            .execute(&db.write)
            .await?;
    }
    Ok(Some(Authenticated {
        membership: r.workspace.asked(workspace_slug),
        user: User {
            id: r.user_id.into(),
            username: r.username,
        },
        key_expires_at: r.expires_at,
    }))
}

/// An API key with its user and, when asked, the membership in one workspace.
#[derive(sqlx::FromRow)]
struct KeyAuthRow {
    #[sqlx(flatten)]
    workspace: WorkspaceRow,
    secret_hash: String,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    user_id: String,
    username: String,
    is_active: i64,
}

/// One of a user's API keys as listed (never the secret).
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ApiKeyView {
    pub public_id: String,
    pub name: String,
    #[serde(serialize_with = "validibot_types::clock::serialize_us")]
    pub created_at: i64,
    #[serde(serialize_with = "validibot_types::clock::serialize_opt_us")]
    pub expires_at: Option<i64>,
    #[serde(serialize_with = "validibot_types::clock::serialize_opt_us")]
    pub last_used_at: Option<i64>,
    #[serde(serialize_with = "validibot_types::clock::serialize_opt_us")]
    pub revoked_at: Option<i64>,
}

pub async fn api_keys_of(db: &Db, user_id: &UserId) -> Result<Vec<ApiKeyView>> {
    Ok(sqlx::query_as(
        "SELECT public_id, name, created_at, expires_at, last_used_at, revoked_at FROM api_keys
         WHERE user_id = $1 ORDER BY created_at DESC",
    )
    .bind(user_id.as_str())
    .fetch_all(&db.read)
    .await?)
}

/// Revokes one of the user's own keys; false when it isn't theirs or already revoked.
pub async fn revoke_own_api_key(db: &Db, user_id: &UserId, public_id: &str) -> Result<bool> {
    let res = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE public_id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now_us())
    .bind(public_id)
    .bind(user_id.as_str())
    .execute(&db.write)
    .await?;
    Ok(res.rows_affected() == 1)
}
