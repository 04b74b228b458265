//! Persistence for workflows and their steps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use validibot_types::ids::{UserId, WorkflowId, WorkspaceId};

use anyhow::Result;
use sqlx::{Any, Transaction};

use super::{Definition, Plan, Step, Workflow};
use crate::db::batch::Stmt;
use crate::db::{is_unique_violation, Db};
use crate::webhooks::outbox::{self, Audience};
use validibot_types::clock::now_us;
use validibot_types::events::EventType;
use validibot_types::ids::new_id;

pub enum CreateError {
    SlugTaken,
    Db(anyhow::Error),
}

const COLUMNS: &str = "id, workspace_id, slug, version, name, description, timeout_seconds, content_types, digest, constants, retention_days, archived_at, store_submission, created_at, updated_at, validator_memory_mib";

/// Creates version 1 of a new workflow.
pub async fn create(
    db: &Db,
    workspace_id: &WorkspaceId,
    def: &Definition,
    user_id: &UserId,
) -> Result<Workflow, CreateError> {
    let mut tx = db
        .write
        .begin()
        .await
        .map_err(|e| CreateError::Db(e.into()))?;
    let id = insert_version(&mut tx, workspace_id, def, 1, user_id)
        .await
        .map_err(|e| match e.downcast_ref::<sqlx::Error>() {
            Some(se) if is_unique_violation(se) => CreateError::SlugTaken,
            _ => CreateError::Db(e),
        })?;
    announce(
        workspace_id,
        EventType::WorkflowCreated,
        &def.slug,
        1,
        &def.name,
    )
    .execute(&mut tx)
    .await
    .map_err(|e| CreateError::Db(e.into()))?;
    tx.commit().await.map_err(|e| CreateError::Db(e.into()))?;
    get_by_id(db, &id).await.map_err(CreateError::Db)
}

/// Edits a workflow: in place while its latest version has no runs, else as a new version.
pub async fn update(
    db: &Db,
    workspace_id: &WorkspaceId,
    current: &Workflow,
    def: &Definition,
    user_id: &UserId,
) -> Result<Workflow> {
    if current.same_definition(def) {
        // Saving what is already there (workflows kept in git, saved by every CI run)
        // creates nothing.
        let mut unchanged = current.clone();
        unchanged.unchanged = true;
        return Ok(unchanged);
    }
    let mut tx = db.write.begin().await?;
    // The guard and the edit are one statement so a concurrent launch can't slip between.
    let in_place = sqlx::query(
        "UPDATE workflows SET name = $1, description = $2, timeout_seconds = $3, content_types = $4, digest = $5, updated_at = $6, constants = $8, store_submission = $9
         WHERE id = $7 AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.workflow_id = $7)",
    )
    .bind(&def.name)
    .bind(&def.description)
    .bind(def.timeout_seconds)
    .bind(serde_json::to_string(&def.content_types)?)
    .bind(&def.digest)
    .bind(now_us())
    .bind(current.id.as_str())
    .bind(constants_text(def))
    .bind((!def.store_submission).then_some(0i64))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let (id, version) = if in_place {
        sqlx::query("DELETE FROM workflow_steps WHERE workflow_id = $1")
            .bind(current.id.as_str())
            .execute(&mut *tx)
            .await?;
        insert_steps(&mut tx, &current.id, def).await?;
        (current.id.clone(), current.version)
    } else {
        let next: i64 = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(version) FROM workflows WHERE workspace_id = $1 AND slug = $2",
        )
        .bind(workspace_id.as_str())
        .bind(&def.slug)
        .fetch_one(&mut *tx)
        .await?
        .unwrap_or(0)
            + 1;
        (
            insert_version(&mut tx, workspace_id, def, next, user_id).await?,
            next,
        )
    };
    // Retention applies to the workflow's runs of every version.
    sqlx::query("UPDATE workflows SET retention_days = $1 WHERE workspace_id = $2 AND slug = $3")
        .bind(def.retention_days)
        .bind(workspace_id.as_str())
        .bind(&def.slug)
        .execute(&mut *tx)
        .await?;
    announce(
        workspace_id,
        EventType::WorkflowUpdated,
        &def.slug,
        version,
        &def.name,
    )
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    get_by_id(db, &id).await
}

