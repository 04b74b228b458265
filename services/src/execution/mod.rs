//! Executing runs: workers claim queued jobs and run a workflow's steps in order.

pub mod assertions;
pub mod cancel;
pub mod container_step;
pub mod executor;
pub mod memory_budget;
pub mod progress;
pub mod remote_step;
pub mod step_loop;
pub mod step_outcome;
pub mod waiters;
pub mod worker;
