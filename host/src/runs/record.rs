//! Writing a run's results: a step's row with its findings and artifacts, and the
//! run's end. Statements only — the caller runs them in its lease-fenced transaction.

use anyhow::Result;
use validibot_types::{ErrorCategory, StepStatus};

use crate::args;
use crate::clock::now_us;
use crate::db::batch::Stmt;
use crate::execution::step_outcome::{Final, StepResult};
use crate::workflows::Step;

/// Rows of findings per INSERT statement.
const FINDINGS_PER_INSERT: usize = 100;

pub fn step_stmts(run_id: &str, step: &Step, r: &StepResult) -> Result<Vec<Stmt>> {
    let (started_at, finished_at) = if r.status == StepStatus::Skipped {
        (None, None)
    } else {
        (Some(r.started_at), Some(r.finished_at))
    };
    let mut stmts = vec![Stmt::new(
        "INSERT INTO step_runs (id, run_id, position, key, validator, validator_version, status, started_at, finished_at, outputs, error, validator_digest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        args![
            crate::ids::new_id(),
            run_id,
            step.position,
            &step.key,
            &step.validator,
            &step.validator_version,
            r.status.as_str(),
            started_at,
            finished_at,
            serde_json::to_string(&r.outputs)?,
            r.error.clone(),
            r.digest.clone()
        ],
    )];
    for a in &r.artifacts {
        stmts.push(Stmt::new(
            "INSERT INTO step_artifacts (run_id, step_position, name, mime_type, size, sha256) VALUES ($1, $2, $3, $4, $5, $6)",
            args![run_id, step.position, &a.name, &a.mime_type, a.size as i64, &a.sha256],
        ));
    }
    for (chunk_no, chunk) in r.findings.chunks(FINDINGS_PER_INSERT).enumerate() {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 8;
                format!(
                    "(${},${},${},${},${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                )
            })
            .collect();
        let mut values = Vec::with_capacity(chunk.len() * 8);
        for (i, f) in chunk.iter().enumerate() {
            values.extend(args![
                run_id,
                step.position,
                (chunk_no * FINDINGS_PER_INSERT + i) as i64,
                f.severity.as_str(),
                &f.code,
                &f.message,
                &f.path,
                f.meta.as_ref().map(|m| m.to_string())
            ]);
        }
        stmts.push(Stmt::new(
            format!("INSERT INTO findings (run_id, step_position, position, severity, code, message, path, meta) VALUES {}", rows.join(",")),
            values,
        ));
    }
    Ok(stmts)
}

/// Closes the run: status, error category and detail, finish time.
pub fn close_run(run_id: &str, fin: &Final) -> Stmt {
    Stmt::new(
        "UPDATE runs SET status = $1, error_category = $2, error_detail = $3, finished_at = $4, started_at = COALESCE(started_at, $4) WHERE id = $5",
        args![fin.status.as_str(), fin.category.map(ErrorCategory::as_str), fin.detail.clone(), now_us(), run_id],
    )
}
