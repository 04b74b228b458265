//! Single sign-on's rows: pending sign-ins (state → PKCE verifier and nonce), the
//! identities that link a provider's subject to an account, and the memberships a
//! provider's group mapping keeps in step. The protocol itself is in
//! `validibot_services::accounts::sso`.

use anyhow::Result;
use validibot_types::ids::{UserId, WorkspaceId};

use super::directory::User;
use super::sessions::digest;
use super::Role;
use crate::db::{is_unique_violation, Db};
use validibot_types::clock::now_us;

/// A sign-in must come back from the provider within ten minutes.
pub const LOGIN_LIFETIME_US: i64 = 10 * 60 * 1_000_000;

/// What a sign-in started here must find when the provider sends the browser back.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingLogin {
    pub provider: String,
    pub pkce_verifier: String,
    pub nonce: String,
    /// The page to go to afterwards.
    pub next: String,
}

/// Keeps a started sign-in under its state (stored as sha256 only); drops expired ones.
pub async fn begin(db: &Db, state: &str, login: &PendingLogin) -> Result<()> {
    let now = now_us();
    sqlx::query("DELETE FROM sso_logins WHERE expires_at <= $1")
        .bind(now)
        .execute(&db.write)
        .await?;
    sqlx::query(
        "INSERT INTO sso_logins (state_hash, provider, pkce_verifier, nonce, next, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(digest(state))
    .bind(&login.provider)
    .bind(&login.pkce_verifier)
    .bind(&login.nonce)
    .bind(&login.next)
    .bind(now)
    .bind(now + LOGIN_LIFETIME_US)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// The sign-in started under `state`, once: it is deleted as it is read, so a
/// provider's answer (its code) can finish one sign-in at most.
pub async fn take(db: &Db, state: &str) -> Result<Option<PendingLogin>> {
    Ok(sqlx::query_as(
        "DELETE FROM sso_logins WHERE state_hash = $1 AND expires_at > $2
         RETURNING provider, pkce_verifier, nonce, next",
    )
    .bind(digest(state))
    .bind(now_us())
    .fetch_optional(&db.write)
    .await?)
}

/// The account a provider's subject is linked to, and whether it is active.
pub async fn linked_user(db: &Db, provider: &str, subject: &str) -> Result<Option<(User, bool)>> {
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.username, u.is_active FROM sso_identities i JOIN users u ON u.id = i.user_id
         WHERE i.provider = $1 AND i.subject = $2",
    )
    .bind(provider)
    .bind(subject)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(|(id, username, active)| {
        (
            User {
                id: id.into(),
                username,
            },
            active == 1,
        )
    }))
}

/// Active accounts with this address on record (any case). Every address on record was
/// given by an administrator or proven by a mailed link (invitation), or verified by a
/// provider; none is typed in by its user unchecked.
pub async fn users_with_email(db: &Db, email: &str) -> Result<Vec<User>> {
    Ok(sqlx::query_as(
        "SELECT id, username FROM users WHERE lower(email) = lower($1) AND is_active = 1 ORDER BY created_at",
    )
    .bind(email)
    .fetch_all(&db.read)
    .await?)
}

