//! What happened, as other systems hear of it: the event types webhooks subscribe to.

use crate::{ErrorCategory, RunStatus};

wire_enum!(
    /// An event a workspace's webhook endpoints can subscribe to. The wire string is
    /// the payload's `type` (Standard Webhooks style: `<noun>.<verb>`).
    EventType {
        RunCompleted => "run.completed",
        RunFailed => "run.failed",
        RunCanceled => "run.canceled",
        WorkflowCreated => "workflow.created",
        WorkflowUpdated => "workflow.updated",
        WorkflowArchived => "workflow.archived",
        WorkflowDeleted => "workflow.deleted",
        WebhookTest => "webhook.test",
    }
);

impl EventType {
    /// What an endpoint may subscribe to (`webhook.test` is sent on request only).
    pub fn subscribable(self) -> bool {
        self != EventType::WebhookTest
    }

    /// The events a run's end raises: every finished run is `run.completed`; one whose
    /// result is not PASS is also `run.failed` (FAIL, ERROR, TIMED_OUT).
    pub fn of_run_end(status: RunStatus, category: Option<ErrorCategory>) -> &'static [EventType] {
        match status.result(category) {
            "PASS" => &[EventType::RunCompleted],
            "CANCELED" => &[EventType::RunCanceled],
            _ => &[EventType::RunCompleted, EventType::RunFailed],
        }
    }

    /// One line for people (the UI's checkboxes, the docs).
    pub fn summary(self) -> &'static str {
        match self {
            EventType::RunCompleted => "a run finished (any result but canceled)",
            EventType::RunFailed => "a run finished without passing (FAIL, ERROR, TIMED_OUT)",
            EventType::RunCanceled => "a run was canceled",
            EventType::WorkflowCreated => "a workflow was created",
            EventType::WorkflowUpdated => "a workflow was edited",
            EventType::WorkflowArchived => "a workflow was archived or restored",
            EventType::WorkflowDeleted => "a workflow was deleted",
            EventType::WebhookTest => "a test message sent from the API or the UI",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_end_raises_the_events_its_result_names() {
        assert_eq!(
            EventType::of_run_end(RunStatus::Succeeded, None),
            &[EventType::RunCompleted]
        );
        assert_eq!(
            EventType::of_run_end(RunStatus::Failed, Some(ErrorCategory::ValidationFailed)),
            &[EventType::RunCompleted, EventType::RunFailed]
        );
        assert_eq!(
            EventType::of_run_end(RunStatus::TimedOut, Some(ErrorCategory::Timeout)),
            &[EventType::RunCompleted, EventType::RunFailed]
        );
        assert_eq!(
            EventType::of_run_end(RunStatus::Canceled, None),
            &[EventType::RunCanceled]
        );
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(*e));
        }
    }
}