/// The webhook event of a change to a workflow, queued in the change's transaction.
fn announce(
    workspace_id: &WorkspaceId,
    event: EventType,
    slug: &str,
    version: i64,
    name: &str,
) -> Stmt {
    outbox::announce(
        Audience::Workspace(workspace_id),
        &[event],
        &serde_json::json!({"workflow": {"slug": slug, "version": version, "name": name}}),
    )
}

/// Archives (`Some(time)`) or restores (`None`) every version of a workflow; false when
/// there is no such workflow.
pub async fn set_archived(
    db: &Db,
    workspace_id: &WorkspaceId,
    slug: &str,
    at: Option<i64>,
) -> Result<bool> {
    // The fence touches the latest version only (exactly one row when it exists).
    let fence = Stmt::new(
        "UPDATE workflows SET archived_at = $1 WHERE workspace_id = $2 AND slug = $3
         AND version = (SELECT MAX(version) FROM workflows WHERE workspace_id = $2 AND slug = $3)",
        crate::args![at, workspace_id, slug],
    );
    let stmts = vec![
        Stmt::new(
            "UPDATE workflows SET archived_at = $1 WHERE workspace_id = $2 AND slug = $3",
            crate::args![at, workspace_id, slug],
        ),
        outbox::announce(
            Audience::Workspace(workspace_id),
            &[EventType::WorkflowArchived],
            &serde_json::json!({"workflow": {"slug": slug}, "archived": at.is_some()}),
        ),
    ];
    Ok(db.write_tx(Some(fence), stmts).await?)
}

/// Deletes every version of a workflow that has no runs, with its steps; false when it
/// has runs (or does not exist) — nothing is deleted then.
pub async fn delete_unused(db: &Db, workspace_id: &WorkspaceId, slug: &str) -> Result<bool> {
    let unused = "NOT EXISTS (SELECT 1 FROM runs r JOIN workflows v ON v.id = r.workflow_id WHERE v.workspace_id = $1 AND v.slug = $2)";
    let fence = Stmt::new(
        format!("UPDATE workflows SET updated_at = updated_at WHERE workspace_id = $1 AND slug = $2 AND {unused}"),
        crate::args![workspace_id, slug],
    );
    let stmts = vec![
        Stmt::new(
            "DELETE FROM workflow_steps WHERE workflow_id IN (SELECT id FROM workflows WHERE workspace_id = $1 AND slug = $2)",
            crate::args![workspace_id, slug],
        ),
        Stmt::new(
            "DELETE FROM workflows WHERE workspace_id = $1 AND slug = $2",
            crate::args![workspace_id, slug],
        ),
        outbox::announce(
            Audience::Workspace(workspace_id),
            &[EventType::WorkflowDeleted],
            &serde_json::json!({"workflow": {"slug": slug}}),
        ),
    ];
    Ok(db.write_tx(Some(fence), stmts).await?)
}

async fn insert_version(
    tx: &mut Transaction<'static, Any>,
    workspace_id: &WorkspaceId,
    def: &Definition,
    version: i64,
    user_id: &UserId,
) -> Result<WorkflowId> {
    let id = WorkflowId::new();
    let now = now_us();
    sqlx::query(
        "INSERT INTO workflows (id, workspace_id, slug, version, name, description, timeout_seconds, content_types, digest, created_by, created_at, updated_at, constants, retention_days, store_submission, validator_memory_mib)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15)",
    )
    .bind(id.as_str())
    .bind(workspace_id.as_str())
    .bind(&def.slug)
    .bind(version)
    .bind(&def.name)
    .bind(&def.description)
    .bind(def.timeout_seconds)
    .bind(serde_json::to_string(&def.content_types)?)
    .bind(&def.digest)
    .bind(user_id.as_str())
    .bind(now)
    .bind(constants_text(def))
    .bind(def.retention_days)
    .bind((!def.store_submission).then_some(0i64))
    .bind(def.validator_memory_mib)
    .execute(&mut **tx)
    .await?;
    insert_steps(tx, &id, def).await?;
    Ok(id)
}

