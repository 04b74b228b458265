//! Signed license files: the on-disk format (`armor`), the signed envelope
//! (`envelope`: verify before parse), the payload, and the state at a moment.

pub mod armor;
pub mod envelope;
pub mod payload;
pub mod state;

pub use envelope::{issue, verify, VerifyError};
pub use payload::{Limits, Payload};
pub use state::{LicenseState, Status, Usage};

#[cfg(test)]
mod tests;
