//! Reading runs back: the full view (steps with findings) and list summaries.

use std::collections::HashMap;

use anyhow::Result;
use serde::Serialize;
use validibot_types::ids::{RunId, UserId, WorkflowId, WorkspaceId};

use crate::db::Db;
use validibot_types::clock::{serialize_opt_us, serialize_us};
use validibot_types::StoredArtifact;
use validibot_types::{ErrorCategory, RunStatus, StepStatus};
use validibot_types::{Finding, Output, Severity};

#[derive(Debug, Serialize)]
pub struct WorkflowRef {
    pub slug: String,
    pub version: i64,
    pub digest: String,
}

#[derive(Debug, Serialize)]
pub struct SubmissionView {
    pub id: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub metadata: serde_json::Value,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub errors: i64,
    pub warnings: i64,
    pub infos: i64,
}

impl Summary {
    /// Counts one finding under its severity (`SUCCESS` is not counted).
    pub fn count(&mut self, f: &Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.infos += 1,
            Severity::Success => {}
        }
    }
}

#[derive(Debug, Serialize)]
pub struct StepView {
    pub key: String,
    pub name: String,
    pub validator: String,
    pub validator_version: String,
    /// sha256 of the component that ran (absent for steps that did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validator_digest: Option<String>,
    pub status: StepStatus,
    #[serde(serialize_with = "serialize_opt_us")]
    pub started_at: Option<i64>,
    #[serde(serialize_with = "serialize_opt_us")]
    pub finished_at: Option<i64>,
    pub duration_ms: Option<f64>,
    pub outputs: Vec<Output>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub findings: Vec<Finding>,
    /// While the step runs: bytes of the document its validator has read so far (of
    /// `submission.size`), for documents large enough that the worker reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_bytes: Option<u64>,
    /// Files the host collected from a container validator (served by
    /// `GET …/runs/{id}/artifacts/{step}/{name}`); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<StoredArtifact>,
}

#[derive(Debug, Serialize)]
pub struct RunView {
    pub id: RunId,
    pub url: String,
    pub workspace: String,
    pub workflow: WorkflowRef,
    pub status: &'static str,
    pub state: &'static str,
    pub result: &'static str,
    pub error_category: Option<&'static str>,
    pub error_detail: Option<String>,
    pub submission: SubmissionView,
    pub created_by: Option<String>,
    #[serde(serialize_with = "serialize_us")]
    pub created_at: i64,
    #[serde(serialize_with = "serialize_opt_us")]
    pub started_at: Option<i64>,
    #[serde(serialize_with = "serialize_opt_us")]
    pub finished_at: Option<i64>,
    pub duration_ms: Option<f64>,
    pub summary: Summary,
    /// Absent in list responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
    #[serde(skip)]
    pub created_by_id: Option<UserId>,
    #[serde(skip)]
    pub workflow_id: WorkflowId,
}

impl RunView {
    /// Whether a member with `role` sees this run: everyone with `results.view_all`,
    /// else only the user who launched it.
    pub fn visible_to(&self, role: crate::accounts::Role, user_id: &UserId) -> bool {
        role.allows(crate::accounts::Permission::ResultsViewAll)
            || self.created_by_id.as_ref() == Some(user_id)
    }

    pub fn is_terminal(&self) -> bool {
        RunStatus::parse(self.status).is_some_and(RunStatus::is_terminal)
    }
}

const RUN_COLUMNS: &str =
    "SELECT r.id AS run_id, ws.slug AS workspace_slug, w.slug AS workflow_slug,
    w.version AS workflow_version, w.digest AS workflow_digest, r.status AS run_status,
    r.error_category, r.error_detail, s.id AS submission_id, s.filename, s.content_type,
    s.size AS submission_size, s.sha256 AS submission_sha256, s.metadata, u.username,
    r.created_at, r.started_at AS run_started_at, r.finished_at AS run_finished_at,
    r.created_by, r.workflow_id";