/// The constants as stored: NULL when there are none.
fn constants_text(def: &Definition) -> Option<String> {
    (!def.constants.is_empty())
        .then(|| serde_json::Value::Object(def.constants.clone()).to_string())
}

async fn insert_steps(
    tx: &mut Transaction<'static, Any>,
    workflow_id: &WorkflowId,
    def: &Definition,
) -> Result<()> {
    for s in &def.steps {
        sqlx::query(
            "INSERT INTO workflow_steps (id, workflow_id, position, key, name, validator, validator_version, config, ruleset, assertions, depends_on, on_failure, run_when, files)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(new_id())
        .bind(workflow_id.as_str())
        .bind(s.position)
        .bind(&s.key)
        .bind(&s.name)
        .bind(&s.validator)
        .bind(&s.validator_version)
        .bind(&s.config_text)
        .bind(s.ruleset.as_ref().map(|r| r.to_string()))
        .bind(if s.assertions.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&s.assertions)?)
        })
        .bind(s.depends_on.as_ref().map(serde_json::to_string).transpose()?)
        .bind((!s.on_failure.is_stop()).then(|| s.on_failure.as_str()))
        .bind(s.run_when.as_deref())
        .bind(if s.files.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&s.files)?)
        })
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The latest version, or the given one, with its steps.
pub async fn get(
    db: &Db,
    workspace_id: &WorkspaceId,
    slug: &str,
    version: Option<i64>,
) -> Result<Option<Workflow>> {
    match get_meta(db, workspace_id, slug, version).await? {
        Some(mut wf) => {
            wf.steps = load_steps(db, &wf.id).await?;
            Ok(Some(wf))
        }
        None => Ok(None),
    }
}

/// Like [`get`] but without the steps (`steps` is empty): what a launch needs.
pub async fn get_meta(
    db: &Db,
    workspace_id: &WorkspaceId,
    slug: &str,
    version: Option<i64>,
) -> Result<Option<Workflow>> {
    let sql = match version {
        Some(_) => format!("SELECT {COLUMNS} FROM workflows WHERE workspace_id = $1 AND slug = $2 AND version = $3"),
        None => format!("SELECT {COLUMNS} FROM workflows WHERE workspace_id = $1 AND slug = $2 ORDER BY version DESC LIMIT 1"),
    };
    let query = sqlx::query_as::<_, WorkflowRow>(sqlx::AssertSqlSafe(sql))
        .bind(workspace_id.as_str())
        .bind(slug);
    let query = match version {
        Some(v) => query.bind(v),
        None => query,
    };
    let row = db.reader().await?.fetch_optional(query).await?;
    Ok(row.map(WorkflowRow::into_workflow))
}

pub async fn get_by_id(db: &Db, id: &WorkflowId) -> Result<Workflow> {
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM workflows WHERE id = $1"
    )))
    .bind(id.as_str())
    .fetch_one(&db.read)
    .await?;
    with_steps(db, row).await
}

/// The latest version of every workflow in a workspace.
pub async fn list(db: &Db, workspace_id: &WorkspaceId) -> Result<Vec<Workflow>> {
    let rows: Vec<WorkflowRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM workflows w WHERE workspace_id = $1
         AND version = (SELECT MAX(version) FROM workflows v WHERE v.workspace_id = w.workspace_id AND v.slug = w.slug)
         ORDER BY slug"
    )))
    .bind(workspace_id.as_str())
    .fetch_all(&db.read)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(with_steps(db, r).await?);
    }
    Ok(out)
}

async fn with_steps(db: &Db, r: WorkflowRow) -> Result<Workflow> {
    let mut wf = r.into_workflow();
    wf.steps = load_steps(db, &wf.id).await?;
    Ok(wf)
}

/// A version as [`COLUMNS`] selects it.
#[derive(sqlx::FromRow)]
struct WorkflowRow {
    id: String,
    workspace_id: String,
    slug: String,
    version: i64,
    name: String,
    description: String,
    timeout_seconds: i64,
    content_types: String,
    digest: String,
    constants: Option<String>,
    retention_days: Option<i64>,
    archived_at: Option<i64>,
    store_submission: Option<i64>,
    created_at: i64,
    updated_at: i64,
    validator_memory_mib: Option<i64>,
}

