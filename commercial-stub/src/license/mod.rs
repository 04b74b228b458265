//! Signed license files: the on-disk format (`armor`), the signed envelope
//! (`envelope`: verify before parse), the payload, the license server's signed
//! answers for online licenses (`lease`), and the state at a moment.

pub mod armor;
pub mod envelope;
pub mod lease;
pub mod payload;
pub mod state;

pub use envelope::{issue, verify, verify_with, VerifyError};
pub use payload::{Limits, Online, Payload};
pub use state::{LicenseState, Status, Usage};

#[cfg(test)]
mod tests;
