//! Teams (Pro): named groups of users granted a role on workspaces. Storage only;
//! whether grants count is the license's call (`roles.effective` hook).

use anyhow::Result;
use serde::Serialize;
use validibot_types::ids::{UserId, WorkspaceId};

use super::directory::{Workspace, WorkspaceRow, WORKSPACE_COLUMNS};
use super::roles::{rank, ROLE_RANK};
use super::Role;
use crate::db::{is_unique_violation, Db};
use validibot_types::clock::now_us;
use validibot_types::ids::new_id;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Team {
    #[serde(skip)]
    pub id: String,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct TeamView {
    #[serde(flatten)]
    pub team: Team,
    pub members: Vec<String>,
    pub grants: Vec<Grant>,
}

#[derive(Debug, Serialize)]
pub struct Grant {
    pub workspace: String,
    pub role: Role,
}

/// `None` when the slug is taken.
pub async fn create(db: &Db, slug: &str, name: &str) -> Result<Option<Team>> {
    let id = new_id();
    let res = sqlx::query("INSERT INTO teams (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(slug)
        .bind(name)
        .bind(now_us())
        .execute(&db.write)
        .await;
    match res {
        Ok(_) => Ok(Some(Team {
            id,
            slug: slug.into(),
            name: name.into(),
        })),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn find(db: &Db, slug: &str) -> Result<Option<Team>> {
    Ok(
        sqlx::query_as("SELECT id, slug, name FROM teams WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&db.read)
            .await?,
    )
}

pub async fn list(db: &Db) -> Result<Vec<TeamView>> {
    let teams: Vec<Team> = sqlx::query_as("SELECT id, slug, name FROM teams ORDER BY slug")
        .fetch_all(&db.read)
        .await?;
    let members: Vec<(String, String)> = sqlx::query_as(
        "SELECT tm.team_id, u.username FROM team_members tm JOIN users u ON u.id = tm.user_id ORDER BY u.username",
    )
    .fetch_all(&db.read)
    .await?;
    let grants: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT g.team_id, w.slug, g.role FROM team_grants g JOIN workspaces w ON w.id = g.workspace_id ORDER BY w.slug",
    )
    .fetch_all(&db.read)
    .await?;
    Ok(teams
        .into_iter()
        .map(|team| TeamView {
            members: members
                .iter()
                .filter(|(t, _)| *t == team.id)
                .map(|(_, user)| user.clone())
                .collect(),
            grants: grants
                .iter()
                .filter(|(t, _, _)| *t == team.id)
                .filter_map(|(_, workspace, role)| {
                    Some(Grant {
                        workspace: workspace.clone(),
                        role: Role::parse(role)?,
                    })
                })
                .collect(),
            team,
        })
        .collect())
}

/// Deletes a team with its memberships and grants (one transaction); whether it existed.
pub async fn delete(db: &Db, team_id: &str) -> Result<bool> {
    let mut tx = db.write.begin().await?;
    for table in ["team_grants", "team_members"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE team_id = $1"
        )))
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
    }
    let gone = sqlx::query("DELETE FROM teams WHERE id = $1")
        .bind(team_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(gone > 0)
}

pub async fn add_member(db: &Db, team_id: &str, user_id: &UserId) -> Result<()> {
    sqlx::query(
        "INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (team_id, user_id) DO NOTHING",
    )
    .bind(team_id)
    .bind(user_id.as_str())
    .bind(now_us())
    .execute(&db.write)
    .await?;
    Ok(())
}

pub async fn remove_member(db: &Db, team_id: &str, user_id: &UserId) -> Result<bool> {
    let res = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user_id.as_str())
        .execute(&db.write)
        .await?;
    Ok(res.rows_affected() > 0)
}

/// Grants (or changes) the team's role on a workspace.
/// Why a grant change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantRefusal {
    /// The new role, or the grant's current one, is above the actor's own role: a team
    /// grant is a way to hand out roles, so it may hand out no more than the actor holds.
    AboveActor(Role),
    NoGrant,
}