const RUN_FROM: &str = "FROM runs r JOIN workspaces ws ON ws.id = r.workspace_id JOIN workflows w ON w.id = r.workflow_id
    JOIN submissions s ON s.id = r.submission_id LEFT JOIN users u ON u.id = r.created_by";

/// How far each running step's validator has read the document, as its worker last
/// wrote it (see `queue::progress`); empty when none was written.
async fn read_progress(db: &Db, run_id: &RunId) -> Result<HashMap<String, u64>> {
    let text: Option<Option<String>> =
        sqlx::query_scalar("SELECT progress FROM jobs WHERE run_id = $1")
            .bind(run_id.as_str())
            .fetch_optional(&db.read)
            .await?;
    Ok(text
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// A run as [`RUN_COLUMNS`] selects it.
#[derive(Clone, sqlx::FromRow)]
struct RunRow {
    run_id: String,
    workspace_slug: String,
    workflow_slug: String,
    workflow_version: i64,
    workflow_digest: String,
    run_status: String,
    error_category: Option<String>,
    error_detail: Option<String>,
    submission_id: String,
    filename: Option<String>,
    content_type: String,
    submission_size: i64,
    submission_sha256: String,
    metadata: String,
    username: Option<String>,
    created_at: i64,
    run_started_at: Option<i64>,
    run_finished_at: Option<i64>,
    created_by: Option<String>,
    workflow_id: String,
}

/// A run with its finding counts, as lists show it.
#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    run: RunRow,
    errors: i64,
    warnings: i64,
    infos: i64,
}

/// A run joined with one of its recorded steps and one of that step's findings (all
/// NULL when the run has no recorded step yet, finding columns NULL for a step
/// without findings).
#[derive(sqlx::FromRow)]
struct LoadedRow {
    #[sqlx(flatten)]
    run: RunRow,
    step_position: Option<i64>,
    step_status: Option<String>,
    step_started_at: Option<i64>,
    step_finished_at: Option<i64>,
    outputs: Option<String>,
    step_error: Option<String>,
    severity: Option<String>,
    code: Option<String>,
    message: Option<String>,
    path: Option<String>,
    meta: Option<String>,
    validator_digest: Option<String>,
    /// How many files the run's steps collected (the same on every row).
    artifacts: i64,
}

#[derive(sqlx::FromRow)]
struct ArtifactRow {
    step_position: i64,
    name: String,
    mime_type: String,
    size: i64,
    sha256: String,
}

fn run_of(r: RunRow) -> RunView {
    let status = RunStatus::parse(&r.run_status).unwrap_or(RunStatus::Pending);
    let category = r.error_category.as_deref().and_then(ErrorCategory::parse);
    let (started_at, finished_at) = (r.run_started_at, r.run_finished_at);
    RunView {
        url: format!("/api/v1/workspaces/{}/runs/{}", r.workspace_slug, r.run_id),
        id: r.run_id.into(),
        workspace: r.workspace_slug,
        workflow: WorkflowRef {
            slug: r.workflow_slug,
            version: r.workflow_version,
            digest: r.workflow_digest,
        },
        status: status.as_str(),
        state: status.state(),
        result: status.result(category),
        error_category: category.map(ErrorCategory::as_str),
        error_detail: r.error_detail,
        submission: SubmissionView {
            id: r.submission_id,
            filename: r.filename,
            content_type: r.content_type,
            size: r.submission_size,
            sha256: r.submission_sha256,
            metadata: serde_json::from_str(&r.metadata).unwrap_or_default(),
        },
        created_by: r.username,
        created_at: r.created_at,
        started_at,
        finished_at,
        duration_ms: started_at
            .zip(finished_at)
            .map(|(s, f)| (f - s) as f64 / 1000.0),
        summary: Summary::default(),
        steps: None,
        created_by_id: r.created_by.map(UserId::from),
        workflow_id: r.workflow_id.into(),
    }
}

/// A run's current status (a cheap poll for a launch that waits).
pub async fn status(db: &Db, run_id: &RunId) -> Result<Option<RunStatus>> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
        .bind(run_id.as_str())
        .fetch_optional(&db.read)
        .await?;
    Ok(status.as_deref().and_then(RunStatus::parse))
}

