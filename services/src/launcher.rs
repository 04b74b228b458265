//! Launching a run: the submission, the run and its job written in one transaction
//! (idempotently, when the client sent a key), the job handed to this process's worker
//! when it has a free slot, then a wait of up to the client's budget for the result.

use std::sync::Arc;
use std::time::{Duration, Instant};
use validibot_types::ids::{RunId, UserId, WorkspaceId};

use anyhow::Result;
use sha2::{Digest, Sha256};

use validibot_store::queue::Taker;
use validibot_store::runs::launch::{self, Idempotency, Launched, NewSubmission};
use validibot_store::runs::view::{self, RunView};
use validibot_store::workflows::Workflow;
use validibot_types::RunStatus;

use crate::execution::executor::Prefetched;
use crate::execution::worker::Dispatch;
use crate::validators::availability::{self, Refusal};
use crate::Services;

/// Starts runs; the API's launch handler is a thin shell around [`Launcher::launch`].
#[derive(Clone)]
pub struct Launcher {
    services: Services,
    /// The embedded worker, when this process runs one.
    dispatch: Option<Dispatch>,
    /// Attempts a job gets before its run fails with `SYSTEM_ERROR`.
    max_attempts: i64,
}

/// One launch as the client asked for it.
pub struct LaunchRequest<'a> {
    pub workflow: &'a Workflow,
    pub workspace_id: &'a WorkspaceId,
    pub user_id: &'a UserId,
    pub submission: NewSubmission,
    /// The submitted bytes when the request had them in memory (the worker then
    /// needn't read them back from storage).
    pub content: Option<Arc<Vec<u8>>>,
    pub idempotency_key: Option<String>,
    /// How long to wait for the run to finish before answering with it unfinished.
    pub wait: Duration,
}

/// How long a launch of a workflow that does not store submissions waits for a worker
/// slot in this process (its bytes cannot wait in the queue).
const UNSTORED_SLOT_WAIT: Duration = Duration::from_secs(30);

/// What the client gets back.
pub enum LaunchAnswer {
    /// It cannot run here (503): a submission that is not stored needs this process's
    /// worker, and it has none (or no free slot).
    Unrunnable(String),
    /// The run as it stands after the wait, and the answer recorded for the key (201
    /// when finished, else 202 — a retry with the same key gets these very bytes).
    Run {
        run: Box<RunView>,
        status: u16,
        body: String,
    },
    /// An earlier request with the same key and the same content: its recorded answer.
    Replay { status: u16, body: String },
    /// An earlier request with the same key has not answered yet.
    InProgress,
    /// The key was used for a different request.
    KeyReused,
}

impl Launcher {
    pub fn new(services: Services, dispatch: Option<Dispatch>, max_attempts: i64) -> Launcher {
        Launcher {
            services,
            dispatch,
            max_attempts: max_attempts.max(1),
        }
    }

    /// Why `workflow` may not be launched in `workspace` now (a step's validator is
    /// disabled or not enabled there), asked before the submission is stored. The step
    /// itself checks again when it runs.
    pub async fn refusal(
        &self,
        workflow: &Workflow,
        workspace: &WorkspaceId,
    ) -> Result<Option<Refusal>> {
        let svc = &self.services;
        // Not the frozen plan: a refused launch leaves the version without runs, so it
        // may still be edited in place.
        let validators =
            validibot_store::workflows::versions::step_validators(&svc.db, workflow).await?;
        let slugs: Vec<&str> = validators.iter().map(String::as_str).collect();
        let first = availability::first_refusal(&svc.db, &svc.plugins, &slugs, workspace).await?;
        Ok(first.map(|(_, refusal)| refusal))
    }

