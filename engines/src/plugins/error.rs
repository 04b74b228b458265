//! Typed failures of a plugin call. None of them can take the server down.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CallError {
    #[error("deadline exceeded after {0} ms")]
    DeadlineExceeded(u64),
    #[error("memory limit of {0} bytes exceeded")]
    MemoryExceeded(usize),
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

/// What a cancelled call's epoch callback raises (told apart from other traps).
#[derive(Debug, Error)]
#[error("cancelled")]
pub(crate) struct CancelledCall;

impl CallError {
    /// The stable code used in the `ERROR` finding that reports this failure.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::DeadlineExceeded(_) => "validator.deadline_exceeded",
            CallError::MemoryExceeded(_) => "validator.memory_exceeded",
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
