//! Reading runs back: the full view (steps with findings) and list summaries.

use anyhow::Result;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

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
    /// Files the host collected from a container validator (served by
    /// `GET …/runs/{id}/artifacts/{step}/{name}`); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<StoredArtifact>,
}

#[derive(Debug, Serialize)]
pub struct RunView {
    pub id: String,
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
    pub created_by_id: Option<String>,
    #[serde(skip)]
    pub workflow_id: String,
}

impl RunView {
    /// Whether a member with `role` sees this run: everyone with `results.view_all`,
    /// else only the user who launched it.
    pub fn visible_to(&self, role: crate::accounts::Role, user_id: &str) -> bool {
        role.allows(crate::accounts::Permission::ResultsViewAll)
            || self.created_by_id.as_deref() == Some(user_id)
    }

    pub fn is_terminal(&self) -> bool {
        RunStatus::parse(self.status).is_some_and(RunStatus::is_terminal)
    }
}

const RUN_COLUMNS: &str = "SELECT r.id, ws.slug, w.slug, w.version, w.digest, r.status, r.error_category, r.error_detail,
    s.id, s.filename, s.content_type, s.size, s.sha256, s.metadata, u.username, r.created_at, r.started_at, r.finished_at,
    r.created_by, r.workflow_id";
/// How many columns [`RUN_COLUMNS`] selects (read by [`run_of`]).
const RUN_COLUMN_COUNT: usize = 20;
const RUN_FROM: &str = "FROM runs r JOIN workspaces ws ON ws.id = r.workspace_id JOIN workflows w ON w.id = r.workflow_id
    JOIN submissions s ON s.id = r.submission_id LEFT JOIN users u ON u.id = r.created_by";

fn run_of(r: &AnyRow) -> RunView {
    let status = RunStatus::parse(&r.get::<String, _>(5)).unwrap_or(RunStatus::Pending);
    let category = r
        .get::<Option<String>, _>(6)
        .and_then(|c| ErrorCategory::parse(&c));
    let workspace: String = r.get(1);
    let id: String = r.get(0);
    let started_at: Option<i64> = r.get(16);
    let finished_at: Option<i64> = r.get(17);
    RunView {
        url: format!("/api/v1/workspaces/{workspace}/runs/{id}"),
        id,
        workspace,
        workflow: WorkflowRef {
            slug: r.get(2),
            version: r.get(3),
            digest: r.get(4),
        },
        status: status.as_str(),
        state: status.state(),
        result: status.result(category),
        error_category: category.map(ErrorCategory::as_str),
        error_detail: r.get(7),
        submission: SubmissionView {
            id: r.get(8),
            filename: r.get(9),
            content_type: r.get(10),
            size: r.get(11),
            sha256: r.get(12),
            metadata: serde_json::from_str(&r.get::<String, _>(13)).unwrap_or_default(),
        },
        created_by: r.get(14),
        created_at: r.get(15),
        started_at,
        finished_at,
        duration_ms: started_at
            .zip(finished_at)
            .map(|(s, f)| (f - s) as f64 / 1000.0),
        summary: Summary::default(),
        steps: None,
        created_by_id: r.get(18),
        workflow_id: r.get(19),
    }
}