    pub async fn launch(&self, req: LaunchRequest<'_>) -> Result<LaunchAnswer> {
        let svc = &self.services;
        let workflow = req.workflow;
        let idempotency = req.idempotency_key.map(|key| Idempotency {
            request_hash: request_hash(workflow, &req.submission),
            key,
        });
        // With a free local worker slot, the job is created already leased to it.
        let mut reservation = self.dispatch.as_ref().and_then(|d| d.reserve());
        if !req.submission.stored {
            // The bytes exist only in this request: this process's worker must run it.
            let (Some(dispatch), Some(_)) = (&self.dispatch, &req.content) else {
                return Ok(LaunchAnswer::Unrunnable(
                    "this workflow does not store submissions, so the server that receives one must run it, and this one has no worker (serve without --no-worker)".into(),
                ));
            };
            if reservation.is_none() {
                reservation = dispatch.reserve_within(UNSTORED_SLOT_WAIT).await;
            }
            if reservation.is_none() {
                return Ok(LaunchAnswer::Unrunnable(format!(
                    "every worker slot of this server stayed busy for {} s; this workflow does not store submissions, so it cannot be queued",
                    UNSTORED_SLOT_WAIT.as_secs()
                )));
            }
        }
        let taker = match (&self.dispatch, &reservation) {
            (Some(d), Some(_)) => Some(Taker {
                owner: &d.owner,
                lease_us: d.lease_us(),
            }),
            _ => None,
        };
        let launched = launch::launch(
            &svc.db,
            workflow,
            req.user_id,
            &req.submission,
            idempotency.as_ref(),
            self.max_attempts,
            taker.as_ref(),
        )
        .await?;
        let run_id = match launched {
            Launched::New {
                run_id,
                job_id,
                lease,
                created_at,
            } => {
                let done = svc.waiters.register(&run_id);
                match (&self.dispatch, reservation, lease) {
                    (Some(d), Some(r), Some(lease)) => {
                        // Started at launch (the run row says so); the executor needn't
                        // read it back.
                        let known = req.content.map(|content| Prefetched {
                            started_at: created_at,
                            timeout_seconds: workflow.timeout_seconds,
                            workflow_id: workflow.id.clone(),
                            workspace_id: req.workspace_id.clone(),
                            content_type: req.submission.content_type.clone(),
                            metadata: req.submission.metadata.clone(),
                            document: content.into(),
                        });
                        d.run(r, lease, known)
                    }
                    (Some(d), _, _) => d.offer(job_id),
                    (None, _, _) => {}
                }
                self.wait(&run_id, done, req.wait).await?;
                run_id
            }
            Launched::Replay {
                response: Some((status, body)),
                ..
            } => return Ok(LaunchAnswer::Replay { status, body }),
            Launched::Replay { response: None, .. } => return Ok(LaunchAnswer::InProgress),
            Launched::KeyReused => return Ok(LaunchAnswer::KeyReused),
        };
        let run = view::load(&svc.db, req.workspace_id, &run_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run_id} vanished"))?;
        let status = if run.is_terminal() { 201 } else { 202 };
        let body = serde_json::to_string(&run)?;
        if let Some(idem) = &idempotency {
            launch::remember_response(
                &svc.db,
                req.workspace_id,
                req.user_id,
                &idem.key,
                status,
                &body,
            )
            .await?;
        }
        Ok(LaunchAnswer::Run {
            run: Box::new(run),
            status,
            body,
        })
    }

    /// Waits until the run is finished or the budget is spent. The in-process signal
    /// is instant; a run executed by another process is seen by re-checking.
    async fn wait(
        &self,
        run_id: &RunId,
        mut done: tokio::sync::oneshot::Receiver<()>,
        budget: Duration,
    ) -> Result<()> {
        let svc = &self.services;
        let deadline = Instant::now() + budget;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let slice = (deadline - now).min(Duration::from_millis(200));
            tokio::select! {
                _ = &mut done => break,
                _ = tokio::time::sleep(slice) => {
                    let status = view::status(&svc.db, run_id).await?;
                    if status.is_some_and(RunStatus::is_terminal) {
                        break;
                    }
                }
            }
        }
        drop(done);
        svc.waiters.forget(run_id);
        Ok(())
    }
}

/// What makes two requests with one Idempotency-Key the same request.
fn request_hash(workflow: &Workflow, s: &NewSubmission) -> String {
    hex::encode(Sha256::digest(
        serde_json::json!([
            workflow.id,
            s.blob.sha256,
            s.content_type,
            s.filename,
            s.metadata
        ])
        .to_string(),
    ))
}
