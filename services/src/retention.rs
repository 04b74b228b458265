//! Data lifecycle: runs older than the run retention (a workflow's own `retention_days`,
//! else the instance's) are deleted with their steps,
//! findings and submission records; submitted files older than the submission
//! retention are deleted while the run record (with the file's sha256, which the
//! evidence manifest signs) stays. Blobs nothing references any more are swept, and
//! audit log events past their own retention are deleted.
//! Workers purge periodically; `validibot purge` does it once.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use validibot_blobs::BlobStore;
use validibot_store::db::Db;
use validibot_store::retention;
use validibot_types::clock::now_us;

/// How long data is kept, and how often workers purge.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Finished runs (steps, findings, artifacts, submission) are deleted this many days
    /// after they finished; `None` keeps them forever.
    pub run_retention_days: Option<u32>,
    /// Submitted files are deleted this many days after their run finished; the run
    /// and its findings stay.
    pub submission_retention_days: Option<u32>,
    pub purge_interval_minutes: u64,
    /// Audit log events are deleted this many days after they were recorded; `None`
    /// keeps them forever.
    pub audit_retention_days: Option<u32>,
}

impl Policy {
    /// Whether runs or submitted files expire (the audit log's retention is apart).
    pub fn enabled(&self) -> bool {
        self.run_retention_days.is_some() || self.submission_retention_days.is_some()
    }
}

/// What one purge did (or, dry, would do).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Report {
    pub runs_deleted: u64,
    pub blobs_deleted: u64,
    pub bytes_freed: u64,
    pub audit_events_deleted: u64,
}

/// Blobs written or re-used this recently are never swept (an upload in flight
/// writes its blob before its row).
const GRACE: Duration = Duration::from_secs(3600);
/// Runs deleted per transaction.
const BATCH: usize = 200;
const DAY_US: i64 = 86_400 * 1_000_000;

pub async fn purge(db: &Db, blobs: &BlobStore, policy: &Policy, dry_run: bool) -> Result<Report> {
    let mut report = Report::default();
    let now = now_us();
    // A workflow's own retention_days wins over the instance's run retention.
    let cutoff = policy
        .run_retention_days
        .map(|days| now - i64::from(days) * DAY_US);
    if dry_run {
        report.runs_deleted = retention::count_finished_before(db, now, cutoff).await?;
    } else {
        loop {
            let runs = retention::finished_before(db, now, cutoff, BATCH).await?;
            if runs.is_empty() {
                break;
            }
            retention::delete_runs(db, &runs).await?;
            report.runs_deleted += runs.len() as u64;
        }
    }
    report.audit_events_deleted = prune_audit_log(db, policy, dry_run).await?;
    let keep = retention::referenced_blobs(
        db,
        policy
            .submission_retention_days
            .map(|d| now - i64::from(d) * DAY_US),
    )
    .await?;
    let swept = blobs.sweep(&keep, GRACE, dry_run).await?;
    report.blobs_deleted = swept.blobs;
    report.bytes_freed = swept.bytes;
    Ok(report)
}

/// Deletes (or, dry, counts) the audit log's events past its retention.
pub async fn prune_audit_log(db: &Db, policy: &Policy, dry_run: bool) -> Result<u64> {
    let Some(days) = policy.audit_retention_days else {
        return Ok(0);
    };
    let cutoff = now_us() - i64::from(days) * DAY_US;
    if dry_run {
        validibot_store::audit::count_before(db, cutoff).await
    } else {
        validibot_store::audit::prune(db, cutoff).await
    }
}

/// Purges every `interval` until the process ends (workers only; several may run at once).
pub fn spawn(db: Db, blobs: BlobStore, policy: Policy) -> tokio::task::JoinHandle<()> {
    let period = Duration::from_secs(policy.purge_interval_minutes.max(1) * 60);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            // Without an instance policy, only workflows with their own retention need a
            // purge of runs; the audit log has its own.
            if !policy.enabled() && !retention::any_workflow_retention(&db).await.unwrap_or(true) {
                match prune_audit_log(&db, &policy, false).await {
                    Ok(n) => tracing::info!(audit_events = n, "audit log retention"),
                    Err(e) => tracing::warn!("audit log retention failed: {e:#}"),
                }
                continue;
            }
            match purge(&db, &blobs, &policy, false).await {
                Ok(r) => tracing::info!(
                    runs = r.runs_deleted,
                    blobs = r.blobs_deleted,
                    bytes = r.bytes_freed,
                    audit_events = r.audit_events_deleted,
                    "retention purge"
                ),
                Err(e) => tracing::warn!("retention purge failed: {e:#}"),
            }
        }
    })
}
