//! Invitations into a workspace: an address, a role, and a single-use link that expires.
//! Only the sha256 of the link's token is stored. Inviting the same address again
//! replaces the pending invitation (its link stops working).

use anyhow::Result;
use serde::Serialize;
use validibot_types::clock::now_us;
use validibot_types::ids::{new_id, random_token, UserId, WorkspaceId};

use super::directory::User;
use super::roles::{rank, ROLE_RANK};
use super::sessions::digest;
use super::Role;
use crate::db::{is_unique_violation, Db};

/// A new invitation's id and its link token (shown once: it goes into the mail).
pub struct Issued {
    pub id: String,
    pub token: String,
    pub expires_at: i64,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// An invitation as listed and as its link shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub state: State,
    /// The inviter's username (none when the CLI invited).
    pub invited_by: Option<String>,
    #[serde(serialize_with = "validibot_types::clock::serialize_us")]
    pub created_at: i64,
    #[serde(serialize_with = "validibot_types::clock::serialize_us")]
    pub expires_at: i64,
    #[serde(serialize_with = "validibot_types::clock::serialize_opt_us")]
    pub accepted_at: Option<i64>,
    #[serde(skip)]
    pub workspace_id: WorkspaceId,
    #[serde(skip)]
    pub workspace_slug: String,
    #[serde(skip)]
    pub workspace_name: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    email: String,
    role: String,
    inviter: Option<String>,
    created_at: i64,
    expires_at: i64,
    accepted_at: Option<i64>,
    revoked_at: Option<i64>,
    workspace_id: String,
    ws_slug: String,
    ws_name: String,
}

const SELECT: &str =
    "SELECT i.id, i.email, i.role, u.username AS inviter, i.created_at, i.expires_at,
        i.accepted_at, i.revoked_at, i.workspace_id, w.slug AS ws_slug, w.name AS ws_name
     FROM invitations i JOIN workspaces w ON w.id = i.workspace_id
     LEFT JOIN users u ON u.id = i.invited_by";

impl Row {
    fn invitation(self, now: i64) -> Option<Invitation> {
        let state = if self.accepted_at.is_some() {
            State::Accepted
        } else if self.revoked_at.is_some() {
            State::Revoked
        } else if self.expires_at <= now {
            State::Expired
        } else {
            State::Pending
        };
        Some(Invitation {
            id: self.id,
            email: self.email,
            role: Role::parse(&self.role)?,
            state,
            invited_by: self.inviter,
            created_at: self.created_at,
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
            workspace_id: self.workspace_id.into(),
            workspace_slug: self.ws_slug,
            workspace_name: self.ws_name,
        })
    }
}

/// Invites `email` into the workspace; a pending invitation to the same address (any
/// case) is revoked in the same transaction, so one link at most works per address.
pub async fn issue(
    db: &Db,
    workspace_id: &WorkspaceId,
    email: &str,
    role: Role,
    invited_by: Option<&UserId>,
    lifetime_us: i64,
) -> Result<Issued> {
    let now = now_us();
    let issued = Issued {
        id: new_id(),
        token: format!("vbi_{}", random_token(43)),
        expires_at: now + lifetime_us,
    };
    let mut tx = db.write.begin().await?;
    sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE workspace_id = $2 AND lower(email) = lower($3)
           AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(workspace_id.as_str())
    .bind(email)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&issued.id)
    .bind(workspace_id.as_str())
    .bind(email)
    .bind(role.as_str())
    .bind(digest(&issued.token))
    .bind(invited_by.map(UserId::as_str))
    .bind(now)
    .bind(issued.expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(issued)
}

/// A workspace's invitations, newest first (accepted and revoked ones too, for the record).
pub async fn of_workspace(db: &Db, workspace_id: &WorkspaceId) -> Result<Vec<Invitation>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE i.workspace_id = $1 ORDER BY i.created_at DESC, i.id DESC LIMIT 500"
    )))
    .bind(workspace_id.as_str())
    .fetch_all(&db.read)
    .await?;
    let now = now_us();
    Ok(rows.into_iter().filter_map(|r| r.invitation(now)).collect())
}

/// One of a workspace's invitations.
pub async fn get(db: &Db, workspace_id: &WorkspaceId, id: &str) -> Result<Option<Invitation>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE i.workspace_id = $1 AND i.id = $2"
    )))
    .bind(workspace_id.as_str())
    .bind(id)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.and_then(|r| r.invitation(now_us())))
}

