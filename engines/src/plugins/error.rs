//! Typed failures of a plugin call. None of them can take the server down.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CallError {
    #[error("deadline exceeded after {0} ms")]
    DeadlineExceeded(u64),
    /// `limit` was this call's cap (the base cap, or more for a large document), `max`
    /// the most any call may have: the message says which setting would help.
    #[error("{}", memory_message(*limit, *max))]
    MemoryExceeded { limit: usize, max: usize },
    #[error("validator output exceeds {0} bytes")]
    OutputTooLarge(usize),
    #[error("validator exhausted its stack (runaway recursion)")]
    StackOverflow,
    #[error("validator panicked: {0}")]
    Panic(String),
    #[error("validator trapped: {0}")]
    Trap(String),
    #[error("validator error {code}: {message}")]
    Validator { code: String, message: String },
    #[error("plugin host error: {0}")]
    Host(String),
    #[error("the run was cancelled")]
    Cancelled,
}

fn memory_message(limit: usize, max: usize) -> String {
    let mib = |bytes: usize| bytes >> 20;
    if limit >= max {
        format!(
            "the validator needed more than {} MiB of memory, the maximum for any document; \
             raise the maximum (VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB, or `validibot check \
             --validator-memory-max-mib`) to validate this document",
            mib(limit)
        )
    } else {
        format!(
            "the validator needed more than {} MiB of memory, its cap for this document \
             (the base cap, raised with the document's size); raise the base cap: the \
             workflow's validator_memory_mib, or the instance's VALIDIBOT_VALIDATOR_MEMORY_MIB \
             (`validibot check --validator-memory-mib`)",
            mib(limit)
        )
    }
}

/// What a cancelled call's epoch callback raises (told apart from other traps).
#[derive(Debug, Error)]
#[error("cancelled")]
pub(crate) struct CancelledCall;

impl CallError {
    /// The stable code used in the `ERROR` finding that reports this failure.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::DeadlineExceeded(_) => "validator.deadline_exceeded",
            CallError::MemoryExceeded { .. } => "validator.memory_exceeded",
            CallError::OutputTooLarge(_) => "validator.output_too_large",
            CallError::StackOverflow => "validator.stack_overflow",
            CallError::Panic(_) => "validator.panic",
            CallError::Trap(_) => "validator.trap",
            CallError::Validator { .. } => "validator.error",
            CallError::Host(_) => "validator.host_error",
            CallError::Cancelled => "validator.cancelled",
        }
    }
}
