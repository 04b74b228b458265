//! Validibot's services: what the product does, between the HTTP layer and the store
//! and engines. Runs are launched and executed here (`execution`: one step loop for
//! the worker and for `validibot check`, one place deciding a step's outcome),
//! definitions checked, licenses and evidence handled, data retained and purged.

pub mod accounts;
pub mod evidence;
pub mod execution;
mod handle;
pub mod launcher;
pub mod licensing;
pub mod mail;
pub mod observability;
pub mod remote;
pub mod reports;
pub mod retention;
pub mod validators;
pub mod webhooks;
pub mod workflows;

pub use handle::Services;
pub use launcher::Launcher;