/// The invitation a link's token opens, whatever its state.
pub async fn by_token(db: &Db, token: &str) -> Result<Option<Invitation>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE i.token_hash = $1"
    )))
    .bind(digest(token))
    .fetch_optional(&db.read)
    .await?;
    Ok(row.and_then(|r| r.invitation(now_us())))
}

/// Revokes a pending invitation; false when there is none with that id in the workspace.
pub async fn revoke(db: &Db, workspace_id: &WorkspaceId, id: &str) -> Result<bool> {
    let res = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3
           AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now_us())
    .bind(workspace_id.as_str())
    .bind(id)
    .execute(&db.write)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Why an acceptance did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown token, or the invitation was used, revoked or expired.
    NotPending,
    /// A new account's username is taken.
    UsernameTaken,
}

/// Accepts with a new account: the user (with the invited address and `password_phc`),
/// the membership and the invitation's use are one transaction, fenced by the
/// invitation still being pending, so a link creates one account at most.
pub async fn accept_as_new_user(
    db: &Db,
    token: &str,
    username: &str,
    password_phc: &str,
) -> Result<Result<(User, WorkspaceId), Refusal>> {
    let mut tx = db.write.begin().await?;
    let Some((id, workspace_id, email, role)) = claim(&mut tx, token).await? else {
        return Ok(Err(Refusal::NotPending));
    };
    let user = UserId::new();
    let now = now_us();
    let insert = sqlx::query(
        "INSERT INTO users (id, username, email, password_hash, is_active, created_at) VALUES ($1, $2, $3, $4, 1, $5)",
    )
    .bind(user.as_str())
    .bind(username)
    .bind(&email)
    .bind(password_phc)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match insert {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Ok(Err(Refusal::UsernameTaken)),
        Err(e) => return Err(e.into()),
    }
    join(&mut tx, &id, &user, &workspace_id, &role).await?;
    tx.commit().await?;
    Ok(Ok((
        User {
            id: user,
            username: username.to_owned(),
        },
        workspace_id.into(),
    )))
}

/// Accepts for an existing account. A member keeps a higher role than the invitation's.
pub async fn accept_as(
    db: &Db,
    token: &str,
    user_id: &UserId,
) -> Result<Result<WorkspaceId, Refusal>> {
    let mut tx = db.write.begin().await?;
    let Some((id, workspace_id, _, role)) = claim(&mut tx, token).await? else {
        return Ok(Err(Refusal::NotPending));
    };
    join(&mut tx, &id, user_id, &workspace_id, &role).await?;
    tx.commit().await?;
    Ok(Ok(workspace_id.into()))
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Marks the invitation used if it is pending: `(id, workspace, email, role)`.
async fn claim(tx: &mut Tx, token: &str) -> Result<Option<(String, String, String, String)>> {
    let now = now_us();
    let hash = digest(token);
    let used = sqlx::query(
        "UPDATE invitations SET accepted_at = $1 WHERE token_hash = $2
           AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(&hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if used != 1 {
        return Ok(None);
    }
    Ok(Some(
        sqlx::query_as(
            "SELECT id, workspace_id, email, role FROM invitations WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_one(&mut **tx)
        .await?,
    ))
}

/// Records who accepted and grants the role (never lowering one the user already has);
/// the membership is then the invitation's, not an SSO provider's to keep in step.
async fn join(
    tx: &mut Tx,
    invitation: &str,
    user_id: &UserId,
    workspace_id: &str,
    role: &str,
) -> Result<()> {
    sqlx::query("UPDATE invitations SET accepted_by = $1 WHERE id = $2")
        .bind(user_id.as_str())
        .bind(invitation)
        .execute(&mut **tx)
        .await?;
    let invited = Role::parse(role).unwrap_or(Role::Viewer);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO memberships (user_id, workspace_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, workspace_id) DO UPDATE SET sso_provider = NULL, role = CASE
           WHEN {} < $5 THEN excluded.role ELSE memberships.role END",
        ROLE_RANK.replace("CASE role", "CASE memberships.role")
    )))
    .bind(user_id.as_str())
    .bind(workspace_id)
    .bind(role)
    .bind(now_us())
    .bind(rank(invited))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The member of the workspace with this address (any case), if one is.
pub async fn member_with_email(
    db: &Db,
    workspace_id: &WorkspaceId,
    email: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 AND lower(u.email) = lower($2) LIMIT 1",
    )
    .bind(workspace_id.as_str())
    .bind(email)
    .fetch_optional(&db.read)
    .await?)
}