/// Links a subject to an existing account; false when the account already has an
/// identity at this provider (or the subject is linked already).
pub async fn link(
    db: &Db,
    provider: &str,
    subject: &str,
    user_id: &UserId,
    email: Option<&str>,
) -> Result<bool> {
    let now = now_us();
    let res = sqlx::query(
        "INSERT INTO sso_identities (provider, subject, user_id, email, created_at, last_sign_in_at)
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(provider)
    .bind(subject)
    .bind(user_id.as_str())
    .bind(email)
    .bind(now)
    .execute(&db.write)
    .await;
    match res {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Notes a sign-in through a linked identity (and the address the provider gave).
pub async fn signed_in(db: &Db, provider: &str, subject: &str, email: Option<&str>) -> Result<()> {
    sqlx::query(
        "UPDATE sso_identities SET last_sign_in_at = $1, email = $2 WHERE provider = $3 AND subject = $4",
    )
    .bind(now_us())
    .bind(email)
    .bind(provider)
    .bind(subject)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// Creates an account (no password: it signs in through the provider) linked to the
/// subject, in one transaction. The username is `wanted`, else `wanted-2`, `-3`, …
/// `verified_email` is kept only when the provider verified it.
pub async fn provision(
    db: &Db,
    provider: &str,
    subject: &str,
    wanted: &str,
    verified_email: Option<&str>,
) -> Result<User> {
    let mut tx = db.write.begin().await?;
    let taken: Vec<String> = sqlx::query_scalar(
        "SELECT username FROM users WHERE username = $1 OR username LIKE $2 ESCAPE '\\'",
    )
    .bind(wanted)
    .bind(format!(
        "{}-%",
        wanted
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    ))
    .fetch_all(&mut *tx)
    .await?;
    let username = free_username(wanted, &taken);
    let user = UserId::new();
    let now = now_us();
    sqlx::query(
        "INSERT INTO users (id, username, email, is_active, created_at) VALUES ($1, $2, $3, 1, $4)",
    )
    .bind(user.as_str())
    .bind(&username)
    .bind(verified_email)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO sso_identities (provider, subject, user_id, email, created_at, last_sign_in_at)
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(provider)
    .bind(subject)
    .bind(user.as_str())
    .bind(verified_email)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(User { id: user, username })
}

/// `wanted`, or the first `wanted-N` (N ≥ 2) not in `taken`.
fn free_username(wanted: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == wanted) {
        return wanted.to_owned();
    }
    (2..)
        .map(|n| format!("{wanted}-{n}"))
        .find(|c| !taken.contains(c))
        .expect("an unbounded range has a free name")
}

/// What keeping a membership in step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Added(Role),
    Changed {
        from: Role,
        to: Role,
    },
    Removed(Role),
    /// The mapping would have demoted or removed the workspace's last owner.
    KeptLastOwner,
}

/// Brings the user's membership in a workspace to `wanted` when the provider manages it:
/// adds one where there is none, changes or removes one this provider added. One an
/// admin or an invitation made is left as it is; so is the workspace's last owner.
pub async fn keep_membership(
    db: &Db,
    provider: &str,
    user_id: &UserId,
    workspace_id: &WorkspaceId,
    wanted: Option<Role>,
) -> Result<Option<MembershipChange>> {
    let mut tx = db.write.begin().await?;
    super::directory::lock_workspace(db, &mut tx, workspace_id).await?;
    let current: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT role, sso_provider FROM memberships WHERE user_id = $1 AND workspace_id = $2",
    )
    .bind(user_id.as_str())
    .bind(workspace_id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let change = match (current, wanted) {
        (None, None) => None,
        (None, Some(role)) => {
            sqlx::query(
                "INSERT INTO memberships (user_id, workspace_id, role, created_at, sso_provider)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(user_id.as_str())
            .bind(workspace_id.as_str())
            .bind(role.as_str())
            .bind(now_us())
            .bind(provider)
            .execute(&mut *tx)
            .await?;
            Some(MembershipChange::Added(role))
        }
        (Some((_, managed)), _) if managed.as_deref() != Some(provider) => None,
        (Some((role, _)), wanted) => {
            let from = Role::parse(&role).unwrap_or(Role::Viewer);
            if wanted == Some(from) {
                None
            } else if from == Role::Owner && owners(&mut tx, workspace_id).await? <= 1 {
                Some(MembershipChange::KeptLastOwner)
            } else if let Some(to) = wanted {
                sqlx::query(
                    "UPDATE memberships SET role = $1 WHERE user_id = $2 AND workspace_id = $3",
                )
                .bind(to.as_str())
                .bind(user_id.as_str())
                .bind(workspace_id.as_str())
                .execute(&mut *tx)
                .await?;
                Some(MembershipChange::Changed { from, to })
            } else {
                sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND workspace_id = $2")
                    .bind(user_id.as_str())
                    .bind(workspace_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                Some(MembershipChange::Removed(from))
            }
        }
    };
    tx.commit().await?;
    Ok(change)
}

async fn owners(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    workspace_id: &WorkspaceId,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
    )
    .bind(workspace_id.as_str())
    .fetch_one(&mut **tx)
    .await?)
}

/// An account's identities: `(provider, email the provider gave, last sign-in)`.
pub async fn identities_of(
    db: &Db,
    user_id: &UserId,
) -> Result<Vec<(String, Option<String>, i64)>> {
    Ok(sqlx::query_as(
        "SELECT provider, email, last_sign_in_at FROM sso_identities WHERE user_id = $1 ORDER BY provider",
    )
    .bind(user_id.as_str())
    .fetch_all(&db.read)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_get_a_number_when_taken() {
        let taken = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(free_username("alice", &taken(&[])), "alice");
        assert_eq!(free_username("alice", &taken(&["alice"])), "alice-2");
        assert_eq!(
            free_username("alice", &taken(&["alice", "alice-2", "alice-3"])),
            "alice-4"
        );
        assert_eq!(free_username("alice", &taken(&["alice-2"])), "alice");
    }

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn a_pending_sign_in_is_taken_once() {
        let (_dir, db) = db().await;
        let login = PendingLogin {
            provider: "corp".into(),
            pkce_verifier: "v".into(),
            nonce: "n".into(),
            next: "/ui".into(),
        };
        begin(&db, "state-1", &login).await.unwrap();
        assert_eq!(take(&db, "state-2").await.unwrap(), None);
        assert_eq!(take(&db, "state-1").await.unwrap(), Some(login));
        assert_eq!(take(&db, "state-1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn memberships_an_admin_made_are_left_alone() {
        use crate::accounts::directory;
        let (_dir, db) = db().await;
        let ws = directory::ensure_default_workspace(&db).await.unwrap();
        let owner = directory::create_user(&db, "owner", None).await.unwrap();
        directory::set_membership(&db, &owner.id, &ws.id, Role::Owner)
            .await
            .unwrap();
        let user = provision(&db, "corp", "sub-1", "bob", Some("bob@example.com"))
            .await
            .unwrap();
        let keep = |role| keep_membership(&db, "corp", &user.id, &ws.id, role);
        assert_eq!(
            keep(Some(Role::Viewer)).await.unwrap(),
            Some(MembershipChange::Added(Role::Viewer))
        );
        assert_eq!(keep(Some(Role::Viewer)).await.unwrap(), None);
        assert_eq!(
            keep(Some(Role::Admin)).await.unwrap(),
            Some(MembershipChange::Changed {
                from: Role::Viewer,
                to: Role::Admin
            })
        );
        // Another provider does not manage it.
        assert_eq!(
            keep_membership(&db, "other", &user.id, &ws.id, None)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            keep(None).await.unwrap(),
            Some(MembershipChange::Removed(Role::Admin))
        );
        // An admin's grant is the admin's.
        directory::set_membership(&db, &user.id, &ws.id, Role::Author)
            .await
            .unwrap();
        assert_eq!(keep(None).await.unwrap(), None);
        assert_eq!(
            directory::direct_role(&db, &user.id, &ws.id).await.unwrap(),
            Some(Role::Author)
        );
        // The identity links the account; a second subject cannot take it over.
        let (linked, active) = linked_user(&db, "corp", "sub-1").await.unwrap().unwrap();
        assert_eq!((linked.username.as_str(), active), ("bob", true));
        assert!(!link(&db, "corp", "sub-2", &user.id, None).await.unwrap());
        assert!(link(&db, "other", "sub-2", &user.id, None).await.unwrap());
        let again = provision(&db, "corp", "sub-3", "bob", None).await.unwrap();
        assert_eq!(again.username, "bob-2");
        assert_eq!(
            users_with_email(&db, "BOB@example.com")
                .await
                .unwrap()
                .len(),
            1
        );
    }
}