impl WorkflowRow {
    fn into_workflow(self) -> Workflow {
        Workflow {
            id: self.id.into(),
            workspace_id: self.workspace_id.into(),
            slug: self.slug,
            version: self.version,
            name: self.name,
            description: self.description,
            timeout_seconds: self.timeout_seconds,
            content_types: serde_json::from_str(&self.content_types).unwrap_or_default(),
            digest: self.digest,
            constants: self
                .constants
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            retention_days: self.retention_days,
            archived_at: self.archived_at,
            store_submission: self.store_submission != Some(0),
            validator_memory_mib: self.validator_memory_mib,
            created_at: self.created_at,
            updated_at: self.updated_at,
            steps: vec![],
            unchanged: false,
        }
    }
}

#[derive(sqlx::FromRow)]
struct StepRow {
    position: i64,
    key: String,
    name: String,
    validator: String,
    validator_version: String,
    config: String,
    ruleset: Option<String>,
    assertions: Option<String>,
    depends_on: Option<String>,
    on_failure: Option<String>,
    run_when: Option<String>,
    files: Option<String>,
}

pub async fn load_steps(db: &Db, workflow_id: &WorkflowId) -> Result<Vec<Step>> {
    let rows: Vec<StepRow> = sqlx::query_as("SELECT position, key, name, validator, validator_version, config, ruleset, assertions, depends_on, on_failure, run_when, files FROM workflow_steps WHERE workflow_id = $1 ORDER BY position")
        .bind(workflow_id.as_str())
        .fetch_all(&db.read)
        .await?;
    Ok(rows
        .into_iter()
        .map(|s| Step {
            position: s.position,
            key: s.key,
            name: s.name,
            validator: s.validator,
            validator_version: s.validator_version,
            config: serde_json::from_str(&s.config).unwrap_or_default(),
            config_text: s.config,
            ruleset: s.ruleset.and_then(|t| serde_json::from_str(&t).ok()),
            assertions: s
                .assertions
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            depends_on: s.depends_on.and_then(|t| serde_json::from_str(&t).ok()),
            on_failure: match s.on_failure.as_deref() {
                Some("continue") => super::OnFailure::Continue,
                _ => super::OnFailure::Stop,
            },
            run_when: s.run_when,
            files: s
                .files
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
        })
        .collect())
}

/// The validator of each step of `wf`, in order: what a launch checks availability of.
/// Cached by version and last edit (an in-place edit changes `updated_at`), so a
/// version that has no runs yet — still editable — is never read stale.
pub async fn step_validators(db: &Db, wf: &Workflow) -> Result<Arc<Vec<String>>> {
    type Key = (WorkflowId, i64);
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<Vec<String>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (wf.id.clone(), wf.updated_at);
    if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(hit.clone());
    }
    let slugs: Vec<String> = sqlx::query_scalar(
        "SELECT validator FROM workflow_steps WHERE workflow_id = $1 ORDER BY position",
    )
    .bind(wf.id.as_str())
    .fetch_all(&db.read)
    .await?;
    let slugs = Arc::new(slugs);
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if c.len() >= 1024 {
        c.clear();
    }
    c.insert(key, slugs.clone());
    Ok(slugs)
}

/// What a run of a workflow version that has runs needs. Such a version is immutable,
/// so its plan is cached for the life of the process (bounded; cleared when full).
pub async fn frozen_plan(db: &Db, workflow_id: &WorkflowId) -> Result<Arc<Plan>> {
    static CACHE: OnceLock<Mutex<HashMap<WorkflowId, Arc<Plan>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(workflow_id)
    {
        return Ok(hit.clone());
    }
    let wf = get_by_id(db, workflow_id).await?;
    let mut steps = wf.steps;
    super::prepare_for_run(&mut steps);
    let plan = Arc::new(Plan {
        steps,
        constants: wf.constants,
        validator_memory_mib: wf.validator_memory_mib,
    });
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if c.len() >= 1024 {
        c.clear();
    }
    c.insert(workflow_id.clone(), plan.clone());
    Ok(plan)
}
