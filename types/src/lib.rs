//! The vocabulary every layer of Validibot shares. Nothing here does I/O or knows a
//! database, an engine or HTTP: these are values and the rules that make them valid.

pub mod finding;
pub mod hooks;
pub mod slug;
pub mod status;

pub use finding::{Finding, Output, Severity};
pub use slug::{Slug, SlugError, SlugKind, ValidatorSlug, WorkflowSlug, WorkspaceSlug};
pub use status::{ErrorCategory, RunStatus, StepStatus};