/// The full run with every step (recorded or still pending) and its findings.
pub async fn load(db: &Db, workspace_id: &WorkspaceId, run_id: &RunId) -> Result<Option<RunView>> {
    // One round trip: the run's columns and how many artifacts it has, then per row a
    // recorded step and one of its findings (a step without findings yields one row with
    // NULL finding columns). The artifacts themselves are a second query, on the same
    // reader, only when there are some (the launch's hot path; see `db::reader`).
    let mut reader = db.reader().await?;
    let rows: Vec<LoadedRow> = reader
        .fetch_all(
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "WITH a AS (SELECT COUNT(*) AS artifacts FROM step_artifacts WHERE run_id = $1)
         {RUN_COLUMNS}, sr.position AS step_position, sr.status AS step_status,
            sr.started_at AS step_started_at, sr.finished_at AS step_finished_at, sr.outputs,
            sr.error AS step_error, f.severity, f.code, f.message, f.path, f.meta,
            sr.validator_digest, a.artifacts
         {RUN_FROM} CROSS JOIN a LEFT JOIN step_runs sr ON sr.run_id = r.id
         LEFT JOIN findings f ON f.run_id = r.id AND f.step_position = sr.position
         WHERE r.id = $1 AND r.workspace_id = $2
         ORDER BY sr.position, f.position"
            )))
            .bind(run_id.as_str())
            .bind(workspace_id.as_str()),
        )
        .await?;
    let mut rows = rows.into_iter().peekable();
    let Some(first) = rows.peek() else {
        return Ok(None);
    };
    let mut run = run_of(first.run.clone());
    // Most runs have none (only container steps collect files): then no second query.
    let artifacts: Vec<ArtifactRow> = if first.artifacts == 0 {
        Vec::new()
    } else {
        reader.fetch_all(sqlx::query_as(
            "SELECT step_position, name, mime_type, size, sha256 FROM step_artifacts WHERE run_id = $1 ORDER BY step_position, name",
        )
        .bind(run_id.as_str()))
        .await?
    };
    drop(reader);
    let plan = crate::workflows::versions::frozen_plan(db, &run.workflow_id).await?;
    let planned = &plan.steps;
    let recorded: Vec<LoadedRow> = rows.filter(|r| r.step_position.is_some()).collect();
    let (progress, waiting) = if run.status == RunStatus::Running.as_str() {
        (
            read_progress(db, run_id).await?,
            crate::remote::waiting_steps(db, run_id).await?,
        )
    } else {
        (HashMap::new(), vec![])
    };
    let findings: Vec<(i64, Finding)> = recorded
        .iter()
        .filter_map(|f| {
            let finding = Finding {
                severity: Severity::parse(f.severity.as_deref()?).unwrap_or(Severity::Error),
                code: f.code.clone().unwrap_or_default(),
                message: f.message.clone().unwrap_or_default(),
                path: f.path.clone()?,
                meta: f.meta.as_deref().and_then(|m| serde_json::from_str(m).ok()),
            };
            Some((f.step_position?, finding))
        })
        .collect();
    let mut steps = Vec::with_capacity(planned.len());
    for p in planned.iter() {
        let position = p.position;
        let rec = recorded.iter().find(|r| r.step_position == Some(position));
        let step_findings: Vec<Finding> = findings
            .iter()
            .filter(|(p, _)| *p == position)
            .map(|(_, f)| f.clone())
            .collect();
        for f in &step_findings {
            run.summary.count(f);
        }
        let (status, started_at, finished_at, outputs, error) = match rec {
            Some(r) => (
                r.step_status
                    .as_deref()
                    .and_then(StepStatus::parse)
                    .unwrap_or(StepStatus::Failed),
                r.step_started_at,
                r.step_finished_at,
                r.outputs
                    .as_deref()
                    .and_then(|o| serde_json::from_str(o).ok())
                    .unwrap_or_default(),
                r.step_error.clone(),
            ),
            None if waiting.contains(&p.key) => (StepStatus::Waiting, None, None, vec![], None),
            None if run.status == RunStatus::Running.as_str()
                && (progress.contains_key(&p.key)
                    || steps
                        .iter()
                        .all(|s: &StepView| s.status != StepStatus::Running)) =>
            {
                (StepStatus::Running, None, None, vec![], None)
            }
            None => (StepStatus::Pending, None, None, vec![], None),
        };
        let validator_digest = rec.and_then(|r| r.validator_digest.clone());
        steps.push(StepView {
            key: p.key.clone(),
            name: p.name.clone(),
            validator: p.validator.clone(),
            validator_version: p.validator_version.clone(),
            validator_digest,
            status,
            started_at,
            finished_at,
            duration_ms: started_at
                .zip(finished_at)
                .map(|(s, f)| (f - s) as f64 / 1000.0),
            outputs,
            error,
            findings: step_findings,
            read_bytes: match status {
                StepStatus::Running => progress.get(&p.key).copied(),
                _ => None,
            },
            artifacts: artifacts
                .iter()
                .filter(|a| a.step_position == position)
                .map(|a| StoredArtifact {
                    name: a.name.clone(),
                    mime_type: a.mime_type.clone(),
                    size: a.size as u64,
                    sha256: a.sha256.clone(),
                })
                .collect(),
        });
    }
    run.steps = Some(steps);
    Ok(Some(run))
}