/// Grants a team `role` on a workspace on behalf of someone whose role is `actor`.
/// The guard on an existing grant is part of the statement that changes it.
pub async fn grant(
    db: &Db,
    actor: Role,
    team_id: &str,
    workspace_id: &WorkspaceId,
    role: Role,
) -> Result<Result<(), GrantRefusal>> {
    if role > actor {
        return Ok(Err(GrantRefusal::AboveActor(role)));
    }
    let mut tx = db.write.begin().await?;
    let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE team_grants SET role = $1 WHERE team_id = $2 AND workspace_id = $3 AND {ROLE_RANK} <= $4"
    )))
    .bind(role.as_str())
    .bind(team_id)
    .bind(workspace_id.as_str())
    .bind(rank(actor))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let outcome = if changed == 1 {
        Ok(())
    } else if let Some(current) = current_grant(&mut tx, team_id, workspace_id).await? {
        Err(GrantRefusal::AboveActor(current))
    } else {
        sqlx::query(
            "INSERT INTO team_grants (team_id, workspace_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(team_id)
        .bind(workspace_id.as_str())
        .bind(role.as_str())
        .bind(now_us())
        .execute(&mut *tx)
        .await?;
        Ok(())
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Revokes a team's grant on behalf of someone whose role is `actor` (not a grant above it).
pub async fn revoke(
    db: &Db,
    actor: Role,
    team_id: &str,
    workspace_id: &WorkspaceId,
) -> Result<Result<(), GrantRefusal>> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM team_grants WHERE team_id = $1 AND workspace_id = $2 AND {ROLE_RANK} <= $3"
    )))
    .bind(team_id)
    .bind(workspace_id.as_str())
    .bind(rank(actor))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let outcome = if done == 1 {
        Ok(())
    } else {
        match current_grant(&mut tx, team_id, workspace_id).await? {
            Some(current) => Err(GrantRefusal::AboveActor(current)),
            None => Err(GrantRefusal::NoGrant),
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

async fn current_grant(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    team_id: &str,
    workspace_id: &WorkspaceId,
) -> Result<Option<Role>> {
    let row: Option<String> =
        sqlx::query_scalar("SELECT role FROM team_grants WHERE team_id = $1 AND workspace_id = $2")
            .bind(team_id)
            .bind(workspace_id.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.as_deref().and_then(Role::parse))
}

/// The workspace and the roles the user's teams hold on it.
pub async fn roles_in(
    db: &Db,
    user_id: &UserId,
    workspace_slug: &str,
) -> Result<Option<(Workspace, Vec<Role>)>> {
    let rows: Vec<WorkspaceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKSPACE_COLUMNS}, g.role FROM team_grants g
         JOIN team_members tm ON tm.team_id = g.team_id
         JOIN workspaces w ON w.id = g.workspace_id
         WHERE tm.user_id = $1 AND w.slug = $2"
    )))
    .bind(user_id.as_str())
    .bind(workspace_slug)
    .fetch_all(&db.read)
    .await?;
    let Some(ws) = rows.first().and_then(WorkspaceRow::workspace) else {
        return Ok(None);
    };
    let roles = rows.iter().filter_map(WorkspaceRow::role).collect();
    Ok(Some((ws, roles)))
}

/// Every workspace the user's teams hold a role on, with those roles.
pub async fn workspaces_of(db: &Db, user_id: &UserId) -> Result<Vec<(Workspace, Vec<Role>)>> {
    let rows: Vec<WorkspaceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKSPACE_COLUMNS}, g.role FROM team_grants g
         JOIN team_members tm ON tm.team_id = g.team_id
         JOIN workspaces w ON w.id = g.workspace_id
         WHERE tm.user_id = $1 ORDER BY w.slug"
    )))
    .bind(user_id.as_str())
    .fetch_all(&db.read)
    .await?;
    let mut out: Vec<(Workspace, Vec<Role>)> = Vec::new();
    for r in &rows {
        let (Some(ws), Some(role)) = (r.workspace(), r.role()) else {
            continue;
        };
        match out.last_mut() {
            Some((last, roles)) if last.slug == ws.slug => roles.push(role),
            _ => out.push((ws, vec![role])),
        }
    }
    Ok(out)
}