/// A run's current status (a cheap poll for a launch that waits).
pub async fn status(db: &Db, run_id: &str) -> Result<Option<RunStatus>> {
    let row = sqlx::query("SELECT status FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(&db.read)
        .await?;
    Ok(row.and_then(|r| RunStatus::parse(&r.get::<String, _>(0))))
}

/// The full run with every step (recorded or still pending) and its findings.
pub async fn load(db: &Db, workspace_id: &str, run_id: &str) -> Result<Option<RunView>> {
    // One round trip: the run's columns, then per row a recorded step and one of its findings
    // (a step without findings yields one row with NULL finding columns).
    let rows = sqlx::query(&format!(
        "{RUN_COLUMNS}, sr.position, sr.status, sr.started_at, sr.finished_at, sr.outputs, sr.error,
            f.severity, f.code, f.message, f.path, f.meta, sr.validator_digest
         {RUN_FROM} LEFT JOIN step_runs sr ON sr.run_id = r.id
         LEFT JOIN findings f ON f.run_id = r.id AND f.step_position = sr.position
         WHERE r.id = $1 AND r.workspace_id = $2
         ORDER BY sr.position, f.position"
    ))
    .bind(run_id)
    .bind(workspace_id)
    .fetch_all(&db.read)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut run = run_of(first);
    let planned = crate::workflows::versions::frozen_steps(db, &run.workflow_id).await?;
    let artifacts: Vec<(i64, StoredArtifact)> = sqlx::query(
        "SELECT step_position, name, mime_type, size, sha256 FROM step_artifacts WHERE run_id = $1 ORDER BY step_position, name",
    )
    .bind(run_id)
    .fetch_all(&db.read)
    .await?
    .iter()
    .map(|r| {
        let artifact = StoredArtifact {
            name: r.get(1),
            mime_type: r.get(2),
            size: r.get::<i64, _>(3) as u64,
            sha256: r.get(4),
        };
        (r.get::<i64, _>(0), artifact)
    })
    .collect();
    const S: usize = RUN_COLUMN_COUNT;
    let recorded: Vec<&AnyRow> = rows
        .iter()
        .filter(|r| r.get::<Option<i64>, _>(S).is_some())
        .collect();
    let findings: Vec<(i64, Finding)> = recorded
        .iter()
        .filter(|r| r.get::<Option<String>, _>(S + 6).is_some())
        .map(|f| {
            let finding = Finding {
                severity: Severity::parse(&f.get::<String, _>(S + 6)).unwrap_or(Severity::Error),
                code: f.get(S + 7),
                message: f.get(S + 8),
                path: f.get(S + 9),
                meta: f
                    .get::<Option<String>, _>(S + 10)
                    .and_then(|m| serde_json::from_str(&m).ok()),
            };
            (f.get::<i64, _>(S), finding)
        })
        .collect();
    let mut steps = Vec::with_capacity(planned.len());
    for p in planned.iter() {
        let position = p.position;
        let rec = recorded
            .iter()
            .find(|r| r.get::<Option<i64>, _>(S) == Some(position));
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
                StepStatus::parse(&r.get::<String, _>(S + 1)).unwrap_or(StepStatus::Failed),
                r.get::<Option<i64>, _>(S + 2),
                r.get::<Option<i64>, _>(S + 3),
                serde_json::from_str(&r.get::<String, _>(S + 4)).unwrap_or_default(),
                r.get::<Option<String>, _>(S + 5),
            ),
            None if run.status == RunStatus::Running.as_str()
                && steps
                    .iter()
                    .all(|s: &StepView| s.status != StepStatus::Running) =>
            {
                (StepStatus::Running, None, None, vec![], None)
            }
            None => (StepStatus::Pending, None, None, vec![], None),
        };
        let validator_digest = rec.and_then(|r| r.get::<Option<String>, _>(S + 11));
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
            artifacts: artifacts
                .iter()
                .filter(|(p, _)| *p == position)
                .map(|(_, a)| a.clone())
                .collect(),
        });
    }
    run.steps = Some(steps);
    Ok(Some(run))
}

pub struct ListFilter<'a> {
    pub workspace_id: &'a str,
    /// Only runs launched by this user (executors see their own runs).
    pub created_by: Option<&'a str>,
    pub workflow_slug: Option<&'a str>,
    pub status: Option<&'a str>,
    /// Cursor: return runs older than this id.
    pub before: Option<&'a str>,
    pub limit: i64,
}

/// Per-run finding counts for lists, by severity (the same numbers [`load`] adds up).
const SUMMARY_COLUMNS: &str = ",
    (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id AND f.severity = 'ERROR'),
    (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id AND f.severity = 'WARNING'),
    (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id AND f.severity = 'INFO')";

/// Newest first; ids are UUIDv7 so ordering by id is ordering by creation.
pub async fn list(db: &Db, f: &ListFilter<'_>) -> Result<Vec<RunView>> {
    let mut sql = format!("{RUN_COLUMNS}{SUMMARY_COLUMNS} {RUN_FROM} WHERE r.workspace_id = $1");
    let mut n = 1;
    let mut binds: Vec<&str> = vec![f.workspace_id];
    for (cond, value) in [
        ("r.created_by = ", f.created_by),
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
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|row| {
            let mut run = run_of(row);
            const S: usize = RUN_COLUMN_COUNT;
            run.summary = Summary {
                errors: row.get(S),
                warnings: row.get(S + 1),
                infos: row.get(S + 2),
            };
            run
        })
        .collect())
}