pub struct ListFilter<'a> {
    pub workspace_id: &'a WorkspaceId,
    /// Only runs launched by this user (executors see their own runs).
    pub created_by: Option<&'a UserId>,
    pub workflow_slug: Option<&'a str>,
    pub status: Option<&'a str>,
    /// Cursor: return runs older than this id.
    pub before: Option<&'a str>,
    pub limit: i64,
}

/// Per-run finding counts for lists, by severity (the same numbers [`load`] adds up).
const SUMMARY_COLUMNS: &str = ",
    (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id AND f.severity = 'ERROR') AS errors,
    (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id AND f.severity = 'WARNING') AS warnings,
    (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id AND f.severity = 'INFO') AS infos";

/// A run without its steps, with its finding counts (what a webhook announces).
pub async fn summary(db: &Db, run_id: &RunId) -> Result<Option<RunView>> {
    let row: Option<ListedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{RUN_COLUMNS}{SUMMARY_COLUMNS} {RUN_FROM} WHERE r.id = $1"
    )))
    .bind(run_id.as_str())
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(listed))
}

fn listed(row: ListedRow) -> RunView {
    let mut run = run_of(row.run);
    run.summary = Summary {
        errors: row.errors,
        warnings: row.warnings,
        infos: row.infos,
    };
    run
}

/// Newest first; ids are UUIDv7 so ordering by id is ordering by creation.
pub async fn list(db: &Db, f: &ListFilter<'_>) -> Result<Vec<RunView>> {
    let mut sql = format!("{RUN_COLUMNS}{SUMMARY_COLUMNS} {RUN_FROM} WHERE r.workspace_id = $1");
    let mut n = 1;
    let mut binds: Vec<&str> = vec![f.workspace_id.as_str()];
    for (cond, value) in [
        ("r.created_by = ", f.created_by.map(UserId::as_str)),
        ("w.slug = ", f.workflow_slug),
        ("r.status = ", f.status),
        ("r.id < ", f.before),
    ] {
        if let Some(v) = value {
            n += 1;
            sql.push_str(&format!(" AND {cond}${n}"));
            binds.push(v);
        }
    }
    sql.push_str(&format!(
        " ORDER BY r.id DESC LIMIT {}",
        f.limit.clamp(1, 1000)
    ));
    let mut q = sqlx::query_as::<_, ListedRow>(sqlx::AssertSqlSafe(&sql[..]));
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_all(&db.read)
        .await?
        .into_iter()
        .map(listed)
        .collect())
}
